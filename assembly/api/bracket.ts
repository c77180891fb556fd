// The one bracket every mutating export uses: take the simulator lock (or give up with -EBUSY on a thread that may
// not block), start a step (step counter, footprint, violations), [validate, call], then with the checker on run
// every invariant, and unlock. Post-conditions of operations (check/post.ts) run inside the call.
import { H_STEP } from "../abi/layout";
import { simLock, simUnlock } from "../mm/sync";
import { checksOn, violationsReset } from "../lib/machine";
import { fpReset } from "../lib/footprint";
import { iterReset } from "../lib/iter";
import { checkAll } from "../check/state";

/** Begin a step; false when the lock could not be taken (the export returns -EBUSY). */
export function enter(): bool {
  if (!simLock()) return false;
  violationsReset();
  fpReset();
  iterReset();
  store<u32>(H_STEP, load<u32>(H_STEP) + 1);
  return true;
}

/**
 * End a step: every invariant (checker on), unlock, pass r through. `protocol` false: an export on the data
 * structures alone (a bitmap, a page table, a folio below the protocol), after which the protocol's invariants
 * are not checked (they may not hold between such low-level steps, and a whole-model check per folio is O(model)).
 */
export function leave(r: i32, protocol: bool = true): i32 {
  if (protocol && checksOn()) checkAll();
  simUnlock();
  return r;
}

/** A step that only looked (a probe): no checks, and the step counter is given back. */
export function leaveQuiet(r: i32): i32 {
  store<u32>(H_STEP, load<u32>(H_STEP) - 1);
  simUnlock();
  return r;
}
