// Every other number the core and the binding share. The binding derives its name tables from the constant names
// (lower case, '_' -> '-', a size unit keeps its case: GMEM_FLAG_HUGETLB_2M -> "hugetlb-2M"); test/abi.test.ts
// checks both sides agree.

// ---- machine ----------------------------------------------------------------------------------------------------
export const ARCH_SW: u32 = 0;
export const ARCH_TDX: u32 = 1;
export const ARCH_SNP: u32 = 2;

// ---- object kinds: the type byte of an object-table slot (mm/objects.ts) -----------------------------------------------
export const OBJ_T_FREE: u32 = 0;
export const OBJ_T_BITMAP: u32 = 1;
export const OBJ_T_PAGETABLE: u32 = 2;
export const OBJ_T_GMEM: u32 = 3;
export const OBJ_T_VM: u32 = 4;
export const OBJ_T_IOMMU: u32 = 5;
export const OBJ_T_OP: u32 = 6;

// ---- guest_memfd creation flags (the scenario's names) ------------------------------------------------------------
export const GMEM_FLAG_MMAP: u32 = 1;
export const GMEM_FLAG_INIT_SHARED: u32 = 2;
export const GMEM_FLAG_INIT_PRIVATE: u32 = 4;
export const GMEM_FLAG_HUGETLB_2M: u32 = 8;
export const GMEM_FLAG_HUGETLB_1G: u32 = 16;
export const GMEM_GEN_V4: u32 = 256; //                  protocol generation v4 (defaults differ; no HugeTLB)
export const GMEM_FLAGS_VALID: u32 = 1 | 2 | 4 | 8 | 16 | 256;
export const GMEM_MAX_PAGES_LOG2: u32 = 31; //           8 TiB: every index and end fits a u32

// ---- conversion content modes (v4) ----------------------------------------------------------------------------------
export const MODE_UNSPECIFIED: u32 = 0;
export const MODE_ZERO: u32 = 1;
export const MODE_PRESERVE: u32 = 2;

// ---- IOMMU --------------------------------------------------------------------------------------------------------
export const IOMMU_MODE_PIN: u32 = 0; //                 today's VFIO type1 / IOAS map: GUP pins through the host mapping
export const IOMMU_MODE_GMEM: u32 = 1; //                bound to the guest_memfd: no references, invalidation callback
export const REASON_TO_PRIVATE: u32 = 0; //              reason of the invalidation callback ("global to the FD")
export const REASON_TO_SHARED: u32 = 1;
export const REASON_TRUNCATE: u32 = 2;
export const REASON_UNBIND: u32 = 3;
export const CTR_REASON_BASE: u32 = 100; //              H_COUNTERS[CTR_REASON_BASE + reason]: callbacks per reason

// ---- the notifier seam (gmem/notifier.ts) -------------------------------------------------------------------------
export const NOTIFIER_KVM: u32 = 1; //                   consumer classes: a VM's gmem file
export const NOTIFIER_IOMMU: u32 = 2; //                 a gmem-mode IOMMU binding
export const NOPS_KVM: u32 = 1; //                       notifier ops ids (rows of H_NOTIFIER_OPS)
export const NOPS_IOMMU_ZAP: u32 = 2; //                 IOMMU scheme: zap the entries of the old kind (sw, tdx)
export const NOPS_IOMMU_KEEP: u32 = 3; //                IOMMU scheme: keep both kinds, follow the RMP (snp)
export const NCB_BEGIN: u32 = 0; //                      invalidate_begin(rec, gi, start, end)
export const NCB_INVALIDATE: u32 = 1; //                 invalidate(rec, gi, start, end, reason, filter) -> i32
export const NCB_END: u32 = 2; //                        invalidate_end(rec, gi, start, end)
export const NCB_RESTRUCTURE: u32 = 3; //                restructure(rec, gi, first, n, how): nothing larger stays
export const NCB_PREFETCH: u32 = 4; //                   prefetch(rec, gi, start, end) -> u64 (optional; the model's)
export const RESTRUCTURE_RMP: u32 = 0x100; //            how = max level | this: the SNP RMP changed (demote NPT, IO)
//                                                  how = max level alone: a folio splits (TDX demotes, else zap)
export const FILTER_PRIVATE: u32 = 1; //                 which SPTEs an invalidation zaps (KVM_FILTER_*)
export const FILTER_SHARED: u32 = 2;
export const HOOK_IOTLB_FLUSH_ALL: u32 = 0; //           machine hook: every IOMMU flushes its IOTLB (SNP RMPUPDATE)

// ---- safeguards that config.disable switches off (H_SAFEGUARDS_OFF bits) ------------------------------------------
export const SG_KVM_RETRY: u32 = 1; //                   the fault path's is_page_fault_stale / retry check
export const SG_IOMMU_BLOCK: u32 = 2; //                 gmem-mode IOMMU maps blocked during a conversion (off: the seq check too)
export const SG_IOMMU_CALLBACK: u32 = 4; //              guest_memfd calls the IOMMU invalidation callback
export const SG_REFCOUNT_CHECK: u32 = 8; //              to-private safe-refcount / outstanding-reference check
export const SG_HOST_UNMAP: u32 = 16; //                 to-private unmaps host PTEs
export const SG_IOMMU_SEQ: u32 = 32; //                  the map's invalidation-sequence re-check under the domain lock

