// The invalidation-notifier list of an inode: the seam the seed asks for ("guestmemfd should allow the iommu to plug
// in either invalidation scheme"). Every consumer of an inode's pages registers here: each VM with a memslot bound
// to it (one record per VM, as one gmem file per VM), each gmem-mode IOMMU bound to it (with its scheme's ops).
// guest_memfd reaches KVM and the IOMMU only through this list, never by importing them.
//
//   record (GI_NOTIFIER_SIZE, in the inode page from GI_NOTIFIERS): +0 class u32 (NOTIFIER_KVM / NOTIFIER_IOMMU),
//   +4 ops id u32 (NOPS_*), +8 owner u32 (the VM or IOMMU record), +12 owner's handle index u32, +16 the owner's
//   lock word (a VM's mmu_lock, an IOMMU domain's lock), which conversion steps take up front (notifierLockAll)
//   ops table (H_NOTIFIER_OPS): per ops id, the table index of each callback (NCB_*), written at every attach by
//   the consumers' modules (kvm/notifier.ts, iommu/scheme_*.ts): like struct mmu_notifier_ops.
// One callback is the simulator's, not the kernel's: NCB_PREFETCH (optional) reads the entries an invalidation of a
// few pages is about to change, all at once, so their cache misses overlap instead of following one another.
// Callbacks run KVM's records first, then the IOMMUs' (kvm_gmem_convert_should_proceed unmaps KVM's tables, then
// calls the IOMMU). Switching the IOMMU callback off (SG_IOMMU_CALLBACK) skips the IOMMU records' NCB_INVALIDATE.
import { H_NOTIFIER_OPS, NOTIFIER_OPS_MAX, NOTIFIER_CALLBACKS } from "../abi/layout";
import { GI_NNOTIFIER, GI_NOTIFIERS, GI_NOTIFIER_SIZE, GI_NOTIFIER_MAX } from "../abi/records";
import {
  NOTIFIER_KVM, NOTIFIER_IOMMU, NCB_BEGIN, NCB_INVALIDATE, NCB_END, NCB_RESTRUCTURE, NCB_PREFETCH, SG_IOMMU_CALLBACK,
} from "../abi/consts";
import { safeguard } from "../lib/machine";
import { DEBUG } from "../lib/debug";
import { fpTouch, RES_LOCK, FP_WRITE } from "../lib/footprint";
import { stepLock, releaseHeld, lockingOn, LC_MMU, LC_DOM, LM_WRITE } from "../mm/sync";
import { inThreadMode } from "../mm/instance";

const NR_CLASS: usize = 0;
const NR_OPS: usize = 4;
const NR_OWNER: usize = 8;
const NR_OWNER_INDEX: usize = 12;
const NR_LOCK: usize = 16;

export type BeginFn = (owner: u32, gi: u32, start: u32, end: u32, reason: u32) => void;
export type InvalidateFn = (owner: u32, gi: u32, start: u32, end: u32, reason: u32, filter: u32) => i32;
export type EndFn = (owner: u32, gi: u32, start: u32, end: u32, reason: u32) => void;
export type RestructureFn = (owner: u32, gi: u32, first: u32, n: u32, level: u32) => void;
export type PrefetchFn = (owner: u32, gi: u32, start: u32, end: u32) => u64;

// @ts-ignore: decorator
@inline function opsAt(ops: u32, cb: u32): usize {
  return <usize>H_NOTIFIER_OPS + ((<usize>ops * NOTIFIER_CALLBACKS + cb) << 2);
}
// @ts-ignore: decorator
@inline function recAt(gi: u32, i: u32): usize { return <usize>gi + GI_NOTIFIERS + <usize>i * GI_NOTIFIER_SIZE; }
// @ts-ignore: decorator
@inline export function notifierCount(gi: u32): u32 { return load<u32>(gi, GI_NNOTIFIER); }
// @ts-ignore: decorator
@inline export function notifierClass(gi: u32, i: u32): u32 { return load<u32>(recAt(gi, i), NR_CLASS); }
// @ts-ignore: decorator
@inline export function notifierOwner(gi: u32, i: u32): u32 { return load<u32>(recAt(gi, i), NR_OWNER); }
// @ts-ignore: decorator
@inline export function notifierOwnerIndex(gi: u32, i: u32): u32 { return load<u32>(recAt(gi, i), NR_OWNER_INDEX); }

