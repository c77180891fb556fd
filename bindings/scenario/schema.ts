// The JSON Schema (draft-07) of scenario files, generated from the parser's own tables: the ops and their fields
// (parse/specs.ts), the names of flags, results, errnos, event kinds, counters and pause points (types.ts, derived
// from the core's ABI). `npm run build` writes it to scenario.schema.json (exported as
// `gmemsim/scenario.schema.json`); a file that names it in "$schema" gets validation and completion in an editor.
// It says what one file can say on its own: types, names, ranges, which fields each op takes and requires. What
// needs several steps at once (ids defined before use, resume of a paused op), exact sizes past 2^53 and the JSON
// text itself (syntax, keys written twice) only the parser checks: test/scenario-schema.test.ts holds the schema
// and the parser to each other on every example and every malformed file of the tests.
import {
  ARCHES, PROTOCOLS, SAFEGUARDS, LEVELS, GMEM_FLAGS, ERRNOS, SHAREABILITIES, ATTR_STATES, CONVERT_MODES, IOMMU_MODES,
  FAULTS, FOLIO_ORDERS, PAUSE_POINTS, EVENT_KINDS, type StepOp,
} from "./types";
import { SPECS, OPS, ALL_PAUSE_POINTS, threadForbids } from "./parse/specs";
import { COUNTER_NAMES } from "./parse/counters";
import { MAX_INJECT_COUNT } from "./parse/steps";

type Schema = Record<string, unknown>;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const ref = (name: string): Schema => ({ $ref: `#/definitions/${name}` });
const oneOfValues = (values: readonly (string | number)[], description?: string): Schema =>
  ({ enum: [...values], ...(description ? { description } : {}) });

/** What each op does (shown by editors). */
const OP_DOCS: Record<StepOp, string> = {
  "gmem.create": "KVM_CREATE_GUEST_MEMFD: a guest_memfd named by id",
  "gmem.close": "close the guest_memfd's file",
  "vm.create": "a VM named by id",
  "vm.destroy": "destroy the VM",
  "vm.bind": "KVM_SET_USER_MEMORY_REGION2 with a guest_memfd: memslot `slot` maps gpa..gpa+size to gmem at offset",
  "vm.unbind": "delete the memslot",
  "guest.access": "a guest access of gpa through the private or shared table (faulting it in); reads the page, then stores `write`",
  "host.mmap": "mmap the guest_memfd in the host (needs the mmap flag)",
  "host.munmap": "munmap the host mapping",
  "host.access": "a host access through the mmap (faulting it in); reads the page, then stores `write`",
  "host.pin": "a long-term GUP pin of the host mapping (as VFIO type1 takes)",
  "host.unpin": "drop the pin",
  convert: "convert a range to shared or private (v2 KVM_GMEM_CONVERT_*, v4 KVM_SET_MEMORY_ATTRIBUTES2 with mode)",
  punch: "fallocate(PUNCH_HOLE | KEEP_SIZE)",
  "iommu.create": "an IOMMU domain: pin mode (today's VFIO/iommufd) or gmem mode (bound to a guest_memfd, invalidation callback)",
  "iommu.bind": "bind the gmem-mode IOMMU to the guest_memfd",
  "iommu.unbind": "unbind the IOMMU from its guest_memfd",
  "iommu.map": "map iova..iova+size to the guest_memfd's range, in the secure (T=1) or non-secure (T=0) table",
  "iommu.unmap": "unmap whole mapped areas of iova..iova+size",
  dma: "a device access of iova through the secure or non-secure table; reads the page, then stores `write`",
  inject: "arm a fault for the next `count` matching internal steps",
  resume: "continue the operation paused under `id` (to its end, or to another pause point with `pause`)",
  "check.attr": "the range's shareability is shared, private or mixed",
  "check.folio": "the folio at offset: its order (or absent) and optionally its reference counts",
  "check.spte": "the VM's private or shared table has (or has not) an entry for gpa, optionally at a level",
  "check.iopte": "the IOMMU's secure or non-secure table has (or has not) an entry for iova, optionally at a level",
  "check.events": "the previous non-check step emitted `sequence` in this order (a subsequence) and none of `absent`",
  "check.stats": "counters (event kinds, <kind>.count, iommu.invalidate.<reason>) since the scenario began have these values",
  "check.invariants": "every invariant I1..I20 holds now",
};

