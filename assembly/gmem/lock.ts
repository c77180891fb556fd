// filemap_invalidate_lock of an inode: exclusive for conversions, truncation and bindings, shared for get_pfn and
// host faults (mm/sync.ts rwsem). Taking it emits gmem.lock and records the inode in the step's footprint. A try
// that fails changes nothing: the caller's step is blocked.
import { EV_GMEM_LOCK, EV_GMEM_UNLOCK, EVF_SHARED } from "../abi/events";
import { rwTryWrite, rwTryRead, rwWriteUnlock, rwReadUnlock, rwHeldWrite, rwFree } from "../mm/sync";
import { emit } from "../lib/events";
import { fpTouch, RES_LOCK, FP_READ, FP_WRITE } from "../lib/footprint";
import { gmemInvLock, gmemIndex } from "./inode";

/** filemap_invalidate_lock for op `owner`; false when another holds it in any mode. */
export function invLockWrite(gi: u32, owner: u32): bool {
  fpTouch(gmemIndex(gi), RES_LOCK, FP_WRITE);
  if (!rwTryWrite(gmemInvLock(gi), owner)) return false;
  emit(EV_GMEM_LOCK, 0, gmemIndex(gi), 0, 0, 0, 0);
  return true;
}

export function invUnlockWrite(gi: u32): void {
  fpTouch(gmemIndex(gi), RES_LOCK, FP_WRITE);
  rwWriteUnlock(gmemInvLock(gi));
  emit(EV_GMEM_UNLOCK, 0, gmemIndex(gi), 0, 0, 0, 0);
}

/** filemap_invalidate_lock_shared; false while an operation holds it exclusively. */
export function invLockRead(gi: u32): bool {
  fpTouch(gmemIndex(gi), RES_LOCK, FP_READ);
  if (!rwTryRead(gmemInvLock(gi))) return false;
  emit(EV_GMEM_LOCK, EVF_SHARED, gmemIndex(gi), 0, 0, 0, 0);
  return true;
}

export function invUnlockRead(gi: u32): void {
  rwReadUnlock(gmemInvLock(gi));
  emit(EV_GMEM_UNLOCK, EVF_SHARED, gmemIndex(gi), 0, 0, 0, 0);
}

/** Is the lock held exclusively (by an operation in flight)? */
// @ts-ignore: decorator
@inline export function invLockedWrite(gi: u32): bool { return rwHeldWrite(gmemInvLock(gi)); }
/** Could the lock be taken exclusively now? (no side effect) */
// @ts-ignore: decorator
@inline export function invLockFree(gi: u32): bool { return rwFree(gmemInvLock(gi)); }
