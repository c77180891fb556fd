// Intel TDX: the private table is KVM's mirror of the S-EPT, which the TDX module owns. Removing a private page
// is TDH.MEM.RANGE.BLOCK -> TDH.MEM.TRACK (+ kick every vCPU) -> TDH.MEM.PAGE.REMOVE -> WBINVD -> tdx_clear_page
// (arch/x86/kvm/vmx/tdx.c); a huge leaf partly inside the range is demoted first (TDH.MEM.PAGE.DEMOTE: "precise
// zapping"), and a 2 MiB block demoted after the guest accepted at 4 KiB never maps huge again (GUEST_INHIBIT).
// A removal failure is KVM_BUG_ON: the VM is dead and the page is leaked.
import {
  GI_INHIBIT, GI_NPAGES, VM_FLAGS, VMF_DEAD, EV_ARCH_SEPT_REMOVE, EV_ARCH_SEPT_DEMOTE, INJ_SEPT_REMOVE_FAIL,
  PFN_LEAKED, EV_ARCH_SEPT_BLOCK, EV_ARCH_SEPT_TRACK,
} from "./layout";

// S-EPT leaf states, kept in the software bits of the mirror's leaves (pagetable.ts SPTE_STATE_*)
export const SEPT_MAPPED: u32 = 0; //   accepted by the guest
export const SEPT_BLOCKED: u32 = 1; //  TDH.MEM.RANGE.BLOCK: no new TLB entries
export const SEPT_PENDING: u32 = 2; //  TDH.MEM.PAGE.AUG: present, not accepted yet
export const SEPT_REMOVED: u32 = 3; //  TDH.MEM.PAGE.REMOVE ran (the mirror drops the leaf right after)
import { TdpIter, tdpIterStart, tdpIterNext, ptWalkLeaf, ptDemoteAt, ptZapRange, spteIsPresent, spteIsLeaf,
  spteLevel, ZAP_WHOLE, PT_ROOT_OF, SPTE_STATE_MASK, SPTE_STATE_SHIFT } from "./pagetable";
import { bitmapCreate, bitmapDestroy, bitmapTest, bitmapAssign } from "./bitmap";
import { contentZero, contentGet, contentSet, CONTENT_ENC } from "./folio";
import { emit } from "./events";
import { injectTake } from "./inject";

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

export function tdxInhibit(gi: u32, index: u32): void { inhibit(gi, index); }

function inhibit(gi: u32, index: u32): void {
  const b = load<u32>(gi, GI_INHIBIT);
  if (b != 0 && !bitmapTest(b, index >> 9)) bitmapAssign(b, index >> 9, (index >> 9) + 1, true);
}

/** Demote every huge leaf that sticks out of [start, end) at either edge (TDH.MEM.PAGE.DEMOTE). */
function demoteEdges(vmIdx: u32, pt: usize, gi: u32, base: u32, pgoff: u32, start: u32, end: u32): i32 {
  for (let k = 0; k < 2; k++) {
    const gfn = k == 0 ? start : end - 1;
    let p = ptWalkLeaf(pt, gfn);
    while (p != 0) {
      const e = load<u64>(p);
      const level = spteLevel(e);
      if (level < 2) break;
      const n: u32 = level == 3 ? 262144 : 512;
      const g0 = gfn & ~(n - 1);
      if (g0 >= start && <u64>g0 + n <= <u64>end) break; // fully inside: removed whole
      const r = ptDemoteAt(pt, p);
      if (r < 0) return r;
      emit(EV_ARCH_SEPT_DEMOTE, 0, vmIdx, g0, 0, level, 0);
      if (level == 2) inhibit(gi, g0 - base + pgoff);
      p = ptWalkLeaf(pt, gfn);
    }
  }
  return 0;
}

/**
 * Remove the private leaves of [start, end) of one memslot (gfn -> index by base/pgoff) from the S-EPT: demote
 * straddling leaves, then BLOCK/TRACK/REMOVE each leaf (one arch.sept_remove each) and clear its pages. Returns the
 * leaves removed or -ENOMEM.
 */
export function tdxZapPrivate(vm: u32, vmIdx: u32, pt: usize, it: TdpIter, gi: u32, base: u32, pgoff: u32,
                              start: u32, end: u32): i32 {
  const d = demoteEdges(vmIdx, pt, gi, base, pgoff, start, end);
  if (d < 0) return d;
  tdpIterStart(it, load<u32>(pt, PT_ROOT_OF), 1, <u64>start, <u64>end);
  while (it.valid) {
    const e = it.oldSpte;
    if (spteIsPresent(e) && spteIsLeaf(e)) {
      const level = spteLevel(e);
      const n: u32 = level == 3 ? 262144 : level == 2 ? 512 : 1;
      const g = <u32>it.gfn;
      // BLOCK -> TRACK (every vCPU kicked out) -> REMOVE
      store<u64>(it.sptep, (e & ~SPTE_STATE_MASK) | (<u64>SEPT_BLOCKED << SPTE_STATE_SHIFT));
      emit(EV_ARCH_SEPT_BLOCK, 0, vmIdx, g, 0, level, 0);
      emit(EV_ARCH_SEPT_TRACK, 0, vmIdx, 0, 0, 0, 0);
      emit(EV_ARCH_SEPT_REMOVE, 0, vmIdx, g, 0, level, 0);
      store<u64>(it.sptep, (e & ~SPTE_STATE_MASK) | (<u64>SEPT_REMOVED << SPTE_STATE_SHIFT));
      if (injectTake(INJ_SEPT_REMOVE_FAIL)) {
        // KVM_BUG_ON: the VM is dead, the page stays with the TDX module (leaked); its content is not cleared
        store<u32>(vm, load<u32>(vm, VM_FLAGS) | VMF_DEAD, VM_FLAGS);
        store<u32>(PFN_LEAKED, load<u32>(PFN_LEAKED) + n);
      } else {
        contentZero(gi, g - base + pgoff, g - base + pgoff + n); // tdx_clear_page
      }
    }
    tdpIterNext(it);
  }
  return ptZapRange(pt, it, <u64>start, <u64>end, ZAP_WHOLE);
}

/** TDH.MEM.PAGE.AUG + the guest's ACCEPT of [index, index + n): a page last written shared reads zero. */
export function tdxAccept(gi: u32, index: u32, n: u32): void {
  for (let i = index; i < index + n; i++) {
    const w = contentGet(gi, i);
    if (w != 0 && (w & CONTENT_ENC) == 0) contentSet(gi, i, 0);
  }
}
