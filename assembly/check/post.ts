// Invariants of a conversion as a whole, checked when it finishes (KERNEL-PROTOCOL.md section 6): I9 (nothing of
// the old kind maps the range), I18 (atomicity: the whole range converted, or attributes unchanged), I19
// (idempotence: converting to the current state begins no invalidation), I20 (error_offset within the range).
// What they need from before the conversion (the bits, "was it a no-op") is taken when the conversion starts.
import { EAGAIN } from "../abi/errno";
import { NOTIFIER_KVM } from "../abi/consts";
import { pageAlloc, pageFree, orderFor } from "../mm/alloc";
import { bitmapCountShared, bitmapTest, bitmapCopyOut } from "../lib/bitmap";
import { checksOn, recordViolation } from "../lib/machine";
import { iterPush, iterPop } from "../lib/iter";
import { ptCountRange } from "../lib/ptread";
import {
  OP_START, OP_END, OP_SNAP, OP_SNAP_ORDER, OP_WASNOOP, OP_ERR_INDEX, OP_NLIST, opFlags, opResult,
} from "../lib/oprec";
import { gmemBitmap, gmemIsV4, blockShift } from "../gmem/inode";
import { folioHostMapped, folioPins } from "../gmem/refs";
import { notifierCount, notifierClass, notifierOwner } from "../gmem/notifier";
import { CF_SHARED, CF_BEGUN, convertInode } from "../gmem/convert";
import { vmSlotsEnd, vmSlot, vmPt, slotUsed, slotInode, slotOverlap, overlapGfnStart, overlapGfnEnd } from "../kvm/vm";

/**
 * Remember what the post-conditions need: the range's bits, and whether it already had the target attribute. Taken
 * with the checker off too, so a step run unchecked (the explorer replaying a prefix) leaves the state a checked one does.
 */
export function convertSnapshot(op: u32): void {
  store<u32>(op, 0, OP_SNAP);
  const gi = convertInode(op);
  const bm = gmemBitmap(gi);
  const s = load<u32>(op, OP_START), e = load<u32>(op, OP_END);
  const n = e - s;
  const toShared = (opFlags(op) & CF_SHARED) != 0;
  store<u32>(op, bitmapCountShared(bm, s, e) == (toShared ? <u64>n : 0) ? 1 : 0, OP_WASNOOP);
  const order = orderFor(((<u64>n + 63) >> 6) << 3);
  const snap = pageAlloc(order);
  if (snap == 0) return; // no snapshot: I18 is not checked for this op
  bitmapCopyOut(bm, s, n, snap);
  store<u32>(op, snap, OP_SNAP);
  store<u32>(op, order, OP_SNAP_ORDER);
}

/** Free the snapshot (a conversion that finished or was abandoned). */
export function convertSnapshotRelease(op: u32): void {
  const snap = load<u32>(op, OP_SNAP);
  if (snap != 0) pageFree(snap, load<u32>(op, OP_SNAP_ORDER));
  store<u32>(op, 0, OP_SNAP);
}

/** I9, I18, I19, I20 once a conversion has finished. */
export function convertPostConditions(op: u32): void {
  if (!checksOn()) return;
  const gi = convertInode(op);
  const s = load<u32>(op, OP_START), e = load<u32>(op, OP_END);
  const toShared = (opFlags(op) & CF_SHARED) != 0;
  const r = opResult(op);
  const bm = gmemBitmap(gi);
  const snap = load<u32>(op, OP_SNAP);
  if (r == 0) {
    // I18 (success half): the whole range has the target attribute
    if (bitmapCountShared(bm, s, e) != (toShared ? <u64>(e - s) : 0)) { recordViolation(18, s); return; }
    // I19: converting a range already in the target state begins nothing (this op's own record: other files'
    // conversions also move the global counters while it is paused)
    if (load<u32>(op, OP_WASNOOP) != 0 && (load<u32>(op, OP_NLIST) != 0 || (opFlags(op) & CF_BEGUN) != 0)) {
      recordViolation(19, s);
      return;
    }
    // I9: after to-private no host PTE, pin or shared SPTE; after to-shared no private SPTE
    for (let i = s; i < e; i++) {
      if (!toShared && (folioHostMapped(gi, i) || folioPins(gi, i) != 0)) { recordViolation(9, i); return; }
    }
    const it = iterPush();
    for (let k: u32 = 0, nn = notifierCount(gi); k < nn; k++) {
      if (notifierClass(gi, k) != NOTIFIER_KVM) continue;
      const vm = notifierOwner(gi, k);
      for (let si: u32 = 0, ns = vmSlotsEnd(vm); si < ns; si++) {
        const sp = vmSlot(vm, si);
        if (!slotUsed(sp) || slotInode(sp) != gi || !slotOverlap(sp, s, e)) continue;
        if (ptCountRange(vmPt(vm, toShared), it, <u64>overlapGfnStart(sp), <u64>overlapGfnEnd(sp)) != 0) {
          iterPop();
          recordViolation(9, overlapGfnStart(sp));
          return;
        }
      }
    }
    iterPop();
  } else if (snap != 0) {
    // I18 (failure half): attributes unchanged ([V2] by rollback, [V4] because every failure comes first)
    for (let i = s; i < e; i++) {
      const was = (load<u8>(snap + ((i - s) >> 3)) >> <u8>((i - s) & 7)) & 1;
      if ((was != 0) != bitmapTest(bm, i)) { recordViolation(18, i); return; }
    }
  }
  if (r == -EAGAIN) {
    // I20: error_offset inside the range ([V2]: a large folio's first index may precede it)
    const err = load<u32>(op, OP_ERR_INDEX);
    const lo = gmemIsV4(gi) ? s : s & ~((<u32>1 << blockShift(gi)) - 1);
    if (err < lo || err >= e) recordViolation(20, err);
  }
}
