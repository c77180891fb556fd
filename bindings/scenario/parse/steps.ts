// One step on its own: its op, its fields (types, values, fields that fit the op and its list), converted.
import {
  LEVELS, GMEM_FLAGS, SHAREABILITIES, ATTR_STATES, CONVERT_MODES, IOMMU_MODES, FAULTS, FOLIO_ORDERS, PAUSE_POINTS,
  EVENT_KINDS,
  type ScenarioConfig, type Step, type StepOp, type EventMatch, type AccessResult, type GuestAccessResult,
  type HostAccessResult, type DmaResult,
} from "../types";
import { ScenarioFormatError } from "./error";
import { isObj, own, show, list, suggest, NOTES } from "./helpers";
import { StepReader, type StepWhere } from "./reader";
import { SPECS, OPS, ALL_PAUSE_POINTS, threadForbids, THREAD_FORBIDDEN_FIELDS } from "./specs";

export type { StepWhere } from "./reader";

/** Read step `index` of the list `where`. */
export function readStep(raw: unknown, index: number, config: ScenarioConfig, where: StepWhere): Step {
  const place = { section: where.section, thread: where.thread ?? null };
  function bad(field: string, detail: string): never {
    throw new ScenarioFormatError(index, field, detail, null, place);
  }
  if (!isObj(raw)) bad("", `a step is a JSON object, not ${show(raw)}`);
  if (!own(raw, "op")) bad("op", "missing");
  const opv = raw.op;
  if (typeof opv !== "string") bad("op", `${show(opv)} is not an op name`);
  if (!own(SPECS, opv)) bad("op", `unknown op ${show(opv)}${suggest(opv, OPS)}`);
  const op = opv as StepOp;
  const spec = SPECS[op];
  const r: StepReader = new StepReader(raw, index, op, where);

  if (where.section === "threads") {
    if (threadForbids(op)) {
      r.fail("op", `${op} is not allowed in a thread (a thread takes every op but check.*, inject and resume; checks go in finally)`);
    }
    for (const f of THREAD_FORBIDDEN_FIELDS) {
      if (r.has(f)) r.fail(f, `${f} is not allowed in a thread (the explorer chooses where threads stop; pause/as/resume are for steps and finally)`);
    }
  }

  // Unknown fields first: a misspelt field is reported as such, not as the correct one missing.
  for (const k of Object.keys(raw)) {
    if (k === "op" || NOTES.has(k) || spec.fields.includes(k)) continue;
    if (k === "expect" || k === "errorOffset") {
      // "every step may carry expect": on a check the only result is that it holds (0)
      if (spec.check && k === "expect" && (raw.expect === 0 || raw.expect === "0")) continue;
      if (spec.check) r.fail(k, `a check takes no ${k} but 0: it holds or fails`);
      if (k === "errorOffset" && !spec.errorOffset) r.fail(k, "errorOffset is only for convert, punch and resume");
      continue;
    }
    if (op === "check.stats") continue; // every other field is a counter
    const takes = spec.fields.length ? `${op} takes ${spec.fields.join(", ")}` : `${op} takes no fields`;
    r.fail(k, `unknown field (${takes})${suggest(k, spec.fields)}`);
  }

  const base = { index, section: where.section, ...(where.thread === undefined ? {} : { thread: where.thread }), raw };
  const expect = () => ({ expect: r.expect() });
  const opt = <K extends string, V>(k: K, v: V | undefined) => (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
  switch (op) {
    case "gmem.create": {
      const id = r.name("id");
      const size = r.size("size");
      let flags: (typeof GMEM_FLAGS)[number][] = [];
      if (r.has("flags")) {
        const fv = raw.flags;
        if (!Array.isArray(fv)) r.fail("flags", `${show(fv)} is not a list of flags (${list(GMEM_FLAGS)})`);
        flags = fv.map((f, i) => {
          if (!(GMEM_FLAGS as readonly unknown[]).includes(f)) {
            r.fail("flags", `entry ${i}: ${show(f)} is not a flag (${list(GMEM_FLAGS)})${typeof f === "string" ? suggest(f, GMEM_FLAGS) : ""}`);
          }
          return f as (typeof GMEM_FLAGS)[number];
        });
      }
      return { op, ...base, id, size, flags, ...expect() };
    }
    case "gmem.close":
    case "host.mmap":
    case "host.munmap":
      return { op, ...base, gmem: r.name("gmem"), ...expect() };
    case "vm.create":
      return { op, ...base, id: r.name("id"), ...expect() };
    case "vm.destroy":
      return { op, ...base, vm: r.name("vm"), ...expect() };
    case "vm.bind":
      return {
        op, ...base, vm: r.name("vm"), slot: r.int("slot", 0, 0xffffffff), gpa: r.size("gpa"), size: r.size("size"),
        gmem: r.name("gmem"), offset: r.size("offset"), ...expect(),
      };
    case "vm.unbind":
      return { op, ...base, vm: r.name("vm"), slot: r.int("slot", 0, 0xffffffff), ...expect() };
    case "guest.access": {
      const vm = r.name("vm"), gpa = r.size("gpa"), priv = r.bool("private");
      const write = r.content("write"), value = r.content("value"), level = r.optOneOf("level", LEVELS);
      const p = r.pause(PAUSE_POINTS["guest.access"]);
      return {
        op, ...base, vm, gpa, private: priv, ...opt("write", write), ...opt("value", value), ...opt("level", level), ...p,
        expect: r.expect<GuestAccessResult>(),
      };
    }
    case "host.access": {
      const gmem = r.name("gmem"), offset = r.size("offset");
      const write = r.content("write"), value = r.content("value");
      return { op, ...base, gmem, offset, ...opt("write", write), ...opt("value", value), expect: r.expect<HostAccessResult>() };
    }
    case "host.pin":
    case "host.unpin":
      return { op, ...base, gmem: r.name("gmem"), offset: r.size("offset"), size: r.size("size"), ...expect() };
    case "punch": {
      const gmem = r.name("gmem"), offset = r.size("offset"), size = r.size("size");
      const p = r.pause(PAUSE_POINTS.punch);
      return { op, ...base, gmem, offset, size, ...p, ...expect() };
    }
    case "convert": {
      const gmem = r.name("gmem"), offset = r.size("offset"), size = r.size("size");
      const to = r.oneOf("to", SHAREABILITIES);
      const mode = r.optOneOf("mode", CONVERT_MODES);
      if (mode !== undefined && config.protocol !== "v4") {
        r.fail("mode", `mode is v4 only (config.protocol is ${show(config.protocol)})`);
      }
      const p = r.pause(PAUSE_POINTS.convert);
      return { op, ...base, gmem, offset, size, to, ...opt("mode", mode), ...p, ...expect() };
    }
    case "iommu.create":
      return { op, ...base, id: r.name("id"), mode: r.oneOf("mode", IOMMU_MODES), ...expect() };
    case "iommu.bind":
      return { op, ...base, iommu: r.name("iommu"), gmem: r.name("gmem"), ...expect() };
    case "iommu.unbind":
      return { op, ...base, iommu: r.name("iommu"), ...expect() };
    case "iommu.map": {
      const iommu = r.name("iommu"), iova = r.size("iova"), gmem = r.name("gmem"), offset = r.size("offset");
      const size = r.size("size"), secure = r.bool("secure");
      const p = r.pause(PAUSE_POINTS["iommu.map"]);
      return { op, ...base, iommu, iova, gmem, offset, size, secure, ...p, ...expect() };
    }
    case "iommu.unmap":
      return {
        op, ...base, iommu: r.name("iommu"), iova: r.size("iova"), size: r.size("size"), secure: r.bool("secure"),
        ...expect(),
      };
    case "dma": {
      const iommu = r.name("iommu"), iova = r.size("iova"), secure = r.bool("secure");
      const write = r.content("write"), value = r.content("value");
      return { op, ...base, iommu, iova, secure, ...opt("write", write), ...opt("value", value), expect: r.expect<DmaResult>() };
    }
    case "inject": {
      const fault = r.oneOf("fault", FAULTS);
      const count = r.has("count") ? r.int("count", 1) : 1;
      return { op, ...base, fault, count, ...expect() };
    }
    case "resume": {
      // which op's pause points apply is known only across steps (crossCheck)
      const id = r.name("id");
      const level = r.optOneOf("level", LEVELS), value = r.content("value");
      return {
        op, ...base, id, ...opt("pause", r.optOneOf("pause", ALL_PAUSE_POINTS)), ...opt("level", level), ...opt("value", value),
        expect: r.expect<AccessResult>(),
      };
    }
    case "check.attr":
      return { op, ...base, gmem: r.name("gmem"), offset: r.size("offset"), size: r.size("size"), is: r.oneOf("is", ATTR_STATES) };
    case "check.folio": {
      const step = { op, ...base, gmem: r.name("gmem"), offset: r.size("offset"), order: r.oneOf("order", FOLIO_ORDERS) };
      const extra: { refcount?: number; pincount?: number; mapcount?: number; uptodate?: boolean } = {};
      for (const k of ["refcount", "pincount", "mapcount"] as const) {
        const n = r.optInt(k, 0);
        if (n !== undefined) extra[k] = n;
      }
      const u = r.optBool("uptodate");
      if (u !== undefined) extra.uptodate = u;
      return { ...step, ...extra };
    }
    case "check.spte": {
      const step = { op, ...base, vm: r.name("vm"), gpa: r.size("gpa"), table: r.oneOf("table", SHAREABILITIES), present: r.bool("present") };
      return { ...step, ...opt("level", r.optOneOf("level", LEVELS)) };
    }
    case "check.iopte": {
      const step = { op, ...base, iommu: r.name("iommu"), iova: r.size("iova"), secure: r.bool("secure"), present: r.bool("present") };
      return { ...step, ...opt("level", r.optOneOf("level", LEVELS)) };
    }
    case "check.events":
      return { op, ...base, ...readEvents(r) };
    case "check.stats": {
      const counters: Record<string, number> = Object.create(null);
      for (const k of Object.keys(raw)) {
        if (k === "op" || k === "expect" || NOTES.has(k)) continue;
        const v = raw[k];
        if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || Object.is(v, -0)) {
          r.fail(k, `${show(v)} is not a counter value (an integer in [0, 2^53-1])`);
        }
        counters[k] = v;
      }
      return { op, ...base, counters };
    }
    case "check.invariants":
      return { op, ...base };
  }
}