/** A consumer module publishes its callbacks under an ops id (at every attach: same table indices every time). */
export function notifierOpsSet(ops: u32, begin: BeginFn, invalidate: InvalidateFn, end: EndFn, restructure: RestructureFn): void {
  if (DEBUG) assert(ops != 0 && ops < <u32>NOTIFIER_OPS_MAX, "notifierOpsSet: ops id outside 1 .. NOTIFIER_OPS_MAX - 1");
  if (ops == 0 || ops >= <u32>NOTIFIER_OPS_MAX) return; // never published: iommu.bind with it fails
  store<u32>(opsAt(ops, NCB_BEGIN), begin.index);
  store<u32>(opsAt(ops, NCB_INVALIDATE), invalidate.index);
  store<u32>(opsAt(ops, NCB_END), end.index);
  store<u32>(opsAt(ops, NCB_RESTRUCTURE), restructure.index);
}

/** A consumer that can say what its invalidation of a range reads publishes that too (after notifierOpsSet). */
export function notifierPrefetchSet(ops: u32, prefetch: PrefetchFn): void {
  if (ops != 0 && ops < <u32>NOTIFIER_OPS_MAX) store<u32>(opsAt(ops, NCB_PREFETCH), prefetch.index);
}

/** Register `owner` (of class NOTIFIER_*, taking lock word `lock`) on the inode with ops id `ops`; false when full. */
export function notifierRegister(gi: u32, cls: u32, ops: u32, owner: u32, ownerIndex: u32, lock: usize): bool {
  const n = load<u32>(gi, GI_NNOTIFIER);
  if (n >= <u32>GI_NOTIFIER_MAX || ops == 0 || ops >= <u32>NOTIFIER_OPS_MAX) return false;
  const r = recAt(gi, n);
  store<u32>(r, cls, NR_CLASS);
  store<u32>(r, ops, NR_OPS);
  store<u32>(r, owner, NR_OWNER);
  store<u32>(r, ownerIndex, NR_OWNER_INDEX);
  store<u32>(r, <u32>lock, NR_LOCK);
  store<u32>(gi, n + 1, GI_NNOTIFIER);
  return true;
}

/** Remove owner's record (order of the others is kept). */
export function notifierUnregister(gi: u32, owner: u32): void {
  const n = load<u32>(gi, GI_NNOTIFIER);
  for (let i: u32 = 0; i < n; i++) {
    if (load<u32>(recAt(gi, i), NR_OWNER) != owner) continue;
    if (i + 1 < n) memory.copy(recAt(gi, i), recAt(gi, i + 1), <usize>(n - i - 1) * GI_NOTIFIER_SIZE);
    memory.fill(recAt(gi, n - 1), 0, GI_NOTIFIER_SIZE);
    store<u32>(gi, n - 1, GI_NNOTIFIER);
    return;
  }
}

/** Is `owner` registered on the inode? */
export function notifierHas(gi: u32, owner: u32): bool {
  const n = load<u32>(gi, GI_NNOTIFIER);
  for (let i: u32 = 0; i < n; i++) if (load<u32>(recAt(gi, i), NR_OWNER) == owner) return true;
  return false;
}

/** The callback's table index for record r, or 0 when its ops id is not a published one. */
function callbackOf(r: usize, cb: u32): u32 {
  const ops = load<u32>(r, NR_OPS);
  if (ops == 0 || ops >= <u32>NOTIFIER_OPS_MAX) return 0;
  return load<u32>(opsAt(ops, cb));
}

/** The step reaches every consumer on gi's list (all of them, or only the IOMMUs): the explorer's footprint. */
// @ts-ignore: decorator
@inline export function notifierTouchAll(gi: u32, kvmToo: bool): void { if (inThreadMode()) touchAll(gi, kvmToo); }
function touchAll(gi: u32, kvmToo: bool): void {
  for (let i: u32 = 0, n = load<u32>(gi, GI_NNOTIFIER); i < n; i++) {
    const r = recAt(gi, i);
    if (!kvmToo && load<u32>(r, NR_CLASS) == NOTIFIER_KVM) continue;
    fpTouch(load<u32>(r, NR_OWNER_INDEX), RES_LOCK, FP_WRITE);
  }
}

/**
 * Take every consumer's lock for the rest of the step, KVM's (mmu_lock, class LC_MMU) before the IOMMUs' (class
 * LC_DOM), each class in address order, so two conversions sharing consumers can never wait for each other in a
 * circle. `how`: LW_* of mm/sync.ts; extraDom: one more domain lock to take in the same order. false: not all
 * taken (nothing is held then).
 */
export function notifierLockAll(gi: u32, how: u32, extraDom: usize = 0): bool {
  if (!lockingOn()) return true;
  const n = load<u32>(gi, GI_NNOTIFIER);
  for (let cls: u32 = NOTIFIER_KVM; cls <= NOTIFIER_IOMMU; cls++) {
    let last: usize = 0;
    for (;;) { // the next lock word above `last` of this class (lists are short: a selection walk)
      let next: usize = usize.MAX_VALUE;
      if (cls == NOTIFIER_IOMMU && extraDom > last) next = extraDom; // a domain outside the list (pin mode)
      for (let i: u32 = 0; i < n; i++) {
        const r = recAt(gi, i);
        const w = <usize>load<u32>(r, NR_LOCK);
        if (load<u32>(r, NR_CLASS) == cls && w > last && w < next) next = w;
      }
      if (next == usize.MAX_VALUE) break;
      if (!stepLock(next, cls == NOTIFIER_KVM ? LC_MMU : LC_DOM, LM_WRITE, how)) { releaseHeld(); return false; }
      last = next;
    }
  }
  return true;
}

