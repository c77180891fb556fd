// The memory map of gmemsim: every address the core uses comes from here.
//
// This file is read by two compilers: asc (the core) and esbuild/tsc (the binding). It therefore holds only
// `export const NAME = <integer expression>;` lines, with values below 2^31, so both sides see the same numbers
// and cannot drift. (Modelled on wasmboy's core/constants.ts.)
//
//   0x0000_0000  +--------------------------------+  NULL guard page: never written, address 0 means "none"
//   0x0000_1000  | HEADER (4 KiB)                 |  magic, layout version, futex words, allocator heads,
//                |                                |  pfn pools, event-ring indices, counters
//   0x0000_2000  | OBJECT TABLE (4096 x 16 B)     |  handle -> {type, generation, pointer}
//   0x0001_2000  | INSTANCE SCRATCH (64 x 1 KiB)  |  per-instance out-structs and iterator frames
//   0x0002_2000  | (reserved)                     |
//   0x0003_0000  | EVENT RING (16384 x 32 B)      |  lock-free readable by any thread
//   0x000B_0000  | (reserved)                     |
//   0x000F_0000  | asc static data (memoryBase)   |  read-only; re-applied by every instantiation
//   0x0010_0000  | PAGE MAP (1 Mi x 4 B)          |  per heap page: allocator state, PT occupancy
//   0x0050_0000  | HEAP (4 KiB pages, buddy)      |  bitmaps, folio arrays, page tables, pfn stacks ...
//                |   grows with memory.grow up to |
//   0xFFFF_FFFF  +--- 4 GiB (65536 Wasm pages) ---+
//
// Structures that several instances (Node workers, Web Workers) share live only here, never in Wasm globals:
// globals are per instance (thread-local) and data segments are re-applied at every instantiation.

export const LAYOUT_MAGIC = 0x4d534d47; // "GMSM" little-endian
export const LAYOUT_VERSION = 1;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const WASM_PAGE_SHIFT = 16;
export const MAX_WASM_PAGES = 65536;

