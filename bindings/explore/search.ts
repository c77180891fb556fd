// The schedule space of a scenario's threads, walked depth-first with sleep sets (Godefroid): after a branch's
// subtree has been explored, its step sleeps in the siblings' subtrees until a step that conflicts with it runs, so
// no two complete schedules are equivalent up to swapping independent steps (one schedule per Mazurkiewicz trace),
// while every reachable state is still visited: sleep sets prune transitions, never states, which is why the
// invariant checker after every atomic step sees every state a full interleaving would (the persistent-set half
// of partial-order reduction is left out on purpose: it would skip states). Backtracking restores the post-setup
// checkpoint and replays the path (no memory copy per step). A preemption bound and a shard filter prune the tree
// deterministically, so N shards together run exactly the unsharded schedules. A preemption bound turns the sleep
// sets off: the schedule a sleeping step stands for may need more preemptions than the bound allows (it would be
// pruned twice, by the bound and by the sleep set, and its states never reached).
import { World, ExploreFailure, type ScheduleStep, type Violation } from "./world";
import { dependent, type Footprint } from "./footprint";

export interface SearchOptions {
  /** stop after this many complete schedules (the space was then not exhausted) */
  maxSchedules: number;
  /** "sleep-sets" (default; "none" with a preemption bound) or "none": every interleaving (to measure the
   *  reduction, and to test it) */
  reduction: "sleep-sets" | "none";
  /** at most this many preemptions (switching away from a thread that could go on) per schedule */
  preemptionBound?: number;
  /** explore only the shard-th of `of` disjoint parts */
  shard?: { index: number; of: number };
}

interface Sleeper { t: number; fp: Footprint }

interface Frame {
  enabled: number[];
  sleep: Sleeper[];
  /** children already explored from here */
  tried: Sleeper[];
  next: number;
  /** the thread whose step led here (-1: the root) */
  last: number;
  preemptions: number;
}

export interface SearchStats {
  schedules: number;
  /** paths cut short because every enabled step was asleep (redundant by the reduction) */
  sleepBlocked: number;
  /** atomic steps run, counting replays */
  steps: number;
  replayedSteps: number;
  /** the whole (bounded, sharded) space was explored */
  exhausted: boolean;
  /** the longest schedule, in atomic steps */
  maxDepth: number;
}

export interface SearchFailure { violation: Violation; schedule: ScheduleStep[] }

/** Does the search use sleep sets? Not with a preemption bound (see the header). */
export function sleepSetsApply(o: Pick<SearchOptions, "reduction" | "preemptionBound">): boolean {
  return o.reduction !== "none" && o.preemptionBound === undefined;
}

/** Depth at which the shards split the tree: deep enough that its nodes outnumber the shards. */
export function shardDepth(of: number): number { return 2 + Math.ceil(Math.log2(Math.max(1, of))); }

export class DepthFirst {
  readonly stats: SearchStats = { schedules: 0, sleepBlocked: 0, steps: 0, replayedSteps: 0, exhausted: false, maxDepth: 0 };
  failure?: SearchFailure;
  private stack: Frame[] = [];
  private path: number[] = [];
  private schedule: ScheduleStep[] = [];
  private simDepth = 0;
  private frontier = 0;
  private finished = false;
  /** a complete schedule beyond maxSchedules was reached: the space does not fit */
  private overflow = false;
  private readonly sleepSets: boolean;

  constructor(private readonly w: World, private readonly opts: SearchOptions,
              private readonly onSchedule: (w: World, schedule: ScheduleStep[]) => void) {
    this.sleepSets = sleepSetsApply(opts);
  }

  get done(): boolean { return this.finished; }

