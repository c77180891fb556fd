// Scenario files (docs SCENARIOS.md, format 1): parse, validate and convert. Everything wrong with a file is a
// ScenarioFormatError naming the step (0-based index in "steps", null outside them) and the field, thrown before
// anything runs (the CLI's exit status 2). Two passes: each step on its own (types, values, fields that fit the op),
// then the steps together (ids defined before use, no id defined twice, resume of a paused operation).
import {
  ARCHES, PROTOCOLS, LEVELS, GMEM_FLAGS, ERRNOS, GUEST_ACCESS_RESULTS, HOST_ACCESS_RESULTS, DMA_RESULTS,
  SHAREABILITIES, ATTR_STATES, CONVERT_MODES, IOMMU_MODES, FAULTS, FOLIO_ORDERS, CONVERT_PAUSES, GUEST_ACCESS_PAUSES,
  EVENT_KINDS,
  type Scenario, type ScenarioConfig, type Step, type StepOp, type Expect, type Errno, type EventMatch,
  type AccessResult, type GuestAccessResult, type HostAccessResult, type DmaResult,
} from "./types";

export * from "./types";

/** A scenario file is malformed: `.step` (index in "steps", or null) and `.field` say where. */
export class ScenarioFormatError extends Error {
  readonly code = "EFORMAT";
  /** 0-based index in "steps"; null for the file itself, its top-level fields and "config" */
  readonly step: number | null;
  /** the field at fault: a step field ("size"), a top-level one ("format", "config.arch"), "json", or "" for a
   *  whole step or file that is not an object */
  readonly field: string;
  /** the step's op when it has a string one */
  readonly op: string | null;
  /** the message without the "step N (op): field "f": " prefix */
  readonly detail: string;
  constructor(step: number | null, field: string, detail: string, op: string | null = null) {
    const where = step === null ? "" : `step ${step}${op === null ? "" : ` (${op})`}: `;
    super(`${where}${field === "" ? "" : `field "${field}": `}${detail}`);
    this.name = "ScenarioFormatError";
    this.step = step;
    this.field = field;
    this.op = op;
    this.detail = detail;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sizes

const U64_MAX = (1n << 64n) - 1n;
const TWO_53 = 1n << 53n;
const SIZE_FORMS = `a number, "0x..." or a number with K/M/G/T`;
const UNIT_SHIFT: Record<string, bigint> = { "": 0n, K: 10n, M: 20n, G: 30n, T: 40n };

type SizeResult = { value: bigint } | { why: string };

function sizeOf(x: unknown): SizeResult {
  const plain = { why: SIZE_FORMS };
  const overflow = { why: "larger than 2^64-1" };
  const fraction = { why: "not a whole number of bytes" };
  const negative = { why: "negative" };
  if (typeof x === "bigint") return x < 0n ? negative : x > U64_MAX ? overflow : { value: x };
  if (typeof x === "number") {
    if (Number.isNaN(x)) return plain;
    if (x < 0 || Object.is(x, -0)) return negative;
    if (x > 2 ** 64) return overflow;
    if (!Number.isInteger(x)) return fraction;
    // 2^64-1 written as a JSON number arrives as 2^64: say why rather than "too large"
    if (!Number.isSafeInteger(x)) return { why: `a JSON number above 2^53-1 is not exact; write it as a string ("0x...")` };
    return { value: BigInt(x) };
  }
  if (typeof x !== "string" || x.length > 256) return plain;
  const hex = /^0[xX]([0-9a-fA-F]+)$/.exec(x);
  if (hex) {
    const v = BigInt("0x" + hex[1]);
    return v > U64_MAX ? overflow : { value: v };
  }
  const dec = /^(-?)(\d+)(?:\.(\d+))?([KMGT]?)$/.exec(x);
  if (!dec) return plain;
  if (dec[1] === "-") return negative;
  const frac = dec[3] ?? "";
  const scaled = BigInt(dec[2] + frac) << UNIT_SHIFT[dec[4]];
  const den = 10n ** BigInt(frac.length);
  if (scaled % den !== 0n) return fraction;
  const v = scaled / den;
  return v > U64_MAX ? overflow : { value: v };
}

/**
 * A size, offset or address of a scenario: a non-negative safe integer number, a "0x..." hex string, a decimal
 * string, or a decimal with a binary unit ("4K" = 4096, "2M", "1G", "1T"; "1.5G" is fine, "1.5K" is not: the result
 * must be a whole number of bytes). Null when `x` is none of these or exceeds 2^64-1.
 */
export function parseSize(x: unknown): bigint | null {
  const r = sizeOf(x);
  return "value" in r ? r.value : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function own(o: Obj, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** A value as it appears in a message. */
function show(x: unknown): string {
  if (x === undefined) return "nothing";
  if (typeof x === "bigint") return x.toString();
  if (Object.is(x, -0)) return "-0";
  let s: string;
  try { s = JSON.stringify(x) ?? String(x); } catch { s = String(x); }
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

function list(xs: readonly unknown[]): string {
  return xs.map((x) => JSON.stringify(x)).join(", ");
}

function distance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** ` (did you mean "x"?)` when one candidate is close, else "". */
function suggest(word: string, candidates: Iterable<string>): string {
  let best = "", bd = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bd) { bd = d; best = c; }
  }
  return bd <= Math.min(2, Math.max(1, Math.floor(best.length / 3))) ? ` (did you mean "${best}"?)` : "";
}

/** Fields allowed anywhere and ignored. */
const NOTES = new Set(["comment", "note"]);

// ---------------------------------------------------------------------------------------------------------------
// Ops

interface OpSpec {
  /** every field the op takes besides op, expect, errorOffset, comment, note (in the order they are checked) */
  fields: readonly string[];
  /** a check: holds or fails, takes no expect */
  check?: true;
  /** result strings `expect` may name besides 0 and errno names */
  results?: readonly string[];
  /** may carry errorOffset with an errno expect */
  errorOffset?: true;
}

const ALL_RESULTS: readonly string[] = [...new Set<string>([...GUEST_ACCESS_RESULTS, ...HOST_ACCESS_RESULTS, ...DMA_RESULTS])];

const SPECS: { readonly [K in StepOp]: OpSpec } = {
  "gmem.create": { fields: ["id", "size", "flags"] },
  "gmem.close": { fields: ["gmem"] },
  "vm.create": { fields: ["id"] },
  "vm.destroy": { fields: ["vm"] },
  "vm.bind": { fields: ["vm", "slot", "gpa", "size", "gmem", "offset"] },
  "vm.unbind": { fields: ["vm", "slot"] },
  "guest.access": { fields: ["vm", "gpa", "private", "write", "value", "level", "pause", "as"], results: GUEST_ACCESS_RESULTS },
  "host.mmap": { fields: ["gmem"] },
  "host.munmap": { fields: ["gmem"] },
  "host.access": { fields: ["gmem", "offset", "write", "value"], results: HOST_ACCESS_RESULTS },
  "host.pin": { fields: ["gmem", "offset", "size"] },
  "host.unpin": { fields: ["gmem", "offset", "size"] },
  convert: { fields: ["gmem", "offset", "size", "to", "mode", "pause", "as"], errorOffset: true },
  punch: { fields: ["gmem", "offset", "size"], errorOffset: true },
  "iommu.create": { fields: ["id", "mode"] },
  "iommu.bind": { fields: ["iommu", "gmem"] },
  "iommu.unbind": { fields: ["iommu"] },
  "iommu.map": { fields: ["iommu", "iova", "gmem", "offset", "size", "secure"] },
  "iommu.unmap": { fields: ["iommu", "iova", "size", "secure"] },
  dma: { fields: ["iommu", "iova", "secure", "write", "value"], results: DMA_RESULTS },
  inject: { fields: ["fault", "count"] },
  resume: { fields: ["id"], results: ALL_RESULTS, errorOffset: true },
  "check.attr": { fields: ["gmem", "offset", "size", "is"], check: true },
  "check.folio": { fields: ["gmem", "offset", "order", "refcount", "pincount", "mapcount", "uptodate"], check: true },
  "check.spte": { fields: ["vm", "gpa", "table", "present", "level"], check: true },
  "check.iopte": { fields: ["iommu", "iova", "secure", "present", "level"], check: true },
  "check.events": { fields: ["sequence", "absent"], check: true },
  "check.stats": { fields: [], check: true },
  "check.invariants": { fields: [], check: true },
};

const OPS = Object.keys(SPECS) as StepOp[];
const ERRNO_SET: ReadonlySet<string> = new Set(ERRNOS);

/** Reads the fields of one step object, throwing a ScenarioFormatError that names the step and field. */
class StepReader {
  constructor(readonly obj: Obj, readonly index: number, readonly op: StepOp) {}

  fail(field: string, detail: string): never {
    throw new ScenarioFormatError(this.index, field, detail, this.op);
  }

  has(f: string): boolean {
    return own(this.obj, f);
  }

  get(f: string): unknown {
    if (!this.has(f)) this.fail(f, `missing (${this.op} takes ${SPECS[this.op].fields.join(", ")})`);
    return this.obj[f];
  }

  /** An object name (an id, or a reference to one): a non-empty string. */
  name(f: string): string {
    const v = this.get(f);
    if (typeof v !== "string" || v === "") this.fail(f, `${show(v)} is not a name (a non-empty string)`);
    return v;
  }

  optName(f: string): string | undefined {
    return this.has(f) ? this.name(f) : undefined;
  }

  size(f: string): bigint {
    const v = this.get(f);
    const r = sizeOf(v);
    if ("why" in r) this.fail(f, `${show(v)} is not a size (${r.why})`);
    return r.value;
  }

  bool(f: string): boolean {
    const v = this.get(f);
    if (typeof v !== "boolean") this.fail(f, `${show(v)} is not a boolean (true or false)`);
    return v;
  }

  optBool(f: string): boolean | undefined {
    return this.has(f) ? this.bool(f) : undefined;
  }

  oneOf<T extends string | number>(f: string, values: readonly T[]): T {
    const v = this.get(f);
    if (!(values as readonly unknown[]).includes(v)) {
      this.fail(f, `${show(v)} is not one of ${list(values)}${typeof v === "string" ? suggest(v, values.map(String)) : ""}`);
    }
    return v as T;
  }

  optOneOf<T extends string>(f: string, values: readonly T[]): T | undefined {
    return this.has(f) ? this.oneOf(f, values) : undefined;
  }

  /** A whole number in [min, max] (numbers only). */
  int(f: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
    const v = this.get(f);
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max || Object.is(v, -0)) {
      this.fail(f, `${show(v)} is not an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? "2^53-1" : max}]`);
    }
    return v;
  }

  optInt(f: string, min: number): number | undefined {
    return this.has(f) ? this.int(f, min) : undefined;
  }

  /** A page content value (`write`, `value`): size-like, at most 2^53. */
  content(f: string): number | undefined {
    if (!this.has(f)) return undefined;
    const v = this.obj[f];
    const r = sizeOf(v);
    if ("why" in r) {
      this.fail(f, `${show(v)} is not a value (a non-negative integer, "0x..." or a number with K/M/G/T${r.why === SIZE_FORMS ? "" : `: ${r.why}`})`);
    }
    if (r.value > TWO_53) this.fail(f, `${show(v)} is larger than 2^53`);
    return Number(r.value);
  }

  /** `pause` + `as` of a convert or guest.access. */
  pause<T extends string>(values: readonly T[]): { pause?: T; as?: string } {
    const pause = this.optOneOf("pause", values);
    const as = this.optName("as");
    if (pause !== undefined && as === undefined) this.fail("as", "missing: a step with pause needs as (the name resume uses)");
    if (pause === undefined && as !== undefined) this.fail("as", "as names a paused operation: give pause too");
    return pause === undefined ? {} : { pause, as };
  }

  expect<R extends string = never>(): Expect<R> {
    const spec = SPECS[this.op];
    const results = spec.results ?? [];
    const forms = results.length ? `0, an errno name or one of ${list(results)}` : "0 or an errno name";
    let e: Expect<string>;
    const v = this.obj.expect;
    if (!this.has("expect") || v === 0 || v === "0") e = { kind: "ok" };
    else if (typeof v === "string" && ERRNO_SET.has(v)) e = { kind: "errno", errno: v as Errno };
    else if (typeof v === "string" && /^E[A-Z0-9]+$/.test(v)) {
      this.fail("expect", `${show(v)} is not an errno this model knows (${ERRNOS.join(" ")})${suggest(v, ERRNOS)}`);
    } else if (typeof v === "string" && results.includes(v)) e = { kind: "result", value: v };
    else if (typeof v === "string") {
      const hint = ALL_RESULTS.includes(v) ? "" : suggest(v, results);
      this.fail("expect", `${show(v)} is not a result of ${this.op} (${forms})${hint}`);
    } else {
      this.fail("expect", `${show(v)} is not a result (${forms}; errors are errno names such as "EINVAL", not numbers)`);
    }
    if (this.has("errorOffset")) {
      if (e.kind !== "errno") {
        this.fail("errorOffset", `errorOffset goes with an errno expect (expect is ${this.has("expect") ? show(v) : "absent"})`);
      }
      e.errorOffset = this.size("errorOffset");
    }
    return e as Expect<R>;
  }
}

function readStep(raw: unknown, index: number, config: ScenarioConfig): Step {
  if (!isObj(raw)) throw new ScenarioFormatError(index, "", `a step is a JSON object, not ${show(raw)}`);
  if (!own(raw, "op")) throw new ScenarioFormatError(index, "op", "missing");
  const opv = raw.op;
  if (typeof opv !== "string") throw new ScenarioFormatError(index, "op", `${show(opv)} is not an op name`);
  if (!own(SPECS, opv)) {
    throw new ScenarioFormatError(index, "op", `unknown op ${show(opv)}${suggest(opv, OPS)}`);
  }
  const op = opv as StepOp;
  const spec = SPECS[op];
  const r: StepReader = new StepReader(raw, index, op);

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

  const base = { index, raw };
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
      const p = r.pause(GUEST_ACCESS_PAUSES);
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
    case "punch":
      return { op, ...base, gmem: r.name("gmem"), offset: r.size("offset"), size: r.size("size"), ...expect() };
    case "convert": {
      const gmem = r.name("gmem"), offset = r.size("offset"), size = r.size("size");
      const to = r.oneOf("to", SHAREABILITIES);
      const mode = r.optOneOf("mode", CONVERT_MODES);
      if (mode !== undefined && config.protocol !== "v4") {
        r.fail("mode", `mode is v4 only (config.protocol is ${show(config.protocol)})`);
      }
      const p = r.pause(CONVERT_PAUSES);
      return { op, ...base, gmem, offset, size, to, ...opt("mode", mode), ...p, ...expect() };
    }
    case "iommu.create":
      return { op, ...base, id: r.name("id"), mode: r.oneOf("mode", IOMMU_MODES), ...expect() };
    case "iommu.bind":
      return { op, ...base, iommu: r.name("iommu"), gmem: r.name("gmem"), ...expect() };
    case "iommu.unbind":
      return { op, ...base, iommu: r.name("iommu"), ...expect() };
    case "iommu.map":
      return {
        op, ...base, iommu: r.name("iommu"), iova: r.size("iova"), gmem: r.name("gmem"), offset: r.size("offset"),
        size: r.size("size"), secure: r.bool("secure"), ...expect(),
      };
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
    case "resume":
      return { op, ...base, id: r.name("id"), expect: r.expect<AccessResult>() };
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

function readEvents(r: StepReader): { sequence: EventMatch[]; absent: string[] } {
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

// ---------------------------------------------------------------------------------------------------------------
// Steps together

type IdKind = "gmem" | "vm" | "iommu";
const ID_KINDS: readonly IdKind[] = ["gmem", "vm", "iommu"];
const CREATES: Partial<Record<StepOp, IdKind>> = { "gmem.create": "gmem", "vm.create": "vm", "iommu.create": "iommu" };

function crossCheck(steps: Step[]): void {
  const defined: Record<IdKind, Map<string, number>> = { gmem: new Map(), vm: new Map(), iommu: new Map() };
  const paused = new Map<string, { index: number; op: "convert" | "guest.access"; resumed: number | null }>();
  function fail(s: Step, field: string, detail: string): never {
    throw new ScenarioFormatError(s.index, field, detail, s.op);
  }
  const failsAt = (s: Step) => "expect" in s && s.expect.kind === "errno";

  for (const s of steps) {
    // references first: a step never refers to what it defines
    for (const kind of ID_KINDS) {
      if (!(kind in s)) continue;
      const id = (s as unknown as Record<IdKind, string>)[kind];
      if (defined[kind].has(id)) continue;
      const later = steps.find((t) => t.op === `${kind}.create` && (t as { id: string }).id === id && t.index !== s.index);
      const why = later === undefined ? `no ${kind}.create step defines it`
        : later.index > s.index ? `it is created only at step ${later.index}`
        : `step ${later.index} expects ${(later as { expect: { errno: string } }).expect.errno} from creating it`;
      fail(s, kind, `unknown ${kind} ${show(id)} (${why})`);
    }
    if (s.op === "resume") {
      const p = paused.get(s.id);
      if (p === undefined) {
        const later = steps.find((t) => (t.op === "convert" || t.op === "guest.access") && t.as === s.id);
        const why = later === undefined ? `no convert or guest.access step pauses as ${show(s.id)}`
          : later.index > s.index ? `it is paused only at step ${later.index}`
          : `step ${later.index} expects an errno, so it never pauses`;
        fail(s, "id", `unknown paused operation ${show(s.id)} (${why})`);
      }
      if (p.resumed !== null) fail(s, "id", `${show(s.id)} was already resumed at step ${p.resumed}`);
      p.resumed = s.index;
      const e = s.expect;
      if (p.op === "convert") {
        if (e.kind === "result") fail(s, "expect", `${show(e.value)} is not a result of convert (resumed from step ${p.index}): 0 or an errno name`);
      } else {
        if (e.kind === "result" && !(GUEST_ACCESS_RESULTS as readonly string[]).includes(e.value)) {
          fail(s, "expect", `${show(e.value)} is not a result of guest.access (resumed from step ${p.index}): ${list(GUEST_ACCESS_RESULTS)}`);
        }
        if (e.kind === "errno" && e.errorOffset !== undefined) {
          fail(s, "errorOffset", `errorOffset is only for convert, punch and resume of a convert (step ${p.index} is a guest.access)`);
        }
      }
    }
    // then definitions
    const kind = CREATES[s.op];
    if (kind !== undefined && !failsAt(s)) {
      const id = (s as { id: string }).id;
      const prev = defined[kind].get(id);
      if (prev !== undefined) fail(s, "id", `${kind} ${show(id)} is already defined at step ${prev}`);
      defined[kind].set(id, s.index);
    }
    if ((s.op === "convert" || s.op === "guest.access") && s.as !== undefined && !failsAt(s)) {
      const prev = paused.get(s.as);
      if (prev !== undefined) fail(s, "as", `${show(s.as)} already names the operation paused at step ${prev.index}`);
      paused.set(s.as, { index: s.index, op: s.op, resumed: null });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The file

const TOP_FIELDS = ["format", "name", "description", "config", "steps"];
const CONFIG_FIELDS = ["arch", "protocol", "invariants"];

function top(field: string, detail: string): ScenarioFormatError {
  return new ScenarioFormatError(null, field, detail);
}

function readConfig(doc: Obj): ScenarioConfig {
  const config: ScenarioConfig = { arch: "sw", protocol: "v2", invariants: false };
  if (!own(doc, "config")) return config;
  const c = doc.config;
  if (!isObj(c)) throw top("config", `${show(c)} is not an object`);
  for (const k of Object.keys(c)) {
    if (!CONFIG_FIELDS.includes(k) && !NOTES.has(k)) {
      throw top(`config.${k}`, `unknown field (config takes ${CONFIG_FIELDS.join(", ")})${suggest(k, CONFIG_FIELDS)}`);
    }
  }
  if (own(c, "arch")) {
    if (!(ARCHES as readonly unknown[]).includes(c.arch)) throw top("config.arch", `${show(c.arch)} is not one of ${list(ARCHES)}`);
    config.arch = c.arch as ScenarioConfig["arch"];
  }
  if (own(c, "protocol")) {
    if (!(PROTOCOLS as readonly unknown[]).includes(c.protocol)) {
      throw top("config.protocol", `${show(c.protocol)} is not one of ${list(PROTOCOLS)}`);
    }
    config.protocol = c.protocol as ScenarioConfig["protocol"];
  }
  if (own(c, "invariants")) {
    if (typeof c.invariants !== "boolean") throw top("config.invariants", `${show(c.invariants)} is not a boolean (true or false)`);
    config.invariants = c.invariants;
  }
  return config;
}

/** Validate and convert an already-parsed scenario document (what JSON.parse returned). */
export function validateScenario(doc: unknown): Scenario {
  if (!isObj(doc)) throw top("", `a scenario is a JSON object, not ${show(doc)}`);
  if (!own(doc, "format")) throw top("format", "missing (this gmemsim reads format 1)");
  if (doc.format !== 1) throw top("format", `${show(doc.format)} is not a format this gmemsim reads (format 1)`);
  for (const k of Object.keys(doc)) {
    if (!TOP_FIELDS.includes(k) && !NOTES.has(k)) {
      throw top(k, `unknown field (a scenario has ${TOP_FIELDS.join(", ")})${suggest(k, TOP_FIELDS)}`);
    }
  }
  let name = "";
  if (own(doc, "name")) {
    if (typeof doc.name !== "string") throw top("name", `${show(doc.name)} is not a string`);
    name = doc.name;
  }
  if (own(doc, "description") && typeof doc.description !== "string") {
    throw top("description", `${show(doc.description)} is not a string`);
  }
  const config = readConfig(doc);
  if (!own(doc, "steps")) throw top("steps", "missing");
  const rawSteps = doc.steps;
  if (!Array.isArray(rawSteps)) throw top("steps", `${show(rawSteps)} is not a list of steps`);
  if (rawSteps.length === 0) throw top("steps", "empty: a scenario has at least one step");
  const steps = rawSteps.map((s, i) => readStep(s, i, config));
  crossCheck(steps);
  const scenario: Scenario = { format: 1, name, config, steps };
  if (typeof doc.description === "string") scenario.description = doc.description;
  return scenario;
}

class JsonStop {
  constructor(readonly pos: number, readonly what: string) {}
}

/**
 * The first syntax error of a text JSON.parse refused: its offset and what was wrong. Engines word (and locate)
 * their errors differently, and some give no position at all; this scan gives the same answer everywhere.
 */
function locateJsonError(t: string): JsonStop | null {
  let i = 0;
  const stop = (what: string): never => {
    throw new JsonStop(i, i >= t.length ? "unexpected end of input" : what);
  };
  const ws = () => {
    while (i < t.length && (t[i] === " " || t[i] === "\t" || t[i] === "\n" || t[i] === "\r")) i++;
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= t.length) stop("");
      const c = t.charCodeAt(i);
      if (c === 0x22) { i++; return; }
      if (c < 0x20) stop("control character in a string");
      if (c === 0x5c) {
        i++;
        if (i < t.length && t[i] === "u") {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/[0-9a-fA-F]/.test(t[i] ?? "")) stop("bad \\u escape in a string");
          }
        } else if (i >= t.length || !"\"\\/bfnrt".includes(t[i])) stop("bad escape in a string");
      }
      i++;
    }
  };
  const value = (): void => {
    ws();
    if (i >= t.length) stop("");
    const c = t[i];
    if (c === "{") {
      i++;
      ws();
      if (t[i] === "}") { i++; return; }
      for (;;) {
        ws();
        if (t[i] !== '"') stop("expected a property name (a string in double quotes)");
        str();
        ws();
        if (t[i] !== ":") stop("expected ':' after a property name");
        i++;
        value();
        ws();
        if (t[i] === "}") { i++; return; }
        if (t[i] !== ",") stop("expected ',' or '}' after a property value");
        i++;
        ws();
        if (t[i] === "}") stop("trailing comma before '}'");
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (t[i] === "]") { i++; return; }
      for (;;) {
        value();
        ws();
        if (t[i] === "]") { i++; return; }
        if (t[i] !== ",") stop("expected ',' or ']' after a list element");
        i++;
        ws();
        if (t[i] === "]") stop("trailing comma before ']'");
      }
    }
    if (c === '"') return str();
    const lit = /^(?:true|false|null)/.exec(t.slice(i, i + 5));
    if (lit) { i += lit[0].length; return; }
    const num = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(t.slice(i, i + 400));
    if (num && num[0] !== "-") {
      i += num[0].length;
      if (i < t.length && /[\d.eE]/.test(t[i])) stop("malformed number");
      return;
    }
    stop(`unexpected ${JSON.stringify(c)} where a value belongs`);
  };
  try {
    value();
    ws();
    if (i < t.length) stop("unexpected text after the scenario");
  } catch (e) {
    if (e instanceof JsonStop) return e;
    return null; // nested too deep for this scan
  }
  return null;
}

function lineColumn(text: string, pos: number): string {
  let line = 1, col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text[i] === "\n") { line++; col = 1; } else col++;
  }
  return `line ${line} column ${col} (position ${pos})`;
}

/** Parse, validate and convert a scenario file's text. Throws ScenarioFormatError (code EFORMAT). */
export function parseScenario(text: string): Scenario {
  if (typeof text !== "string") throw top("json", `scenario text must be a string, not ${typeof text}`);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    const at = locateJsonError(body);
    if (at !== null) throw top("json", `not valid JSON at ${lineColumn(body, at.pos)}: ${at.what}`);
    throw top("json", `not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return validateScenario(doc);
}
