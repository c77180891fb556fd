// Event kinds and how each kind's fields sit in a ring entry. Every mechanism emits into the ring (lib/events.ts);
// the binding derives the kind names and decodes entries from this file alone.
//
// EV_<NS>_<NAME> is the event kind "ns.name" of SCENARIOS.md (first underscore -> '.', lower case). 0 is unused.
// A ring entry carries kind, flags and five u32 fields a..e. EVL_<NS>_<NAME> says what each of a..e holds (one EF_*
// field code per 5 bits: a at bit 0, b at 5, c at 10, d at 15, e at 20) and which named fields the flag bits give
// (EFF_* at bit 25). Field names are the EF_/EFF_ constant names in lower case: EF_START -> "start".
export const EV_GMEM_LOCK: u32 = 1;
export const EV_GMEM_UNLOCK: u32 = 2;
export const EV_KVM_INVALIDATE_BEGIN: u32 = 3;
export const EV_KVM_INVALIDATE_END: u32 = 4;
export const EV_KVM_ZAP: u32 = 5;
export const EV_KVM_TLB_FLUSH: u32 = 6;
export const EV_HOST_UNMAP: u32 = 7;
export const EV_GMEM_REFCOUNT_CHECK: u32 = 8;
export const EV_IOMMU_INVALIDATE_BEGIN: u32 = 9;
export const EV_IOMMU_INVALIDATE_END: u32 = 10;
export const EV_IOMMU_INVALIDATE: u32 = 11;
export const EV_IOMMU_IOTLB_FLUSH: u32 = 12;
export const EV_IOMMU_MAP: u32 = 13;
export const EV_IOMMU_UNMAP: u32 = 14;
export const EV_GMEM_SET_ATTR: u32 = 15;
export const EV_FOLIO_SPLIT: u32 = 16;
export const EV_FOLIO_MERGE: u32 = 17;
export const EV_CONVERT_ROLLBACK: u32 = 18;
export const EV_ARCH_RMPUPDATE: u32 = 19;
export const EV_ARCH_PSMASH: u32 = 20;
export const EV_ARCH_SEPT_REMOVE: u32 = 21;
export const EV_ARCH_SEPT_DEMOTE: u32 = 22;
export const EV_GUEST_FAULT: u32 = 23;
export const EV_GUEST_RETRY: u32 = 24;
export const EV_GUEST_MEMORY_FAULT_EXIT: u32 = 25;
export const EV_FOLIO_ALLOC: u32 = 26;
export const EV_FOLIO_FREE: u32 = 27;
export const EV_KVM_MAP: u32 = 28;
export const EV_HOST_MAP: u32 = 29;
export const EV_HOST_PIN: u32 = 30;
export const EV_HOST_UNPIN: u32 = 31;
export const EV_GMEM_ZERO: u32 = 32;
export const EV_ARCH_SEPT_AUG: u32 = 33; //              TDX: TDH.MEM.PAGE.AUG (the leaf is PENDING)
export const EV_ARCH_SEPT_ACCEPT: u32 = 34; //           TDX: the guest's TDG.MEM.PAGE.ACCEPT (PENDING -> MAPPED)
export const EV_ARCH_SEPT_BLOCK: u32 = 35; //            TDX: TDH.MEM.RANGE.BLOCK (MAPPED -> BLOCKED)
export const EV_ARCH_SEPT_TRACK: u32 = 36; //            TDX: TDH.MEM.TRACK + kick every vCPU
export const EV_KVM_RANGE_ADD: u32 = 37; //              kvm_mmu_invalidate_range_add for one memslot
export const EV_OP_STEP: u32 = 38; //                    an operation ran one atomic step (its name: the op's step table)
export const EV_KINDS: u32 = 39;

// flag bits of an entry
export const EVF_SHARED: u32 = 1;
export const EVF_SECURE: u32 = 2;
export const EVF_OK: u32 = 4;
export const EVF_PRIVATE: u32 = 8;

// field codes (5 bits each)
export const EF_NONE: u32 = 0;
export const EF_GMEM: u32 = 1; //        object name (a scenario id, or "#index")
export const EF_VM: u32 = 2;
export const EF_IOMMU: u32 = 3;
export const EF_START: u32 = 4;
export const EF_END: u32 = 5;
export const EF_COUNT: u32 = 6;
export const EF_LEVEL: u32 = 7; //       1, 2, 3 -> "4K", "2M", "1G"
export const EF_INDEX: u32 = 8;
export const EF_GFN: u32 = 9;
export const EF_PFN: u32 = 10;
export const EF_FROM: u32 = 11; //       folio order
export const EF_TO: u32 = 12; //         folio order
export const EF_ORDER: u32 = 13;
export const EF_REASON: u32 = 14; //     REASON_* of abi/consts.ts -> "to-private", ...
export const EF_OP: u32 = 15; //         OPK_* of abi/ops.ts -> "convert", ...
export const EF_NAME: u32 = 16; //       STEP_* of abi/ops.ts -> "lock", ... (an atomic step's name)
export const EF_ID: u32 = 17; //         an operation's id
// flag-derived fields
export const EFF_SHARED: u32 = 1; //     "shared": flags & EVF_SHARED
export const EFF_SECURE: u32 = 2; //     "secure": flags & EVF_SECURE
export const EFF_OK: u32 = 4; //         "ok": flags & EVF_OK
export const EFF_PRIVATE: u32 = 8; //    "private": flags & EVF_PRIVATE
export const EFF_TABLE: u32 = 16; //     "table": "private" if flags & EVF_PRIVATE else "shared"
export const EFF_TO: u32 = 32; //        "to": "shared" if flags & EVF_SHARED else "private"

