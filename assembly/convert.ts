// Conversion and truncation of a guest_memfd range, mirroring kvm_gmem_convert_range [V2] and
// __kvm_gmem_set_attributes [V4+], and kvm_gmem_punch_hole. A conversion is a small state machine kept in an
// operation page, so that it can stop after any phase (a scenario's "pause") while it holds the invalidate lock
// and KVM's invalidation, and be resumed later: that is how races with faults and IOMMU maps are written down.
//
//   phase   v2 (KVM_GMEM_CONVERT_*)                         v4 (KVM_SET_MEMORY_ATTRIBUTES2)
//   BEGIN   lock, work list, invalidate_begin on every VM    lock, "already set?", prealloc, to-private: unmap
//                                                            host PTEs + outstanding-reference check
//   PROCEED should_proceed: zap private SPTEs (to-shared) /  invalidate_start: begin + zap SPTEs of the old kind
//           unmap host PTEs, zap shared SPTEs, safe-refcount
//   EXECUTE set shareability, split / merge; rollback on err make_shared, content mode, store attributes
//   END     invalidate_end on every VM, unlock               invalidate_end, unlock
import {
  OP_KIND, OP_PHASE, OP_GMEM, OP_START, OP_END, OP_FLAGS, OP_RESULT, OP_ERR_INDEX, OP_NWORKS, OP_WORKS,
  OP_WORKS_ORDER, OP_ROLLBACK_STOP, OP_INLINE_WORKS, OP_INLINE_MAX, OPK_CONVERT, GI_NPAGES, GI_BITMAP, PAGE_SIZE,
  INJ_ENOMEM_STORE, INJ_TRANSIENT_REF, EV_KVM_INVALIDATE_BEGIN, EV_KVM_INVALIDATE_END, EV_GMEM_REFCOUNT_CHECK,
  EV_GMEM_SET_ATTR, EV_CONVERT_ROLLBACK, EV_FOLIO_FREE, EV_FOLIO_MERGE, EV_GMEM_ZERO, FB_ABSENT, FB_HUGE,
  H_COUNTERS, EV_KVM_ZAP, EV_FOLIO_SPLIT,
} from "./layout";
import { pageAlloc, pageFree, orderFor } from "./alloc";
import { bitmapAssign, bitmapNextDiff, bitmapCountShared, bitmapSharedInBlock } from "./bitmap";
import {
  blockShift, hugeOrder, blockState, freeBlock, freeSmall, mergeFolio, folioOrder, firstUnsafeFolio, contentZero,
  contentClearEnc, contentGet, contentSet, CONTENT_ENC, folioLastBusyIndex,
} from "./folio";
import {
  gmemIndex, gmemIsV4, gmemLockExclusive, gmemUnlockExclusive, gmemNbind, gmemBindVm, gmemBindSlot,
  gmemHostUnmapRange, gmemSplitBlock, gmemMergeBlock, isByteCount,
} from "./gmem";
import { kvmInvalidateBegin, kvmInvalidateRangeAdd, kvmInvalidateEnd, kvmZapGfnRange, vmSlot, vmIndex, slotBase, slotNpages, slotPgoff } from "./kvm";
import { TdpIter } from "./pagetable";
import {
  gmemNiommu, gmemIommu, iommuInvalidateBegin, iommuInvalidateEnd, iommuInvalidate, iommuRmpFlush,
} from "./iommu";
import { rmpMakeShared } from "./snp";
import { REASON_TO_PRIVATE, REASON_TO_SHARED, REASON_TRUNCATE } from "./layout";
import { emit, EVF_SHARED, EVF_OK } from "./events";
import { injectTake } from "./inject";
import { isSnp, isTdx } from "./arch";
import { EINVAL, EAGAIN, ENOMEM, EBUSY, EOPNOTSUPP } from "./errno";
import { checksOn, recordViolation, DBG_SKIP_ROLLBACK, DBG_FORCE_WORK, DBG_SKIP_HOST_UNMAP, DBG_BAD_ERROR_INDEX, debugHook } from "./check";

