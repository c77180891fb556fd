// Exports on operations in flight: continue a paused or thread op (one step, to a pause point, or to the end),
// probe whether its next step could start, and read what the last step touched.
import { STOP_NEVER, STOP_ONE, STOP_PROBE, STEP_KINDS } from "../abi/ops";
import { OUT_FOOTPRINT } from "../abi/consts";
import { EBADF, EINVAL } from "../abi/errno";
import { out } from "../mm/instance";
import { fpAddress } from "../lib/footprint";
import { OP_THREAD, opKind } from "../lib/oprec";
import { opOf } from "../op/engine";
import { enter, leave } from "./bracket";
import { stopValid, runAndLeave } from "./ops";

/** Continue op h: stop STOP_NEVER (to the end), a STEP_* pause point, STOP_ONE (one atomic step), STOP_PROBE. */
export function op_resume(h: u32, stop: u32): i32 {
  if (stop != STOP_NEVER && stop != STOP_ONE && stop != STOP_PROBE && stop >= <u32>STEP_KINDS) return -EINVAL;
  { const e = enter(false); if (e != 0) return e; }
  const op = opOf(h);
  if (op == 0) return leave(-EBADF);
  if (!stopValid(opKind(op), stop)) return leave(-EINVAL);
  return runAndLeave(op, stop);
}

/** Tag op h with the number of the thread that runs it (traces and schedules name it). */
export function op_set_thread(h: u32, thread: u32): i32 {
  const op = opOf(h);
  if (op == 0) return -EBADF;
  store<u32>(op, thread, OP_THREAD);
  return 0;
}

/** Address of the footprint of this instance's last step (lib/footprint.ts layout); also out OUT_FOOTPRINT. */
export function op_footprint(): u32 {
  const a = fpAddress();
  out(OUT_FOOTPRINT, a);
  return a;
}
