// The reference model's shared vocabulary: what a step returns, what an observation holds, the constants, the errno
// exception every module throws, and the environment (configuration, injected faults) the objects see. Imports
// nothing of the model (the modules build on it; see index.ts for what the model is).
import type { ScenarioConfig } from "../../bindings/scenario/types";

export type StepResult = { result: string | number; errorOffset?: number; level?: string; value?: number };

/**
 * Leaves of one table as runs [first base, end, level]: consecutive leaves of one level merge into one run (a run
 * [s, e, "2M"] is the leaves at s, s + 512, ... < e). leafPairs() expands them to sorted [base, level] pairs.
 */
export type Leaves = [number, number, string][];

/** The leaves of a table as sorted [gfn or iova page of the leaf base, level] pairs. */
export function leafPairs(runs: Leaves): [number, string][] {
  const out: [number, string][] = [];
  const step: Record<string, number> = { "4K": 1, "2M": 512, "1G": 262144 };
  for (const [s, e, l] of runs) for (let b = s; b < e; b += step[l]) out.push([b, l]);
  return out;
}
export interface GmemObs {
  /** shareability as runs [start, end, shared] of page indices */
  shared: [number, number, boolean][];
  /** folio order per page as runs [start, end, order | "absent"] */
  orders: [number, number, number | "absent"][];
  /** 4 KiB pages that have a folio */
  populated: number;
}
export interface VmObs { private: Leaves; shared: Leaves; seq: number; dead?: boolean }
export interface IommuObs { secure: Leaves; nonSecure: Leaves }
export interface Observation {
  gmems: Record<string, GmemObs>;
  vms: Record<string, VmObs>;
  iommus: Record<string, IommuObs>;
}

// ---------------------------------------------------------------------------------------------------------------
// constants

export const PAGE = 4096;
export const LEVEL_NAME = ["", "4K", "2M", "1G"];
/** pages covered by a leaf of level 1 / 2 / 3 */
export const LEVEL_PAGES = [0, 1, 512, 262144];
/** 16 TiB of guest physical address space, 8 TiB of guest_memfd (the model's limits) */
export const GPA_LIMIT_PAGES = 2 ** 32;
export const GMEM_LIMIT_BYTES = 2 ** 43;
export const SCRAMBLE = 0xa5a5a5a5;

// ---------------------------------------------------------------------------------------------------------------
// errors, arguments, environment

export class Errno extends Error {
  constructor(readonly code: string, readonly errorOffset?: number) { super(code); }
}
export const fail = (code: string, errorOffset?: number): never => { throw new Errno(code, errorOffset); };

/** parse a bigint byte quantity the way the binding does: a whole number of bytes up to 2^53, else NaN */
export function num(x: bigint): number {
  return x >= 0n && x <= 2n ** 53n ? Number(x) : Number.NaN;
}

/** what every object of the model sees: the configuration and the armed faults (take: consume one if armed) */
export interface Env {
  readonly config: ScenarioConfig;
  take(fault: string): boolean;
}

/** a frame punched out of the filemap that pins still hold: its content goes with it */
export interface Orphan { index: number; hostPins: number; ioPins: number; value: number; enc: boolean }