export const PH_BEGIN: u32 = 0;
export const PH_PROCEED: u32 = 1;
export const PH_EXECUTE: u32 = 2;
export const PH_END: u32 = 3;
export const PH_DONE: u32 = 4;

export const OPF_SHARED: u32 = 1; //         target: shared
export const OPF_V4: u32 = 2;
export const OPF_MODE_ZERO: u32 = 4;
export const OPF_MODE_PRESERVE: u32 = 8;
export const OPF_LOCKED: u32 = 16;
export const OPF_BEGUN: u32 = 32; //        invalidations begun (END must end them)

export const MODE_UNSPECIFIED: u32 = 0;
export const MODE_ZERO: u32 = 1;
export const MODE_PRESERVE: u32 = 2;

// ---- validation (kvm_gmem_ioctl_convert_range [V2] / kvm_gmem_set_attributes [V4+]) ----------------------------

/**
 * Check an ioctl's arguments in the kernel's order. Returns 0 (go on), 1 (v2 size 0: nothing to do) or -errno.
 * v2: size 0 -> 0; overflow / past i_size -> -EINVAL; unaligned -> -EINVAL; a content mode -> -EINVAL (v2 has no
 * flags). v4: size 0, overflow, unaligned, past i_size -> -EINVAL; ZERO to private, or PRESERVE to shared on
 * TDX/SNP -> -EOPNOTSUPP.
 */
export function convertValidate(gi: u32, offset: f64, size: f64, toShared: bool, mode: u32): i32 {
  const v4 = gmemIsV4(gi);
  if (mode > MODE_PRESERVE) return -EINVAL;
  if (!v4 && size == 0) return 1; // [V2] size 0 is checked before the range: a no-op whatever the offset
  if (v4) {
    // [V4+] the content-mode flags are checked first
    if (mode == MODE_ZERO && !toShared) return -EOPNOTSUPP;
    if (mode == MODE_PRESERVE && toShared && (isTdx() || isSnp())) return -EOPNOTSUPP;
  }
  if (!isByteCount(offset) || !isByteCount(size)) return -EINVAL; // past 2^53: past any i_size, or not a number
  const isize = <u64>load<u32>(gi, GI_NPAGES) << 12;
  const off = <u64>offset, sz = <u64>size;
  const mask = <u64>PAGE_SIZE - 1;
  if (!v4) {
    if (off > isize || off + sz > isize) return -EINVAL;
    if ((off & mask) != 0 || (sz & mask) != 0) return -EINVAL;
    if (mode != MODE_UNSPECIFIED) return -EINVAL;
    return 0;
  }
  if (sz == 0) return -EINVAL;
  if ((off & mask) != 0 || (sz & mask) != 0) return -EINVAL;
  if (off >= isize || off + sz > isize) return -EINVAL;
  return 0;
}

// ---- the operation page -----------------------------------------------------------------------------------------

export function convertInit(op: u32, gi: u32, start: u32, end: u32, toShared: bool, mode: u32): void {
  store<u32>(op, OPK_CONVERT, OP_KIND);
  store<u32>(op, PH_BEGIN, OP_PHASE);
  store<u32>(op, gi, OP_GMEM);
  store<u32>(op, start, OP_START);
  store<u32>(op, end, OP_END);
  let f: u32 = toShared ? OPF_SHARED : 0;
  if (gmemIsV4(gi)) f |= OPF_V4;
  if (mode == MODE_ZERO) f |= OPF_MODE_ZERO;
  if (mode == MODE_PRESERVE) f |= OPF_MODE_PRESERVE;
  store<u32>(op, f, OP_FLAGS);
  store<i32>(op, 0, OP_RESULT);
  store<u32>(op, 0xffffffff, OP_ERR_INDEX);
  store<u32>(op, 0, OP_NWORKS);
  store<u32>(op, op + OP_INLINE_WORKS, OP_WORKS);
  store<u32>(op, 0xff, OP_WORKS_ORDER);
}

