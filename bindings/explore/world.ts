// One exploration's world: a simulator that ran the scenario's `steps` once, a checkpoint of that state, and the
// threads' progress in the schedule being run. A thread's op advances one atomic step per `exec` (STOP_ONE); `probe`
// asks the core whether its next step could start now (STOP_PROBE: nothing changes). Every atomic step a schedule
// runs for the first time is followed by the invariant checker; a schedule's prefix replayed to reach a branch
// point is not (its states were checked when first reached).
import { STOP_ONE, STOP_PROBE, RESULT_PAUSED, RESULT_BLOCKED } from "../../assembly/abi/ops";
import { OUT_OP, OUT_STEP } from "../../assembly/abi/consts";
import { STEP_NAMES } from "../abi";
import type { Simulator } from "../simulator";
import type { Scenario, ActionStep, Step } from "../scenario/types";
import { callOp, decodeResult, compareExpect, newObjects, StepFailure, type Objects, type Got } from "../scenario/actions";
import { runAction, type PausedTable } from "../scenario/run";
import { runCheck } from "../scenario/checks";
import type { SimEvent } from "../events";
import { InvariantError } from "../errors";
import { Checkpoint } from "./checkpoint";
import { readFootprint, type Footprint } from "./footprint";

/** One atomic step of a schedule: which thread ran which op's which step. */
export interface ScheduleStep {
  thread: string;
  /** index of the op in its thread */
  opIndex: number;
  op: string;
  /** the atomic step's name ("lock", "invalidate-begin", "faultin", "run" for a one-step op) */
  step: string;
  /** the op finished with this step: its result */
  result?: string | number;
}

/** Why a schedule failed. */
export interface Violation {
  kind: "invariant" | "expect" | "deadlock" | "finally" | "model";
  /** I1..I20 for an invariant */
  invariants?: string[];
  where?: number;
  /** the thread step (or finally step) that failed */
  thread?: string;
  opIndex?: number;
  op?: string;
  expected?: string;
  got?: string;
  message: string;
}

interface ThreadState { pc: number; handle: number }

export class ExploreFailure extends Error {
  /** at: the atomic step that failed (absent when the failure is not one step's: a deadlock, `finally`) */
  constructor(readonly violation: Violation, readonly at?: ScheduleStep) { super(violation.message); }
}

export class World {
  readonly checkpoint: Checkpoint;
  private readonly objsSetup: Objects;
  private readonly namesSetup: [string, string][];
  /** the ops setup left paused, by `as` name: `finally` may resume them (each schedule from this same table) */
  private readonly pausedSetup: PausedTable;
  private objs: Objects;
  private threads: ThreadState[];
  /** results of the thread ops finished in this schedule, by [thread][opIndex] */
  results: (Got | undefined)[][];
  private lastEvents: SimEvent[] = [];
  readonly threadSteps: ActionStep[][];
  readonly threadNames: string[];

  constructor(readonly sim: Simulator, readonly scn: Scenario, setupObjs: Objects, setupPaused: PausedTable = new Map()) {
    this.threadSteps = (scn.threads ?? []).map((t) => t.steps);
    this.threadNames = (scn.threads ?? []).map((t) => t.name);
    this.objsSetup = setupObjs;
    this.pausedSetup = new Map(setupPaused);
    this.namesSetup = sim.nameEntries();
    this.checkpoint = new Checkpoint(sim);
    this.objs = cloneObjects(setupObjs);
    this.threads = this.threadSteps.map(() => ({ pc: 0, handle: 0 }));
    this.results = this.threadSteps.map((s) => s.map(() => undefined));
  }

  get nThreads(): number { return this.threadSteps.length; }
  /** object handles by scenario id, as this schedule has them */
  get ids(): Objects { return this.objs; }

  /** Back to the post-setup state: memory, object ids, names, threads at their first op. */
  reset(): void {
    this.checkpoint.restore();
    this.objs = cloneObjects(this.objsSetup);
    this.sim.namesFrom(this.namesSetup);
    for (const t of this.threads) { t.pc = 0; t.handle = 0; }
    for (const r of this.results) r.fill(undefined);
    this.sim.events.skip();
  }

  done(t: number): boolean { return this.threads[t].pc >= this.threadSteps[t].length; }
  allDone(): boolean { return this.threads.every((_, t) => this.done(t)); }
  /** thread t's current op (its index and step) */
  pc(t: number): number { return this.threads[t].pc; }
  current(t: number): ActionStep { return this.threadSteps[t][this.threads[t].pc]; }

  /** Could thread t's next atomic step start now? */
  enabled(t: number): boolean {
    if (this.done(t)) return false;
    const th = this.threads[t];
    let r: number;
    try {
      r = th.handle !== 0 ? this.sim.core.op_resume(th.handle, STOP_PROBE) : callOp(this.sim, this.current(t), this.objs, STOP_PROBE);
    } catch (e) {
      if (e instanceof StepFailure) return true; // the step fails when it runs (an id whose create failed)
      throw e;
    }
    return r !== RESULT_BLOCKED;
  }

