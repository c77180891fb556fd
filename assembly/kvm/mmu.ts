// KVM's MMU side of an invalidation: the mmu_invalidate protocol of virt/kvm/kvm_main.c (begin / range_add / end,
// mmu_invalidate_retry_gfn), zapping SPTEs of a slot's range per attr_filter (kvm_mmu_unmap_gfn_range, TDX
// through the S-EPT removal sequence), remote TLB flushes, and breaking huge SPTEs before the backing shrinks.
import {
  EV_KVM_ZAP, EV_KVM_TLB_FLUSH, EVF_PRIVATE,
} from "../abi/events";
import { RESTRUCTURE_RMP } from "../abi/consts";
import { emit } from "../lib/events";
import { fpTouch, RES_LOCK, FP_WRITE } from "../lib/footprint";
import { stepLock, LC_MMU, LM_WRITE, LW_MUST, LW_TRY } from "../mm/sync";
import { inThreadMode } from "../mm/instance";
import { iterPush, iterPop } from "../lib/iter";
import { isTdx } from "../lib/machine";
import {
  ptZapRange, ptWalkLeaf, ptDemoteAt, ptZapLeaf, spteLevel, levelPages, ZAP_WHOLE, ZAP_KEEP_TABLES,
} from "../lib/pagetable";
import {
  VM_SEQ, VM_ENDS, VM_IN_PROGRESS, VM_RANGE_START, VM_RANGE_END, VM_RANGE_VALID, VM_TLB_FLUSHES, VM_MMU_LOCK, vmIndex,
  vmPtPrivate, vmPtShared, vmMarkDead, slotBase, slotPgoff, slotInode, slotIndex,
} from "./vm";
import { tdxZapPrivate, tdxRemoveFailed, tdxDemote } from "../arch/tdx";

/**
 * write_lock(&kvm->mmu_lock) for the rest of the step (mm/sync.ts LC_MMU; in the explorer it is never held across
 * steps, so always free there). `how`: LW_* (a step that has not changed anything yet may give up: LW_MAY).
 */
// @ts-ignore: decorator
@inline export function mmuLock(vm: u32, how: u32 = LW_MUST): bool {
  fpTouch(vmIndex(vm), RES_LOCK, FP_WRITE);
  return stepLock(<usize>vm + VM_MMU_LOCK, LC_MMU, LM_WRITE, inThreadMode() ? LW_TRY : how);
}
/** mmu_lock where the step must have it (taken up front by a conversion step, or free in a stopped world). */
// @ts-ignore: decorator
@inline export function mmuWrite(vm: u32): void { mmuLock(vm); }

/** kvm_mmu_invalidate_begin: in_progress++; the first begin resets the range to INVALID_GPA. */
export function kvmInvalidateBegin(vm: u32): void {
  const n = load<i32>(vm, VM_IN_PROGRESS) + 1;
  store<i32>(vm, n, VM_IN_PROGRESS);
  if (n == 1) store<u32>(vm, 0, VM_RANGE_VALID);
}

/** kvm_mmu_invalidate_range_add: ranges accumulate until every outstanding invalidation has ended. */
export function kvmInvalidateRangeAdd(vm: u32, start: u32, end: u32): void {
  if (load<u32>(vm, VM_RANGE_VALID) == 0) {
    store<u32>(vm, start, VM_RANGE_START);
    store<u32>(vm, end, VM_RANGE_END);
    store<u32>(vm, 1, VM_RANGE_VALID);
  } else {
    if (start < load<u32>(vm, VM_RANGE_START)) store<u32>(vm, start, VM_RANGE_START);
    if (end > load<u32>(vm, VM_RANGE_END)) store<u32>(vm, end, VM_RANGE_END);
  }
}

/** kvm_mmu_invalidate_end: seq++, then in_progress--. */
export function kvmInvalidateEnd(vm: u32): void {
  store<u32>(vm, load<u32>(vm, VM_SEQ) + 1, VM_SEQ);
  store<u32>(vm, load<u32>(vm, VM_ENDS) + 1, VM_ENDS);
  store<i32>(vm, load<i32>(vm, VM_IN_PROGRESS) - 1, VM_IN_PROGRESS);
}

/** Is an invalidation of gfn in progress (in_progress and gfn inside the accumulated range, or no range yet)? */
export function kvmInvalidationCovers(vm: u32, gfn: u32): bool {
  if (load<i32>(vm, VM_IN_PROGRESS) <= 0) return false;
  if (load<u32>(vm, VM_RANGE_VALID) == 0) return true;
  return gfn >= load<u32>(vm, VM_RANGE_START) && gfn < load<u32>(vm, VM_RANGE_END);
}