/** Release an out-of-line work list (the op page itself belongs to the caller). */
export function convertRelease(op: u32): void {
  const o = load<u32>(op, OP_WORKS_ORDER);
  if (o != 0xff) { pageFree(load<u32>(op, OP_WORKS), o); store<u32>(op, 0xff, OP_WORKS_ORDER); }
}

// @ts-ignore: decorator
@inline function flags(op: u32): u32 { return load<u32>(op, OP_FLAGS); }
// @ts-ignore: decorator
@inline function workStart(op: u32, k: u32): u32 { return load<u32>(<usize>load<u32>(op, OP_WORKS) + (<usize>k << 3)); }
// @ts-ignore: decorator
@inline function workEnd(op: u32, k: u32): u32 { return load<u32>(<usize>load<u32>(op, OP_WORKS) + (<usize>k << 3), 4); }

/**
 * Run phases until the conversion is done, or until the phase `stopAfter` has run (PH_DONE: run to the end).
 * Returns the phase it stopped before (PH_DONE when finished; the result is in OP_RESULT).
 */
export function convertRun(op: u32, it: TdpIter, stopAfter: u32): u32 {
  while (load<u32>(op, OP_PHASE) != PH_DONE) {
    const ph = load<u32>(op, OP_PHASE);
    const v4 = (flags(op) & OPF_V4) != 0;
    if (ph == PH_BEGIN) { if (v4) v4Begin(op); else v2Begin(op); }
    else if (ph == PH_PROCEED) { if (v4) v4Invalidate(op, it); else v2ShouldProceed(op, it); }
    else if (ph == PH_EXECUTE) { if (v4) v4Execute(op); else v2Execute(op); }
    else convertEnd(op);
    if (ph == stopAfter && load<u32>(op, OP_PHASE) != PH_DONE) return load<u32>(op, OP_PHASE);
  }
  return PH_DONE;
}

function finish(op: u32, result: i32): void {
  store<i32>(op, result, OP_RESULT);
  store<u32>(op, PH_DONE, OP_PHASE);
}

/** Build the work list: the maximal runs of [start, end) whose value differs from the target. false: -ENOMEM. */
function buildWorks(op: u32, gi: u32, start: u32, end: u32, toShared: bool): bool {
  const bm = load<u32>(gi, GI_BITMAP);
  if (debugHook(DBG_FORCE_WORK)) { // corruption hook: pretend the whole range needs work (breaks I19)
    store<u32>(op + OP_INLINE_WORKS, start);
    store<u32>(op + OP_INLINE_WORKS, end, 4);
    store<u32>(op, 1, OP_NWORKS);
    return true;
  }
  let n: u32 = 0;
  let i = start;
  // count first, so a long list gets one allocation (kzalloc of each work in the kernel)
  while (i < end) {
    const p = bitmapNextDiff(bm, i, end, toShared);
    if (p >= end) break;
    const q = bitmapNextDiff(bm, p, end, !toShared);
    n++;
    i = q;
  }
  if (n > <u32>OP_INLINE_MAX) {
    const order = orderFor(<u64>n * 8);
    const list = pageAlloc(order);
    if (list == 0) return false;
    store<u32>(op, list, OP_WORKS);
    store<u32>(op, order, OP_WORKS_ORDER);
  }
  const list = <usize>load<u32>(op, OP_WORKS);
  let k: u32 = 0;
  i = start;
  while (i < end) {
    const p = bitmapNextDiff(bm, i, end, toShared);
    if (p >= end) break;
    const q = bitmapNextDiff(bm, p, end, !toShared);
    store<u32>(list + (<usize>k << 3), p);
    store<u32>(list + (<usize>k << 3), q, 4);
    k++;
    i = q;
  }
  store<u32>(op, n, OP_NWORKS);
  return true;
}

