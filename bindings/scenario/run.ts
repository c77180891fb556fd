// Runs a parsed scenario against a fresh simulator, step by step: each action's result is compared with its
// `expect`, each check with the model's state, and the events each step emitted are kept for check.events, the
// trace and the summary. Runs anywhere the binding runs (no Node APIs here).
import { createSimulatorSync, type Simulator, type Gmem, type Vm, type Iommu, type PausedOp, type SimEvent } from "../sim";
import { GmemError, InvariantError } from "../errors";
import type { Scenario, Step, ActionStep, Expect, EventMatch, Level } from "./types";

export interface StepOutcome {
  index: number;
  op: string;
  ok: boolean;
  /** what the step produced: 0, an errno name, or an access result */
  result: string | number;
  /** for failed steps: what was expected and what happened */
  expected?: string;
  got?: string;
  message?: string;
  errorOffset?: number;
  level?: string;
  value?: number;
  events: SimEvent[];
}

export interface RunReport {
  name: string;
  config: Scenario["config"];
  ok: boolean;
  /** the first failing step (the run stops there) */
  failure?: StepOutcome;
  steps: StepOutcome[];
  /** every event-kind counter at the end */
  stats: Record<string, number>;
  /** final state summary */
  final: FinalState;
}

export interface FinalState {
  gmems: { id: string; size: number; runs: { start: number; end: number; shared: boolean }[]; populated: number;
    folios: { huge: number; small: number } }[];
  vms: { id: string; private: Record<string, number>; shared: Record<string, number>; seq: number; tlbFlushes: number }[];
}

class StepFailure extends Error {
  constructor(readonly expected: string, readonly got: string, message?: string) {
    super(message ?? `expected ${expected}, got ${got}`);
  }
}

const LEVEL_OF: Record<string, Level> = { "4K": "4K", "2M": "2M", "1G": "1G" };

function describeExpect(e: Expect<string>): string {
  if (e.kind === "ok") return "0 (success)";
  if (e.kind === "errno") return e.errno + (e.errorOffset !== undefined ? ` with errorOffset 0x${e.errorOffset.toString(16)}` : "");
  if (e.kind === "any") return `one of ${e.of.map(describeExpect).join(", ")}`;
  return JSON.stringify(e.value);
}

/** Run every step; stops at the first failing one. */
export function runScenario(scn: Scenario, opts: { debugCore?: boolean } = {}): RunReport {
  const sim = createSimulatorSync(undefined, {
    arch: scn.config.arch, protocol: scn.config.protocol, checks: scn.config.invariants, debug: opts.debugCore,
  });
  const gmems = new Map<string, Gmem>();
  const vms = new Map<string, Vm>();
  const iommus = new Map<string, Iommu>();
  const paused = new Map<string, { op: PausedOp; step: ActionStep }>();
  const steps: StepOutcome[] = [];
  let lastEvents: SimEvent[] = [];
  let failure: StepOutcome | undefined;
  sim.events.read(); // start from here

  const need = <T>(m: Map<string, T>, id: string, what: string): T => {
    const v = m.get(id);
    if (v === undefined) throw new StepFailure(`${what} '${id}' to exist`, "it was never created (its create step failed?)");
    return v;
  };

  for (const step of scn.steps) {
    const outcome: StepOutcome = { index: step.index, op: step.op, ok: true, result: 0, events: [] };
    try {
      if (step.op.startsWith("check.")) {
        runCheck(sim, step, gmems, vms, iommus, lastEvents);
        outcome.events = [];
      } else {
        const act = step as ActionStep;
        const got = runAction(sim, act, gmems, vms, iommus, paused, need);
        outcome.result = got.result;
        if (got.errorOffset !== undefined) outcome.errorOffset = got.errorOffset;
        if (got.level !== undefined) outcome.level = got.level;
        if (got.value !== undefined) outcome.value = got.value;
        compareExpect(act, got);
      }
    } catch (e) {
      outcome.ok = false;
      if (e instanceof StepFailure) { outcome.expected = e.expected; outcome.got = e.got; outcome.message = e.message; }
      else if (e instanceof InvariantError) {
        outcome.expected = "every invariant to hold";
        outcome.got = `${e.invariant} violated at index/gfn ${e.where}`;
        outcome.message = e.message;
      } else throw e;
    }
    if (!step.op.startsWith("check.")) {
      const { events } = sim.events.read();
      outcome.events = events;
      lastEvents = events;
    }
    steps.push(outcome);
    if (!outcome.ok) { failure = outcome; break; }
  }
  return { name: scn.name, config: scn.config, ok: !failure, failure, steps, stats: sim.counters(), final: finalState(sim, gmems, vms) };
}