// ---- fault injection kinds ----------------------------------------------------------------------------------------
export const INJ_ENOMEM_SPLIT: u32 = 0;
export const INJ_ENOMEM_STORE: u32 = 1;
export const INJ_TRANSIENT_REF: u32 = 2;
export const INJ_SEPT_REMOVE_FAIL: u32 = 3;
export const INJ_KINDS: u32 = 4;

// ---- TDX S-EPT leaf states (software bits of the mirror's leaves) ---------------------------------------------------
export const SEPT_MAPPED: u32 = 0; //                    accepted by the guest
export const SEPT_BLOCKED: u32 = 1; //                   TDH.MEM.RANGE.BLOCK
export const SEPT_PENDING: u32 = 2; //                   TDH.MEM.PAGE.AUG: present, not accepted yet
export const SEPT_REMOVED: u32 = 3; //                   TDH.MEM.PAGE.REMOVE ran

// ---- debug corruption hooks (debug builds): one mechanism misbehaves once ------------------------------------------
export const DBG_SKIP_ROLLBACK: u32 = 1; //              v2 failure skips the rollback      -> I18
export const DBG_FORCE_WORK: u32 = 2; //                 a no-op conversion does work       -> I19
export const DBG_SKIP_SHARED_ZAP: u32 = 3; //            to-private keeps shared SPTEs       -> I9
export const DBG_BAD_ERROR_INDEX: u32 = 4; //            error_index outside the range       -> I20
export const DBG_SKIP_RETRY: u32 = 5; //                 the fault skips the stale check     -> I12

// ---- lock classes (mm/sync.ts), in the order a thread may take them ----------------------------------------------------
export const LC_INV: u32 = 1; //                         an inode's filemap invalidate_lock (rwsem)
export const LC_MMU: u32 = 2; //                         a VM's mmu_lock (rwlock)
export const LC_DOM: u32 = 3; //                         an IOMMU domain's lock
export const LC_PAGES: u32 = 4; //                       an inode's folios, content, host PTEs, pins, RMP / S-EPT state
export const LC_ALLOC: u32 = 5; //                       the heap allocator and pfn pools
export const LC_OBJ: u32 = 6; //                         the object table
// lockdep's report (H_LOCKDEP of abi/layout.ts: u32 each), written by the debug core before it traps on a lock taken
// out of order: who (instance slot + 1), the lock held (class, word), the lock asked for (class, word)
export const LOCKDEP_WHO: u32 = 0;
export const LOCKDEP_HELD_CLASS: u32 = 1;
export const LOCKDEP_HELD_WORD: u32 = 2;
export const LOCKDEP_NEW_CLASS: u32 = 3;
export const LOCKDEP_NEW_WORD: u32 = 4;
export const LOCKDEP_WORDS: u32 = 5;

// ---- invariants -----------------------------------------------------------------------------------------------------
// I1 .. I20 of KERNEL-PROTOCOL.md section 6 are their numbers; INV_PT is the page tables' own structure.
export const INV_PT: u32 = 101;
export const VIOLATIONS_MAX: u32 = 6; //                 distinct violations one check reports (OUT_VIOLATIONS)