/** [start, end) rounded out to the HugeTLB page size (convert_invalidate_begin's bounds with a custom allocator). */
function roundHuge(gi: u32, x: u32, up: bool): u32 {
  const ho = hugeOrder(gi);
  if (ho == 0) return x;
  const m = (<u32>1 << ho) - 1;
  if (!up) return x & ~m;
  const r = <u64>((<u64>x + m) & ~(<u64>m));
  const n = <u64>load<u32>(gi, GI_NPAGES);
  return <u32>(r < n ? r : n);
}

/**
 * For each binding of the inode overlapping [s, e) (index space), call fn-by-kind on the VM with the gfn range.
 * kind 0: invalidate_begin (+range_add; begin once per VM), 1: invalidate_end (once per VM),
 * 2: zap private SPTEs, 3: zap shared SPTEs, 4: zap both. Returns -ENOMEM if a zap failed, else 0.
 */
function forEachBinding(gi: u32, it: TdpIter, s: u32, e: u32, kind: u32): i32 {
  const n = gmemNbind(gi);
  for (let i: u32 = 0; i < n; i++) {
    const vm = gmemBindVm(gi, i);
    const sp = vmSlot(vm, gmemBindSlot(gi, i));
    const pg = slotPgoff(sp);
    const lo = s > pg ? s : pg;
    const hiSlot = pg + slotNpages(sp);
    const hi = e < hiSlot ? e : hiSlot;
    if (lo >= hi) continue;
    const gs = slotBase(sp) + lo - pg, ge = slotBase(sp) + hi - pg;
    // is this the VM's first binding overlapping the range? (begin/end once per VM and range)
    let first = true;
    for (let j: u32 = 0; j < i; j++) {
      if (gmemBindVm(gi, j) != vm) continue;
      const sj = vmSlot(vm, gmemBindSlot(gi, j));
      const pj = slotPgoff(sj);
      if ((s > pj ? s : pj) < (e < pj + slotNpages(sj) ? e : pj + slotNpages(sj))) { first = false; break; }
    }
    if (kind == 0) {
      if (first) kvmInvalidateBegin(vm);
      kvmInvalidateRangeAdd(vm, gs, ge);
      emit(EV_KVM_INVALIDATE_BEGIN, 0, vmIndex(vm), gs, ge, 0, 0);
    } else if (kind == 1) {
      if (first) kvmInvalidateEnd(vm);
      emit(EV_KVM_INVALIDATE_END, 0, vmIndex(vm), gs, ge, 0, 0);
    } else {
      const r = kvmZapGfnRange(vm, it, gs, ge, kind == 2 || kind == 4, kind == 3 || kind == 4);
      if (r < 0) return r;
    }
  }
  return 0;
}

/** The IOMMUs bound to the inode (gmem mode): kind 0 begin, 1 end, else the callback with reason kind - 2. */
function forEachIommu(gi: u32, it: TdpIter, s: u32, e: u32, kind: u32): i32 {
  const n = gmemNiommu(gi);
  for (let i: u32 = 0; i < n; i++) {
    const io = gmemIommu(gi, i);
    if (kind == 0) iommuInvalidateBegin(io, gi, s, e);
    else if (kind == 1) iommuInvalidateEnd(io, gi, s, e);
    else {
      const r = iommuInvalidate(io, it, gi, s, e, kind - 2);
      if (r < 0) return r;
    }
  }
  return 0;
}

/** SNP arch_make_shared: RMPUPDATE (PSMASH first where a 2 MiB entry is split); every RMPUPDATE flushes IOTLBs. */
function archMakeShared(gi: u32, s: u32, e: u32): void {
  if (!isSnp()) return;
  if (rmpMakeShared(gi, s, e) > 0) iommuRmpFlush(gi);
}

// ---- v2 ---------------------------------------------------------------------------------------------------------

