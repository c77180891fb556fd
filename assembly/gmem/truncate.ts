// fallocate(PUNCH_HOLE | KEEP_SIZE) on a guest_memfd (kvm_gmem_punch_hole [V2]) as a state machine:
//   lock               filemap_invalidate_lock
//   invalidate-begin   invalidate_begin on every notifier
//   should-proceed     zap every SPTE of the range (private and shared), the IOMMU callback with reason truncate
//                      (it revokes whole areas: "the kernel is safe"), unmap host PTEs
//   execute            truncate: whole huge blocks are freed (a split one merged first; -EAGAIN while anything
//                      besides the filemap references it), partial ones only zeroed; 4 KiB folios removed
//   invalidate-end     invalidate_end, unlock
// Shareability never changes. -EINVAL for unaligned or empty ranges (the range is clamped to i_size).
import { GI_NPAGES } from "../abi/records";
import { PAGE_SIZE } from "../abi/layout";
import { EV_GMEM_ZERO, EV_FOLIO_MERGE, EV_FOLIO_FREE } from "../abi/events";
import { REASON_TRUNCATE, FILTER_PRIVATE, FILTER_SHARED } from "../abi/consts";
import {
  STEP_LOCK, STEP_INVALIDATE_BEGIN, STEP_SHOULD_PROCEED, STEP_EXECUTE, STEP_INVALIDATE_END, ST_MORE, ST_DONE,
  ST_BLOCKED,
} from "../abi/ops";
import { EINVAL, EAGAIN } from "../abi/errno";
import {
  OP_OBJ, OP_START, OP_END, opFlags, opSetFlag, opSetStep, opFinish, opResult, opSetResult, opId,
} from "../lib/oprec";
import { emit } from "../lib/events";
import { gmemIndex, blockShift, hugeOrder, isByteCount } from "./inode";
import { blockState, folioOrder, FB_ABSENT, FB_HUGE } from "./folio";
import { firstUnsafeFolio } from "./refs";
import { mergeFolio, freeBlock, freeSmall } from "./split";
import { contentZero } from "./content";
import { invLockWrite, invUnlockWrite, invLockFree } from "./lock";
import { notifierBegin, notifierInvalidate, notifierEnd } from "./notifier";
import { gmemHostUnmapRange } from "./host";
import { archMakeShared } from "../arch/arch";
import { CF_LOCKED, CF_BEGUN } from "./convert";


/**
 * fallocate's checks: 1 (nothing to do: the range starts past i_size), 0 (go on; the op record gets the clamped
 * [start, end)), or -EINVAL (unaligned, empty).
 */
export function punchInit(op: u32, gi: u32, offset: f64, size: f64): i32 {
  if (!isByteCount(offset) || !isByteCount(size)) return -EINVAL;
  const off = <u64>offset, sz = <u64>size;
  const mask = <u64>PAGE_SIZE - 1;
  if ((off & mask) != 0 || (sz & mask) != 0 || sz == 0) return -EINVAL;
  const npages = <u64>load<u32>(gi, GI_NPAGES);
  const s64 = off >> 12;
  if (s64 >= npages) return 1;
  const e64 = (off + sz) >> 12;
  store<u32>(op, gi, OP_OBJ);
  store<u32>(op, <u32>s64, OP_START);
  store<u32>(op, <u32>(e64 < npages ? e64 : npages), OP_END);
  opSetStep(op, STEP_LOCK);
  return 0;
}

/** One atomic step of a punch (probe: only say whether it can run now). */
export function punchStep(op: u32, step: u32, probe: bool): u32 {
  const gi = load<u32>(op, OP_OBJ);
  const s = load<u32>(op, OP_START), e = load<u32>(op, OP_END);
  if (step == STEP_LOCK) {
    if (probe) return invLockFree(gi) ? ST_MORE : ST_BLOCKED;
    if (!invLockWrite(gi, opId(op))) return ST_BLOCKED;
    opSetFlag(op, CF_LOCKED);
    opSetStep(op, STEP_INVALIDATE_BEGIN);
    return ST_MORE;
  }
  if (probe) return ST_MORE;
  if (step == STEP_INVALIDATE_BEGIN) {
    notifierBegin(gi, s, e, REASON_TRUNCATE);
    opSetFlag(op, CF_BEGUN);
    opSetStep(op, STEP_SHOULD_PROCEED);
    return ST_MORE;
  }
  if (step == STEP_SHOULD_PROCEED) {
    const r = notifierInvalidate(gi, s, e, REASON_TRUNCATE, FILTER_PRIVATE | FILTER_SHARED);
    gmemHostUnmapRange(gi, s, e);
    if (r < 0) { opSetResult(op, r); opSetStep(op, STEP_INVALIDATE_END); }
    else opSetStep(op, STEP_EXECUTE);
    return ST_MORE;
  }
  if (step == STEP_EXECUTE) {
    const r = truncateRange(gi, s, e);
    if (r < 0) opSetResult(op, r);
    opSetStep(op, STEP_INVALIDATE_END);
    return ST_MORE;
  }
  if (opFlags(op) & CF_BEGUN) notifierEnd(gi, s, e, REASON_TRUNCATE);
  if (opFlags(op) & CF_LOCKED) invUnlockWrite(gi);
  opFinish(op, opResult(op));
  return ST_DONE;
}

/** kvm_gmem_truncate_inode_range over [s, e): free whole blocks, zero partial ones. 0 or -errno. */
export function truncateRange(gi: u32, s: u32, e: u32): i32 {
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
          if (firstUnsafeFolio(gi, bs, be) != 0xffffffff) return -EAGAIN;
          const m = mergeFolio(gi, b);
          if (m < 0) return m;
          emit(EV_FOLIO_MERGE, 0, gidx, bs, 0, ho, 0);
        }
        const r = freeBlock(gi, b);
        if (r < 0) return r;
        emit(EV_FOLIO_FREE, 0, gidx, bs, be, ho, 1);
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
