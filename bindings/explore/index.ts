// `explore(scenario, options)`: run a scenario's `steps` once, then every interleaving of its threads the reduction
// keeps (or a seeded PCT sample when they do not fit `maxSchedules`), with the invariant checker after every atomic
// step and `finally` after every schedule. The same code serves `gmemsim explore`, pages and workers: the async
// form yields to the event loop between slices of work, the sync form runs straight through.
import { createSimulatorSync, type Simulator } from "../simulator";
import { parseScenario, validateScenario } from "../scenario/parse";
import type { Scenario, ActionStep } from "../scenario/types";
import { newObjects, compareExpect, StepFailure, type Objects } from "../scenario/actions";
import { runAction, type PausedTable } from "../scenario/run";
import { runCheck } from "../scenario/checks";
import { InvariantError } from "../errors";
import { World, type ScheduleStep, type Violation } from "./world";
import { DepthFirst, sleepSetsApply, type SearchFailure } from "./search";
import { PctSampler } from "./pct";
import { replayScenario } from "./replay";

export type { ScheduleStep, Violation } from "./world";

export interface ExploreOptions {
  /** exhaustive when the reduced space fits (default 100000); else this many PCT samples. A shard's depth-first
   *  budget is its share, ceil(maxSchedules / of), and its PCT samples are the j < maxSchedules with j = index mod of */
  maxSchedules?: number;
  /** seed of the PCT sample: a non-negative integer (default 1) */
  seed?: number;
  /** explore part `index` (0-based) of `of` disjoint parts, or "I/N" with I 1-based as on the command line */
  shard?: { index: number; of: number } | string;
  /** at most this many preemptions per schedule, a non-negative integer (default: none); turns the sleep sets off */
  preemptionBound?: number;
  /** "sleep-sets" (default) or "none" (every interleaving) */
  reduction?: "sleep-sets" | "none";
  /** PCT's bug depth d, a positive integer (default 3) */
  pctDepth?: number;
  /** the debug core (asserts on) */
  debugCore?: boolean;
  /** called every few milliseconds with the counts so far */
  onProgress?: (p: { schedules: number; steps: number; ms: number }) => void;
  /** called after every complete schedule (after `finally`), with the simulator in its final state */
  onSchedule?: (s: ScheduleEnd) => void;
  signal?: AbortSignal;
}

/** A schedule that ran to its end: its steps, the simulator in its final state, the objects by scenario id. */
export interface ScheduleEnd {
  schedule: ScheduleStep[];
  simulator: Simulator;
  ids: { gmem: ReadonlyMap<string, number>; vm: ReadonlyMap<string, number>; iommu: ReadonlyMap<string, number> };
}

/** The results one thread step produced over every schedule. */
export interface StepResults { thread: string; index: number; op: string; results: (string | number)[] }

export interface ExploreReport {
  name: string;
  ok: boolean;
  /** "exhaustive": every schedule left after the reduction (and the bound, and the shard) ran */
  mode: "exhaustive" | "sampled";
  /** complete schedules run (depth-first, then PCT when sampled) */
  schedules: number;
  pctSchedules: number;
  /** depth-first paths cut because each of their steps was redundant */
  sleepBlocked: number;
  /** atomic steps run, and how many of them replayed a prefix to backtrack */
  atomicSteps: number;
  replayedSteps: number;
  /** interleavings of the atomic steps with no reduction and no locks: the multinomial of the most steps each thread
   *  took in one schedule, and those counts (an estimate: how many steps an op takes depends on the schedule) */
  naive: number;
  stepsPerThread: number[];
  /** the reduction the search used ("none" when a preemption bound was given) */
  reduction: "sleep-sets" | "none";
  preemptionBound?: number;
  shard?: { index: number; of: number };
  seed: number;
  ms: number;
  schedulesPerSecond: number;
  /** bytes the checkpoint restores per schedule */
  checkpointBytes: number;
  results: StepResults[];
  failure?: { violation: Violation; schedule: ScheduleStep[]; replay: Record<string, unknown> };
}