// ---- header page ------------------------------------------------------------------------------------------------
export const HEADER_BASE = 0x1000;
export const H_MAGIC = HEADER_BASE + 0; //          u32
export const H_VERSION = HEADER_BASE + 4; //        u32
export const H_INIT = HEADER_BASE + 8; //           u32 futex word: 0 fresh, 1 initialising, 2 ready
export const H_SIM_LOCK = HEADER_BASE + 12; //      u32 futex mutex (0 free, 1 locked, 2 locked + waiters)
export const H_INSTANCES = HEADER_BASE + 16; //     u32 instances ever attached (scratch slot = id % MAX_INSTANCES)
export const H_DEBUG = HEADER_BASE + 20; //         u32 bit 0: run the invariant checker after every step
export const H_HEAP_TOP = HEADER_BASE + 24; //      u32 first heap byte never handed out
export const H_PAGES_USED = HEADER_BASE + 28; //    u32 heap pages allocated now
export const H_PAGES_PEAK = HEADER_BASE + 32; //    u32 high-water mark of H_PAGES_USED
export const H_OBJ_FREE = HEADER_BASE + 36; //      u32 head of the free object-slot list (0 = none)
export const H_OBJ_NEXT = HEADER_BASE + 40; //      u32 next never-used object slot
export const H_OBJ_LIVE = HEADER_BASE + 44; //      u32 live objects
export const H_FAIL_ALLOC = HEADER_BASE + 48; //    u32 fault injection: fail the N-th next heap allocation (0 off)
export const H_STEP = HEADER_BASE + 52; //          u32 step counter (ops performed)
export const H_ARCH = HEADER_BASE + 56; //          u32 ARCH_SW / ARCH_TDX / ARCH_SNP (one machine, one arch)
export const H_OPSEQ = HEADER_BASE + 60; //         u32 operation sequence (marks VMs already begun in an op)
// allocator: one doubly linked free list per order, 20 orders (4 KiB .. 2 GiB)
export const H_FREE_HEADS = HEADER_BASE + 64; //    u32[20]
export const MAX_ORDER = 19;
// modelled physical memory (pfn pools)
export const H_PFN = HEADER_BASE + 160;
export const PFN_NEXT_SMALL = H_PFN + 0; //         u32 next never-used 4 KiB pfn
export const PFN_NEXT_2M = H_PFN + 4; //            u32 next never-used 2 MiB HugeTLB pfn
export const PFN_NEXT_1G = H_PFN + 8; //            u32 next never-used 1 GiB HugeTLB pfn
export const PFN_STACK_SMALL = H_PFN + 12; //       u32 pointer to the free-pfn stack page chain
export const PFN_STACK_2M = H_PFN + 16;
export const PFN_STACK_1G = H_PFN + 20;
export const PFN_USED_SMALL = H_PFN + 24; //        u32 pages of each pool in use now
export const PFN_USED_2M = H_PFN + 28;
export const PFN_USED_1G = H_PFN + 32;
export const PFN_LIMIT_SMALL = H_PFN + 36; //       u32 pool capacity (pages); allocation past it -> ENOMEM
export const PFN_LIMIT_2M = H_PFN + 40;
export const PFN_LIMIT_1G = H_PFN + 44;
export const PFN_LEAKED = H_PFN + 48; //            u32 pfns that could not be returned (e.g. TDX removal failure)
// fault injection: remaining count per kind (fires on the next matching internal step)
export const H_INJECT = HEADER_BASE + 224; //       u32[4]: INJ_* below
export const INJ_ENOMEM_SPLIT = 0;
export const INJ_ENOMEM_STORE = 1;
export const INJ_TRANSIENT_REF = 2;
export const INJ_SEPT_REMOVE_FAIL = 3;
export const H_CORRUPT = HEADER_BASE + 240; //      u32 debug corruption hook armed (DBG_* of check.ts)
// event ring indices
export const H_RING = HEADER_BASE + 256;
export const RING_HEAD = H_RING + 0; //             u32 events ever written (low 32 bits; the ring slot is head % RING_SIZE)
export const RING_HEAD_HI = H_RING + 4; //          u32 high 32 bits
// counters: one u32 pair (lo, hi) per event kind, and per-kind totals of the event's `count` field
export const H_COUNTERS = HEADER_BASE + 1024; //    u64[128]
export const MAX_COUNTERS = 128;
export const H_COUNT_SUMS = HEADER_BASE + 2048; //  u64[128]: sum of the `count` field per kind
export const CTR_REASON_BASE = 100; //              H_COUNTERS[100 + reason]: iommu.invalidate callbacks per reason

// ---- object table -----------------------------------------------------------------------------------------------
// slot: +0 type u8, +1 flags u8, +2 generation u16, +4 ptr u32, +8 aux u32, +12 aux2 u32
// handle = index | generation << 12; index 0 is never used, so handle 0 is never valid.
export const OBJ_TABLE = 0x2000;
export const OBJ_SLOT_SIZE = 16;
export const OBJ_MAX = 4096;
export const OBJ_INDEX_BITS = 12;
export const OBJ_T_FREE = 0;
export const OBJ_T_BITMAP = 1;
export const OBJ_T_PAGETABLE = 2;
export const OBJ_T_GMEM = 3;
export const OBJ_T_VM = 4;
export const OBJ_T_IOMMU = 5;
export const OBJ_T_OP = 6; //                       a paused operation (conversion or guest fault)

export const ARCH_SW = 0;
export const ARCH_TDX = 1;
export const ARCH_SNP = 2;

// ---- per-instance scratch ---------------------------------------------------------------------------------------
export const SCRATCH_BASE = 0x12000;
export const SCRATCH_SIZE = 1024;
export const MAX_INSTANCES = 64;
// offsets inside one scratch block
export const S_OUT = 0; //                         u32[32] out-values of the last query (see each export)
export const S_ITER = 128; //                      tdp_iter frames, ITER_SIZE each
export const ITER_SIZE = 96;
export const ITER_FRAMES = 4;

// ---- event ring -------------------------------------------------------------------------------------------------
// entry (32 B): +0 seq u32 (published last), +4 kind u16, +6 flags u16, +8 a, +12 b, +16 c, +20 d, +24 e, +28 step
export const RING_BASE = 0x30000;
export const RING_ENTRY_SIZE = 32;
export const RING_SIZE = 16384;

