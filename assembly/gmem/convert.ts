// Conversion of a guest_memfd range: KVM_GMEM_CONVERT_SHARED / _PRIVATE [V2] (kvm_gmem_convert_range) and
// KVM_SET_MEMORY_ATTRIBUTES2 [V4+] (__kvm_gmem_set_attributes, gmem/convert_v4.ts). A conversion is a state
// machine in an op record (lib/oprec.ts): each atomic step ends where the kernel lets another thread in, so it can
// pause holding its lock and invalidation while a fault or an IOMMU map races it.
//
//   step               v2 (kvm_gmem_convert_range)
//   lock               filemap_invalidate_lock; work list: the runs of the range not yet in the target state
//   invalidate-begin   invalidate_begin on every notifier for every work (huge-rounded)
//   should-proceed     to-shared: zap private SPTEs, IOMMU callback (secure), arch make_shared
//                      to-private: unmap host PTEs, zap shared SPTEs, IOMMU callback (non-secure), safe refcount
//   execute            shareability, then split (to-shared) / merge (to-private); best-effort rollback on error
//   invalidate-end     invalidate_end on every notifier, filemap_invalidate_unlock
import { GI_NPAGES } from "../abi/records";
import { PAGE_SIZE } from "../abi/layout";
import {
  EV_GMEM_REFCOUNT_CHECK, EV_GMEM_SET_ATTR, EV_CONVERT_ROLLBACK, EVF_SHARED, EVF_OK,
} from "../abi/events";
import {
  MODE_UNSPECIFIED, MODE_ZERO, MODE_PRESERVE, INJ_ENOMEM_STORE, INJ_TRANSIENT_REF, REASON_TO_PRIVATE,
  REASON_TO_SHARED, FILTER_PRIVATE, FILTER_SHARED, SG_REFCOUNT_CHECK, SG_HOST_UNMAP, DBG_FORCE_WORK,
  DBG_SKIP_ROLLBACK, DBG_SKIP_SHARED_ZAP, DBG_BAD_ERROR_INDEX,
} from "../abi/consts";
import {
  STEP_LOCK, STEP_INVALIDATE_BEGIN, STEP_SHOULD_PROCEED, STEP_EXECUTE, STEP_INVALIDATE_END, ST_MORE, ST_DONE,
  ST_BLOCKED,
} from "../abi/ops";
import { EINVAL, EAGAIN, ENOMEM } from "../abi/errno";
import {
  OP_FLAGS, OP_START, OP_END, OP_OBJ, OP_ERR_INDEX, OP_NLIST, OP_ROLLBACK_STOP, opFlags, opSetFlag, opSetStep, opStep,
  opSetResult, opResult, opFinish, opId, opNlist, opListA, opListB, opListSet, opListReserve,
} from "../lib/oprec";
import { bitmapAssign, bitmapNextDiff, bitmapWordOf } from "../lib/bitmap";
import { emit } from "../lib/events";
import { injectTake } from "../lib/inject";
import { safeguard, debugHook } from "../lib/machine";
import { gmemIndex, gmemIsV4, gmemBitmap, hugeOrder, blockShift, isByteCount } from "./inode";
import { firstPopulated, blockOf } from "./folio";
import { firstUnsafeFolio } from "./refs";
import { lastBusyIndex } from "./split";
import { invLockWrite, invUnlockWrite, invLockFree } from "./lock";
import { notifierBegin, notifierInvalidate, notifierEnd, notifierPrefetch } from "./notifier";
import { gmemHostUnmapRange } from "./host";
import { gmemSplitBlock, gmemMergeBlock } from "./restructure";
import { archMakeShared } from "../arch/arch";

export const CF_SHARED: u32 = 1; //          target: shared
export const CF_V4: u32 = 2;
export const CF_MODE_ZERO: u32 = 4;
export const CF_MODE_PRESERVE: u32 = 8;
export const CF_LOCKED: u32 = 16; //         holds the invalidate lock
export const CF_BEGUN: u32 = 32; //          invalidations begun (invalidate-end must end them)

// ---- validation (kvm_gmem_ioctl_convert_range [V2] / kvm_gmem_set_attributes [V4+]) ----------------------------

/**
 * The ioctl's argument checks, in the kernel's order, before any lock. 0 (go on), 1 ([V2] size 0: nothing to do)
 * or -errno. v2: size 0 -> 0; overflow / past i_size -> -EINVAL; unaligned -> -EINVAL; any content mode -> -EINVAL
 * (v2 has no flags). v4: an unknown mode, size 0, overflow, unaligned, past i_size -> -EINVAL. (Whether the arch
 * supports the mode is decided after the lock: the lock step.)
 */