/** "I/N" (1-based, as the command line writes it) or { index, of } -> { index (0-based), of }; EINVAL otherwise. */
export function parseShard(s: { index: number; of: number } | string): { index: number; of: number } {
  const bad = (): never => { throw Object.assign(new Error(`--shard: expected I/N with 1 <= I <= N, got ${String(s)}`), { code: "EINVAL" }); };
  if (typeof s === "string") {
    const m = /^(\d+)\/(\d+)$/.exec(s);
    if (!m) return bad();
    const i = +m[1], n = +m[2];
    if (n < 1 || i < 1 || i > n || n > 1e6) return bad();
    return { index: i - 1, of: n };
  }
  if (!Number.isInteger(s.index) || !Number.isInteger(s.of) || s.of < 1 || s.index < 0 || s.index >= s.of) return bad();
  return { index: s.index, of: s.of };
}

function multinomial(counts: number[]): number {
  let total = 0, r = 1;
  for (const c of counts) for (let i = 1; i <= c; i++) { total++; r = (r * total) / i; }
  return Math.round(r);
}

/** Run the setup steps (everything before the threads); a failure there is reported as the exploration's. */
function setup(sim: Simulator, scn: Scenario): { objs: Objects; paused: PausedTable; violation?: Violation } {
  const objs = newObjects();
  const paused: PausedTable = new Map();
  let last = sim.events.read().events;
  for (const s of scn.steps) {
    try {
      if (s.op.startsWith("check.")) runCheck(sim, s, objs, last);
      else { compareExpect(s as ActionStep, runAction(sim, s as ActionStep, objs, paused)); last = sim.events.read().events; }
    } catch (e) {
      const where = `steps[${s.index}] ${s.op}`;
      if (e instanceof StepFailure) return { objs, paused, violation: { kind: "expect", op: s.op, opIndex: s.index, expected: e.expected, got: e.got, message: `${where}: ${e.message}` } };
      if (e instanceof InvariantError) return { objs, paused, violation: { kind: "invariant", invariants: e.invariants, where: e.where, op: s.op, opIndex: s.index, message: `${where}: ${e.invariants.join(", ")} violated` } };
      throw e;
    }
  }
  return { objs, paused };
}

/** One exploration, run in slices (`slice(budget)` returns true when it is over). */
export class Exploration {
  readonly scn: Scenario;
  private readonly sim: Simulator;
  private world?: World;
  private dfs?: DepthFirst;
  private pct?: PctSampler;
  private readonly opts: Required<Pick<ExploreOptions, "maxSchedules" | "seed" | "reduction" | "pctDepth">> & ExploreOptions;
  private readonly shard?: { index: number; of: number };
  private readonly results = new Map<string, { thread: string; index: number; op: string; set: Set<string | number> }>();
  private setupViolation?: Violation;
  /** the most atomic steps each thread took in one schedule */
  private readonly maxSteps: number[] = [];
  private readonly t0 = performance.now();