function v2Begin(op: u32): void {
  const gi = load<u32>(op, OP_GMEM);
  if (!gmemLockExclusive(gi)) { finish(op, -EBUSY); return; }
  store<u32>(op, flags(op) | OPF_LOCKED, OP_FLAGS);
  const toShared = (flags(op) & OPF_SHARED) != 0;
  if (!buildWorks(op, gi, load<u32>(op, OP_START), load<u32>(op, OP_END), toShared)) {
    store<i32>(op, -ENOMEM, OP_RESULT);
    store<u32>(op, PH_END, OP_PHASE);
    return;
  }
  const n = load<u32>(op, OP_NWORKS);
  if (n == 0) { store<u32>(op, PH_END, OP_PHASE); return; } // converting to the current state: a no-op
  for (let k: u32 = 0; k < n; k++) {
    const rs = roundHuge(gi, workStart(op, k), false), re = roundHuge(gi, workEnd(op, k), true);
    forEachBinding(gi, changetype<TdpIter>(0), rs, re, 0);
    forEachIommu(gi, changetype<TdpIter>(0), rs, re, 0); // IOMMU page-table updates for the range now wait
  }
  store<u32>(op, flags(op) | OPF_BEGUN, OP_FLAGS);
  store<u32>(op, PH_PROCEED, OP_PHASE);
}

/** kvm_gmem_convert_should_proceed for every work; the first failure skips execute. */
function v2ShouldProceed(op: u32, it: TdpIter): void {
  const gi = load<u32>(op, OP_GMEM);
  const toShared = (flags(op) & OPF_SHARED) != 0;
  const n = load<u32>(op, OP_NWORKS);
  for (let k: u32 = 0; k < n; k++) {
    const s = workStart(op, k), e = workEnd(op, k);
    if (toShared) {
      // kvm_gmem_unmap_private: zap private SPTEs; no refcount check ("transient refcounts are expected to drop")
      let r = forEachBinding(gi, it, s, e, 2);
      // the IOMMU callback: zap the secure entries (the seed's proposed flow, step 2)
      if (r == 0) r = forEachIommu(gi, it, s, e, 2 + REASON_TO_SHARED);
      if (r < 0) { store<i32>(op, r, OP_RESULT); store<u32>(op, PH_END, OP_PHASE); return; }
      archMakeShared(gi, s, e);
    } else {
      // unmap_mapping_pages (host PTEs; through the mmu_notifier this also zaps shared SPTEs), then the check
      gmemHostUnmapRange(gi, s, e);
      let r = debugHook(DBG_SKIP_HOST_UNMAP) ? 0 : forEachBinding(gi, it, s, e, 3);
      // the IOMMU callback: zap the non-secure entries before the pages turn private (TDX: else a host #MC)
      if (r == 0) r = forEachIommu(gi, it, s, e, 2 + REASON_TO_PRIVATE);
      if (r < 0) { store<i32>(op, r, OP_RESULT); store<u32>(op, PH_END, OP_PHASE); return; }
      if (!refcountCheck(op, gi, s, e, false)) return;
    }
  }
  store<u32>(op, PH_EXECUTE, OP_PHASE);
}

/**
 * The to-private reference check of [s, e): kvm_gmem_has_safe_refcount [V2] / __folio_has_outstanding_references
 * [V4+] (clampStart: err_index = max(start, folio->index)). Emits gmem.refcount_check; on failure the op ends with
 * -EAGAIN and error_index, and this returns false.
 */
function refcountCheck(op: u32, gi: u32, s: u32, e: u32, clampStart: bool): bool {
  let bad = firstUnsafeFolio(gi, s, e);
  if (bad == 0xffffffff && injectTake(INJ_TRANSIENT_REF)) bad = firstPopulated(gi, s, e);
  if (bad != 0xffffffff) {
    if (clampStart && bad < s) bad = s;
    if (debugHook(DBG_BAD_ERROR_INDEX)) bad = e + 7;
  }
  emit(EV_GMEM_REFCOUNT_CHECK, bad == 0xffffffff ? EVF_OK : 0, gmemIndex(gi), bad == 0xffffffff ? s : bad, 0, 0, 0);
  if (bad == 0xffffffff) return true;
  store<u32>(op, bad, OP_ERR_INDEX);
  store<i32>(op, -EAGAIN, OP_RESULT);
  store<u32>(op, PH_END, OP_PHASE);
  return false;
}

