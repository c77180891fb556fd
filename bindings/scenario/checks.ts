// The check.* steps of a scenario: each reads the model's state (or the events of the previous step) and holds or
// fails with what it expected and what it found.
import { StepFailure, type Objects } from "./actions";
import type { Simulator } from "../simulator";
import type { SimEvent } from "../events";
import { Gmem } from "../objects/gmem";
import { Vm } from "../objects/vm";
import { Iommu } from "../objects/iommu";
import type { Step, EventMatch } from "./types";
import { RING_SIZE } from "../../assembly/abi/layout";

function obj<T>(objs: Objects, kind: keyof Objects, id: string, make: (h: number) => T): T {
  const h = objs[kind].get(id);
  if (h === undefined) throw new StepFailure(`${kind} '${id}'`, `no such ${kind}`);
  return make(h);
}

/**
 * Run one check step. lastEvents: what the previous action step emitted; lastLost: how many more it emitted that the
 * event ring overwrote before the runner read them (check.events cannot judge an incomplete list: it fails).
 */
export function runCheck(sim: Simulator, s: Step, objs: Objects, lastEvents: SimEvent[], lastLost = 0): void {
  const g = (id: string) => obj(objs, "gmem", id, (h) => new Gmem(sim, h));
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
      if (s.offset / 4096n >= BigInt(gm.npages)) throw new StepFailure("an offset inside the gmem", `0x${s.offset.toString(16)}`);
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
      const sp = obj(objs, "vm", s.vm, (h) => new Vm(sim, h)).spte(s.gpa, s.table);
      if (!!sp !== s.present) throw new StepFailure(s.present ? "present" : "absent", sp ? `present at ${sp.level}` : "absent");
      if (sp && s.level !== undefined && sp.level !== s.level) throw new StepFailure(`level ${s.level}`, `level ${sp.level}`);
      return;
    }
    case "check.iopte": {
      const e = obj(objs, "iommu", s.iommu, (h) => new Iommu(sim, h)).iopte(s.iova, s.secure);
      if (!!e !== s.present) throw new StepFailure(s.present ? "present" : "absent", e ? `present at ${e.level}` : "absent");
      if (e && s.level !== undefined && e.level !== s.level) throw new StepFailure(`level ${s.level}`, `level ${e.level}`);
      return;
    }
    case "check.events":
      if (lastLost > 0) {
        throw new StepFailure("every event of the previous step", `${lastLost} of its ${lastLost + lastEvents.length} events ` +
          `were overwritten in the event ring (each instance's holds ${RING_SIZE}) before they could be read: check.events cannot ` +
          "judge this step (split it into smaller steps)");
      }
      matchEvents(s.sequence, s.absent, lastEvents);
      return;
    case "check.stats": {
      const c = sim.counters();
      for (const [name, want] of Object.entries(s.counters)) {
        if (!Object.prototype.hasOwnProperty.call(c, name)) throw new StepFailure(`counter ${name} = ${want}`, `no counter named ${name} (known: ${Object.keys(c).join(", ")})`);
        if (c[name] !== want) throw new StepFailure(`${name} = ${want}`, `${name} = ${c[name]}`);
      }
      return;
    }
    case "check.invariants": sim.checkInvariants(); return;
    default: throw new StepFailure("a check", s.op);
  }
}

function fieldMatches(want: string | number | boolean, got: string | number | boolean | undefined): boolean {
  if (got === undefined) return false;
  if (typeof want === typeof got) return want === got;
  if (typeof got === "number" && typeof want === "string") {
    const v = Number(want);
    return Number.isFinite(v) && v === got;
  }
  return false;
}

/** An event as one line: kind(field=value ...). */
export function showEvent(e: SimEvent): string {
  const f = Object.entries(e).filter(([k]) => k !== "kind" && k !== "step" && k !== "seq").map(([k, v]) => `${k}=${v}`).join(" ");
  return f ? `${e.kind}(${f})` : e.kind;
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
