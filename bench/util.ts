// What every benchmark case shares: the result shape, timing helpers (median, spread, alternating rounds) and a
// seeded generator, so every run replays the same sequence.
import { Bench } from "tinybench";
export interface CaseResult {
  name: string;
  what: string;
  unit: string;
  /** operations per second of the model (median over rounds) */
  opsPerSec?: number;
  /** relative spread of opsPerSec: [min, max] / median over rounds */
  spread?: [number, number];
  /** ratio against the comparison named in `vs` (how many times faster; median of per-round ratios) */
  ratio?: number;
  ratioSpread?: [number, number];
  vs?: string;
  target?: string;
  met?: boolean;
  /** anything else the case measured */
  extra?: Record<string, unknown>;
}

export interface BenchReport {
  tool: string;
  date: string;
  mode: "quick" | "full";
  machine: { node: string; platform: string; arch: string; cpus: number; cpuModel: string;
    /** os.loadavg() (1, 5, 15 min) when the run began and when it ended: a loaded machine makes every ratio noisier */
    loadStart: number[]; loadEnd: number[] };
  cases: CaseResult[];
  seconds: number;
}

export type Log = (msg: string) => void;

export interface Ctx { quick: boolean; log: Log }
export type CaseFn = (ctx: Ctx) => CaseResult | Promise<CaseResult>;

export const GiB = 2 ** 30, MiB = 2 ** 20;
export const now = () => performance.now();

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
export function spreadOf(xs: number[]): [number, number] {
  const m = median(xs);
  return [+(Math.min(...xs) / m).toFixed(3), +(Math.max(...xs) / m).toFixed(3)];
}

/** xorshift32, so every run replays the same sequence */
export function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

/** A timed function, or one with an untimed `before` that tinybench runs right before it (its beforeEach hook). */
export type Timed = (() => unknown) | { fn: () => unknown; before: () => unknown };

/**
 * The one timing harness every timed case uses, on tinybench: each round, tinybench runs `fns` in order, once each
 * (tasks marked synchronous, no warm-up of its own, reset between rounds), so the functions of a round alternate
 * and share the machine's state of that moment. One warm-up round first (not kept). Returns each function's time in
 * ms per round: ms[f][round].
 */
export function roundsOf(rounds: number, fns: Timed[], warmup = true): number[][] {
  const bench = new Bench({ iterations: 1, time: 0, warmup: false, throws: true });
  fns.forEach((f, i) => {
    if (typeof f === "function") bench.add(String(i), () => { f(); }, { async: false });
    else bench.add(String(i), () => { f.fn(); }, { async: false, beforeEach: () => { f.before(); } });
  });
  const ms: number[][] = fns.map(() => []);
  for (let r = warmup ? -1 : 0; r < rounds; r++) {
    bench.reset();
    bench.runSync();
    if (r < 0) continue;
    bench.tasks.forEach((t, i) => {
      const res = t.result;
      if (res.state !== "completed") throw new Error(`bench: task ${i} ${res.state}`);
      ms[i].push(res.latency.mean);
    });
  }
  return ms;
}

/** `fn` does a batch and returns how many operations it did: operations per second of each round. */
export function timeRounds(rounds: number, fn: () => number): number[] {
  let n = 0;
  const [ms] = roundsOf(rounds, [() => { n = fn(); }]);
  return ms.map((t) => n / (t / 1000));
}

/** Alternate A and B each round (A then B); ratio = timeB / timeA per operation, per round (A faster -> > 1). */
export function alternate(rounds: number, a: () => number, b: () => number): { aOps: number[]; bOps: number[]; ratios: number[] } {
  let na = 0, nb = 0;
  const [ta, tb] = roundsOf(rounds, [() => { na = a(); }, () => { nb = b(); }]);
  const aOps = ta.map((t) => na / (t / 1000)), bOps = tb.map((t) => nb / (t / 1000));
  return { aOps, bOps, ratios: ta.map((t, i) => (tb[i] / nb) / (t / na)) };
}

/** An export's result: an errno is an Error naming what failed. */
export function check(r: number, what: string): number {
  if (r < 0 && r >= -4095) throw new Error(`${what}: errno ${-r}`);
  return r;
}