/** First index in [s, e) with a folio (where an injected transient reference sits); s if none. */
function firstPopulated(gi: u32, s: u32, e: u32): u32 {
  for (let i = s; i < e; i++) {
    const o = folioOrder(gi, i);
    if (o >= 0) return (i >> <u32>o) << <u32>o;
    if (blockState(gi, i >> blockShift(gi)) == FB_ABSENT) i |= (<u32>1 << blockShift(gi)) - 1;
  }
  return s;
}

/**
 * kvm_gmem_execute_work: apply shareability first, then split (to-shared) or merge (to-private) the huge folios of
 * the huge-rounded range; on a restructuring error walk back over the blocks already done.
 */
function executeWork(gi: u32, s: u32, e: u32, toShared: bool): i32 {
  if (injectTake(INJ_ENOMEM_STORE)) return -ENOMEM; // mas_store_gfp(GFP_KERNEL) failed
  bitmapAssign(load<u32>(gi, GI_BITMAP), s, e, toShared);
  emit(EV_GMEM_SET_ATTR, toShared ? EVF_SHARED : 0, gmemIndex(gi), s, e, 0, 0);
  if (hugeOrder(gi) == 0) return 0;
  const shift = blockShift(gi);
  const b0 = s >> shift, b1 = (e - 1) >> shift;
  for (let b = b0; b <= b1; b++) {
    // a merge is an opportunity, not a duty (try_merge): a block something still references stays split
    let r = toShared ? gmemSplitBlock(gi, b) : gmemMergeBlock(gi, b);
    if (!toShared && r == -EAGAIN) r = 0;
    if (r < 0) {
      // kvm_gmem_restructure_folios_in_range's error path: the inverse op on the blocks already processed
      for (let c = b0; c < b; c++) { if (toShared) gmemMergeBlock(gi, c); else gmemSplitBlock(gi, c); }
      return r;
    }
  }
  return 0;
}

function v2Execute(op: u32): void {
  const gi = load<u32>(op, OP_GMEM);
  const toShared = (flags(op) & OPF_SHARED) != 0;
  const n = load<u32>(op, OP_NWORKS);
  let r: i32 = 0;
  let stop: u32 = 0;
  for (let k: u32 = 0; k < n; k++) {
    stop = k;
    r = executeWork(gi, workStart(op, k), workEnd(op, k), toShared);
    if (r == -EAGAIN) store<u32>(op, folioLastBusyIndex(), OP_ERR_INDEX); // the folio the split could not freeze
    if (r < 0) break;
  }
  store<u32>(op, stop, OP_ROLLBACK_STOP);
  if (r < 0) {
    if (!debugHook(DBG_SKIP_ROLLBACK)) {
      // best-effort rollback: execute_work(work, !shared) from the head up to and including the failing work;
      // unmapping is never undone, failures only WARN
      for (let k: u32 = 0; k <= stop; k++) {
        emit(EV_CONVERT_ROLLBACK, 0, gmemIndex(gi), workStart(op, k), workEnd(op, k), 0, 0);
        executeWork(gi, workStart(op, k), workEnd(op, k), !toShared);
      }
    }
    store<i32>(op, r, OP_RESULT);
  }
  store<u32>(op, PH_END, OP_PHASE);
}

/** invalidate_end on every VM for every work (v2) / the whole range (v4), then unlock. */
function convertEnd(op: u32): void {
  const gi = load<u32>(op, OP_GMEM);
  if (flags(op) & OPF_BEGUN) {
    if (flags(op) & OPF_V4) {
      forEachBinding(gi, changetype<TdpIter>(0), load<u32>(op, OP_START), load<u32>(op, OP_END), 1);
      forEachIommu(gi, changetype<TdpIter>(0), load<u32>(op, OP_START), load<u32>(op, OP_END), 1);
    } else {
      const n = load<u32>(op, OP_NWORKS);
      for (let k: u32 = 0; k < n; k++) {
        const rs = roundHuge(gi, workStart(op, k), false), re = roundHuge(gi, workEnd(op, k), true);
        forEachBinding(gi, changetype<TdpIter>(0), rs, re, 1);
        forEachIommu(gi, changetype<TdpIter>(0), rs, re, 1);
      }
    }
  }
  if (flags(op) & OPF_LOCKED) gmemUnlockExclusive(gi);
  store<u32>(op, PH_DONE, OP_PHASE);
}