/** invalidate_begin on every consumer for index range [start, end) (KVM: mmu_invalidate_begin; IOMMU: block). */
export function notifierBegin(gi: u32, start: u32, end: u32, reason: u32): void {
  notifierTouchAll(gi, true);
  for (let cls: u32 = NOTIFIER_KVM; cls <= NOTIFIER_IOMMU; cls++) {
    for (let i: u32 = 0; i < load<u32>(gi, GI_NNOTIFIER); i++) {
      const r = recAt(gi, i);
      if (load<u32>(r, NR_CLASS) != cls) continue;
      const f = callbackOf(r, NCB_BEGIN);
      if (f != 0) call_indirect<void>(f, load<u32>(r, NR_OWNER), gi, start, end, reason);
    }
  }
}

/**
 * The invalidation itself: KVM zaps the SPTEs `filter` selects (FILTER_*), an IOMMU runs its scheme's callback for
 * `reason`. The first error (-ENOMEM from a demotion) stops the walk and is returned.
 */
export function notifierInvalidate(gi: u32, start: u32, end: u32, reason: u32, filter: u32): i32 {
  notifierTouchAll(gi, true);
  for (let cls: u32 = NOTIFIER_KVM; cls <= NOTIFIER_IOMMU; cls++) {
    if (cls == NOTIFIER_IOMMU && !safeguard(SG_IOMMU_CALLBACK)) continue;
    for (let i: u32 = 0; i < load<u32>(gi, GI_NNOTIFIER); i++) {
      const r = recAt(gi, i);
      if (load<u32>(r, NR_CLASS) != cls) continue;
      const f = callbackOf(r, NCB_INVALIDATE);
      if (f == 0) continue;
      const x = call_indirect<i32>(f, load<u32>(r, NR_OWNER), gi, start, end, reason, filter);
      if (x < 0) return x;
    }
  }
  return 0;
}

/** invalidate_end on every consumer (KVM: mmu_invalidate_end; IOMMU: unblock, seq++). */
export function notifierEnd(gi: u32, start: u32, end: u32, reason: u32): void {
  notifierTouchAll(gi, true);
  for (let cls: u32 = NOTIFIER_KVM; cls <= NOTIFIER_IOMMU; cls++) {
    for (let i: u32 = 0; i < load<u32>(gi, GI_NNOTIFIER); i++) {
      const r = recAt(gi, i);
      if (load<u32>(r, NR_CLASS) != cls) continue;
      const f = callbackOf(r, NCB_END);
      if (f != 0) call_indirect<void>(f, load<u32>(r, NR_OWNER), gi, start, end, reason);
    }
  }
}

/**
 * Read what invalidating [start, end) will change, on every consumer that publishes NCB_PREFETCH, and return the sum
 * of what was read (the caller keeps it, so the loads stay). Nothing changes; only the cache does.
 */
export function notifierPrefetch(gi: u32, start: u32, end: u32): u64 {
  let x: u64 = 0;
  for (let i: u32 = 0, n = load<u32>(gi, GI_NNOTIFIER); i < n; i++) {
    const r = recAt(gi, i);
    const f = callbackOf(r, NCB_PREFETCH);
    if (f != 0) x += call_indirect<u64>(f, load<u32>(r, NR_OWNER), gi, start, end);
  }
  return x;
}

/**
 * Before the backing of [first, first + n) changes size (a folio split, an SNP PSMASH or 2 MiB RMPUPDATE), no
 * mapping larger than `level` may stay over it (I15, I10): KVM demotes (TDX) or zaps, IOMMUs smash their entries.
 */
export function notifierRestructure(gi: u32, first: u32, n: u32, level: u32): void {
  notifierTouchAll(gi, true);
  for (let cls: u32 = NOTIFIER_KVM; cls <= NOTIFIER_IOMMU; cls++) {
    for (let i: u32 = 0; i < load<u32>(gi, GI_NNOTIFIER); i++) {
      const r = recAt(gi, i);
      if (load<u32>(r, NR_CLASS) != cls) continue;
      const f = callbackOf(r, NCB_RESTRUCTURE);
      if (f != 0) call_indirect<void>(f, load<u32>(r, NR_OWNER), gi, first, n, level);
    }
  }
}
