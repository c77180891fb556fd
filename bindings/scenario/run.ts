// Runs a parsed scenario step by step: `steps`, then each thread's steps one thread after another in the order
// written (`gmemsim run` runs one schedule; `gmemsim explore` runs them all), then `finally`. Each action's result is
// compared with its `expect`, each check with the model's state, and the events each step emitted are kept for
// check.events, the trace and the summary. Runs anywhere the binding runs (no Node APIs here).
import { STOP_NEVER, RESULT_PAUSED } from "../../assembly/abi/ops";
import { OUT_OP } from "../../assembly/abi/consts";
import { createSimulatorSync, type Simulator } from "../simulator";
import { InvariantError } from "../errors";
import type { SimEvent } from "../events";
import { pauseStep } from "../abi";
import type { Scenario, Step, ActionStep, StepSection } from "./types";
import {
  callOp, decodeResult, compareExpect, pauseStopOf, newObjects, StepFailure, type Objects, type Got, type ResultOp,
} from "./actions";
import { runCheck } from "./checks";
import { finalState, type FinalState } from "./final";

export interface StepOutcome {
  index: number;
  section: StepSection;
  thread?: string;
  op: string;
  ok: boolean;
  /** what the step produced: 0, an errno name, an access result, "paused" */
  result: string | number;
  /** for failed steps: what was expected and what happened */
  expected?: string;
  got?: string;
  message?: string;
  /** the invariants a failed step broke ('I7', ...) */
  invariants?: string[];
  errorOffset?: number;
  level?: string;
  value?: number;
  events: SimEvent[];
}

export interface RunReport {
  name: string;
  config: Scenario["config"];
  ok: boolean;
  /** the first failing step (the run stops there) */
  failure?: StepOutcome;
  steps: StepOutcome[];
  /** every event-kind counter at the end */
  stats: Record<string, number>;
  /** final state summary */
  final: FinalState;
}

export interface RunOptions {
  debugCore?: boolean;
  /** run on this simulator (fresh, or one a view is attached to) instead of a new one */
  simulator?: Simulator;
  /** called after every step */
  onStep?: (step: Step, outcome: StepOutcome, events: SimEvent[]) => void;
}

/** A simulator configured as the scenario says. */
export function scenarioSimulator(scn: Scenario, opts: RunOptions = {}): Simulator {
  const sim = opts.simulator ?? createSimulatorSync(undefined, {
    arch: scn.config.arch, protocol: scn.config.protocol, checks: scn.config.invariants, debug: opts.debugCore,
  });
  if (opts.simulator) sim.setChecks(scn.config.invariants);
  sim.setSafeguardsOff(scn.config.disable ?? []);
  return sim;
}

/** The steps of a scenario in the order `gmemsim run` performs them. */
export function allSteps(scn: Scenario): Step[] {
  return [...scn.steps, ...(scn.threads ?? []).flatMap((t) => t.steps), ...(scn.finally ?? [])];
}

/** Paused operations by `as` name: the handle and the op it is. */
export type PausedTable = Map<string, { handle: number; op: ResultOp }>;

/** Run one action step (a call or a resume) to its end or its pause point; its outcome. */
export function runAction(sim: Simulator, s: ActionStep, objs: Objects, paused: PausedTable): Got {
  if (s.op === "inject") { sim.inject(s.fault, s.count); return { result: 0 }; }
  let op: ResultOp = s.op;
  let handle = 0;
  let stop = pauseStopOf(s);
  if (s.op === "resume") {
    const p = paused.get(s.id);
    if (!p) throw new StepFailure(`a paused operation named '${s.id}'`, "none (it finished already or never paused)");
    paused.delete(s.id);
    op = p.op;
    handle = p.handle;
    stop = s.pause === undefined ? STOP_NEVER : pauseStep(s.pause);
  }
  const raw = sim.afterStep(s.op, callOp(sim, s, objs, stop, handle));
  if (raw === RESULT_PAUSED) {
    const as = s.op === "resume" ? s.id : (s as { as?: string }).as;
    if (as !== undefined) paused.set(as, { handle: sim.out(OUT_OP), op });
  }
  return decodeResult(sim, s, op, raw, objs);
}

/** Run every step; stops at the first failing one. */
export function runScenario(scn: Scenario, opts: RunOptions = {}): RunReport {
  const sim = scenarioSimulator(scn, opts);
  const objs = newObjects();
  const paused: PausedTable = new Map();
  const steps: StepOutcome[] = [];
  let lastEvents: SimEvent[] = [];
  let failure: StepOutcome | undefined;
  sim.events.read(); // start from here

  for (const step of allSteps(scn)) {
    const outcome: StepOutcome = { index: step.index, section: step.section, op: step.op, ok: true, result: 0, events: [] };
    if (step.thread !== undefined) outcome.thread = step.thread;
    const isCheck = step.op.startsWith("check.");
    try {
      if (isCheck) runCheck(sim, step, objs, lastEvents);
      else {
        const got = runAction(sim, step as ActionStep, objs, paused);
        outcome.result = got.result;
        if (got.errorOffset !== undefined) outcome.errorOffset = got.errorOffset;
        if (got.level !== undefined) outcome.level = got.level;
        if (got.value !== undefined) outcome.value = got.value;
        compareExpect(step as ActionStep, got);
      }
    } catch (e) {
      outcome.ok = false;
      if (e instanceof StepFailure) { outcome.expected = e.expected; outcome.got = e.got; outcome.message = e.message; }
      else if (e instanceof InvariantError) {
        outcome.expected = "every invariant to hold";
        outcome.got = `${e.invariants.join(", ")} violated at index/gfn ${e.where}`;
        outcome.invariants = e.invariants;
        outcome.message = e.message;
      } else throw e;
    }
    if (!isCheck) {
      const { events } = sim.events.read();
      outcome.events = events;
      lastEvents = events;
    }
    steps.push(outcome);
    opts.onStep?.(step, outcome, outcome.events);
    if (!outcome.ok) { failure = outcome; break; }
  }
  return { name: scn.name, config: scn.config, ok: !failure, failure, steps, stats: sim.counters(), final: finalState(sim, objs) };
}