// ---- static data and heap ---------------------------------------------------------------------------------------
export const MEMORY_BASE = 0xf0000; //             asc --memoryBase (must match asconfig.json)
export const PAGEMAP_BASE = 0x100000; //           u32 per heap page: bits 0-7 alloc state, bits 16-31 PT occupancy
export const HEAP_BASE = 0x500000;
export const HEAP_PAGES_MAX = 0xfb00; //           (4 GiB - HEAP_BASE) / 64 KiB Wasm pages, i.e. the heap's Wasm pages
export const INITIAL_WASM_PAGES = 96; //           6 MiB: everything up to and a little past HEAP_BASE
export const PAGEMAP_FREE = 0x80; //               page map byte: head of a free block (| order)
export const PAGEMAP_USED = 0x40; //               page map byte: head of an allocated block (| order)

// ---- shareability bitmap header (64 B, at the start of its own heap block) ---------------------------------------
// +0 npages u32, +4 words ptr u32 (u64 words, 1 bit per 4 KiB index, 1 = shared), +8 cnt2m ptr u32 (u16 per 2 MiB),
// +12 cnt1g ptr u32 (u32 per 1 GiB), +16 n2m u32, +20 n1g u32, +24 nwords u32, +28 block order u32 (heap order of the
// whole allocation), +32 shared u32 (total shared pages)
export const BM_NPAGES = 0;
export const BM_WORDS = 4;
export const BM_CNT2M = 8;
export const BM_CNT1G = 12;
export const BM_N2M = 16;
export const BM_N1G = 20;
export const BM_NWORDS = 24;
export const BM_ORDER = 28;
export const BM_SHARED = 32;
export const BM_HEADER_SIZE = 64;

// ---- page tables ------------------------------------------------------------------------------------------------
// table object (64 B): +0 root ptr, +4 leaves 4K, +8 leaves 2M, +12 leaves 1G, +16 tables in use, +20 kind
export const PT_ROOT = 0;
export const PT_LEAVES = 4; //                      u32[3] present leaves per level (4K, 2M, 1G)
export const PT_TABLES = 16;
export const PT_KIND = 20;
export const PT_OBJ_SIZE = 64;
export const PT_LEVELS = 4;

// ---- folios -----------------------------------------------------------------------------------------------------
// block descriptor (32 B), one per huge block (2 MiB or 1 GiB by the gmem's HugeTLB flag; 2 MiB granules when the
// gmem is 4 KiB-backed): +0 state u8, +1 order u8, +2 flags u16, +4 pfn u32, +8 refcount u32, +12 pincount u32,
// +16 mapcount u32, +20 sub ptr u32 (4 KiB entries), +24 nsub u32 (present 4 KiB entries), +28 content ptr u32
export const FB_STATE = 0;
export const FB_ORDER = 1;
export const FB_FLAGS = 2;
export const FB_PFN = 4;
export const FB_REF = 8;
export const FB_PIN = 12;
export const FB_MAP = 16;
export const FB_SUB = 20;
export const FB_NSUB = 24;
export const FB_CONTENT = 28;
export const FB_SIZE = 32;
export const FB_ABSENT = 0;
export const FB_HUGE = 1;
export const FB_SPLIT = 2; //                       split huge block, or a 4 KiB-backed granule
// 4 KiB folio entry (16 B): +0 pfn u32, +4 refcount u32, +8 mapcount u16, +10 pincount u16, +12 flags u16
export const FE_PFN = 0;
export const FE_REF = 4;
export const FE_MAP = 8;
export const FE_PIN = 10;
export const FE_FLAGS = 12;
export const FE_IOPIN = 14; //                      u16 of the pins, those a pin-mode IOMMU holds (host.unpin cannot drop them)
export const FE_SIZE = 16;
export const FOLIO_PRESENT = 1;
export const FOLIO_UPTODATE = 2;
export const FOLIO_HOSTMAP = 4; //                  a host PTE maps this 4 KiB page (mmap of the guest_memfd)
export const GUP_PIN_COUNTING_BIAS = 1024;

