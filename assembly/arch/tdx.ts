// Intel TDX: the private table is KVM's mirror of the S-EPT, which the TDX module owns (arch/x86/kvm/vmx/tdx.c).
// Removing a private page is TDH.MEM.RANGE.BLOCK -> TDH.MEM.TRACK (+ kick every vCPU) -> TDH.MEM.PAGE.REMOVE ->
// WBINVD -> tdx_clear_page; a huge leaf partly inside the range is split first with BLOCK, TRACK, DEMOTE ("precise
// zapping"), and a 2 MiB block demoted after the guest accepted at 4 KiB never maps huge again (GUEST_INHIBIT).
// A removal failure is KVM_BUG_ON: the VM is dead and the page is leaked.
import { GI_INHIBIT, GI_NPAGES } from "../abi/records";
import { EV_ARCH_SEPT_REMOVE, EV_ARCH_SEPT_DEMOTE, EV_ARCH_SEPT_BLOCK, EV_ARCH_SEPT_TRACK } from "../abi/events";
import { INJ_SEPT_REMOVE_FAIL, SEPT_BLOCKED, SEPT_REMOVED } from "../abi/consts";
import {
  tdpIterStart, tdpIterNext, ptWalkLeaf, ptDemoteAt, ptZapRange, ptRoot, spteIsPresent, spteIsLeaf, spteLevel,
  levelPages, ZAP_WHOLE, ZAP_KEEP_TABLES, SPTE_STATE_MASK, SPTE_STATE_SHIFT,
} from "../lib/pagetable";
import { bitmapCreate, bitmapDestroy, bitmapTest, bitmapAssign } from "../lib/bitmap";
import { emit } from "../lib/events";
import { injectTake } from "../lib/inject";
import { iterPush, iterPop } from "../lib/iter";
import { pfnLeak } from "../mm/pfn";
import { contentZero, contentGet, contentSet, CONTENT_ENC } from "../gmem/content";

export function tdxInit(gi: u32): bool {
  const b = bitmapCreate((load<u32>(gi, GI_NPAGES) + 511) >> 9, false);
  if (b == 0) return false;
  store<u32>(gi, b, GI_INHIBIT);
  return true;
}

export function tdxDestroy(gi: u32): void {
  const b = load<u32>(gi, GI_INHIBIT);
  if (b != 0) { bitmapDestroy(b); store<u32>(gi, 0, GI_INHIBIT); }
}

/** KVM_LPAGE_GUEST_INHIBIT for the 2 MiB block of index. */
export function tdxInhibited(gi: u32, index: u32): bool {
  const b = load<u32>(gi, GI_INHIBIT);
  return b != 0 && bitmapTest(b, index >> 9);
}

function inhibit(gi: u32, index: u32): void {
  const b = load<u32>(gi, GI_INHIBIT);
  if (b != 0 && !bitmapTest(b, index >> 9)) bitmapAssign(b, index >> 9, (index >> 9) + 1, true);
}

/**
 * Split the private huge leaf at *sptep (KVM's mirror, S-EPT underneath): BLOCK, TRACK + kick, DEMOTE. The 2 MiB
 * block it covered never maps huge again. `index` is the gmem index of the leaf's first gfn. 0 or -ENOMEM.
 */
export function tdxDemote(vmIdx: u32, pt: usize, sptep: u32, gfn: u32, gi: u32, index: u32): i32 {
  const e = load<u64>(sptep);
  const level = spteLevel(e);
  const g0 = gfn & ~(<u32>levelPages(level) - 1);
  emit(EV_ARCH_SEPT_BLOCK, 0, vmIdx, g0, 0, level, 0);
  emit(EV_ARCH_SEPT_TRACK, 0, vmIdx, 0, 0, 0, 0);
  const r = ptDemoteAt(pt, sptep);
  if (r < 0) return r;
  emit(EV_ARCH_SEPT_DEMOTE, 0, vmIdx, g0, 0, level, 0);
  if (level == 2) inhibit(gi, index);
  return 0;
}

/** Demote every huge leaf that sticks out of [start, end) at either edge (TDH.MEM.PAGE.DEMOTE). */
function demoteEdges(vmIdx: u32, pt: usize, gi: u32, base: u32, pgoff: u32, start: u32, end: u32): i32 {
  for (let k = 0; k < 2; k++) {
    const gfn = k == 0 ? start : end - 1;
    let p = ptWalkLeaf(pt, gfn);
    while (p != 0) {
      const level = spteLevel(load<u64>(p));
      if (level < 2) break;
      const n = <u32>levelPages(level);
      const g0 = gfn & ~(n - 1);
      if (g0 >= start && <u64>g0 + n <= <u64>end) break; // fully inside: removed whole
      const r = tdxDemote(vmIdx, pt, p, gfn, gi, g0 - base + pgoff);
      if (r < 0) return r;
      p = ptWalkLeaf(pt, gfn);
    }
  }
  return 0;
}

// Set when the last tdxZapPrivate hit a removal failure: the caller marks its VM dead (KVM_BUG_ON).
let removeFailed: bool = false;
export function tdxRemoveFailed(): bool { return removeFailed; }

/**
 * Remove the private leaves of [start, end) of one memslot (gfn -> index by base/pgoff) from the S-EPT: demote
 * straddling leaves, then BLOCK / TRACK / REMOVE each leaf and clear its pages. The leaves removed, or -ENOMEM.
 */
export function tdxZapPrivate(vmIdx: u32, pt: usize, gi: u32, base: u32, pgoff: u32, start: u32, end: u32): i32 {
  removeFailed = false;
  const d = demoteEdges(vmIdx, pt, gi, base, pgoff, start, end);
  if (d < 0) return d;
  const it = iterPush();
  tdpIterStart(it, ptRoot(pt), 1, <u64>start, <u64>end);
  while (it.valid) {
    const e = it.oldSpte;
    if (spteIsPresent(e) && spteIsLeaf(e)) {
      const level = spteLevel(e);
      const n = <u32>levelPages(level);
      const g = <u32>it.gfn;
      store<u64>(it.sptep, (e & ~SPTE_STATE_MASK) | (<u64>SEPT_BLOCKED << SPTE_STATE_SHIFT));
      emit(EV_ARCH_SEPT_BLOCK, 0, vmIdx, g, 0, level, 0);
      emit(EV_ARCH_SEPT_TRACK, 0, vmIdx, 0, 0, 0, 0);
      emit(EV_ARCH_SEPT_REMOVE, 0, vmIdx, g, 0, level, 0);
      store<u64>(it.sptep, (e & ~SPTE_STATE_MASK) | (<u64>SEPT_REMOVED << SPTE_STATE_SHIFT));
      if (injectTake(INJ_SEPT_REMOVE_FAIL)) {
        // KVM_BUG_ON: the VM is dead, the page stays with the TDX module (leaked); its content is not cleared
        removeFailed = true;
        pfnLeak(n);
      } else {
        contentZero(gi, g - base + pgoff, g - base + pgoff + n); // tdx_clear_page
      }
    }
    tdpIterNext(it);
  }
  const r = ptZapRange(pt, it, <u64>start, <u64>end, ZAP_WHOLE | ZAP_KEEP_TABLES);
  iterPop();
  return r;
}

/** TDH.MEM.PAGE.AUG + the guest's ACCEPT of [index, index + n): a page last written shared reads zero. */
export function tdxAccept(gi: u32, index: u32, n: u32): void {
  for (let i = index; i < index + n; i++) {
    const w = contentGet(gi, i);
    if (w != 0 && (w & CONTENT_ENC) == 0) contentSet(gi, i, 0);
  }
}
