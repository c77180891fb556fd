// The inode's locks (mm/sync.ts):
//   filemap_invalidate_lock (GI_INV_LOCK, LC_INV): exclusive for conversions and truncation, which hold it across
//     their steps (owner: the op's id); shared for get_pfn and host faults within a step. Taking it emits gmem.lock.
//   the page lock (GI_PAGES_LOCK, LC_PAGES): folios, page content, host PTEs and pins, SNP RMP and TDX accept state,
//     within a step (the kernel's folio locks, xarray lock and page-table locks, folded into one).
// A thread waits for a lock only where waiting is what the kernel would do: in a call that may sleep, for a holder
// that is running. An op paused holding the invalidate lock never lets go by itself, so a call finds it held and
// gets the kernel's answer for a caller that cannot wait (EBUSY, "retry"); an explorer thread's step is blocked.
import { EV_GMEM_LOCK, EV_GMEM_UNLOCK, EVF_SHARED } from "../abi/events";
import { GI_PAGES_LOCK } from "../abi/records";
import {
  rwTryWrite, rwWriteUnlock, rwHeldWrite, rwFree, rwWriter, waitFor, stepLock, stepAdopt, releaseOne, opRunningAnywhere, LC_INV,
  LC_PAGES, LM_READ, LM_WRITE, LW_TRY, LW_MUST,
} from "../mm/sync";
import { inThreadMode } from "../mm/instance";
import { emit } from "../lib/events";
import { fpTouch, RES_LOCK, FP_READ, FP_WRITE } from "../lib/footprint";
import { gmemInvLock, gmemIndex } from "./inode";

/** Is it worth waiting for w: its writer (if any) is an op some instance is running right now. */
function holderRunning(w: usize): bool {
  const owner = rwWriter(w);
  return owner == 0 || opRunningAnywhere(owner);
}

/** filemap_invalidate_lock for op `owner`, held across the op's steps; false when it cannot be had now. */
export function invLockWrite(gi: u32, owner: u32): bool {
  fpTouch(gmemIndex(gi), RES_LOCK, FP_WRITE);
  const w = gmemInvLock(gi);
  if (!rwTryWrite(w, owner)) {
    if (inThreadMode() || !holderRunning(w) || !waitFor(w, LM_WRITE, owner, holderRunning)) return false;
  }
  emit(EV_GMEM_LOCK, 0, gmemIndex(gi), 0, 0, 0, 0);
  return true;
}

export function invUnlockWrite(gi: u32): void {
  fpTouch(gmemIndex(gi), RES_LOCK, FP_WRITE);
  rwWriteUnlock(gmemInvLock(gi));
  emit(EV_GMEM_UNLOCK, 0, gmemIndex(gi), 0, 0, 0, 0);
}

/** filemap_invalidate_lock_shared within a step; false while an operation holds it exclusively (and cannot be waited for). */
export function invLockRead(gi: u32): bool {
  fpTouch(gmemIndex(gi), RES_LOCK, FP_READ);
  const w = gmemInvLock(gi);
  if (!stepLock(w, LC_INV, LM_READ, LW_TRY)) {
    if (inThreadMode() || !holderRunning(w) || !waitFor(w, LM_READ, 0, holderRunning)) return false;
    stepAdopt(w, LC_INV, LM_READ);
  }
  emit(EV_GMEM_LOCK, EVF_SHARED, gmemIndex(gi), 0, 0, 0, 0);
  return true;
}

export function invUnlockRead(gi: u32): void {
  releaseOne(gmemInvLock(gi));
  emit(EV_GMEM_UNLOCK, EVF_SHARED, gmemIndex(gi), 0, 0, 0, 0);
}

/**
 * The inode's page lock for the rest of the step. A step takes it before it changes anything (`how` LW_MAY: false
 * means the step can still report a result for a caller that cannot wait) or in the middle (LW_MUST). In the
 * explorer no step holds it across steps, so it is always free there.
 */
// @ts-ignore: decorator
@inline export function pagesLock(gi: u32, how: u32 = LW_MUST): bool {
  return stepLock(<usize>gi + GI_PAGES_LOCK, LC_PAGES, LM_WRITE, inThreadMode() ? LW_TRY : how);
}

/** Is the lock held exclusively (by an operation in flight)? */
// @ts-ignore: decorator
@inline export function invLockedWrite(gi: u32): bool { return rwHeldWrite(gmemInvLock(gi)); }
/** Could the lock be taken exclusively now? (no side effect) */
// @ts-ignore: decorator
@inline export function invLockFree(gi: u32): bool { return rwFree(gmemInvLock(gi)); }
