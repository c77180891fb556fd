// Runs a parsed scenario step by step: `steps`, then each thread's steps one thread after another in the order
// written (`gmemsim run` runs one schedule; `gmemsim explore` runs them all), then `finally`. Each action's result is
// compared with its `expect`, each check with the model's state, and the events each step emitted are kept for
// check.events, the trace and the summary. Runs anywhere the binding runs (no Node APIs here).
import { STOP_NEVER, RESULT_PAUSED } from "../../assembly/abi/ops";
import { OUT_OP } from "../../assembly/abi/consts";
import { createSimulatorSync, type Simulator } from "../simulator";
import { InvariantError, EnvironmentError } from "../errors";
import { EventReader, type SimEvent } from "../events";
import { pauseStep, ARCH, SAFEGUARD } from "../abi";
import type { Scenario, Step, ActionStep, StepSection } from "./types";
import {
  callOp, decodeResult, compareExpect, pauseStopOf, newObjects, StepFailure, type Objects, type Got, type ResultOp,
} from "./actions";
import { runCheck } from "./checks";
import { finalState, type FinalState } from "./final";

const SAFEGUARD_NAMES = Object.keys(SAFEGUARD);

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
  /** the fields the step was written with (its op aside) */
  args?: Record<string, unknown>;
  /** the invariants a failed step broke ('I7', ...) */
  invariants?: string[];
  errorOffset?: number;
  level?: string;
  value?: number;
  events: SimEvent[];
  /** events the step emitted that the event ring overwrote before they were read: `events` is incomplete */
  eventsLost?: number;
}

export interface RunReport {
  name: string;
  config: Scenario["config"];
  ok: boolean;
  /** the first failing step (the run stops there) */
  failure?: StepOutcome;
  /** every step run, in order (empty when the run was told keepSteps: false) */
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
  /** called after every step (the async runner of the package awaits a promise it returns) */
  onStep?: (step: Step, outcome: StepOutcome, events: SimEvent[]) => unknown;
  /**
   * keep every step's outcome in the report's `steps` (the default); false: `steps` stays empty and each outcome
   * goes to onStep only, so a run of any length holds one step at a time (`gmemsim run` streams its outputs)
   */
  keepSteps?: boolean;
}

/**
 * A simulator configured as the scenario says: a new one, or the caller's, whose arch must match (it can change
 * only while the machine is empty) and whose checker, safeguards and default generation are set for the run (the
 * returned `restore` puts the caller's settings back).
 */
export function scenarioSimulator(scn: Scenario, opts: RunOptions = {}): { sim: Simulator; restore: () => void } {
  const given = opts.simulator;
  if (!given) {
    const sim = createSimulatorSync(undefined, {
      arch: scn.config.arch, protocol: scn.config.protocol, checks: scn.config.invariants, debug: opts.debugCore,
    });
    sim.setSafeguardsOff(scn.config.disable ?? []);
    return { sim, restore: () => {} };
  }
  if (given.arch !== scn.config.arch && given.core.sim_set_arch(ARCH[scn.config.arch]) !== 0) {
    throw new EnvironmentError("EINVAL", `the simulator's arch is ${given.arch} and holds objects already; the ` +
      `scenario needs ${scn.config.arch} (the arch of a simulator can change only while it is empty)`);
  }
  const before = { checks: given.checks, protocol: given.protocol, off: SAFEGUARD_NAMES.filter((n) =>
    (given.core.sim_safeguards_off() & SAFEGUARD[n]) !== 0) };
  given.setChecks(scn.config.invariants);
  given.setSafeguardsOff(scn.config.disable ?? []);
  given.protocol = scn.config.protocol;
  return { sim: given, restore: () => {
    given.setChecks(before.checks);
    given.setSafeguardsOff(before.off);
    given.protocol = before.protocol;
  } };
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

/** The fields a step was written with, except its op (a trace's arguments). */
function stepArgs(step: Step): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(step.raw as Record<string, unknown>)) if (k !== "op") args[k] = v;
  return args;
}

/** Run one step; its outcome (a failed expectation or a violated invariant is a failed outcome, not a throw). */
function runStep(sim: Simulator, step: Step, objs: Objects, paused: PausedTable, last: StepOutcome | undefined): StepOutcome {
  const outcome: StepOutcome = { index: step.index, section: step.section, op: step.op, ok: true, result: 0, events: [] };
  if (step.thread !== undefined) outcome.thread = step.thread;
  outcome.args = stepArgs(step);
  try {
    if (step.op.startsWith("check.")) runCheck(sim, step, objs, last?.events ?? [], last?.eventsLost ?? 0);
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
    } else {
      // anything else (the simulator failed: a trap, a dead worker; a bug of the runner) fails the step, saying what
      const err = e as { code?: unknown; message?: unknown };
      const code = typeof err?.code === "string" ? `${err.code}: ` : "";
      outcome.expected = "the step to run";
      outcome.got = `${code}${typeof err?.message === "string" ? err.message : String(e)}`;
      outcome.message = `${step.op}: ${outcome.got}`;
    }
  }
  return outcome;
}

/**
 * The run, one step at a time: yields each step with its outcome (its events included) and returns the report;
 * stops after the first failing step. The one implementation behind runScenario here (`gmemsim run`) and the
 * package's async runScenario (bindings/embed.ts).
 */
export function* scenarioRun(scn: Scenario, opts: RunOptions = {}): Generator<{ step: Step; outcome: StepOutcome }, RunReport> {
  const { sim, restore } = scenarioSimulator(scn, opts);
  try {
    const objs = newObjects();
    const paused: PausedTable = new Map();
    const steps: StepOutcome[] = [];
    // the run's own reader: a caller's sim.events keeps its place
    const events = new EventReader(sim.memory, (kind, index) => sim.nameOf(kind, index));
    let last: StepOutcome | undefined;
    let failure: StepOutcome | undefined;
    for (const step of allSteps(scn)) {
      const outcome = runStep(sim, step, objs, paused, last);
      if (!step.op.startsWith("check.")) {
        // an event's `step` in a report is the index of the scenario step that emitted it (the core's own call
        // counter says nothing to a reader of the scenario)
        const got = events.read();
        outcome.events = got.events.map((e) => ({ ...e, step: step.index }));
        if (got.lost > 0) outcome.eventsLost = got.lost;
        last = outcome;
      }
      if (opts.keepSteps !== false) steps.push(outcome);
      yield { step, outcome };
      if (!outcome.ok) { failure = outcome; break; }
    }
    const report: RunReport = { name: scn.name, config: scn.config, ok: !failure, steps, stats: sim.counters(),
      final: finalState(sim, objs) };
    if (failure) report.failure = failure;
    return report;
  } finally {
    restore();
  }
}

/** Run every step (synchronously); stops at the first failing one. */
export function runScenario(scn: Scenario, opts: RunOptions = {}): RunReport {
  const run = scenarioRun(scn, opts);
  for (;;) {
    const r = run.next();
    if (r.done) return r.value;
    opts.onStep?.(r.value.step, r.value.outcome, r.value.outcome.events);
  }
}
