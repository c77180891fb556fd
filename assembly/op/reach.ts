// What an atomic step may reach, declared before it runs: the explorer's independence test (two steps commute when
// neither writes a resource the other touches) is only as sound as this. One function per op kind, conservative by
// design: a step declares every object whose state it may read or write, not just the ones it happens to touch in
// this state. Mechanisms add what only they know (lib/footprint.ts: the lock helpers, page content, folio
// allocation). Anything not listed here reaches everything (RES_ALL): creating, binding and destroying objects
// changes what later steps reach.
//   resources: an object's lock and the state it guards (RES_LOCK: inode shareability + arch state, VM tables and
//   mmu_invalidate state, IOMMU tables and invalidation state), an inode's page content, host side, filemap.
import {
  OPK_CONVERT, OPK_PUNCH, OPK_GUEST_ACCESS, OPK_IOMMU_MAP, OPK_IOMMU_UNMAP, OPK_HOST_ACCESS, OPK_HOST_PIN,
  OPK_HOST_UNPIN, OPK_DMA, STEP_FAULTIN, STEP_GET_PFN,
} from "../abi/ops";
import { OP_OBJ, OP_OBJ2, OP_START, opA, opKind } from "../lib/oprec";
import { fpTouch, fpTouchAll, RES_LOCK, RES_CONTENT, RES_HOST, RES_FILEMAP, FP_READ, FP_WRITE } from "../lib/footprint";
import { isSnp, isTdx } from "../lib/machine";
import { gmemIndex } from "../gmem/inode";
import { notifierTouchAll } from "../gmem/notifier";
import { slotForGfn, slotInode, vmIndex } from "../kvm/vm";
import { ioGmem, ioIndex, ioIsGmem } from "../iommu/domain";
import { nAreas, ioArea, areaUsed, areaPinned, areaInode } from "../iommu/area";

/** Every resource of inode gi, written. */
function inodeAll(gi: u32): void {
  const g = gmemIndex(gi);
  fpTouch(g, RES_LOCK, FP_WRITE);
  fpTouch(g, RES_CONTENT, FP_WRITE);
  fpTouch(g, RES_HOST, FP_WRITE);
  fpTouch(g, RES_FILEMAP, FP_WRITE);
}

/**
 * Every resource of each inode a pin-mode area of io maps, written: unmapping drops the area's GUP pins (iommufd's
 * iopt_unmap_iova unpins the area's pages), folio references that a to-private refcount check and a punch read.
 */
function pinnedInodesAll(io: u32): void {
  for (let i: u32 = 0, n = nAreas(io); i < n; i++) {
    const a = ioArea(io, i);
    if (areaUsed(a) && areaPinned(a)) inodeAll(areaInode(a));
  }
}

/** Declare what op's next step, `step`, may reach (called in thread mode, before the step runs). */
export function declareReach(op: u32, step: u32): void {
  const k = opKind(op);
  const obj = load<u32>(op, OP_OBJ);
  if (k == OPK_CONVERT || k == OPK_PUNCH) {
    // every step runs under (or takes) the exclusive invalidate lock and calls into every consumer
    inodeAll(obj);
    notifierTouchAll(obj, true);
    return;
  }
  if (k == OPK_GUEST_ACCESS) {
    const isPrivate = opA(op, 0) != 0;
    fpTouch(vmIndex(obj), RES_LOCK, step == STEP_FAULTIN ? FP_READ : FP_WRITE);
    const sp = slotForGfn(obj, load<u32>(op, OP_START));
    if (sp == 0) return;
    const gi = slotInode(sp);
    const g = gmemIndex(gi);
    if (step == STEP_FAULTIN) {
      fpTouch(g, RES_FILEMAP, FP_READ);
      // SNP: the first private use is an RMPUPDATE (the inode's RMP), which flushes every IOTLB
      if (isSnp() && isPrivate) { fpTouch(g, RES_LOCK, FP_WRITE); notifierTouchAll(gi, false); }
      else fpTouch(g, RES_LOCK, FP_READ);
    } else {
      fpTouch(g, RES_FILEMAP, FP_READ);
      // TDX: accepting the page records the guest's accept level on the inode (GUEST_INHIBIT)
      fpTouch(g, RES_LOCK, isTdx() && isPrivate ? FP_WRITE : FP_READ);
      fpTouch(g, RES_CONTENT, opA(op, 1) != 0 ? FP_WRITE : FP_READ);
    }
    return;
  }
  if (k == OPK_IOMMU_MAP) {
    const gi = load<u32>(op, OP_OBJ2);
    const g = gmemIndex(gi);
    if (!ioIsGmem(obj)) { // pin mode: GUP through the host mapping, one step
      fpTouch(ioIndex(obj), RES_LOCK, FP_WRITE);
      fpTouch(g, RES_HOST, FP_WRITE);
      fpTouch(g, RES_FILEMAP, FP_WRITE);
      fpTouch(g, RES_LOCK, FP_READ);
      return;
    }
    fpTouch(ioIndex(obj), RES_LOCK, step == STEP_GET_PFN ? FP_READ : FP_WRITE);
    fpTouch(g, RES_LOCK, FP_READ);
    fpTouch(g, RES_FILEMAP, FP_READ);
    return;
  }
  if (k == OPK_IOMMU_UNMAP || k == OPK_DMA) {
    fpTouch(ioIndex(obj), RES_LOCK, FP_WRITE); // the tables, the IOTLB, the machine-check count
    const gi = ioGmem(obj);
    if (gi != 0) fpTouch(gmemIndex(gi), RES_LOCK, FP_READ);
    if (k == OPK_IOMMU_UNMAP) pinnedInodesAll(obj);
    return;
  }
  if (k == OPK_HOST_ACCESS || k == OPK_HOST_PIN || k == OPK_HOST_UNPIN) {
    const g = gmemIndex(obj);
    fpTouch(g, RES_HOST, FP_WRITE);
    fpTouch(g, RES_LOCK, FP_READ);
    fpTouch(g, RES_FILEMAP, k == OPK_HOST_ACCESS ? FP_READ : FP_WRITE);
    return;
  }
  fpTouchAll();
}