// ---- v4 ---------------------------------------------------------------------------------------------------------

function v4Begin(op: u32): void {
  const gi = load<u32>(op, OP_GMEM);
  if (!gmemLockExclusive(gi)) { finish(op, -EBUSY); return; }
  store<u32>(op, flags(op) | OPF_LOCKED, OP_FLAGS);
  const s = load<u32>(op, OP_START), e = load<u32>(op, OP_END);
  const toShared = (flags(op) & OPF_SHARED) != 0;
  const shared = bitmapCountShared(load<u32>(gi, GI_BITMAP), s, e);
  if (shared == (toShared ? <u64>(e - s) : 0) && !debugHook(DBG_FORCE_WORK)) {
    store<u32>(op, PH_END, OP_PHASE); // range already has the attributes
    return;
  }
  if (injectTake(INJ_ENOMEM_STORE)) { // mas_preallocate failed: before any side effect, err_index = start
    store<u32>(op, s, OP_ERR_INDEX);
    store<i32>(op, -ENOMEM, OP_RESULT);
    store<u32>(op, PH_END, OP_PHASE);
    return;
  }
  if (!toShared) {
    gmemHostUnmapRange(gi, s, e);
    if (!refcountCheck(op, gi, s, e, true)) return;
  }
  // "From this point on guest_memfd has performed necessary checks and can proceed to do guest-breaking changes."
  store<u32>(op, PH_PROCEED, OP_PHASE);
}

/** kvm_gmem_invalidate_start: begin + range_add + zap the SPTEs of the old kind, per VM. */
function v4Invalidate(op: u32, it: TdpIter): void {
  const gi = load<u32>(op, OP_GMEM);
  const s = load<u32>(op, OP_START), e = load<u32>(op, OP_END);
  const toShared = (flags(op) & OPF_SHARED) != 0;
  forEachBinding(gi, it, s, e, 0);
  forEachIommu(gi, it, s, e, 0);
  store<u32>(op, flags(op) | OPF_BEGUN, OP_FLAGS);
  forEachBinding(gi, it, s, e, toShared ? 2 : 3); // filter: to_private ? SHARED : PRIVATE
  forEachIommu(gi, it, s, e, 2 + (toShared ? REASON_TO_SHARED : REASON_TO_PRIVATE));
  store<u32>(op, PH_EXECUTE, OP_PHASE);
}

function v4Execute(op: u32): void {
  const gi = load<u32>(op, OP_GMEM);
  const s = load<u32>(op, OP_START), e = load<u32>(op, OP_END);
  const toShared = (flags(op) & OPF_SHARED) != 0;
  const f = flags(op);
  if (toShared) archMakeShared(gi, s, e); // kvm_arch_gmem_make_shared
  // content modes apply to the entire requested range
  if (f & OPF_MODE_ZERO) {
    contentZero(gi, s, e);
    emit(EV_GMEM_ZERO, 0, gmemIndex(gi), s, e, 0, 0);
  } else if (f & OPF_MODE_PRESERVE) {
    // preserved w.r.t. the last written value: it reads back unchanged through the new kind of mapping
    if (toShared) contentClearEnc(gi, s, e);
    else for (let i = s; i < e; i++) { const w = contentGet(gi, i); if (w != 0) contentSet(gi, i, w | CONTENT_ENC); }
  }
  bitmapAssign(load<u32>(gi, GI_BITMAP), s, e, toShared); // mas_store_prealloc: cannot fail
  emit(EV_GMEM_SET_ATTR, toShared ? EVF_SHARED : 0, gmemIndex(gi), s, e, 0, 0);
  store<u32>(op, PH_END, OP_PHASE);
}