  constructor(scenario: Scenario | string | object, options: ExploreOptions = {}) {
    this.scn = typeof scenario === "string" ? parseScenario(scenario)
      : isParsed(scenario) ? scenario as Scenario : validateScenario(scenario);
    this.opts = { ...options, maxSchedules: options.maxSchedules ?? 100000, seed: options.seed ?? 1,
      reduction: options.reduction ?? "sleep-sets", pctDepth: options.pctDepth ?? 3 };
    checkOptions(this.opts);
    if (options.shard !== undefined) this.shard = parseShard(options.shard);
    const c = this.scn.config;
    this.sim = createSimulatorSync(undefined, { arch: c.arch, protocol: c.protocol, checks: true, debug: options.debugCore });
    this.sim.setSafeguardsOff(c.disable ?? []);
    const s = setup(this.sim, this.scn);
    if (s.violation) { this.setupViolation = s.violation; return; }
    this.world = new World(this.sim, this.scn, s.objs, s.paused);
    for (const [t, th] of (this.scn.threads ?? []).entries()) {
      th.steps.forEach((st, i) => this.results.set(`${t}:${i}`, { thread: th.name, index: i, op: st.op, set: new Set() }));
    }
    // a shard's share of the depth-first budget: N shards together run at most maxSchedules before sampling
    const budget = Math.ceil(this.opts.maxSchedules / (this.shard?.of ?? 1));
    this.dfs = new DepthFirst(this.world, { maxSchedules: budget, reduction: this.opts.reduction,
      preemptionBound: this.opts.preemptionBound, shard: this.shard }, (w, s) => this.record(w, s));
  }

  private record(w: World, schedule: ScheduleStep[]): void {
    this.opts.onSchedule?.({ schedule, simulator: w.sim, ids: w.ids });
    w.threadNames.forEach((n, t) => {
      const c = schedule.reduce((k, s) => k + (s.thread === n ? 1 : 0), 0);
      if (c > (this.maxSteps[t] ?? 0)) this.maxSteps[t] = c;
    });
    w.results.forEach((row, t) => row.forEach((g, i) => { if (g) this.results.get(`${t}:${i}`)!.set.add(g.result); }));
  }

  /** Run about `budget` atomic steps; true when the exploration is over. */
  slice(budget: number): boolean {
    if (!this.world || !this.dfs) return true;
    if (!this.dfs.done) { this.dfs.run(budget); return false; }
    if (this.dfs.failure || this.dfs.stats.exhausted) return true;
    if (!this.pct) {
      this.pct = new PctSampler(this.world, { seed: this.opts.seed, depth: this.opts.pctDepth, schedules: this.opts.maxSchedules,
        shard: this.shard }, this.dfs.stats.maxDepth, (w, s) => this.record(w, s));
    }
    if (this.pct.done) return true;
    this.pct.run(budget);
    return false;
  }

  progress(): { schedules: number; steps: number; ms: number } {
    return { schedules: (this.dfs?.stats.schedules ?? 0) + (this.pct?.schedules ?? 0),
      steps: (this.dfs?.stats.steps ?? 0) + (this.pct?.steps ?? 0), ms: performance.now() - this.t0 };
  }

  report(): ExploreReport {
    const ms = performance.now() - this.t0;
    const d = this.dfs?.stats;
    const schedules = (d?.schedules ?? 0) + (this.pct?.schedules ?? 0);
    const failure: SearchFailure | undefined = this.setupViolation ? { violation: this.setupViolation, schedule: [] }
      : this.dfs?.failure ?? this.pct?.failure;
    const counts = this.maxSteps;
    const rep: ExploreReport = {
      name: this.scn.name, ok: failure === undefined, mode: d?.exhausted ? "exhaustive" : "sampled", schedules,
      pctSchedules: this.pct?.schedules ?? 0, sleepBlocked: d?.sleepBlocked ?? 0,
      atomicSteps: (d?.steps ?? 0) + (d?.replayedSteps ?? 0) + (this.pct?.steps ?? 0), replayedSteps: d?.replayedSteps ?? 0,
      naive: multinomial(counts), stepsPerThread: counts, reduction: sleepSetsApply(this.opts) ? "sleep-sets" : "none",
      seed: this.opts.seed,
      ms: +ms.toFixed(1), schedulesPerSecond: ms > 0 ? Math.round(schedules / (ms / 1000)) : 0,
      checkpointBytes: this.world?.checkpoint.bytes ?? 0,
      results: [...this.results.values()].map((r) => ({ thread: r.thread, index: r.index, op: r.op, results: [...r.set].sort(byResult) })),
    };
    if (this.opts.preemptionBound !== undefined) rep.preemptionBound = this.opts.preemptionBound;
    if (this.shard) rep.shard = this.shard;
    if (failure) {
      const note = `Replays the schedule gmemsim explore found breaking "${this.scn.name}": ${failure.violation.message}` +
        (failure.violation.kind === "deadlock" ? " (not exact: it ends in the stuck state, and gmemsim run does not wait)" : "");
      rep.failure = { ...failure, replay: replayScenario(this.scn, failure.schedule, note, failure.violation.kind === "finally") };
    }
    return rep;
  }
}