// ---- out-values (u32 slots of the instance block; IN_OUT of abi/layout.ts) --------------------------------------------
export const OUT_OP: u32 = 0; //                         handle of a paused operation
export const OUT_ERR_INDEX: u32 = 1; //                  error_index of a failed conversion (0xffffffff: none)
export const OUT_LEVEL: u32 = 2; //                      mapping level an access used (1..3)
export const OUT_VALUE: u32 = 3; //                      content value an access read
export const OUT_STEP: u32 = 4; //                       the last atomic step an op ran (STEP_*)
export const OUT_STATUS: u32 = 5; //                     ST_* of the last step
export const OUT_RESULT: u32 = 6; //                     the op's result when it finished (i32)
export const OUT_FOOTPRINT: u32 = 7; //                  address of the footprint of the last step
export const OUT_INFO: u32 = 8; //                       start of a query's info block (u32[16])
export const OUT_VIOLATIONS: u32 = 24; //                code of each violation found (VIOLATIONS_MAX slots)
export const OUT_WHERE: u32 = 30; //                     index / gfn of the first violation
export const OUT_NVIOL: u32 = 31; //                     violations in OUT_VIOLATIONS
// info blocks at OUT_INFO: folio_describe
export const FOLIO_INFO_STATE: u32 = 0; //               0 absent, 1 huge, 2 small
export const FOLIO_INFO_ORDER: u32 = 1;
export const FOLIO_INFO_PFN: u32 = 2;
export const FOLIO_INFO_REF: u32 = 3;
export const FOLIO_INFO_PIN: u32 = 4;
export const FOLIO_INFO_MAP: u32 = 5;
export const FOLIO_INFO_FLAGS: u32 = 6;
export const FOLIO_INFO_INDEX: u32 = 7;
export const FOLIO_UPTODATE: u32 = 2; //                 flag bit of FOLIO_INFO_FLAGS
// vm_info
export const VM_INFO_SEQ: u32 = 0;
export const VM_INFO_IN_PROGRESS: u32 = 1;
export const VM_INFO_TLB_FLUSHES: u32 = 2;
export const VM_INFO_PRIVATE_LEAVES: u32 = 3;
export const VM_INFO_SHARED_LEAVES: u32 = 4;
export const VM_INFO_LEAVES_4K: u32 = 5; //              vm_leaves: per level of one table
export const VM_INFO_LEAVES_2M: u32 = 6;
export const VM_INFO_LEAVES_1G: u32 = 7;
export const VM_INFO_PFN: u32 = 8; //                    vm_spte: pfn of the gfn, S-EPT state
export const VM_INFO_STATE: u32 = 9;
// iommu_info
export const IO_INFO_IOTLB_FLUSHES: u32 = 0;
export const IO_INFO_AREAS: u32 = 1;
export const IO_INFO_MACHINE_CHECKS: u32 = 2;
export const IO_INFO_SEQ: u32 = 3;
export const IO_INFO_IN_PROGRESS: u32 = 4;
export const IO_INFO_SECURE_LEAVES: u32 = 5;
export const IO_INFO_NONSECURE_LEAVES: u32 = 6;
export const IO_INFO_PFN: u32 = 7; //                    iommu_iopte: pfn of the page
// sim_check_all: what the check visited (its cost; check/state.ts says why it is linear in the state)
export const CHECK_INFO_LEAVES: u32 = 0; //              leaves checked: SPTEs of every VM, entries of every IOMMU
export const CHECK_INFO_AREAS: u32 = 1; //               IOMMU area records the entries' cursor moved past
export const CHECK_INFO_ORPHANS: u32 = 2; //             orphan lookups (by frame) for pin-mode entries on truncated pages
// page table queries
export const PT_INFO_PFN: u32 = 0;
export const PT_INFO_STATE: u32 = 1;

// H_DEAD (abi/layout.ts): 1 + the slot of the instance that died inside a call, | DEAD_TRAP when a call trapped
export const DEAD_TRAP: u32 = 0x100;

// ---- lock-free view queries (api/view.ts) ---------------------------------------------------------------------------
// The table a view_leaves call walks: VIEW_TABLE_<NAME> -> "<name>" (a standalone page table, a VM's private or
// shared table in gfns, an IOMMU domain's secure or non-secure table in iova pages, a guest_memfd's host PTEs in
// page indices).
export const VIEW_TABLE_PT: u32 = 0;
export const VIEW_TABLE_KVM_PRIVATE: u32 = 1;
export const VIEW_TABLE_KVM_SHARED: u32 = 2;
export const VIEW_TABLE_IOMMU_SECURE: u32 = 3;
export const VIEW_TABLE_IOMMU_NONSECURE: u32 = 4;
export const VIEW_TABLE_HOST: u32 = 5;
// info slots (at OUT_INFO) after a view query that fills records (IN_VIEW of abi/layout.ts)
export const VIEW_INFO_NEXT: u32 = 0; //                 where a call for the rest of the range starts
export const VIEW_INFO_MORE: u32 = 1; //                 1: the records filled up before the range ended
// record word 3 of view_leaves: level | state << 8; of view_folios: state | order << 8 | VIEW_FOLIO_* flags
export const VIEW_FOLIO_UPTODATE: u32 = 0x10000;
// record word 0 of view_memslots: slot << 16 | gmem index; of view_areas: secure << 16 | gmem index
export const VIEW_ID_SHIFT: u32 = 16;

// ---- restore: what sim_image_check found wrong in an image (0: nothing) ---------------------------------------------
export const IMAGE_BAD_HEADER: u32 = 1; //               a lock, world stop, death mark or instance block not at rest
export const IMAGE_BAD_HEAP_TOP: u32 = 2; //             the heap top is not a page inside memory
export const IMAGE_BAD_PAGE_MAP: u32 = 3; //             the page map does not tile the heap with aligned blocks
export const IMAGE_BAD_FREE_LIST: u32 = 4; //            a free list leaves the free blocks, loops, or misses one
export const IMAGE_BAD_PAGES_USED: u32 = 5; //           the allocated-page count disagrees with the page map
export const IMAGE_BAD_OBJ_TABLE: u32 = 6; //            an object slot's kind, generation or pointer is impossible
export const IMAGE_BAD_OBJ_FREE_LIST: u32 = 7; //        the free-slot list leaves the free slots or loops
export const IMAGE_BAD_PFN_POOL: u32 = 8; //             a pfn pool's watermark, count or freed-pfn stack is impossible