// ---- punch hole -------------------------------------------------------------------------------------------------

/**
 * fallocate(PUNCH_HOLE | KEEP_SIZE) (kvm_gmem_punch_hole [V2]): -EINVAL for unaligned or empty ranges; the range
 * is clamped to i_size. Under the invalidate lock: begin and zap every SPTE of the range in every VM, unmap host
 * PTEs, free whole huge blocks (merging a split one first; -EAGAIN while anything besides the filemap references
 * it), only zero partial ones; end. Shareability never changes.
 */
export function gmemPunchHole(gi: u32, it: TdpIter, offset: f64, size: f64): i32 {
  if (!isByteCount(offset) || !isByteCount(size)) return -EINVAL;
  const off = <u64>offset, sz = <u64>size;
  const mask = <u64>PAGE_SIZE - 1;
  if ((off & mask) != 0 || (sz & mask) != 0 || sz == 0) return -EINVAL;
  const npages = <u64>load<u32>(gi, GI_NPAGES);
  const s64 = off >> 12;
  if (s64 >= npages) return 0;
  const e64 = (off + sz) >> 12;
  const s = <u32>s64, e = <u32>(e64 < npages ? e64 : npages);
  if (!gmemLockExclusive(gi)) return -EBUSY;
  forEachBinding(gi, it, s, e, 0);
  forEachIommu(gi, it, s, e, 0);
  let r = forEachBinding(gi, it, s, e, 4);
  // truncate while the IOMMU maps the range: revoke the whole area ("the kernel is safe")
  if (r == 0) r = forEachIommu(gi, it, s, e, 2 + REASON_TRUNCATE);
  gmemHostUnmapRange(gi, s, e);
  if (r >= 0) r = truncateRange(gi, s, e);
  forEachBinding(gi, it, s, e, 1);
  forEachIommu(gi, it, s, e, 1);
  gmemUnlockExclusive(gi);
  return r;
}

function truncateRange(gi: u32, s: u32, e: u32): i32 {
  const shift = blockShift(gi);
  const ho = hugeOrder(gi);
  const gidx = gmemIndex(gi);
  let i = s;
  while (i < e) {
    const b = i >> shift;
    const bs = b << shift, be = bs + (<u32>1 << shift);
    const ce = e < be ? e : be;
    if (ho != 0 && (i != bs || ce != be)) {
      // partial huge block: kvm_gmem_zero_range, the folio stays
      if (blockState(gi, b) != FB_ABSENT) {
        contentZero(gi, i, ce);
        emit(EV_GMEM_ZERO, 0, gidx, i, ce, 0, 0);
      }
    } else if (ho != 0) {
      const st = blockState(gi, b);
      if (st != FB_ABSENT) {
        if (st != FB_HUGE) {
          // merge_truncate: only filemap references may remain, then merge back into the huge folio
          const bad = firstUnsafeFolio(gi, bs, be);
          if (bad != 0xffffffff) return -EAGAIN;
          const m = mergeFolio(gi, b);
          if (m < 0) return m;
          emit(EV_FOLIO_MERGE, 0, gidx, bs, 0, ho, 0);
        }
        const r = freeBlock(gi, b);
        if (r < 0) return r;
        emit(EV_FOLIO_FREE, 0, gidx, bs, be, ho, 0);
        archMakeShared(gi, bs, be); // free_folio -> sev_gmem_invalidate
      }
    } else {
      // 4 KiB folios: each is removed from the filemap (a pinned one's frame stays with its pins: an orphan)
      let freed: u32 = 0;
      if (blockState(gi, b) != FB_ABSENT) {
        for (let j = i; j < ce; j++) {
          if (folioOrder(gi, j) < 0) continue;
          const r = freeSmall(gi, j);
          if (r < 0) return r;
          freed++;
        }
      }
      if (freed > 0) { emit(EV_FOLIO_FREE, 0, gidx, i, ce, 0, freed); archMakeShared(gi, i, ce); }
    }
    i = ce;
  }
  return 0;
}