// ---- guest_memfd inode (128 B) ----------------------------------------------------------------------------------
// +0 size lo u32, +4 size hi u32, +8 npages u32, +12 flags u32, +16 bitmap ptr, +20 blocks ptr, +24 nblocks u32,
// +28 block shift u32 (9 or 18), +32 hugetlb order u32 (0, 9 or 18), +36 blocks heap order u32,
// +40 invalidate lock u32 (0 free, -1 exclusive, n>0 shared holders), +44 folios present (4 KiB units) u32
export const GI_SIZE_LO = 0;
export const GI_SIZE_HI = 4;
export const GI_NPAGES = 8;
export const GI_FLAGS = 12;
export const GI_BITMAP = 16;
export const GI_BLOCKS = 20;
export const GI_NBLOCKS = 24;
export const GI_BLOCK_SHIFT = 28;
export const GI_HUGE_ORDER = 32;
export const GI_BLOCKS_ORDER = 36;
export const GI_INV_LOCK = 40;
export const GI_POPULATED = 44;
export const GI_MMAPPED = 48; //                    u32 host.mmap done (a VMA maps the file)
export const GI_CLOSED = 52; //                     u32 the fd was closed (the inode lives while bound)
export const GI_NBIND = 56; //                      u32 bindings in GI_BINDS
export const GI_HOSTPTES = 60; //                   u32 host PTEs present
export const GI_HANDLE = 64; //                     u32 own handle (events name objects by handle index)
export const GI_NIOMMU = 68; //                     u32 IOMMU registrations in GI_IOMMUS
export const GI_RMP = 72; //                        u32 SNP: bitmap of RMP-assigned (private) pages, by index
export const GI_RMP2M = 76; //                      u32 SNP: bitmap, 1 bit per 2 MiB chunk: its RMP entry is 2 MiB
export const GI_INHIBIT = 80; //                    u32 TDX: bitmap, 1 bit per 2 MiB block: demoted, never huge again
export const GI_OBJ_SIZE = 4096; //                 the inode is one page:
export const GI_BINDS = 256; //                     binding records (memslots of any VM bound to this inode)
export const GI_BIND_SIZE = 16; //                  +0 vm ptr, +4 vm handle, +8 slot number
export const GI_MAX_BINDS = 64;
export const GI_IOMMUS = 2048; //                   IOMMU registrations: +0 iommu ptr, +4 handle
export const GI_IOMMU_SIZE = 16;
export const GI_MAX_IOMMUS = 16;
// pinned 4 KiB pages truncated out of the filemap: the pins keep the frame (and what it holds) until dropped.
export const GI_ORPH = 84; //                       u32 heap array of orphan records (grows by doubling)
export const GI_ORPH_N = 88; //                     u32 records in use
export const GI_ORPH_CAP = 92; //                   u32 capacity (records)
export const ORPH_SIZE = 32; //                     +0 index, +4 pfn, +8 pins (all), +12 IOMMU pins, +16 content u64
// gmem create flags (the scenario names: mmap, init-shared, init-private, hugetlb-2M, hugetlb-1G)
export const GMEM_FLAG_MMAP = 1;
export const GMEM_FLAG_INIT_SHARED = 2;
export const GMEM_FLAG_INIT_PRIVATE = 4;
export const GMEM_FLAG_HUGETLB_2M = 8;
export const GMEM_FLAG_HUGETLB_1G = 16;
export const GMEM_FLAG_V4 = 256; //                 protocol generation v4 (defaults differ, see SCENARIOS.md)
export const GMEM_FLAGS_VALID = 1 | 2 | 4 | 8 | 16 | 256;
// largest guest_memfd the model holds: 2^31 pages of 4 KiB (8 TiB), so every index and end fits a u32
export const GMEM_MAX_PAGES_LOG2 = 31;

