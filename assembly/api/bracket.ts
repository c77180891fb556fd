// The one bracket every mutating export uses: take the simulator lock (or give up with -EBUSY on a thread that may
// not block), start a step (change seqcount, step counter, footprint, violations), [validate, call], then with the
// checker on run every invariant, end the step, and unlock. Post-conditions of operations (check/post.ts) run inside
// the call.
//
// The change seqcount H_CHANGES is the writer side of a seqcount_t (include/linux/seqlock.h): write_seqcount_begin
// as the step starts, write_seqcount_end as it ends. Views read the model without the lock (api/view.ts) and keep a
// read only when the count was the same even value before and after it (read_seqcount_begin / _retry). A reader
// asleep on the count (Atomics.waitAsync, H_CHANGE_WAITERS > 0) is woken at the end of the step. A reader that a
// busy writer keeps tearing asks writers to stay out (H_VIEW_HOLD > 0) for one read: the second, locked pass of
// read_seqbegin_or_lock, except that here the writer waits (a bounded time, and only where it may block), never
// the reader.
import { H_STEP, H_CHANGES, H_CHANGE_WAITERS, H_VIEW_HOLD, VIEW_HOLD_WAIT_NS } from "../abi/layout";
import { simLock, simUnlock, agentMayBlock } from "../mm/sync";
import { checksOn, violationsReset } from "../lib/machine";
import { fpReset } from "../lib/footprint";
import { iterReset } from "../lib/iter";
import { checkAll } from "../check/state";

/** Begin a step; false when the lock could not be taken (the export returns -EBUSY). */
export function enter(): bool {
  const hold = atomic.load<i32>(H_VIEW_HOLD);
  if (hold != 0 && agentMayBlock()) atomic.wait<i32>(H_VIEW_HOLD, hold, <i64>VIEW_HOLD_WAIT_NS);
  if (!simLock()) return false;
  atomic.add<u32>(H_CHANGES, 1); // odd: a step runs
  violationsReset();
  fpReset();
  iterReset();
  store<u32>(H_STEP, load<u32>(H_STEP) + 1);
  return true;
}

/** The step's changes are complete: even again, and wake the readers that sleep on the count. */
function changesDone(): void {
  atomic.add<u32>(H_CHANGES, 1);
  if (atomic.load<u32>(H_CHANGE_WAITERS) != 0) atomic.notify(H_CHANGES);
}

/**
 * End a step: every invariant (checker on), unlock, pass r through. `protocol` false: an export on the data
 * structures alone (a bitmap, a page table, a folio below the protocol), after which the protocol's invariants
 * are not checked (they may not hold between such low-level steps, and a whole-model check per folio is O(model)).
 */
export function leave(r: i32, protocol: bool = true): i32 {
  if (protocol && checksOn()) checkAll();
  changesDone();
  simUnlock();
  return r;
}

/**
 * A step that only looked (a probe): no checks, and the step counter is given back. So is the change count: a
 * probe changes nothing a view reads, and a reader that overlapped it sees an odd count and reads again.
 */
export function leaveQuiet(r: i32): i32 {
  store<u32>(H_STEP, load<u32>(H_STEP) - 1);
  atomic.sub<u32>(H_CHANGES, 1);
  simUnlock();
  return r;
}
