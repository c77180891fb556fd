// The IOMMU: an iommufd-like domain with a secure (T=1) and a non-secure (T=0) IO page table on the shared walker.
//   pin mode  (today, VFIO type1 / IOMMU_IOAS_MAP): maps go through the host mapping and take long-term GUP pins,
//             so a to-private conversion of a DMA-mapped page fails with -EAGAIN until userspace unmaps it.
//   gmem mode (the seed's proposal): bound to the guest_memfd itself, takes pfns from it with a shareability check
//             and no references; guest_memfd calls its invalidation callback inside step 2 of every conversion
//             with a reason, and map updates of the range wait between invalidate_begin and _end. How the callback
//             treats the entries is the IOMMU's scheme (iommu/scheme_*.ts), plugged into the notifier list.
// One 4 KiB record:
//   +0 mode u32 (IOMMU_MODE_*)   +4 bound inode u32 (gmem mode)  +8 own handle u32   +12 IOTLB flushes u32
//   +16 invalidation seq u32     +20 in_progress i32             +24 range start u32 (gmem index)  +28 range end
//   +32 range valid u32          +36 areas in use u32            +40 DMAs that were machine checks u32
//   +44 areas array u32          +48 its capacity u32            +52 domain lock u32  +56 scheme (NOPS_*) u32
//   +64 secure table (PT_OBJ_SIZE)   +96 non-secure table        +128 spans (IO_MAX_SPANS x 16 B)
import { OBJ_INDEX_BITS } from "../abi/layout";
import { IOMMU_MODE_GMEM, HOOK_IOTLB_FLUSH_ALL } from "../abi/consts";
import { EV_IOMMU_IOTLB_FLUSH } from "../abi/events";
import { pageAlloc, pageFree } from "../mm/alloc";
import { OBJ_T_IOMMU, objEnd, objSlotType, objSlotPtr } from "../mm/objects";
import { ptInit, ptDestroy, PT_OBJ_SIZE } from "../lib/pagetable";
import { emit } from "../lib/events";
import { hookSet } from "../lib/hooks";
import { stepLock, LC_DOM, LM_WRITE, LW_MUST, LW_TRY } from "../mm/sync";
import { inThreadMode } from "../mm/instance";
import { fpTouch, RES_LOCK, FP_READ, FP_WRITE } from "../lib/footprint";

export const IO_MODE: usize = 0;
export const IO_GMEM: usize = 4;
export const IO_HANDLE: usize = 8;
export const IO_IOTLB_FLUSHES: usize = 12;
export const IO_SEQ: usize = 16;
export const IO_IN_PROGRESS: usize = 20;
export const IO_RANGE_START: usize = 24;
export const IO_RANGE_END: usize = 28;
export const IO_RANGE_VALID: usize = 32;
export const IO_NAREAS: usize = 36;
export const IO_DMA_MCE: usize = 40;
export const IO_AREA_PTR: usize = 44;
export const IO_AREA_CAP: usize = 48;
export const IO_DOMAIN_LOCK: usize = 52;
export const IO_SCHEME: usize = 56;
export const IO_PT_SECURE: usize = 64;
export const IO_PT_NONSECURE: usize = IO_PT_SECURE + PT_OBJ_SIZE;
export const IO_SPANS: usize = 128;
export const IO_MAX_SPANS: u32 = 32;

// @ts-ignore: decorator
@inline export function ioPt(io: u32, secure: bool): usize { return <usize>io + (secure ? IO_PT_SECURE : IO_PT_NONSECURE); }
// @ts-ignore: decorator
@inline export function ioIndex(io: u32): u32 { return load<u32>(io, IO_HANDLE) & ((1 << OBJ_INDEX_BITS) - 1); }
// @ts-ignore: decorator
@inline export function ioIsGmem(io: u32): bool { return load<u32>(io, IO_MODE) == IOMMU_MODE_GMEM; }
// @ts-ignore: decorator
@inline export function ioGmem(io: u32): u32 { return load<u32>(io, IO_GMEM); }
// @ts-ignore: decorator
@inline export function ioSeq(io: u32): u32 { return load<u32>(io, IO_SEQ); }
// @ts-ignore: decorator
@inline export function ioInProgress(io: u32): i32 { return load<i32>(io, IO_IN_PROGRESS); }

/** The domain lock for the rest of the step (mm/sync.ts LC_DOM): the IO tables, areas and invalidation state. */
// @ts-ignore: decorator
@inline export function ioLock(io: u32, how: u32 = LW_MUST): bool {
  fpTouch(ioIndex(io), RES_LOCK, FP_WRITE);
  return stepLock(<usize>io + IO_DOMAIN_LOCK, LC_DOM, LM_WRITE, inThreadMode() ? LW_TRY : how);
}
/** The domain lock where the step must have it (taken up front by a conversion step, or free in a stopped world). */
// @ts-ignore: decorator
@inline export function ioLockWrite(io: u32): void { ioLock(io); }
/**
 * A device walk of the IO tables. The hardware takes no lock; the model's walk is atomic against the domain's
 * updates (it takes the domain lock for the step), which is the granularity the explorer schedules at.
 */
export function ioRead(io: u32): void {
  fpTouch(ioIndex(io), RES_LOCK, FP_READ);
  stepLock(<usize>io + IO_DOMAIN_LOCK, LC_DOM, LM_WRITE, inThreadMode() ? LW_TRY : LW_MUST);
}

export function iommuCreate(mode: u32): u32 {
  const io = pageAlloc(0);
  if (io == 0) return 0;
  store<u32>(io, mode, IO_MODE);
  ptInit(ioPt(io, true));
  ptInit(ioPt(io, false));
  return io;
}

/** Free the tables and the record (areas and binding are gone already). */
export function iommuFree(io: u32): void {
  ptDestroy(ioPt(io, true));
  ptDestroy(ioPt(io, false));
  pageFree(io, 0);
}

export function iotlbFlush(io: u32): void {
  atomic.add<u32>(<usize>io + IO_IOTLB_FLUSHES, 1); // an SNP RMPUPDATE flushes every IOMMU's, from any thread
  emit(EV_IOMMU_IOTLB_FLUSH, 0, ioIndex(io), 0, 0, 0, 0);
}

/** An SNP RMPUPDATE flushes the IOTLB of every IOMMU on the machine, bound to a guest_memfd or pinning. */
function iotlbFlushAll(): void {
  for (let i: u32 = 1, n = objEnd(); i < n; i++) {
    if (objSlotType(i) == OBJ_T_IOMMU) iotlbFlush(objSlotPtr(i));
  }
}

/** Publish the IOMMU's machine hooks (every attach). */
export function iommuHooksInit(): void {
  hookSet(HOOK_IOTLB_FLUSH_ALL, iotlbFlushAll);
}
