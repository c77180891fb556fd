// Seeded random schedules when the space is too large to exhaust: PCT (Burckhardt et al., "A Randomized Scheduler
// with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010; awslabs/shuttle's PctScheduler). Each schedule gives
// the threads distinct random priorities and picks `depth - 1` change points among the steps; it always runs the
// highest-priority thread that can go on, and at the i-th change point drops the running thread's priority to i.
// A bug that needs d ordering constraints is found with probability >= 1 / (n k^(d-1)) per schedule. Schedule j
// draws from (seed, j) alone, so a shard runs schedules j = shard, shard + N, ... of the same sample.
import { World, ExploreFailure, type ScheduleStep } from "./world";
import type { SearchFailure } from "./search";

/** A small, fast, seedable generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PctOptions { seed: number; depth: number; schedules: number; shard?: { index: number; of: number } }

export class PctSampler {
  schedules = 0;
  steps = 0;
  failure?: SearchFailure;
  private j: number;
  /** the expected schedule length in steps, fixed for the run (PCT picks change points in [1, k]) */
  private readonly k: number;

  constructor(private readonly w: World, private readonly opts: PctOptions, expectedSteps: number,
              private readonly onSchedule: (w: World, schedule: ScheduleStep[]) => void) {
    this.j = opts.shard?.index ?? 0;
    this.k = Math.max(1, expectedSteps);
  }

  get done(): boolean { return this.failure !== undefined || this.j >= this.opts.schedules; }

  /** Run schedules until done or `budget` atomic steps have run. */
  run(budget: number): void {
    const start = this.steps;
    while (!this.done && this.steps - start < budget) {
      this.one(this.j);
      this.j += this.opts.shard?.of ?? 1;
    }
  }

  private one(j: number): void {
    const w = this.w;
    const r = rng((this.opts.seed ^ Math.imul(j + 1, 0x9e3779b1)) >>> 0);
    const n = w.nThreads;
    const d = Math.max(1, this.opts.depth);
    // priorities d .. d + n - 1 in random order; change points 1 .. d - 1 at random steps
    const prio = shuffle([...Array(n).keys()].map((i) => d + i), r);
    const change = new Map<number, number>();
    for (let i = 1; i < d; i++) change.set(1 + Math.floor(r() * this.k), i);
    w.reset();
    const schedule: ScheduleStep[] = [];
    try {
      while (!w.allDone()) {
        const enabled = w.enabledSet();
        if (enabled.length === 0) {
          this.failure = { violation: { kind: "deadlock", message: "deadlock: no thread can take its next step" }, schedule };
          return;
        }
        let t = enabled[0];
        for (const e of enabled) if (prio[e] > prio[t]) t = e;
        schedule.push(w.exec(t, true).step);
        this.steps++;
        const c = change.get(schedule.length);
        if (c !== undefined) prio[t] = c;
      }
      w.runFinally();
    } catch (e) {
      if (!(e instanceof ExploreFailure)) throw e;
      if (e.at) schedule.push(e.at);
      this.failure = { violation: e.violation, schedule };
      return;
    }
    this.schedules++;
    this.onSchedule(w, schedule);
  }
}

function shuffle<T>(a: T[], r: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const k = Math.floor(r() * (i + 1));
    [a[i], a[k]] = [a[k], a[i]];
  }
  return a;
}