interface Got { result: string | number; errorOffset?: number; level?: string; value?: number }

function runAction(sim: Simulator, s: ActionStep, gmems: Map<string, Gmem>, vms: Map<string, Vm>,
                   iommus: Map<string, Iommu>, paused: Map<string, { op: PausedOp; step: ActionStep }>,
                   need: <T>(m: Map<string, T>, id: string, what: string) => T): Got {
  try {
    switch (s.op) {
      case "gmem.create":
        gmems.set(s.id, sim.createGmem(s.size, s.flags, sim.protocol, { name: s.id }));
        return { result: 0 };
      case "gmem.close": need(gmems, s.gmem, "gmem").close(); return { result: 0 };
      case "vm.create": vms.set(s.id, sim.createVm({ name: s.id })); return { result: 0 };
      case "vm.destroy": need(vms, s.vm, "vm").destroy(); return { result: 0 };
      case "vm.bind":
        need(vms, s.vm, "vm").bind(s.slot, s.gpa, s.size, need(gmems, s.gmem, "gmem"), s.offset);
        return { result: 0 };
      case "vm.unbind": need(vms, s.vm, "vm").unbind(s.slot); return { result: 0 };
      case "guest.access": {
        const r = need(vms, s.vm, "vm").access(s.gpa, { private: s.private, write: s.write, pause: s.pause as "after-faultin" | undefined });
        if ("handle" in r) { paused.set(s.as!, { op: r, step: s }); return { result: "paused" }; }
        return { result: r.result, level: r.level, value: r.value };
      }
      case "host.mmap": need(gmems, s.gmem, "gmem").mmap(); return { result: 0 };
      case "host.munmap": need(gmems, s.gmem, "gmem").munmap(); return { result: 0 };
      case "host.access": {
        const r = need(gmems, s.gmem, "gmem").hostAccess(s.offset, { write: s.write });
        return { result: r.result, value: r.value };
      }
      case "host.pin": need(gmems, s.gmem, "gmem").pin(s.offset, s.size); return { result: 0 };
      case "host.unpin": need(gmems, s.gmem, "gmem").unpin(s.offset, s.size); return { result: 0 };
      case "convert": {
        const p = need(gmems, s.gmem, "gmem").convert(s.offset, s.size, s.to, { mode: s.mode, pause: s.pause });
        if (p) { paused.set(s.as!, { op: p, step: s }); return { result: "paused" }; }
        return { result: 0 };
      }
      case "punch": need(gmems, s.gmem, "gmem").punch(s.offset, s.size); return { result: 0 };
      case "inject": sim.inject(s.fault, s.count); return { result: 0 };
      case "resume": {
        const p = paused.get(s.id);
        if (!p) throw new StepFailure(`a paused operation named '${s.id}'`, "none (it was resumed already or never paused)");
        paused.delete(s.id);
        const r = sim.resume(p.op);
        if (r && "result" in r) return { result: r.result, level: r.level, value: r.value };
        return { result: 0 };
      }
      case "iommu.create": iommus.set(s.id, sim.createIommu(s.mode, { name: s.id })); return { result: 0 };
      case "iommu.bind": need(iommus, s.iommu, "iommu").bind(need(gmems, s.gmem, "gmem")); return { result: 0 };
      case "iommu.unbind": need(iommus, s.iommu, "iommu").unbind(); return { result: 0 };
      case "iommu.map":
        need(iommus, s.iommu, "iommu").map(s.iova, need(gmems, s.gmem, "gmem"), s.offset, s.size, s.secure);
        return { result: 0 };
      case "iommu.unmap": need(iommus, s.iommu, "iommu").unmap(s.iova, s.size, s.secure); return { result: 0 };
      case "dma": {
        const r = need(iommus, s.iommu, "iommu").dma(s.iova, s.secure, { write: s.write });
        return { result: r.result, value: r.value };
      }
    }
  } catch (e) {
    if (e instanceof GmemError) return { result: e.code, errorOffset: e.errorOffset };
    throw e;
  }
  throw new StepFailure("a known op", (s as ActionStep).op);
}