  /** The threads whose next step could start now, in thread order. */
  enabledSet(): number[] {
    const out: number[] = [];
    for (let t = 0; t < this.nThreads; t++) if (this.enabled(t)) out.push(t);
    return out;
  }

  /**
   * Run thread t's next atomic step. check: run the invariant checker after it (throws ExploreFailure on a
   * violation or an unexpected result). Returns what ran and, when check, the step's footprint.
   */
  exec(t: number, check: boolean): { step: ScheduleStep; footprint: Footprint | null } {
    const th = this.threads[t];
    const s = this.current(t);
    const opIndex = th.pc;
    const sim = this.sim;
    let raw: number;
    try {
      raw = th.handle !== 0 ? sim.core.op_resume(th.handle, STOP_ONE) : callOp(sim, s, this.objs, STOP_ONE);
    } catch (e) {
      if (!(e instanceof StepFailure)) throw e;
      throw new ExploreFailure({ kind: "expect", thread: this.threadNames[t], opIndex, op: s.op, expected: e.expected, got: e.got,
        message: `${this.threadNames[t]}[${opIndex}] ${s.op}: ${e.message}` },
      { thread: this.threadNames[t], opIndex, op: s.op, step: "run", result: "not run" });
    }
    const footprint = check ? readFootprint(sim) : null;
    const stepName = STEP_NAMES[sim.out(OUT_STEP)] ?? "run";
    const step: ScheduleStep = { thread: this.threadNames[t], opIndex, op: s.op, step: stepName };
    if (check && sim.core.sim_last_violation() !== 0) {
      const v = sim.violationError(`${this.threadNames[t]}[${opIndex}] ${s.op} ${stepName}`);
      throw new ExploreFailure({ kind: "invariant", invariants: v.invariants, where: v.where, thread: this.threadNames[t],
        opIndex, op: s.op, message: `${v.invariants.join(", ")} violated at index/gfn ${v.where} after ` +
          `${this.threadNames[t]}[${opIndex}] ${s.op} step ${stepName}` }, step);
    }
    if (raw === RESULT_BLOCKED) {
      throw new ExploreFailure({ kind: "model", thread: this.threadNames[t], opIndex, op: s.op,
        message: `${this.threadNames[t]}[${opIndex}] ${s.op}: the probe said the step could run, the step was blocked` }, step);
    }
    if (raw === RESULT_PAUSED) {
      th.handle = sim.out(OUT_OP);
      return { step, footprint };
    }
    const got = decodeResult(sim, s, s.op, raw, this.objs);
    step.result = got.result;
    this.results[t][opIndex] = got;
    th.pc++;
    th.handle = 0;
    if (check) {
      try { compareExpect(s, got); } catch (e) {
        if (!(e instanceof StepFailure)) throw e;
        throw new ExploreFailure({ kind: "expect", thread: this.threadNames[t], opIndex, op: s.op, expected: e.expected,
          got: e.got, message: `${this.threadNames[t]}[${opIndex}] ${s.op}: expected ${e.expected}, got ${e.got}` }, step);
      }
    }
    return { step, footprint };
  }

  /** Run `finally` (every thread done): its checks and actions as `gmemsim run` would. */
  runFinally(): void {
    const paused: PausedTable = new Map(this.pausedSetup); // the checkpoint has their records as setup left them
    this.lastEvents = this.sim.events.read().events;
    for (const s of this.scn.finally ?? []) runFinallyStep(this, s, paused);
  }

  /** @internal */
  finallyStep(s: Step, paused: PausedTable): void {
    const sim = this.sim;
    if (s.op.startsWith("check.")) { runCheck(sim, s, this.objs, this.lastEvents); return; }
    const got = runAction(sim, s as ActionStep, this.objs, paused);
    compareExpect(s as ActionStep, got);
    this.lastEvents = sim.events.read().events;
  }
}

function runFinallyStep(w: World, s: Step, paused: PausedTable): void {
  try { w.finallyStep(s, paused); } catch (e) {
    if (e instanceof StepFailure) {
      throw new ExploreFailure({ kind: "finally", op: s.op, opIndex: s.index, expected: e.expected, got: e.got,
        message: `finally[${s.index}] ${s.op}: expected ${e.expected}, got ${e.got}` });
    }
    if (e instanceof InvariantError) {
      throw new ExploreFailure({ kind: "invariant", invariants: e.invariants, where: e.where, op: s.op, opIndex: s.index,
        message: `${e.invariants.join(", ")} violated at index/gfn ${e.where} in finally[${s.index}] ${s.op}` });
    }
    throw e;
  }
}

function cloneObjects(o: Objects): Objects {
  const n = newObjects();
  for (const k of ["gmem", "vm", "iommu"] as const) for (const [id, h] of o[k]) n[k].set(id, h);
  return n;
}

