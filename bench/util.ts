// What every benchmark case shares: the result shape, timing helpers (median, spread, alternating rounds) and a
// seeded generator, so every run replays the same sequence.
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

/**
 * The one timing harness every case uses: `fn` (which does a batch and returns how many operations it did) is run
 * once to warm up, then `rounds` times; each round's operations per second. Spread = min / max of the rounds.
 */
export function timeRounds(rounds: number, fn: () => number): number[] {
  fn();
  const ops: number[] = [];
  for (let r = 0; r < rounds; r++) { const t = now(); const n = fn(); ops.push(n / ((now() - t) / 1000)); }
  return ops;
}

/** Alternate A and B for `rounds` rounds of one call each; ratio = timeB / timeA per round (A faster -> > 1). */
export function alternate(rounds: number, a: () => number, b: () => number): { aOps: number[]; bOps: number[]; ratios: number[] } {
  const aOps: number[] = [], bOps: number[] = [], ratios: number[] = [];
  a(); b(); // warm-up
  for (let r = 0; r < rounds; r++) {
    let t = now(); const na = a(); const ta = now() - t;
    t = now(); const nb = b(); const tb = now() - t;
    aOps.push(na / (ta / 1000));
    bOps.push(nb / (tb / 1000));
    ratios.push((tb / nb) / (ta / na));
  }
  return { aOps, bOps, ratios };
}

/** An export's result: an errno is an Error naming what failed. */
export function check(r: number, what: string): number {
  if (r < 0 && r >= -4095) throw new Error(`${what}: errno ${-r}`);
  return r;
}
