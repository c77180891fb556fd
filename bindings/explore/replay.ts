// A failing schedule as a plain scenario file: the setup `steps`, then the schedule's atomic steps one after another
// with `pause`/`resume` (an op that takes more steps starts with `pause: "after-<its first step>"` and an `as` name,
// each later step resumes it to the next point, the step that finishes it resumes without a pause and carries the
// thread step's `expect`), then `finally`. `gmemsim run` on it performs exactly the schedule and fails the same way
// (the invariant checker is on in it). A deadlock is the exception: the replay reaches the state where no thread can
// take its next step and ends there, with those ops still paused; `gmemsim run` never waits, so it does not fail.
import type { Scenario } from "../scenario/types";
import type { ScheduleStep } from "./world";
import { pausePointsOf } from "../abi";

type Json = Record<string, unknown>;

/** The step object as written, without the fields a replay sets itself. */
function written(raw: unknown, drop: string[]): Json {
  const o: Json = { ...(raw as Json) };
  for (const k of drop) delete o[k];
  return o;
}

/**
 * The scenario that replays `schedule` (which may end at the failing step); withFinally: the schedule completed and
 * `finally` follows it (the failure is there).
 */
export function replayScenario(scn: Scenario, schedule: ScheduleStep[], note: string, withFinally: boolean): Json {
  const threads = scn.threads ?? [];
  const rawOf = (thread: string, opIndex: number): Json => {
    const t = threads.find((x) => x.name === thread);
    return (t?.steps[opIndex]?.raw ?? {}) as Json;
  };
  const steps: Json[] = scn.steps.map((s) => s.raw as Json);
  const started = new Set<string>();
  for (const st of schedule) {
    const key = `${st.thread}.${st.opIndex}`;
    const raw = rawOf(st.thread, st.opIndex);
    // an op stops after this step when it has more to do and the step is one of its pause points (the step that
    // broke an invariant may be its last one: then the call runs to the end and the checker stops the run there)
    const finishes = st.result !== undefined || !pausePointsOf(st.op).includes(`after-${st.step}`);
    if (!started.has(key)) {
      started.add(key);
      if (finishes) steps.push(written(raw, []));
      else steps.push({ ...written(raw, ["expect"]), pause: `after-${st.step}`, as: key });
      continue;
    }
    if (!finishes) { steps.push({ op: "resume", id: key, pause: `after-${st.step}` }); continue; }
    const last: Json = { op: "resume", id: key };
    for (const k of ["expect", "level", "value"]) if (raw[k] !== undefined) last[k] = raw[k];
    steps.push(last);
  }
  if (withFinally) for (const s of scn.finally ?? []) steps.push(s.raw as Json);
  return {
    format: 1,
    name: `${scn.name || "scenario"}: counterexample`,
    description: note,
    config: { arch: scn.config.arch, protocol: scn.config.protocol, invariants: true, disable: [...scn.config.disable] },
    steps,
  };
}
