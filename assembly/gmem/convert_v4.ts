// KVM_SET_MEMORY_ATTRIBUTES2 on the gmem fd [V4+] (__kvm_gmem_set_attributes, RFC v4 13/44): every failure comes
// before the point of no return, so there is no rollback.
//
//   step               v4
//   lock               filemap_invalidate_lock; content mode supported? (-EOPNOTSUPP, err_index = start);
//                      range already has the attributes? (the content mode still applies: "Even if no update is
//                      required to attributes, the requested content mode is applied"); mas_preallocate (-ENOMEM)
//   should-proceed     to-private: unmap host PTEs, outstanding-reference check (-EAGAIN)
//   invalidate-begin   "From this point on guest_memfd ... can proceed to do guest-breaking changes":
//                      kvm_gmem_invalidate_start: begin + zap the SPTEs of the old kind; the IOMMU callback
//   execute            to-shared: kvm_gmem_invalidate (arch make_shared); the content mode; mas_store_prealloc
//   invalidate-end     kvm_gmem_invalidate_end, filemap_invalidate_unlock
import { EV_GMEM_SET_ATTR, EV_GMEM_ZERO, EVF_SHARED } from "../abi/events";
import {
  INJ_ENOMEM_STORE, REASON_TO_PRIVATE, REASON_TO_SHARED, DBG_FORCE_WORK, FILTER_PRIVATE, FILTER_SHARED, SG_HOST_UNMAP,
} from "../abi/consts";
import {
  STEP_LOCK, STEP_INVALIDATE_BEGIN, STEP_SHOULD_PROCEED, STEP_EXECUTE, STEP_INVALIDATE_END, ST_MORE, ST_DONE,
  ST_BLOCKED,
} from "../abi/ops";
import { ENOMEM, EOPNOTSUPP } from "../abi/errno";
import { OP_START, OP_END, OP_ERR_INDEX, opFlags, opSetFlag, opSetStep, opFinish, opResult } from "../lib/oprec";
import { bitmapAssign, bitmapCountShared } from "../lib/bitmap";
import { emit } from "../lib/events";
import { injectTake } from "../lib/inject";
import { isTdx, isSnp, debugHook, safeguard } from "../lib/machine";
import { gmemIndex, gmemBitmap } from "./inode";
import { contentZero, contentClearEnc, contentSetEnc } from "./content";
import { invUnlockWrite, pagesLock } from "./lock";
import { notifierBegin, notifierInvalidate, notifierEnd } from "./notifier";
import {
  CF_BEGUN, CF_LOCKED, CF_MODE_ZERO, CF_MODE_PRESERVE, convertInode, convertToShared, convertLock, convertFail,
  refcountCheck,
} from "./convert";
import { gmemHostUnmapRange } from "./host";
import { archMakeShared } from "../arch/arch";

/**
 * kvm_gmem_content_mode_is_supported: ZERO only to shared ("all entities that have 'allowed' access ... read
 * zeros"); PRESERVE on TDX / SNP only to private (before launch finalisation); sw supports both ways.
 */
function modeSupported(op: u32, toShared: bool): bool {
  const f = opFlags(op);
  if ((f & CF_MODE_ZERO) != 0 && !toShared) return false;
  if ((f & CF_MODE_PRESERVE) != 0 && toShared && (isTdx() || isSnp())) return false;
  return true;
}

/** kvm_gmem_apply_content_mode for the whole requested range. */
function applyContentMode(op: u32, gi: u32, s: u32, e: u32, toShared: bool, changing: bool): void {
  const f = opFlags(op);
  if (f & CF_MODE_ZERO) {
    contentZero(gi, s, e);
    emit(EV_GMEM_ZERO, 0, gmemIndex(gi), s, e, 0, 0);
  } else if ((f & CF_MODE_PRESERVE) != 0 && changing) {
    // preserved w.r.t. the last written value: it reads back unchanged through the new kind of mapping
    if (toShared) contentClearEnc(gi, s, e); else contentSetEnc(gi, s, e);
  }
}

/** One atomic step of a v4 conversion (probe: only say whether it can run now). */
export function convertV4Step(op: u32, step: u32, probe: bool): u32 {
  const gi = convertInode(op);
  const s = load<u32>(op, OP_START), e = load<u32>(op, OP_END);
  const toShared = convertToShared(op);
  if (step == STEP_LOCK) {
    if (!convertLock(op, probe)) return ST_BLOCKED;
    if (probe) return ST_MORE;
    if (!modeSupported(op, toShared)) {
      store<u32>(op, s, OP_ERR_INDEX); // *err_index = start
      convertFail(op, -EOPNOTSUPP);
      return ST_MORE;
    }
    const shared = bitmapCountShared(gmemBitmap(gi), s, e);
    if (shared == (toShared ? <u64>(e - s) : 0) && !debugHook(DBG_FORCE_WORK)) {
      pagesLock(gi);
      applyContentMode(op, gi, s, e, toShared, false); // the range already has the attributes
      opSetStep(op, STEP_INVALIDATE_END);
      return ST_MORE;
    }
    if (injectTake(INJ_ENOMEM_STORE)) { // mas_preallocate failed: before any side effect, err_index = start
      store<u32>(op, s, OP_ERR_INDEX);
      convertFail(op, -ENOMEM);
      return ST_MORE;
    }
    opSetStep(op, STEP_SHOULD_PROCEED);
    return ST_MORE;
  }
  if (probe) return ST_MORE;
  if (step == STEP_SHOULD_PROCEED) {
    if (!toShared) {
      if (safeguard(SG_HOST_UNMAP)) gmemHostUnmapRange(gi, s, e);
      if (!refcountCheck(op, gi, s, e, true)) return ST_MORE;
    }
    opSetStep(op, STEP_INVALIDATE_BEGIN);
    return ST_MORE;
  }
  if (step == STEP_INVALIDATE_BEGIN) {
    // kvm_gmem_invalidate_start: begin + range_add + zap the SPTEs of the old kind (filter: to_private ? SHARED :
    // PRIVATE), and the IOMMU callback
    notifierBegin(gi, s, e, toShared ? REASON_TO_SHARED : REASON_TO_PRIVATE);
    opSetFlag(op, CF_BEGUN);
    const r = notifierInvalidate(gi, s, e, toShared ? REASON_TO_SHARED : REASON_TO_PRIVATE,
      toShared ? FILTER_PRIVATE : FILTER_SHARED);
    if (r < 0) { convertFail(op, r); return ST_MORE; }
    opSetStep(op, STEP_EXECUTE);
    return ST_MORE;
  }
  if (step == STEP_EXECUTE) {
    if (toShared) archMakeShared(gi, s, e); // kvm_gmem_invalidate -> kvm_arch_gmem_make_shared (idempotent)
    applyContentMode(op, gi, s, e, toShared, true);
    bitmapAssign(gmemBitmap(gi), s, e, toShared); // mas_store_prealloc: cannot fail
    emit(EV_GMEM_SET_ATTR, toShared ? EVF_SHARED : 0, gmemIndex(gi), s, e, 0, 0);
    opSetStep(op, STEP_INVALIDATE_END);
    return ST_MORE;
  }
  if (opFlags(op) & CF_BEGUN) notifierEnd(gi, s, e, toShared ? REASON_TO_SHARED : REASON_TO_PRIVATE);
  if (opFlags(op) & CF_LOCKED) invUnlockWrite(gi);
  opFinish(op, opResult(op));
  return ST_DONE;
}