  /** Run until done or `budget` atomic steps have run (so a page can yield in between). */
  run(budget: number): void {
    if (this.finished) return;
    const w = this.w;
    if (this.stack.length === 0 && this.stats.steps === 0) {
      w.reset();
      this.simDepth = 0;
      const root = this.node(-1, 0, [], []);
      if (root === null) { // a leaf (no threads), outside this shard, or a failure
        if (this.failure) return;
        return this.stop(!this.overflow);
      }
      this.stack.push(root);
    }
    const stepsAtStart = this.stats.steps;
    while (this.stack.length > 0) {
      if (this.stats.steps - stepsAtStart >= budget) return;
      const d = this.stack.length - 1;
      const top = this.stack[d];
      const t = this.nextCandidate(top);
      if (t < 0) { this.stack.pop(); continue; }
      if (this.simDepth !== d) this.replay(d);
      let fp: Footprint;
      try {
        const r = w.exec(t, true);
        fp = r.footprint!;
        this.schedule[d] = r.step;
      } catch (e) {
        if (!(e instanceof ExploreFailure)) throw e;
        this.fail(e.violation, d, e.at);
        return;
      }
      this.stats.steps++;
      this.path[d] = t;
      this.simDepth = d + 1;
      const sleep = !this.sleepSets ? [] :
        [...top.sleep, ...top.tried].filter((s) => s.t !== t && !dependent(s.fp, fp));
      top.tried.push({ t, fp });
      const preempt = top.last >= 0 && t !== top.last && top.enabled.includes(top.last) ? 1 : 0;
      const child = this.node(t, top.preemptions + preempt, sleep, this.schedule.slice(0, d + 1));
      if (this.failure) return;
      if (this.overflow) return this.stop(false);
      if (child !== null) this.stack.push(child);
    }
    this.stop(true);
  }

  private stop(exhausted: boolean): void {
    this.stats.exhausted = exhausted;
    this.finished = true;
  }

  /** The next thread to try at `f`, or -1 (every one tried, asleep or over the preemption bound). */
  private nextCandidate(f: Frame): number {
    const bound = this.opts.preemptionBound;
    while (f.next < f.enabled.length) {
      const t = f.enabled[f.next++];
      if (f.sleep.some((s) => s.t === t)) continue;
      if (bound !== undefined && f.last >= 0 && t !== f.last && f.enabled.includes(f.last) && f.preemptions + 1 > bound) continue;
      return t;
    }
    return -1;
  }

  /**
   * The node reached after `last` ran (the world is in its state): a frame to explore from, or null when it is a
   * leaf (a complete schedule, recorded), sleep-blocked, outside this shard, or a failure.
   */
  private node(last: number, preemptions: number, sleep: Sleeper[], schedule: ScheduleStep[]): Frame | null {
    const w = this.w;
    const depth = schedule.length;
    const shard = this.opts.shard;
    const cut = shard !== undefined && shard.of > 1 ? shardDepth(shard.of) : -1;
    if (w.allDone()) {
      if (depth <= cut && this.frontier++ % shard!.of !== shard!.index) return null;
      // one more complete schedule than the budget: only now is the space known not to fit
      if (this.stats.schedules >= this.opts.maxSchedules) { this.overflow = true; return null; }
      try { w.runFinally(); } catch (e) {
        if (!(e instanceof ExploreFailure)) throw e;
        this.fail(e.violation, depth);
        return null;
      }
      this.stats.schedules++;
      if (depth > this.stats.maxDepth) this.stats.maxDepth = depth;
      this.onSchedule(w, schedule);
      return null;
    }
    if (depth === cut && this.frontier++ % shard!.of !== shard!.index) return null;
    const enabled = w.enabledSet();
    if (enabled.length === 0) {
      const stuck = w.threadNames.filter((_, i) => !w.done(i)).map((n) => {
        const i = w.threadNames.indexOf(n);
        return `${n}[${w.pc(i)}] ${w.current(i).op}`;
      });
      this.fail({ kind: "deadlock", message: `deadlock: no thread can take its next step (${stuck.join(", ")})` }, depth);
      return null;
    }
    if (enabled.every((t) => sleep.some((s) => s.t === t))) { this.stats.sleepBlocked++; return null; }
    return { enabled, sleep, tried: [], next: 0, last, preemptions };
  }

  /** Put the world in the state after path[0 .. d): restore the checkpoint and re-run those steps unchecked. */
  private replay(d: number): void {
    const w = this.w;
    w.reset();
    w.sim.setChecks(false);
    try {
      for (let i = 0; i < d; i++) w.exec(this.path[i], false);
    } finally {
      w.sim.setChecks(true);
    }
    this.stats.replayedSteps += d;
    this.simDepth = d;
  }

  private fail(v: Violation, depth: number, at?: ScheduleStep): void {
    const schedule = this.schedule.slice(0, depth);
    if (at) schedule.push(at); // the failing step itself ends the schedule
    this.failure = { violation: v, schedule };
    this.finished = true;
  }
}