function compareExpect(s: ActionStep, got: Got): void {
  const e = s.expect as Expect<string>;
  const want = describeExpect(e);
  if (e.kind === "any") {
    // a list: the result must be one of its entries (level/value are compared below)
    const one = (x: Expect<string>) => ({ ...s, expect: x, level: undefined, value: undefined }) as ActionStep;
    if (!e.of.some((x) => { try { compareExpect(one(x), got); return true; } catch { return false; } })) {
      throw new StepFailure(want, String(got.result));
    }
  } else if (e.kind === "ok") {
    // a convert with `pause` stopped where it was told to: that is its success
    const pausedOk = s.op === "convert" && s.pause !== undefined && got.result === "paused";
    if (got.result !== 0 && !pausedOk) throw new StepFailure(want, String(got.result));
  } else if (e.kind === "errno") {
    if (got.result !== e.errno) throw new StepFailure(want, String(got.result));
    if (e.errorOffset !== undefined && BigInt(got.errorOffset ?? -1) !== e.errorOffset) {
      throw new StepFailure(want, `${got.result} with errorOffset ${got.errorOffset === undefined ? "unset" : "0x" + got.errorOffset.toString(16)}`);
    }
  } else if (got.result !== e.value) {
    throw new StepFailure(want, String(got.result));
  }
  // access details
  const a = s as { level?: Level; value?: number };
  if ((s.op === "guest.access" || s.op === "host.access" || s.op === "dma") && got.result !== "paused") {
    if (a.level !== undefined && got.level !== a.level) throw new StepFailure(`level ${a.level}`, `level ${got.level ?? "none"}`);
    if (a.value !== undefined && got.value !== a.value) throw new StepFailure(`value ${a.value}`, `value ${got.value ?? "none"}`);
  }
}

function runCheck(sim: Simulator, s: Step, gmems: Map<string, Gmem>, vms: Map<string, Vm>, iommus: Map<string, Iommu>,
                  lastEvents: SimEvent[]): void {
  const g = (id: string) => { const x = gmems.get(id); if (!x) throw new StepFailure(`gmem '${id}'`, "no such gmem"); return x; };
  const v = (id: string) => { const x = vms.get(id); if (!x) throw new StepFailure(`vm '${id}'`, "no such vm"); return x; };
  switch (s.op) {
    case "check.attr": {
      const gm = g(s.gmem);
      const start = Number(s.offset / 4096n), end = Number((s.offset + s.size + 4095n) / 4096n);
      if (s.offset % 4096n !== 0n || end > gm.npages || start >= end) {
        throw new StepFailure("a page-aligned range inside the gmem", `offset 0x${s.offset.toString(16)} size 0x${s.size.toString(16)}`);
      }
      const shared = gm.countShared(start, end);
      const is = shared === end - start ? "shared" : shared === 0 ? "private" : "mixed";
      if (is !== s.is) throw new StepFailure(s.is, `${is} (${shared} of ${end - start} pages shared)`);
      return;
    }
    case "check.folio": {
      const gm = g(s.gmem);
      const f = gm.folio(Number(s.offset / 4096n));
      const got = f.state === "absent" ? "absent" : f.order;
      if (got !== s.order) throw new StepFailure(`order ${s.order}`, f.state === "absent" ? "absent" : `order ${f.order}`);
      for (const k of ["refcount", "pincount", "mapcount"] as const) {
        if (s[k] !== undefined && f[k] !== s[k]) throw new StepFailure(`${k} ${s[k]}`, `${k} ${f[k]}`);
      }
      if (s.uptodate !== undefined && f.uptodate !== s.uptodate) throw new StepFailure(`uptodate ${s.uptodate}`, `uptodate ${f.uptodate}`);
      return;
    }
    case "check.spte": {
      const sp = v(s.vm).spte(s.gpa, s.table);
      if (!!sp !== s.present) throw new StepFailure(s.present ? "present" : "absent", sp ? `present at ${sp.level}` : "absent");
      if (sp && s.level !== undefined && sp.level !== LEVEL_OF[s.level]) throw new StepFailure(`level ${s.level}`, `level ${sp.level}`);
      return;
    }
    case "check.iopte": {
      const io = iommus.get(s.iommu);
      if (!io) throw new StepFailure(`iommu '${s.iommu}'`, "no such iommu");
      const e = io.iopte(s.iova, s.secure);
      if (!!e !== s.present) throw new StepFailure(s.present ? "present" : "absent", e ? `present at ${e.level}` : "absent");
      if (e && s.level !== undefined && e.level !== LEVEL_OF[s.level]) throw new StepFailure(`level ${s.level}`, `level ${e.level}`);
      return;
    }
    case "check.events": matchEvents(s.sequence, s.absent, lastEvents); return;
    case "check.stats": {
      const c = sim.counters();
      for (const [name, want] of Object.entries(s.counters)) {
        if (!(name in c)) throw new StepFailure(`counter ${name} = ${want}`, `no counter named ${name} (known: ${Object.keys(c).join(", ")})`);
        if (c[name] !== want) throw new StepFailure(`${name} = ${want}`, `${name} = ${c[name]}`);
      }
      return;
    }
    case "check.invariants": sim.checkInvariants(); return;
  }
}