/** mmu_invalidate_retry_gfn: must a fault that snapshotted mmuSeq retry for gfn? */
export function kvmRetryGfn(vm: u32, mmuSeq: u32, gfn: u32): bool {
  return kvmInvalidationCovers(vm, gfn) || load<u32>(vm, VM_SEQ) != mmuSeq;
}

/** kvm_flush_remote_tlbs. */
export function kvmFlushTlbs(vm: u32): void {
  store<u32>(vm, load<u32>(vm, VM_TLB_FLUSHES) + 1, VM_TLB_FLUSHES);
  emit(EV_KVM_TLB_FLUSH, 0, vmIndex(vm), 0, 0, 0, 0);
}

/**
 * Zap the SPTEs of gfns [start, end) of memslot sp in the private and/or shared table (kvm_unmap_gfn_range with
 * attr_filter); TDX removes private leaves through the S-EPT (a removal failure kills the VM). Emits one kvm.zap
 * per table that lost entries; the caller flushes TLBs. The leaves removed, or -ENOMEM (a demotion).
 */
export function kvmZapSlotRange(vm: u32, sp: usize, start: u32, end: u32, priv: bool, shared: bool): i32 {
  mmuWrite(vm);
  let total: i32 = 0;
  const it = iterPush();
  if (priv) {
    let r: i32;
    if (isTdx()) {
      r = tdxZapPrivate(vmIndex(vm), vmPtPrivate(vm), slotInode(sp), slotBase(sp), slotPgoff(sp), start, end);
      if (tdxRemoveFailed()) vmMarkDead(vm);
    } else { // a straddling leaf goes whole
      r = ptZapRange(vmPtPrivate(vm), it, <u64>start, <u64>end, ZAP_WHOLE | ZAP_KEEP_TABLES);
    }
    if (r < 0) { iterPop(); return r; }
    if (r > 0) emit(EV_KVM_ZAP, EVF_PRIVATE, vmIndex(vm), start, end, <u32>r, 0);
    total += r;
  }
  if (shared) {
    const r = ptZapRange(vmPtShared(vm), it, <u64>start, <u64>end, ZAP_WHOLE | ZAP_KEEP_TABLES);
    if (r < 0) { iterPop(); return r; }
    if (r > 0) emit(EV_KVM_ZAP, 0, vmIndex(vm), start, end, <u32>r, 0);
    total += r;
  }
  iterPop();
  return total;
}

/**
 * Before the backing of gmem indices [lo, hi) of memslot sp changes size, no private SPTE larger than `maxLevel`
 * stays over it: a folio split (`how` = level) demotes on TDX (accepted memory cannot be refaulted: BLOCK, TRACK,
 * DEMOTE) and zaps elsewhere (TDX v3 "Zap mappings before splitting backend folios"); an SNP RMP change (`how` |
 * RESTRUCTURE_RMP) demotes the NPT entry to the RMP entry's size. Returns the leaves zapped (the caller flushes).
 */
export function kvmBreakHuge(vm: u32, sp: usize, lo: u32, hi: u32, how: u32): u32 {
  const maxLevel = how & 0xff;
  const rmp = (how & RESTRUCTURE_RMP) != 0;
  const pt = vmPtPrivate(vm);
  let zapped: u32 = 0;
  mmuWrite(vm);
  for (let idx = lo & ~511; idx < hi; idx += 512) {
    const gfn = slotBase(sp) + (idx < lo ? lo : idx) - slotPgoff(sp);
    let p = ptWalkLeaf(pt, gfn);
    while (p != 0 && spteLevel(load<u64>(p)) > maxLevel) {
      const level = spteLevel(load<u64>(p));
      const n = <u32>levelPages(level);
      const g0 = gfn & ~(n - 1);
      if (rmp) {
        if (ptDemoteAt(pt, p) < 0) break;
      } else if (isTdx()) {
        if (tdxDemote(vmIndex(vm), pt, p, gfn, slotInode(sp), slotIndex(sp, g0)) < 0) break;
      } else {
        ptZapLeaf(pt, gfn, ZAP_KEEP_TABLES);
        emit(EV_KVM_ZAP, EVF_PRIVATE, vmIndex(vm), g0, g0 + n, 1, 0);
        zapped++;
        break;
      }
      p = ptWalkLeaf(pt, gfn);
    }
  }
  return zapped;
}

