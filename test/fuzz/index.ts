// Differential fuzzing of the Wasm model against the reference model (test/reference/index.ts), model-based with
// fast-check: a sequence is a small configuration (a prelude creating guest_memfds, VMs, memslots, IOMMUs) and a
// random list of operations (fc.commands, so a failure shrinks to a minimal sequence). Every op runs on both
// models; their results and observations are compared after every op, and the Wasm model's invariant checker runs
// after every op. Arguments are abstract selectors resolved against the reference model's state when the op runs
// (boundary offsets, unaligned values, ranges past the end, block edges), so a shrunk sequence replays exactly.
// A failure is written out as a scenario file (format 1, the Wasm model's results as `expect`).
//
// No Node APIs here: runs in Node and in a browser page (test/fuzz.test.ts) and under scripts/fuzz.mjs.
//
// Layout (no import cycles):
//   avoid.ts   AVOID: preconditions that keep the generator out of known Wasm bugs
//   gen.ts     the generator: abstract op specs and their weights, configurations and preludes
//   resolve.ts a spec -> a concrete scenario step, against the reference model's state
//   run.ts     one sequence on both models, compared after every op (Ctx, Divergence)
//   index.ts   this file: fuzz() (batches, shrinking) and failures as scenario files
import fc from "fast-check";
import type { ScenarioConfig } from "../../bindings/scenario/types";
import { Ctx, Divergence, newStats, runSequence, sequenceArb, StepCommand, type FuzzStats, type Logged, type SequenceInput } from "./run";

export { AVOID } from "./avoid";
export type { Spec } from "./gen";
export { resolve, toStep } from "./resolve";
export { Ctx, Divergence, diffObservation, newStats, runSequence, sequenceArb, type FuzzStats, type SequenceInput } from "./run";

// ---------------------------------------------------------------------------------------------------------------
// failures -> scenario files

export function scenarioOf(config: ScenarioConfig, log: Logged[], why: string, seed: number): string {
  const steps = log.map((l, k) => {
    const s: Record<string, unknown> = { ...l.json };
    const w = l.wasm;
    if (w.result === "crash") s.comment = "the Wasm model threw here";
    else if (w.result !== 0) {
      s.expect = w.result;
      if (w.errorOffset !== undefined && (s.op === "convert" || s.op === "punch")) s.errorOffset = "0x" + w.errorOffset.toString(16);
    }
    if (w.level !== undefined && s.op === "guest.access") s.level = w.level;
    if (w.value !== undefined && (s.op === "guest.access" || s.op === "host.access" || s.op === "dma")) s.value = w.value;
    if (k === log.length - 1) s.comment = `fuzz failure here: ${why}; reference model: ${JSON.stringify(l.ref)}`;
    return s;
  });
  steps.push({ op: "check.invariants" } as Record<string, unknown>);
  const scn = {
    format: 1,
    name: `fuzz failure (seed ${seed})`,
    description: `Shrunk by test/fuzz (index.ts). The steps replay the Wasm model's results as expect; the last action is where the models diverged: ${why}`,
    config: { arch: config.arch, protocol: config.protocol, invariants: true },
    steps,
  };
  return JSON.stringify(scn, null, 1).replace(/\n\s+(?=[^\s{\[])/g, " ").replace(/\n\s+\}/g, " }").replace(/\n\s+\]/g, " ]");
}

export interface FuzzOptions {
  seed: number;
  /** stop after this many ops (counted over every run, shrinking included) */
  maxOps?: number;
  /** stop after this many ms */
  timeLimitMs?: number;
  /** commands per sequence (at most) */
  maxCommands?: number;
  /** write a failure's scenario (Node: a file under .test-out/fuzz-failures/) */
  writeFailure?: (name: string, text: string) => void;
  /** count the results per op in stats.results */
  coverage?: boolean;
  /** called now and then with the stats */
  progress?: (s: FuzzStats) => void;
}

export interface FuzzReport extends FuzzStats {
  failures: { name: string; why: string; text: string }[];
  ms: number;
}

/**
 * Run random sequences until maxOps or timeLimitMs; each failure is shrunk and turned into a scenario. Batches of
 * sequences go through fc.check with derived seeds, so a run is reproducible from its seed.
 */
export function fuzz(opts: FuzzOptions): FuzzReport {
  const stats = newStats();
  if (opts.coverage) stats.results = {};
  const t0 = Date.now();
  const failures: FuzzReport["failures"] = [];
  const maxCommands = opts.maxCommands ?? 60;
  const arb = sequenceArb(maxCommands);
  const done = () => (opts.maxOps !== undefined && stats.ops >= opts.maxOps) || (opts.timeLimitMs !== undefined && Date.now() - t0 >= opts.timeLimitMs);
  let batch = 0;
  while (!done()) {
    const seed = (opts.seed + batch * 7919) | 0;
    batch++;
    // past the budget the remaining runs of the batch are skipped, but never while a failure is being shrunk
    let failing = false;
    const res = fc.check(fc.property(arb, (input) => {
      if (!failing && done()) return true;
      try { runSequence(input, stats); } catch (e) { failing = true; throw e; }
      return true;
    }), { seed, numRuns: 10 });
    opts.progress?.(stats);
    if (res.failed && res.counterexample) {
      const input = res.counterexample[0] as SequenceInput;
      let ctx: Ctx | null = null;
      let why = "";
      try { runSequence(replayable(input), newStats(), (c) => { ctx = c; }); } catch (e) {
        why = (e as Error).message;
        if (e instanceof Divergence && e.kind === "invariant") stats.invariantViolations++;
        else stats.divergences++;
      }
      if (!why) { why = String(res.errorInstance ?? "failed, but not on replay"); stats.divergences++; }
      const c = ctx as Ctx | null;
      const text = scenarioOf(input.config, c ? c.log : [], why, seed);
      const name = `fuzz-${input.config.arch}-${input.config.protocol}-seed${seed >>> 0}.json`;
      failures.push({ name, why, text });
      opts.writeFailure?.(name, text);
    }
  }
  return { ...stats, failures, ms: Date.now() - t0 };
}

/** the commands of a counterexample, replayed in the order they ran */
function replayable(input: SequenceInput): SequenceInput {
  const cmds = [...input.cmds].map((c) => new StepCommand((c as StepCommand).spec ?? (c as unknown as { cmd: StepCommand }).cmd.spec));
  return { config: input.config, prelude: input.prelude, cmds };
}