function fieldMatches(want: string | number | boolean, got: string | number | boolean | undefined): boolean {
  if (got === undefined) return false;
  if (typeof want === typeof got) return want === got;
  if (typeof got === "number" && typeof want === "string") {
    const n = Number(want);
    return Number.isFinite(n) && n === got;
  }
  return false;
}

function showEvent(e: SimEvent): string {
  const { kind, step, seq, ...rest } = e;
  void step; void seq;
  const f = Object.entries(rest).map(([k, v]) => `${k}=${v}`).join(" ");
  return f ? `${kind}(${f})` : kind;
}

function matchEvents(sequence: EventMatch[], absent: string[], events: SimEvent[]): void {
  let i = 0;
  for (let k = 0; k < sequence.length; k++) {
    const m = sequence[k];
    while (i < events.length && !(events[i].kind === m.kind &&
           Object.entries(m.fields).every(([f, w]) => fieldMatches(w, events[i][f])))) i++;
    if (i === events.length) {
      const want = m.kind + (Object.keys(m.fields).length ? JSON.stringify(m.fields) : "");
      throw new StepFailure(`event #${k} ${want} (in order)`,
        `not found after the earlier matches; the step emitted: ${events.map(showEvent).join(", ") || "nothing"}`);
    }
    i++;
  }
  for (const a of absent) {
    const hit = events.find((e) => e.kind === a);
    if (hit) throw new StepFailure(`no ${a} event`, showEvent(hit));
  }
}

function finalState(sim: Simulator, gmems: Map<string, Gmem>, vms: Map<string, Vm>): FinalState {
  const out: FinalState = { gmems: [], vms: [] };
  for (const [id, g] of gmems) {
    try {
      const runs = g.runs();
      let huge = 0, small = 0;
      const step = g.hugeOrder === 0 ? 1 : 1 << g.hugeOrder;
      if (g.npages <= 1 << 22) {
        for (let i = 0; i < g.npages; i += step) {
          const f = g.folio(i);
          if (f.state === "huge") huge++;
          else if (f.state === "small") {
            if (g.hugeOrder === 0) small++;
            else small += step;
          }
        }
      }
      out.gmems.push({ id, size: g.size, runs: runs.slice(0, 64), populated: g.populated, folios: { huge, small } });
    } catch { /* closed */ }
  }
  for (const [id, v] of vms) {
    try {
      const info = v.info();
      out.vms.push({ id, private: v.leaves("private"), shared: v.leaves("shared"), seq: info.seq, tlbFlushes: info.tlbFlushes });
    } catch { /* destroyed */ }
  }
  void sim;
  return out;
}
