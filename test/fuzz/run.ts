// Running a sequence on both models: every op resolved (resolve.ts) and applied to the reference model and to the
// Wasm model, results compared, the Wasm invariant checker run, observations compared; a difference throws a
// Divergence. Sequences are a configuration prelude + fc.commands (so a failure shrinks).
import fc from "fast-check";
import type { ScenarioConfig } from "../../bindings/scenario/types";
import { ReferenceModel, type Observation, type StepResult } from "../reference/index";
import { WasmSubject, type ObserveScope } from "../reference/observe-wasm";
import { configArb, preludeArb, OP_ARBS, RARE_ARBS, type Spec } from "./gen";
import { resolve } from "./resolve";

export interface FuzzStats {
  ops: number;
  sequences: number;
  divergences: number;
  invariantViolations: number;
  /** "op result" -> how often (coverage of the results; filled when present) */
  results?: Record<string, number>;
}
export function newStats(): FuzzStats { return { ops: 0, sequences: 0, divergences: 0, invariantViolations: 0 }; }

export class Divergence extends Error {
  constructor(readonly kind: "result" | "observation" | "invariant" | "crash", message: string) { super(message); }
}

export interface Logged { json: Record<string, unknown>; wasm: StepResult; ref: StepResult }

function sameResult(a: StepResult, b: StepResult): boolean {
  return a.result === b.result && a.errorOffset === b.errorOffset && a.level === b.level && a.value === b.value;
}

/** the first difference of two observations, or null */
export function diffObservation(want: Observation, got: Observation): string | null {
  for (const kind of ["gmems", "vms", "iommus"] as const) {
    const a = want[kind] as Record<string, unknown>, b = got[kind] as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      if (!(k in a)) return `${kind} ${k}: only the Wasm model has it`;
      if (!(k in b)) return `${kind} ${k}: only the reference has it`;
      const x = a[k] as Record<string, unknown>, y = b[k] as Record<string, unknown>;
      for (const f of Object.keys({ ...x, ...y })) {
        const sx = JSON.stringify(x[f]), sy = JSON.stringify(y[f]);
        if (sx !== sy) return `${kind} ${k}.${f}: reference ${clip(sx)} / wasm ${clip(sy)}`;
      }
    }
  }
  return null;
}
function clip(s: string | undefined): string { return s === undefined ? "undefined" : s.length > 400 ? s.slice(0, 400) + "..." : s; }

export class Ctx {
  readonly ref: ReferenceModel;
  readonly wasm: WasmSubject;
  readonly log: Logged[] = [];
  readonly scope: ObserveScope = { gfnRanges: [], iovaRanges: [] };
  constructor(readonly config: ScenarioConfig, readonly stats: FuzzStats) {
    this.ref = new ReferenceModel(config);
    this.wasm = new WasmSubject(config);
  }

  exec(spec: Spec): void {
    const r = resolve(spec, this.ref);
    if (!r) return;
    this.stats.ops++;
    const a = this.ref.apply(r.step);
    let b: StepResult;
    try {
      b = this.wasm.apply(r.step);
    } catch (e) {
      this.log.push({ json: r.json, wasm: { result: "crash" }, ref: a });
      throw new Divergence("crash", `${show(r.json)}: the Wasm model threw ${(e as Error).stack ?? e}`);
    }
    this.log.push({ json: r.json, wasm: b, ref: a });
    if (this.stats.results) {
      const k = `${r.json.op} ${b.result}${b.level ? " " + b.level : ""}`;
      this.stats.results[k] = (this.stats.results[k] ?? 0) + 1;
    }
    if (b.result === 0) this.widenScope(r.json);
    if (!sameResult(a, b)) {
      throw new Divergence("result", `${show(r.json)}: reference ${JSON.stringify(a)}, wasm ${JSON.stringify(b)}`);
    }
    const inv = this.wasm.checkInvariants();
    if (inv) throw new Divergence("invariant", `${show(r.json)}: invariant ${inv}`);
    const want = this.ref.observe();
    const got = this.wasm.observeVerified(this.scope, want);
    const d = diffObservation(want, got);
    if (d) throw new Divergence("observation", `after ${show(r.json)}: ${d}`);
  }

  private widenScope(j: Record<string, unknown>): void {
    if (j.op === "vm.bind") {
      const s = Number(BigInt(j.gpa as string) / 4096n), n = Number(BigInt(j.size as string) / 4096n);
      this.scope.gfnRanges.push([s, s + n]);
    } else if (j.op === "iommu.map") {
      const s = Number(BigInt(j.iova as string) / 4096n), n = Number(BigInt(j.size as string) / 4096n);
      this.scope.iovaRanges.push([s, s + n]);
    }
  }

  dispose(): void {
    // drop the host pins the reference knows of, so that every guest_memfd can go
    this.wasm.dispose((id) => {
      const m = new Map<number, number>();
      const g = this.ref.gmems.get(id);
      if (!g) return m;
      g.pins.forEach((n, i) => { if (n > 0) m.set(i, n); });
      for (const o of g.orphans) m.set(o.index, (m.get(o.index) ?? 0) + o.hostPins);
      return m;
    });
  }
}

function show(j: Record<string, unknown>): string {
  return JSON.stringify(j);
}

export class StepCommand implements fc.Command<Ctx, Ctx> {
  constructor(readonly spec: Spec) {}
  check(m: Readonly<Ctx>): boolean { return resolve(this.spec, m.ref) !== null; }
  run(m: Ctx): void { m.exec(this.spec); }
  toString(): string { return JSON.stringify(this.spec); }
}

// ---------------------------------------------------------------------------------------------------------------
// sequences: a configuration prelude + fc.commands

export interface SequenceInput {
  config: ScenarioConfig;
  prelude: Spec[];
  cmds: Iterable<fc.Command<Ctx, Ctx>>;
}


export function sequenceArb(maxCommands: number): fc.Arbitrary<SequenceInput> {
  return configArb.chain((config) => fc.record({
    config: fc.constant(config),
    prelude: preludeArb(config.protocol),
    cmds: fc.commands([fc.oneof(...OP_ARBS, ...RARE_ARBS).map((s) => new StepCommand(s))], { maxCommands, size: "max" }),
  }));
}

/** run one sequence on both models; throws Divergence on the first difference */
export function runSequence(input: SequenceInput, stats: FuzzStats, onCtx?: (c: Ctx) => void): void {
  const ctx = new Ctx(input.config, stats);
  onCtx?.(ctx);
  stats.sequences++;
  try {
    for (const p of input.prelude) ctx.exec(p);
    fc.modelRun(() => ({ model: ctx, real: ctx }), input.cmds);
  } finally {
    ctx.dispose();
  }
}