export function convertValidate(gi: u32, offset: f64, size: f64, mode: u32): i32 {
  const v4 = gmemIsV4(gi);
  if (mode > MODE_PRESERVE) return -EINVAL;
  if (!v4 && size == 0) return 1; // [V2] size 0 is checked before the range: a no-op whatever the offset
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

/** Fill an op record for converting [start, end) of the inode to shared / private with content `mode`. */
export function convertInit(op: u32, gi: u32, start: u32, end: u32, toShared: bool, mode: u32): void {
  opSetStep(op, STEP_LOCK);
  store<u32>(op, gi, OP_OBJ);
  store<u32>(op, start, OP_START);
  store<u32>(op, end, OP_END);
  let f: u32 = toShared ? CF_SHARED : 0;
  if (gmemIsV4(gi)) f |= CF_V4;
  if (mode == MODE_ZERO) f |= CF_MODE_ZERO;
  if (mode == MODE_PRESERVE) f |= CF_MODE_PRESERVE;
  store<u32>(op, f, OP_FLAGS);
  store<u32>(op, 0xffffffff, OP_ERR_INDEX);
  store<u32>(op, 0, OP_NLIST);
}

// @ts-ignore: decorator
@inline export function convertInode(op: u32): u32 { return load<u32>(op, OP_OBJ); }
// @ts-ignore: decorator
@inline export function convertToShared(op: u32): bool { return (opFlags(op) & CF_SHARED) != 0; }

/** Fail the conversion with r; the invalidate-end step still runs (it ends what began and unlocks). */
export function convertFail(op: u32, r: i32): void {
  opSetResult(op, r);
  opSetStep(op, STEP_INVALIDATE_END);
}

// ---- pieces both generations use -------------------------------------------------------------------------------

/** The lock step's lock: filemap_invalidate_lock for this op; false when it cannot be taken now. */
export function convertLock(op: u32, probe: bool): bool {
  const gi = convertInode(op);
  if (probe) return invLockFree(gi);
  if (!invLockWrite(gi, opId(op))) return false;
  opSetFlag(op, CF_LOCKED);
  return true;
}

/**
 * The to-private reference check of [s, e): kvm_gmem_has_safe_refcount [V2] / __folio_has_outstanding_references
 * [V4+] (clampStart: err_index = max(start, folio->index)). Emits gmem.refcount_check; on failure the op fails
 * with -EAGAIN and error_index, and this returns false. Switched off (SG_REFCOUNT_CHECK): always true, no event.
 */
export function refcountCheck(op: u32, gi: u32, s: u32, e: u32, clampStart: bool): bool {
  if (!safeguard(SG_REFCOUNT_CHECK)) return true;
  let bad = firstUnsafeFolio(gi, s, e);
  if (bad == 0xffffffff && injectTake(INJ_TRANSIENT_REF)) bad = firstPopulated(gi, s, e);
  if (bad != 0xffffffff) {
    if (clampStart && bad < s) bad = s;
    if (debugHook(DBG_BAD_ERROR_INDEX)) bad = e + 7;
  }
  emit(EV_GMEM_REFCOUNT_CHECK, bad == 0xffffffff ? EVF_OK : 0, gmemIndex(gi), bad == 0xffffffff ? s : bad, 0, 0, 0);
  if (bad == 0xffffffff) return true;
  store<u32>(op, bad, OP_ERR_INDEX);
  convertFail(op, -EAGAIN);
  return false;
}

/** The to-private unmap: host PTEs (unless SG_HOST_UNMAP is off), then shared SPTEs and non-secure IO entries. */
export function unmapForPrivate(gi: u32, s: u32, e: u32): i32 {
  if (safeguard(SG_HOST_UNMAP)) gmemHostUnmapRange(gi, s, e);
  if (debugHook(DBG_SKIP_SHARED_ZAP)) return 0;
  return notifierInvalidate(gi, s, e, REASON_TO_PRIVATE, FILTER_SHARED);
}

/** The to-shared unmap: private SPTEs and secure IO entries, then arch make_shared (SNP RMPUPDATE). */
export function unmapForShared(gi: u32, s: u32, e: u32): i32 {
  const r = notifierInvalidate(gi, s, e, REASON_TO_SHARED, FILTER_PRIVATE);
  if (r < 0) return r;
  archMakeShared(gi, s, e);
  return 0;
}

// ---- v2 ---------------------------------------------------------------------------------------------------------

/** Build the work list: the maximal runs of [start, end) whose value differs from the target. false: -ENOMEM. */
function buildWorks(op: u32, gi: u32, start: u32, end: u32, toShared: bool): bool {
  const bm = gmemBitmap(gi);
  if (debugHook(DBG_FORCE_WORK)) { // corruption hook: pretend the whole range needs work (breaks I19)
    opListReserve(op, 1);
    opListSet(op, 0, start, end);
    store<u32>(op, 1, OP_NLIST);
    return true;
  }
  // count first, so a long list gets one allocation (kzalloc of each work in the kernel)
  let n: u32 = 0;
  let i = start;
  while (i < end) {
    const p = bitmapNextDiff(bm, i, end, toShared);
    if (p >= end) break;
    n++;
    i = bitmapNextDiff(bm, p, end, !toShared);
  }
  if (!opListReserve(op, n)) return false;
  let k: u32 = 0;
  i = start;
  while (i < end) {
    const p = bitmapNextDiff(bm, i, end, toShared);
    if (p >= end) break;
    const q = bitmapNextDiff(bm, p, end, !toShared);
    opListSet(op, k++, p, q);
    i = q;
  }
  store<u32>(op, n, OP_NLIST);
  return true;
}

/** [start, end) rounded out to the HugeTLB page size (convert_invalidate_begin's bounds with a custom allocator). */
function roundHuge(gi: u32, x: u32, up: bool): u32 {
  const ho = hugeOrder(gi);
  if (ho == 0) return x;
  const m = (<u32>1 << ho) - 1;
  if (!up) return x & ~m;
  const r = (<u64>x + m) & ~(<u64>m);
  const n = <u64>load<u32>(gi, GI_NPAGES);
  return <u32>(r < n ? r : n);
}

/**
 * kvm_gmem_execute_work: apply shareability first, then split (to-shared) or merge (to-private) the huge folios of
 * the huge-rounded range; on a restructuring error walk back over the blocks already done.
 */
function executeWork(gi: u32, s: u32, e: u32, toShared: bool): i32 {
  if (injectTake(INJ_ENOMEM_STORE)) return -ENOMEM; // mas_store_gfp(GFP_KERNEL) failed
  bitmapAssign(gmemBitmap(gi), s, e, toShared);
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

/** The invalidate-begin step: invalidate_begin on every notifier for every work (huge-rounded). */
function v2Begin(op: u32, gi: u32, n: u32, toShared: bool): void {
  const reason = toShared ? REASON_TO_SHARED : REASON_TO_PRIVATE;
  for (let k: u32 = 0; k < n; k++) {
    notifierBegin(gi, roundHuge(gi, opListA(op, k), false), roundHuge(gi, opListB(op, k), true), reason);
  }
  opSetFlag(op, CF_BEGUN);
  opSetStep(op, STEP_SHOULD_PROCEED);
}

/** The should-proceed step: kvm_gmem_convert_should_proceed for every work; the first failure skips execute. */
function v2ShouldProceed(op: u32, gi: u32, n: u32, toShared: bool): void {
  for (let k: u32 = 0; k < n; k++) {
    const s = opListA(op, k), e = opListB(op, k);
    const r = toShared ? unmapForShared(gi, s, e) : unmapForPrivate(gi, s, e);
    if (r < 0) { convertFail(op, r); return; }
    if (!toShared && !refcountCheck(op, gi, s, e, false)) return;
  }
  opSetStep(op, STEP_EXECUTE);
}

/** The execute step: kvm_gmem_execute_work for every work, the best-effort rollback on a failure. */
function v2Execute(op: u32, gi: u32, n: u32, toShared: bool): void {
  let r: i32 = 0;
  let stop: u32 = 0;
  for (let k: u32 = 0; k < n; k++) {
    stop = k;
    r = executeWork(gi, opListA(op, k), opListB(op, k), toShared);
    if (r == -EAGAIN) store<u32>(op, lastBusyIndex(), OP_ERR_INDEX); // the folio the split could not freeze
    if (r < 0) break;
  }
  store<u32>(op, stop, OP_ROLLBACK_STOP);
  if (r < 0) {
    if (!debugHook(DBG_SKIP_ROLLBACK)) {
      // best-effort rollback: execute_work(work, !shared) from the head up to and including the failing work;
      // unmapping is never undone, failures only WARN
      for (let k: u32 = 0; k <= stop; k++) {
        emit(EV_CONVERT_ROLLBACK, 0, gmemIndex(gi), opListA(op, k), opListB(op, k), 0, 0);
        executeWork(gi, opListA(op, k), opListB(op, k), !toShared);
      }
    }
    opSetResult(op, r);
  }
  opSetStep(op, STEP_INVALIDATE_END);
}

/** The invalidate-end step: invalidate_end on every notifier for every work, then filemap_invalidate_unlock. */
function v2End(op: u32, gi: u32, n: u32, toShared: bool): void {
  if (opFlags(op) & CF_BEGUN) {
    const reason = toShared ? REASON_TO_SHARED : REASON_TO_PRIVATE;
    for (let k: u32 = 0; k < n; k++) {
      notifierEnd(gi, roundHuge(gi, opListA(op, k), false), roundHuge(gi, opListB(op, k), true), reason);
    }
  }
  if (opFlags(op) & CF_LOCKED) invUnlockWrite(gi);
  opFinish(op, opResult(op));
}

/** The lock step after the lock is taken: the work list, and where the conversion goes next. */
function v2Works(op: u32, gi: u32, toShared: bool): void {
  if (!buildWorks(op, gi, load<u32>(op, OP_START), load<u32>(op, OP_END), toShared)) convertFail(op, -ENOMEM);
  else if (opNlist(op) == 0) opSetStep(op, STEP_INVALIDATE_END); // converting to the current state: a no-op
  else opSetStep(op, STEP_INVALIDATE_BEGIN);
}

/** One atomic step of a v2 conversion (probe: only say whether it can run now). ST_MORE, ST_DONE or ST_BLOCKED. */
export function convertV2Step(op: u32, step: u32, probe: bool): u32 {
  const gi = convertInode(op);
  const toShared = convertToShared(op);
  const n = opNlist(op);
  if (step == STEP_LOCK) {
    if (!convertLock(op, probe)) return ST_BLOCKED;
    if (!probe) v2Works(op, gi, toShared);
    return ST_MORE;
  }
  if (probe) return ST_MORE; // the later steps run under the lock this op holds
  if (step == STEP_INVALIDATE_BEGIN) v2Begin(op, gi, n, toShared);
  else if (step == STEP_SHOULD_PROCEED) v2ShouldProceed(op, gi, n, toShared);
  else if (step == STEP_EXECUTE) v2Execute(op, gi, n, toShared);
  else { v2End(op, gi, n, toShared); return ST_DONE; }
  return ST_MORE;
}

// A conversion of up to PREFETCH_PAGES pages reads what it will change first (its bitmap words and folio blocks,
// every consumer's entries through NCB_PREFETCH), so those cache misses overlap instead of following one another:
// on a large guest each is a TLB and cache miss. The sum goes to `prefetched` (never read) so the loads stay.
const PREFETCH_PAGES: u32 = 16;
let prefetched: u64 = 0;

function convertPrefetch(gi: u32, s: u32, e: u32): void {
  let x = notifierPrefetch(gi, s, e);
  const bm = gmemBitmap(gi);
  for (let i = s & ~63; i < e; i += 64) x += bitmapWordOf(bm, i);
  const shift = blockShift(gi);
  for (let b = s >> shift; b <= (e - 1) >> shift; b++) x += load<u64>(blockOf(gi, b << shift));
  prefetched += x;
}

/**
 * kvm_gmem_convert_range in one pass: the five steps of convertV2Step back to back, for a call nothing can run
 * between (one instance attached, so no step lock is taken; not a thread; no pause point). The same functions in
 * the same order, so the same events and state; what goes is the engine's per-step work. false: the invalidate
 * lock is held (a paused op): nothing was done, the phase machine gives the caller the kernel's answer.
 */
export function convertV2Run(op: u32): bool {
  const gi = convertInode(op);
  const toShared = convertToShared(op);
  const s = load<u32>(op, OP_START), e = load<u32>(op, OP_END);
  if (e > s && e - s <= PREFETCH_PAGES) convertPrefetch(gi, s, e);
  if (!convertLock(op, true) || !convertLock(op, false)) return false;
  v2Works(op, gi, toShared);
  const n = opNlist(op);
  if (opStep(op) == STEP_INVALIDATE_BEGIN) v2Begin(op, gi, n, toShared);
  if (opStep(op) == STEP_SHOULD_PROCEED) v2ShouldProceed(op, gi, n, toShared);
  if (opStep(op) == STEP_EXECUTE) v2Execute(op, gi, n, toShared);
  v2End(op, gi, n, toShared);
  return true;
}