export const EVL_A: u32 = 0;
export const EVL_B: u32 = 5;
export const EVL_C: u32 = 10;
export const EVL_D: u32 = 15;
export const EVL_E: u32 = 20;
export const EVL_FLAGS: u32 = 25;

export const EVL_GMEM_LOCK: u32 = EF_GMEM | (EFF_SHARED << EVL_FLAGS);
export const EVL_GMEM_UNLOCK: u32 = EVL_GMEM_LOCK;
export const EVL_KVM_INVALIDATE_BEGIN: u32 = EF_VM | (EF_START << EVL_B) | (EF_END << EVL_C);
export const EVL_KVM_INVALIDATE_END: u32 = EVL_KVM_INVALIDATE_BEGIN;
export const EVL_KVM_ZAP: u32 = EF_VM | (EF_START << EVL_B) | (EF_END << EVL_C) | (EF_COUNT << EVL_D) | (EFF_TABLE << EVL_FLAGS);
export const EVL_KVM_TLB_FLUSH: u32 = EF_VM;
export const EVL_HOST_UNMAP: u32 = EF_GMEM | (EF_START << EVL_B) | (EF_END << EVL_C) | (EF_COUNT << EVL_D);
export const EVL_GMEM_REFCOUNT_CHECK: u32 = EF_GMEM | (EF_INDEX << EVL_B) | (EFF_OK << EVL_FLAGS);
export const EVL_IOMMU_INVALIDATE_BEGIN: u32 = EF_IOMMU | (EF_START << EVL_B) | (EF_END << EVL_C);
export const EVL_IOMMU_INVALIDATE_END: u32 = EVL_IOMMU_INVALIDATE_BEGIN;
export const EVL_IOMMU_INVALIDATE: u32 = EF_IOMMU | (EF_START << EVL_B) | (EF_END << EVL_C) | (EF_COUNT << EVL_D) |
  (EF_REASON << EVL_E) | (EFF_SECURE << EVL_FLAGS);
export const EVL_IOMMU_IOTLB_FLUSH: u32 = EF_IOMMU;
export const EVL_IOMMU_MAP: u32 = EF_IOMMU | (EF_START << EVL_B) | (EF_END << EVL_C) | (EF_LEVEL << EVL_D) |
  (EFF_SECURE << EVL_FLAGS);
export const EVL_IOMMU_UNMAP: u32 = EVL_IOMMU_MAP | (EF_COUNT << EVL_E);
export const EVL_GMEM_SET_ATTR: u32 = EF_GMEM | (EF_START << EVL_B) | (EF_END << EVL_C) | (EFF_TO << EVL_FLAGS);
export const EVL_FOLIO_SPLIT: u32 = EF_GMEM | (EF_INDEX << EVL_B) | (EF_FROM << EVL_C) | (EF_TO << EVL_D);
export const EVL_FOLIO_MERGE: u32 = EVL_FOLIO_SPLIT;
export const EVL_CONVERT_ROLLBACK: u32 = EF_GMEM | (EF_START << EVL_B) | (EF_END << EVL_C);
export const EVL_ARCH_RMPUPDATE: u32 = (EF_PFN << EVL_B) | (EF_COUNT << EVL_C) | (EF_LEVEL << EVL_D) | (EFF_PRIVATE << EVL_FLAGS);
export const EVL_ARCH_PSMASH: u32 = (EF_PFN << EVL_B) | (EF_LEVEL << EVL_D) | (EFF_PRIVATE << EVL_FLAGS);
export const EVL_ARCH_SEPT_REMOVE: u32 = EF_VM | (EF_GFN << EVL_B) | (EF_LEVEL << EVL_D);
export const EVL_ARCH_SEPT_DEMOTE: u32 = EVL_ARCH_SEPT_REMOVE;
export const EVL_GUEST_FAULT: u32 = EF_VM | (EF_GFN << EVL_B) | (EFF_PRIVATE << EVL_FLAGS);
export const EVL_GUEST_RETRY: u32 = EVL_GUEST_FAULT;
export const EVL_GUEST_MEMORY_FAULT_EXIT: u32 = EVL_GUEST_FAULT;
export const EVL_FOLIO_ALLOC: u32 = EF_GMEM | (EF_INDEX << EVL_B) | (EF_ORDER << EVL_C);
export const EVL_FOLIO_FREE: u32 = EF_GMEM | (EF_START << EVL_B) | (EF_END << EVL_C) | (EF_ORDER << EVL_D) | (EF_COUNT << EVL_E);
export const EVL_KVM_MAP: u32 = EF_VM | (EF_GFN << EVL_B) | (EF_LEVEL << EVL_D) | (EFF_TABLE << EVL_FLAGS);
export const EVL_HOST_MAP: u32 = EF_GMEM | (EF_START << EVL_B) | (EF_END << EVL_C);
export const EVL_HOST_PIN: u32 = EVL_HOST_MAP;
export const EVL_HOST_UNPIN: u32 = EVL_HOST_MAP;
export const EVL_GMEM_ZERO: u32 = EVL_HOST_MAP;
export const EVL_ARCH_SEPT_AUG: u32 = EVL_ARCH_SEPT_REMOVE;
export const EVL_ARCH_SEPT_ACCEPT: u32 = EVL_ARCH_SEPT_REMOVE;
export const EVL_ARCH_SEPT_BLOCK: u32 = EVL_ARCH_SEPT_REMOVE;
export const EVL_ARCH_SEPT_TRACK: u32 = EF_VM;
export const EVL_KVM_RANGE_ADD: u32 = EVL_KVM_INVALIDATE_BEGIN;
export const EVL_OP_STEP: u32 = EF_ID | (EF_OP << EVL_B) | (EF_NAME << EVL_C);