function byResult(a: string | number, b: string | number): number {
  return typeof a === typeof b ? (a < b ? -1 : a > b ? 1 : 0) : typeof a === "number" ? -1 : 1;
}

/** A Scenario parseScenario / validateScenario made (not a file's JSON object, whose threads are a map). */
function isParsed(x: object): boolean {
  const s = x as Partial<Scenario>;
  const steps = (l: unknown): boolean => Array.isArray(l) && l.every((st) => st !== null && typeof st === "object" && "section" in st);
  if (s.format !== 1 || typeof s.config !== "object" || s.config === null || !Array.isArray(s.config.disable)) return false;
  if (!steps(s.steps)) return false;
  if (s.threads !== undefined && !(Array.isArray(s.threads) && s.threads.length > 0 &&
      s.threads.every((t) => typeof t?.name === "string" && Array.isArray(t.steps) && t.steps.length > 0 && steps(t.steps)))) return false;
  if (s.finally !== undefined && !steps(s.finally)) return false;
  return s.steps!.length > 0 || s.threads !== undefined;
}

/** The options a caller may get wrong, checked up front: EINVAL with the option's name. */
function checkOptions(o: ExploreOptions): void {
  const bad = (name: string, want: string, v: unknown): never => {
    throw Object.assign(new Error(`${name}: ${want}, got ${typeof v === "string" ? JSON.stringify(v) : String(v)}`), { code: "EINVAL" });
  };
  const int = (v: unknown, min: number): boolean => Number.isSafeInteger(v) && (v as number) >= min;
  if (!int(o.maxSchedules, 1)) bad("maxSchedules", "a positive integer", o.maxSchedules);
  if (!int(o.seed, 0)) bad("seed", "a non-negative integer", o.seed);
  if (o.preemptionBound !== undefined && !int(o.preemptionBound, 0)) bad("preemptionBound", "a non-negative integer", o.preemptionBound);
  if (o.reduction !== "sleep-sets" && o.reduction !== "none") bad("reduction", `"sleep-sets" or "none"`, o.reduction);
  if (!int(o.pctDepth, 1)) bad("pctDepth", "a positive integer", o.pctDepth);
}

/** Explore synchronously (the CLI, tests, a worker that may block). */
export function exploreSync(scenario: Scenario | string | object, options: ExploreOptions = {}): ExploreReport {
  const x = new Exploration(scenario, options);
  let last = performance.now();
  while (!x.slice(2000)) {
    if (options.signal?.aborted) throw Object.assign(new Error("exploration aborted"), { code: "ECANCELED" });
    if (options.onProgress && performance.now() - last > 250) { options.onProgress(x.progress()); last = performance.now(); }
  }
  return x.report();
}

/** Explore without holding the thread for long: yields to the event loop between slices (a page stays responsive). */
export async function explore(scenario: Scenario | string | object, options: ExploreOptions = {}): Promise<ExploreReport> {
  const x = new Exploration(scenario, options);
  for (;;) {
    const t = performance.now();
    let over = false;
    while (!over && performance.now() - t < 12) over = x.slice(200);
    if (over) return x.report();
    if (options.signal?.aborted) throw Object.assign(new Error("exploration aborted"), { code: "ECANCELED" });
    options.onProgress?.(x.progress());
    await new Promise<void>((r) => setTimeout(r, 0));
  }
}