function readEventKind(r: StepReader, field: string, i: number, k: unknown): string {
  if (typeof k !== "string") r.fail(field, `entry ${i}: ${show(k)} is not an event kind`);
  if (!EVENT_KINDS.has(k)) r.fail(field, `entry ${i}: unknown event kind ${show(k)}${suggest(k, EVENT_KINDS)}`);
  return k;
}

/** `sequence` and `absent` of a check.events step. */
export function readEvents(r: StepReader): { sequence: EventMatch[]; absent: string[] } {
  const obj = r.obj;
  for (const f of ["sequence", "absent"]) {
    if (r.has(f) && !Array.isArray(obj[f])) r.fail(f, `${show(obj[f])} is not a list of event kinds`);
  }
  const seqRaw = (r.has("sequence") ? obj.sequence : []) as unknown[];
  const absRaw = (r.has("absent") ? obj.absent : []) as unknown[];
  if (seqRaw.length === 0 && absRaw.length === 0) {
    r.fail(r.has("absent") && !r.has("sequence") ? "absent" : "sequence",
      "check.events needs a non-empty sequence or absent (or both)");
  }
  const sequence = seqRaw.map((e, i): EventMatch => {
    if (typeof e === "string") return { kind: readEventKind(r, "sequence", i, e), fields: {} };
    if (!isObj(e)) r.fail("sequence", `entry ${i}: ${show(e)} is not an event kind or {"kind": ..., fields}`);
    if (!own(e, "kind")) r.fail("sequence", `entry ${i}: missing "kind"`);
    const kind = readEventKind(r, "sequence", i, e.kind);
    const fields: Record<string, string | number | boolean> = Object.create(null);
    for (const k of Object.keys(e)) {
      if (k === "kind" || NOTES.has(k)) continue;
      const v = e[k];
      if (typeof v !== "string" && typeof v !== "boolean" && !(typeof v === "number" && Number.isFinite(v))) {
        r.fail("sequence", `entry ${i}: field ${show(k)}: ${show(v)} is not a string, number or boolean`);
      }
      fields[k] = v;
    }
    return { kind, fields };
  });
  const absent = absRaw.map((k, i) => readEventKind(r, "absent", i, k));
  return { sequence, absent };
}