// ---- VM (one page) ---------------------------------------------------------------------------------------------
// KVM's per-VM invalidation state (struct kvm: mmu_invalidate_seq, _in_progress, _range_start/_end), the private
// and shared tables, and the memslots.
export const VM_SEQ = 0; //                         u32 mmu_invalidate_seq
export const VM_ENDS = 4; //                        u32 invalidate_end calls so far (I13: seq == ends)
export const VM_IN_PROGRESS = 8; //                 i32 mmu_invalidate_in_progress
export const VM_FLAGS = 12; //                      u32 VMF_*
export const VM_RANGE_START = 16; //                u32 mmu_invalidate_range_start (gfn)
export const VM_RANGE_END = 20; //                  u32 mmu_invalidate_range_end
export const VM_RANGE_VALID = 24; //                u32 0 = INVALID_GPA (no range_add since begin)
export const VM_TLB_FLUSHES = 28; //                u32 remote TLB flushes
export const VM_PT_PRIVATE = 32; //                 PT_OBJ_SIZE: private table (S-EPT mirror / private NPT)
export const VM_PT_SHARED = 96; //                  PT_OBJ_SIZE: shared table (shared EPT / NPT)
export const VM_NSLOTS = 160; //                    u32 memslots in use
export const VM_MARK = 164; //                      u32 H_OPSEQ of the op that last began an invalidation here
export const VM_HANDLE = 168; //                    u32 own handle
export const VM_SLOTS = 192; //                     memslots, VM_SLOT_SIZE each
export const VM_SLOT_SIZE = 32; //                  +0 used, +4 base_gfn, +8 npages, +12 gmem handle, +16 pgoff,
export const VM_MAX_SLOTS = 32; //                  +20 inode ptr
export const VMF_DEAD = 1; //                       KVM_BUG_ON: the VM is dead

// ---- IOMMU (one page) -------------------------------------------------------------------------------------------
// An iommufd-like domain: a secure (T=1) and a non-secure (T=0) IO page table on the shared walker, the areas
// userspace mapped, and (gmem mode) an invalidation sequence like KVM's that blocks maps during a conversion.
export const IO_MODE = 0; //                        u32 IOMMU_PIN / IOMMU_GMEM
export const IO_GMEM = 4; //                        u32 bound inode (gmem mode)
export const IO_HANDLE = 8; //                      u32 own handle
export const IO_IOTLB_FLUSHES = 12; //              u32
export const IO_SEQ = 16; //                        u32 invalidation sequence
export const IO_IN_PROGRESS = 20; //                i32
export const IO_RANGE_START = 24; //                u32 gmem index range under invalidation
export const IO_RANGE_END = 28;
export const IO_RANGE_VALID = 32;
export const IO_NAREAS = 36; //                     u32 areas in use
export const IO_DMA_MCE = 40; //                    u32 DMAs that were host machine checks (TDX)
export const IO_AREA_PTR = 44; //                   u32 heap array of areas, sorted by (secure, iova)
export const IO_AREA_CAP = 48; //                   u32 its capacity (areas; grows by doubling)
export const IO_PT_SECURE = 64; //                  PT_OBJ_SIZE
export const IO_SPANS = 192; //                     spans reported by invalidate_begin, until their _end:
export const IO_MAX_SPANS = 32; //                  +0 start, +4 end (gmem), +8 iova start, +12 length + 1
export const IO_PT_NONSECURE = 128; //              PT_OBJ_SIZE
// an area: +0 used, +4 iova page, +8 npages, +12 inode, +16 pgoff, +20 secure, +24 pinned (pin mode: GUP pins)
export const IO_AREA_SIZE = 32;
export const IO_MAX_AREAS = 0x1000000; //           a sanity bound; the array grows with memory
export const IOMMU_PIN = 0;
export const IOMMU_GMEM = 1;
export const REASON_TO_PRIVATE = 0; //              iommu.invalidate reasons (bindings/events.ts IOMMU_REASONS)
export const REASON_TO_SHARED = 1;
export const REASON_TRUNCATE = 2;
export const REASON_UNBIND = 3;

