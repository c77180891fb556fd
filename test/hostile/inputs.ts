// The inputs of the hostile sweep (./sweep.ts, test/hostile.test.ts): sizes, the garbage fed to argument slots,
// forged snapshot headers, the sweep's result and its debugging knobs.
import { layout as L, type Simulator } from "../../bindings/index";

export const CHECK_EVERY_DEFAULT = 1_000;
export const SEED = 0x6e7a11;

export const K = 1024, M = 2 ** 20, G = 2 ** 30;

/** A memory maximum a snapshot's restore just fits in (its image leaves the event rings out, the memory has them). */
export function pagesToRestore(bytes: Uint8Array): number {
  return Math.ceil((bytes.length + L.RINGS_END - L.RING_BASE) / 65536) + 16;
}

/** The garbage every argument slot is fed some of the time. */
export const GARBAGE: unknown[] = [
  NaN, -1, 0.5, 2 ** 53 + 2, 2 ** 64, -0, Infinity, -Infinity, 2n ** 70n, -(2n ** 70n), -1n, 2n ** 64n, 1e300,
  -(2 ** 31), 2 ** 32, 0xffffffff, 0x7fffffff, 12345, 4095, 4097, 2 ** 53, Number.MIN_VALUE, -4096,
  "4K", "", "0x1000", "shared", "private", "NaN", null, undefined, {}, [], [4096], [null], { valueOf: () => 4096 },
  { toString: () => "4K" }, true, false, () => 0, new Uint8Array(4),
];

/** A snapshot of `sim` and forgeries of its header (cached: they do not depend on the state). */
let forgeryCache: { base: Uint8Array; snapForgeries: unknown[] } | undefined;
export function forgeries(sim: Simulator) {
  if (forgeryCache) return forgeryCache;
  const base = sim.snapshot();
  const nlen = new DataView(base.buffer, base.byteOffset).getUint32(16, true);
  const forged = (edit: (b: Uint8Array, dv: DataView) => Uint8Array | void): Uint8Array => {
    const b = base.slice();
    return edit(b, new DataView(b.buffer)) ?? b;
  };
  const namesAs = (text: string) => forged((b) => b.set(new TextEncoder().encode(text.padEnd(nlen, " ").slice(0, nlen)), 32));
  const snapForgeries: unknown[] = [
    forged((b) => { b[0] ^= 1; }), // magic
    forged((_b, dv) => dv.setUint32(8, dv.getUint32(8, true) + 1, true)), // layout version
    forged((b) => b.subarray(0, b.length - 1)), // truncated
    forged((_b, dv) => dv.setUint32(16, nlen + 1, true)), // names length
    forged((_b, dv) => dv.setUint32(12, 5, true)), // used bytes below the heap
    namesAs("x"), namesAs("{}"), namesAs("[1]"), namesAs("null"), namesAs("[[1,2,3]]"),
    new Uint8Array(31), new Uint8Array(64), base.subarray(0, 32), "GMSNAP01", [...base.subarray(0, 64)],
  ];
  forgeryCache = { base, snapForgeries };
  return forgeryCache;
}

export interface Sweep {
  calls: number;
  ok: number;
  codes: Map<string, number>;
  /** calls that threw something other than an Error with a string code */
  bad: string[];
  /** methods never called, and methods that never once succeeded */
  uncalled: string[];
  counters: Record<string, number>;
  seconds: number;
}

// Debugging knobs (set on globalThis before the suite runs): HOSTILE_SEED, HOSTILE_CHECK_EVERY (1 finds the
// call that broke an invariant), HOSTILE_TRACE (log every call's name), HOSTILE_STATS (per-method successes).
export const knobs = globalThis as { HOSTILE_SEED?: number; HOSTILE_CHECK_EVERY?: number; HOSTILE_TRACE?: boolean; HOSTILE_STATS?: boolean };

// the view queries' part of the sweep
export { viewMethods } from "./views";