/** Fields an op may leave out (every other field of SPECS is required). */
const OPTIONAL: ReadonlySet<string> = new Set(["flags", "write", "value", "level", "pause", "as", "count", "refcount",
  "pincount", "mapcount", "uptodate", "sequence", "absent"]);
const optional = (op: StepOp, f: string) => OPTIONAL.has(f) || (op === "convert" && f === "mode");

/** The schema of field `f` of `op`. */
function field(op: StepOp, f: string): Schema {
  switch (f) {
    case "id": case "vm": case "gmem": case "iommu": case "as": return ref("name");
    case "size": case "offset": case "gpa": case "iova": return ref("size");
    case "write": case "value": return ref("content");
    case "private": case "secure": case "present": case "uptodate": return { type: "boolean" };
    case "slot": return { type: "integer", minimum: 0, maximum: 0xffffffff };
    case "count": return { type: "integer", minimum: 1, maximum: MAX_INJECT_COUNT, default: 1 };
    case "refcount": case "pincount": case "mapcount": return { type: "integer", minimum: 0, maximum: MAX_SAFE };
    case "level": return oneOfValues(LEVELS, "mapping level");
    case "to": case "table": return oneOfValues(SHAREABILITIES);
    case "is": return oneOfValues(ATTR_STATES);
    case "order": return oneOfValues(FOLIO_ORDERS, "folio order: 0 (4K), 9 (2M), 18 (1G), or absent");
    case "mode": return op === "convert" ? oneOfValues(CONVERT_MODES, "v4 content mode") : oneOfValues(IOMMU_MODES);
    case "fault": return oneOfValues(FAULTS);
    case "flags": return { type: "array", items: oneOfValues(GMEM_FLAGS), uniqueItems: false };
    case "pause": return oneOfValues(op === "resume" ? ALL_PAUSE_POINTS : (PAUSE_POINTS as Record<string, readonly string[]>)[op] ?? []);
    case "sequence": return { type: "array", items: ref("eventMatch") };
    case "absent": return { type: "array", items: ref("eventKind") };
    default: throw new Error(`scenario schema: no schema for field ${f} of ${op}`);
  }
}

/** `expect` of an action op: one result (0, an errno name, one of its result strings) or a non-empty list of them. */
function expectOf(op: StepOp): Schema {
  const one = { enum: [0, "0", ...ERRNOS, ...(SPECS[op].results ?? [])] };
  return { anyOf: [one, { type: "array", minItems: 1, items: one }] };
}

const NOTE_FIELDS: Schema = { comment: { description: "ignored: a note for readers" }, note: { description: "ignored: a note for readers" } };

function opSchema(op: StepOp): Schema {
  const spec = SPECS[op];
  const properties: Schema = { op: { const: op }, ...NOTE_FIELDS };
  for (const f of spec.fields) properties[f] = field(op, f);
  const out: Schema = { description: OP_DOCS[op], properties, additionalProperties: false,
    required: ["op", ...spec.fields.filter((f) => !optional(op, f))] };
  if (spec.check) {
    properties.expect = { enum: [0, "0"], description: "a check's only result: it holds" };
    if (op === "check.stats") {
      for (const c of COUNTER_NAMES) properties[c] = { type: "integer", minimum: 0, maximum: MAX_SAFE };
    }
    if (op === "check.events") {
      out.anyOf = [{ required: ["sequence"], properties: { sequence: { minItems: 1 } } },
        { required: ["absent"], properties: { absent: { minItems: 1 } } }];
    }
    return out;
  }
  properties.expect = expectOf(op);
  if (spec.errorOffset) {
    properties.errorOffset = ref("size");
    out.if = { required: ["errorOffset"] };
    out.then = { required: ["expect"], properties: { expect: { anyOf: [{ enum: [...ERRNOS] },
      { type: "array", contains: { enum: [...ERRNOS] } }] } } };
  }
  if (spec.fields.includes("pause") && op !== "resume") out.dependencies = { pause: ["as"], as: ["pause"] };
  return out;
}