// ---- paused operation (one page) --------------------------------------------------------------------------------
export const OP_KIND = 0; //                        u32 OPK_*
export const OP_PHASE = 4; //                       u32 next phase to run
export const OP_GMEM = 8; //                        u32 inode ptr
export const OP_START = 12; //                      u32 first index (convert) / gfn (fault)
export const OP_END = 16; //                        u32 end index
export const OP_FLAGS = 20; //                      u32 target shared, v4, mode ...
export const OP_RESULT = 24; //                     i32 result so far
export const OP_ERR_INDEX = 28; //                  u32 error_index
export const OP_NWORKS = 32; //                     u32 works in the list
export const OP_WORKS = 36; //                      u32 pointer to the work list (inline or a heap block)
export const OP_WORKS_ORDER = 40; //                u32 heap order of an out-of-line list, 0xff = inline
export const OP_ROLLBACK_STOP = 44; //              u32 last work execute_work ran on
export const OP_VM = 48; //                         u32 vm ptr (fault)
export const OP_SEQ = 52; //                        u32 mmu_seq snapshot (fault)
export const OP_AUX = 56; //                        u32 fault: order, private, write value ...
export const OP_AUX2 = 60;
export const OP_INLINE_WORKS = 64; //               inline work list: (start u32, end u32) pairs
export const OP_INLINE_MAX = 500;
// post-condition bookkeeping while the checker is on (I18, I19)
export const OP_SNAP = 4064; //                     u32 heap block with the range's bitmap words before the op
export const OP_SNAP_ORDER = 4068; //               u32
export const OP_WASNOOP = 4080; //                  u32 the range already had the target attribute
export const OP_HANDLE = 4084; //                   u32 the op's own handle
export const OPK_CONVERT = 1;
export const OPK_FAULT = 2;

// ---- event kinds ------------------------------------------------------------------------------------------------
// EV_<NS>_<NAME> is the event kind "ns.name" of SCENARIOS.md (first underscore -> '.', lower case); the binding
// derives the names from these constants, so the two sides share one list. 0 is never used.
export const EV_GMEM_LOCK = 1;
export const EV_GMEM_UNLOCK = 2;
export const EV_KVM_INVALIDATE_BEGIN = 3;
export const EV_KVM_INVALIDATE_END = 4;
export const EV_KVM_ZAP = 5;
export const EV_KVM_TLB_FLUSH = 6;
export const EV_HOST_UNMAP = 7;
export const EV_GMEM_REFCOUNT_CHECK = 8;
export const EV_IOMMU_INVALIDATE_BEGIN = 9;
export const EV_IOMMU_INVALIDATE_END = 10;
export const EV_IOMMU_INVALIDATE = 11;
export const EV_IOMMU_IOTLB_FLUSH = 12;
export const EV_IOMMU_MAP = 13;
export const EV_IOMMU_UNMAP = 14;
export const EV_GMEM_SET_ATTR = 15;
export const EV_FOLIO_SPLIT = 16;
export const EV_FOLIO_MERGE = 17;
export const EV_CONVERT_ROLLBACK = 18;
export const EV_ARCH_RMPUPDATE = 19;
export const EV_ARCH_PSMASH = 20;
export const EV_ARCH_SEPT_REMOVE = 21;
export const EV_ARCH_SEPT_DEMOTE = 22;
export const EV_GUEST_FAULT = 23;
export const EV_GUEST_RETRY = 24;
export const EV_GUEST_MEMORY_FAULT_EXIT = 25;
export const EV_FOLIO_ALLOC = 26;
export const EV_FOLIO_FREE = 27;
export const EV_KVM_MAP = 28;
export const EV_HOST_MAP = 29;
export const EV_HOST_PIN = 30;
export const EV_HOST_UNPIN = 31;
export const EV_GMEM_ZERO = 32;
export const EV_ARCH_SEPT_AUG = 33; //              TDX: TDH.MEM.PAGE.AUG (the leaf is PENDING)
export const EV_ARCH_SEPT_ACCEPT = 34; //           TDX: the guest's TDG.MEM.PAGE.ACCEPT (PENDING -> MAPPED)
export const EV_ARCH_SEPT_BLOCK = 35; //            TDX: TDH.MEM.RANGE.BLOCK (MAPPED -> BLOCKED)
export const EV_ARCH_SEPT_TRACK = 36; //            TDX: TDH.MEM.TRACK + kick every vCPU
export const EV_KINDS = 37;
