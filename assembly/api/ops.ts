// How an export runs an operation: check the stop value it was given, then drive the op record (op/engine.ts)
// inside the step bracket. A probe (STOP_PROBE) looks without changing anything.
import {
  STOP_NEVER, STOP_ONE, STOP_PROBE, STEP_RUN, STEP_KINDS, RESULT_PAUSED, OPS_CONVERT, OPS_PUNCH, OPS_GUEST_ACCESS,
  OPS_IOMMU_MAP, OPS_SINGLE, OPK_CONVERT, OPK_PUNCH, OPK_GUEST_ACCESS, OPK_IOMMU_MAP,
} from "../abi/ops";
import { OUT_STEP } from "../abi/consts";
import { out } from "../mm/instance";
import { opRun } from "../op/engine";
import { leave, leaveQuiet } from "./bracket";

/** The steps an op kind has (OPS_* of abi/ops.ts). */
export function stepsOf(kind: u32): u32 {
  if (kind == OPK_CONVERT) return OPS_CONVERT;
  if (kind == OPK_PUNCH) return OPS_PUNCH;
  if (kind == OPK_GUEST_ACCESS) return OPS_GUEST_ACCESS;
  if (kind == OPK_IOMMU_MAP) return OPS_IOMMU_MAP;
  return OPS_SINGLE;
}

/** Is `stop` something an op of `kind` can be asked to stop at? */
export function stopValid(kind: u32, stop: u32): bool {
  if (stop == STOP_NEVER || stop == STOP_ONE || stop == STOP_PROBE) return true;
  return stop < <u32>STEP_KINDS && (stepsOf(kind) & (<u32>1 << stop)) != 0;
}

/** Run the filled op record under the bracket the caller entered; leave it. */
export function runAndLeave(op: u32, stop: u32): i32 {
  if (stop == STOP_PROBE) return leaveQuiet(opRun(op, stop));
  return leave(opRun(op, stop));
}

/** An op whose first step finished at once (bad arguments): a probe says it can run, a call gets the result. */
export function earlyResult(r: i32, stop: u32): i32 {
  if (stop == STOP_PROBE) return leaveQuiet(RESULT_PAUSED);
  out(OUT_STEP, STEP_RUN); // it ran no step: the out-slot names none of an earlier op's
  return leave(r);
}
