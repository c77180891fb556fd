// Debug builds only (release: -EOPNOTSUPP): corrupt the state so that one invariant breaks, to show that the checker
// finds and names it. The runtime invariants (I9, I12, I18-I20) are broken through the debug hooks instead.
import { GI_INV_LOCK, GI_NOTIFIERS, GI_RMP } from "../abi/records";
import { EINVAL, EOPNOTSUPP, EBADF, EBUSY } from "../abi/errno";
import { VM_SEQ, VM_MMU_LOCK } from "../kvm/vm";
import { OBJ_T_GMEM, OBJ_T_VM, objGet } from "../mm/objects";
import { worldStop, worldStart, enter, leave } from "./bracket";
import { stepLock, LC_INV, LC_MMU, LM_WRITE, LW_TRY } from "../mm/sync";
import { DEBUG } from "../lib/debug";
import { BM_WORDS } from "../abi/records";
import { bitmapAssign } from "../lib/bitmap";
import { ptMap, ptZapRange, levelPages } from "../lib/pagetable";
import { iterPush, iterPop, iterReset } from "../lib/iter";
import { blockShift, gmemBitmap, gmemHostPtesAdd } from "../gmem/inode";
import { blockAt, FB_STATE, FB_ORDER, FB_REF, FB_FLAGS, FB_HUGE, folioOrder, folioPfn } from "../gmem/folio";
import { folioSetHostMap } from "../gmem/refs";
import { FOLIO_UPTODATE } from "../abi/consts";
import { notifierCount } from "../gmem/notifier";
import { slotForGfn, slotInode, slotIndex, vmPt } from "../kvm/vm";

/**
 * Break invariant `inv`: h is a gmem (I1-I6, I14, I17: index = page) or a VM (I7, I8, I10, I11, I13, I15, I16:
 * index = gfn). 0, or -EINVAL when this state offers nothing to break that way.
 */
export function sim_debug_corrupt(inv: u32, h: u32, index: u32): i32 {
  if (!DEBUG) return -EOPNOTSUPP;
  { const e = worldStop(); if (e != 0) return e; }
  iterReset();
  let r: i32 = 0;
  const gi = objGet(h, OBJ_T_GMEM);
  const vm = objGet(h, OBJ_T_VM);
  if (inv == 1 && gi != 0) {
    // flip a bit behind the counts' back
    const w = <usize>load<u32>(gmemBitmap(gi), BM_WORDS) + (<usize>(index >> 6) << 3);
    store<u64>(w, load<u64>(w) ^ (<u64>1 << <u64>(index & 63)));
  } else if (inv == 2 && gi != 0) {
    store<u8>(blockAt(gi, index >> blockShift(gi)), 3, FB_ORDER);
  } else if (inv == 3 && gi != 0) {
    bitmapAssign(gmemBitmap(gi), index, index + 1, true);
  } else if ((inv == 4 || inv == 5) && gi != 0) {
    const blk = blockAt(gi, index >> blockShift(gi));
    if (<u32>load<u8>(blk, FB_STATE) != FB_HUGE) r = -EINVAL;
    else if (inv == 4) store<u32>(blk, load<u32>(blk, FB_REF) - 1, FB_REF);
    else store<u16>(blk, load<u16>(blk, FB_FLAGS) & ~(<u16>FOLIO_UPTODATE), FB_FLAGS);
  } else if (inv == 6 && gi != 0) {
    if (folioOrder(gi, index) != 0) r = -EINVAL;
    else { folioSetHostMap(gi, index, true); gmemHostPtesAdd(gi, 1); }
  } else if (inv == 14 && gi != 0) {
    store<u32>(gi, 0xffffffff, GI_INV_LOCK);
  } else if (inv == 17 && gi != 0) {
    if (notifierCount(gi) == 0) r = -EINVAL; else store<u32>(<usize>gi + GI_NOTIFIERS, 0x40, 8); // a bogus owner
  } else if (inv == 13 && vm != 0) {
    store<u32>(vm, load<u32>(vm, VM_SEQ) + 1, VM_SEQ);
  } else if ((inv == 7 || inv == 8 || inv == 11 || inv == 15 || inv == 16) && vm != 0) {
    // install a leaf the fault path would never install: 7 shared-table leaf for a private page, 8 private-table
    // leaf for a shared page, 11/15/16 a 2 MiB private leaf (over an inhibited block / 4 KiB folios / a slot edge)
    const sp = slotForGfn(vm, index);
    if (sp == 0) r = -EINVAL;
    else {
      const gj = slotInode(sp);
      const level: u32 = inv == 7 || inv == 8 ? 1 : 2;
      const n = <u32>levelPages(level);
      const pfn = folioPfn(gj, slotIndex(sp, index) & ~(n - 1));
      const pt = vmPt(vm, inv != 7);
      if (pfn == 0) r = -EINVAL;
      else {
        const it = iterPush();
        ptZapRange(pt, it, <u64>(index & ~(n - 1)), <u64>(index & ~(n - 1)) + n, 0);
        iterPop();
        r = ptMap(pt, index & ~(n - 1), pfn, level, 0);
      }
    }
  } else if (inv == 10 && vm != 0) {
    // SNP: the RMP forgets a page the NPT maps private
    const sp = slotForGfn(vm, index);
    const rmp = sp == 0 ? 0 : load<u32>(slotInode(sp), GI_RMP);
    if (rmp == 0) r = -EINVAL; else bitmapAssign(rmp, slotIndex(sp, index), slotIndex(sp, index) + 1, false);
  } else r = -EINVAL;
  worldStart();
  return r;
}



/**
 * Debug builds: lockdep's own test, on real locks (lib/locking-selftest.c). Take VM vm's mmu_lock and guest_memfd
 * gmem's invalidate_lock for writing, in the documented order (inverted 0: 0) or the other way round (inverted 1:
 * the lock-order check fires, reports both locks in H_LOCKDEP and traps; the binding names them). Release:
 * -EOPNOTSUPP; -EBADF for a handle that is not a VM / guest_memfd.
 */
export function sim_debug_lock_order(vm: u32, gmem: u32, inverted: u32): i32 {
  if (!DEBUG) return -EOPNOTSUPP;
  const v = objGet(vm, OBJ_T_VM), gi = objGet(gmem, OBJ_T_GMEM);
  if (v == 0 || gi == 0) return -EBADF;
  { const e = enter(); if (e != 0) return e; }
  // (trylocks: a paused op holding the invalidate lock makes this -EBUSY instead of a wait)
  const mmu = <usize>v + VM_MMU_LOCK, inv = <usize>gi + GI_INV_LOCK;
  const first = inverted != 0 ? mmu : inv, second = inverted != 0 ? inv : mmu;
  const ok = stepLock(first, inverted != 0 ? LC_MMU : LC_INV, LM_WRITE, LW_TRY) &&
    stepLock(second, inverted != 0 ? LC_INV : LC_MMU, LM_WRITE, LW_TRY);
  return leave(ok ? 0 : -EBUSY, false);
}