/** The whole schema. */
export function scenarioSchema(): Schema {
  const forbidden = OPS.filter(threadForbids);
  const noMode = { if: { properties: { op: { const: "convert" } }, required: ["op"] }, then: { not: { required: ["mode"] } } };
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "gmemsim scenario (format 1)",
    description: "A scenario file of gmemsim: steps that drive the guest_memfd / KVM / IOMMU model, each with what it must produce.",
    type: "object",
    required: ["format", "steps"],
    properties: {
      $schema: { type: "string", description: "the schema an editor checks this file with" },
      format: { const: 1 },
      name: { type: "string" },
      description: { type: "string" },
      ...NOTE_FIELDS,
      config: {
        type: "object", additionalProperties: false,
        properties: {
          arch: oneOfValues(ARCHES, "the machine: sw (default), tdx, snp"),
          protocol: oneOfValues(PROTOCOLS, "v2 (KVM_GMEM_CONVERT_*, default) or v4 (KVM_SET_MEMORY_ATTRIBUTES2)"),
          invariants: { type: "boolean", description: "check every invariant after every step" },
          disable: { type: "array", items: oneOfValues(SAFEGUARDS), description: "protocol safeguards to switch off" },
          ...NOTE_FIELDS,
        },
      },
      steps: { type: "array", items: ref("step") },
      threads: {
        type: "object", minProperties: 2, maxProperties: 4, propertyNames: { minLength: 1 },
        additionalProperties: { type: "array", minItems: 1, items: ref("threadStep") },
        description: "2 to 4 named lists of steps that run concurrently (gmemsim run: one after another)",
      },
      finally: { type: "array", items: ref("step"), description: "steps run after every thread" },
    },
    additionalProperties: false,
    allOf: [
      { if: { not: { required: ["threads"] } }, then: { properties: { steps: { minItems: 1 } } } },
      { // mode is for v4 only
        if: { not: { required: ["config"], properties: { config: { required: ["protocol"], properties: { protocol: { const: "v4" } } } } } },
        then: { properties: { steps: { items: noMode }, finally: { items: noMode }, threads: { additionalProperties: { items: noMode } } } },
      },
    ],
    definitions: {
      name: { type: "string", minLength: 1 },
      size: {
        description: "bytes: a number, \"0x...\", or a number with a binary unit (\"4K\", \"2M\", \"1.5G\", \"1T\")",
        anyOf: [{ type: "integer", minimum: 0, maximum: MAX_SAFE },
          { type: "string", maxLength: 256, pattern: "^(0[xX][0-9a-fA-F]+|[0-9]+(\\.[0-9]+)?[KMGT]?)$" }],
      },
      content: { description: "a page's content value (at most 2^53)", $ref: "#/definitions/size" },
      eventKind: oneOfValues([...EVENT_KINDS].sort()),
      eventMatch: {
        anyOf: [ref("eventKind"), {
          type: "object", required: ["kind"], properties: { kind: ref("eventKind"), ...NOTE_FIELDS },
          additionalProperties: { type: ["string", "number", "boolean"] },
        }],
      },
      step: {
        type: "object", required: ["op"],
        properties: { op: oneOfValues(OPS) },
        allOf: OPS.map((op) => ({ if: { properties: { op: { const: op } }, required: ["op"] }, then: opSchema(op) })),
      },
      threadStep: {
        description: "a step of a thread: every op but check.*, inject and resume; no pause or as",
        allOf: [ref("step"), { properties: { op: { not: { enum: forbidden } } }, not: { anyOf: [{ required: ["pause"] }, { required: ["as"] }] } }],
      },
    },
  };
}
