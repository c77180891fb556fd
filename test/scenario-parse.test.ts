// The scenario-file parser (SCENARIOS.md, format 1 + this project's extensions): every op parses and converts its
// sizes; every kind of malformed file is a ScenarioFormatError naming the exact section, thread, step and field; ids
// are checked across steps and threads; the concurrency additions (threads, finally, expect lists, config.disable)
// and the pause points.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  parseScenario, validateScenario, parseSize, ScenarioFormatError, PAUSE_POINTS, SAFEGUARDS, type Step,
} from "../bindings/scenario/parse";

const K = 1024n, M = K * K, G = M * K, T = G * K;

/** The steps without `raw` (compared separately). */
function strip(steps: Step[]): unknown[] {
  return steps.map((s) => {
    const { raw: _raw, ...rest } = s;
    return { ...rest };
  });
}

/** The error parseScenario throws for `doc` (an object is JSON.stringify'd; a string is the file text). */
function failure(doc: unknown): ScenarioFormatError {
  const text = typeof doc === "string" ? doc : JSON.stringify(doc);
  try {
    parseScenario(text);
  } catch (e) {
    if (e instanceof ScenarioFormatError) return e;
    throw new Error(`threw ${String(e)} instead of ScenarioFormatError`);
  }
  throw new Error(`parsed: ${text}`);
}

test("scenario: the seed example of SCENARIOS.md parses", () => {
  const s = parseScenario(`{ "format": 1, "name": "seed: private->shared with a gmem-bound IOMMU", "config": { "arch": "tdx" },
  "steps": [
    { "op": "gmem.create", "id": "g", "size": "4M", "flags": ["mmap", "init-private", "hugetlb-2M"] },
    { "op": "vm.create", "id": "vm" },
    { "op": "vm.bind", "vm": "vm", "slot": 0, "gpa": 0, "size": "4M", "gmem": "g", "offset": 0 },
    { "op": "iommu.create", "id": "io", "mode": "gmem" },
    { "op": "iommu.bind", "iommu": "io", "gmem": "g" },
    { "op": "guest.access", "vm": "vm", "gpa": "0x1000", "private": true, "expect": "mapped" },
    { "op": "iommu.map", "iommu": "io", "iova": 0, "gmem": "g", "offset": 0, "size": "2M", "secure": true },
    { "op": "convert", "gmem": "g", "offset": "0x1000", "size": "4K", "to": "shared" },
    { "op": "check.events", "sequence": [
        "gmem.lock", "kvm.invalidate_begin", { "kind": "kvm.zap", "table": "private" },
        { "kind": "iommu.invalidate", "reason": "to-shared", "secure": true },
        { "kind": "gmem.set_attr", "to": "shared" }, "folio.split", "kvm.invalidate_end", "gmem.unlock" ] },
    { "op": "check.folio", "gmem": "g", "offset": 0, "order": 0 },
    { "op": "iommu.map", "iommu": "io", "iova": "0x1000", "gmem": "g", "offset": "0x1000", "size": "4K", "secure": false },
    { "op": "check.invariants" }
  ] }`);
  assert.is(s.format, 1);
  assert.is(s.name, "seed: private->shared with a gmem-bound IOMMU");
  assert.equal(s.config, { arch: "tdx", protocol: "v2", invariants: false, disable: [] });
  assert.is(s.steps.length, 12);
  assert.equal(s.steps.map((x) => x.op), ["gmem.create", "vm.create", "vm.bind", "iommu.create", "iommu.bind",
    "guest.access", "iommu.map", "convert", "check.events", "check.folio", "iommu.map", "check.invariants"]);
  const ev = s.steps[8];
  assert.ok(ev.op === "check.events");
  assert.equal(ev.sequence.map((m) => m.kind), ["gmem.lock", "kvm.invalidate_begin", "kvm.zap", "iommu.invalidate",
    "gmem.set_attr", "folio.split", "kvm.invalidate_end", "gmem.unlock"]);
  assert.equal({ ...ev.sequence[3].fields }, { reason: "to-shared", secure: true });
  assert.equal(ev.absent, []);
});

const ALL_OPS = {
  format: 1,
  name: "every op",
  description: "one of each, sizes in every form",
  comment: "comments are allowed anywhere",
  config: { arch: "snp", protocol: "v4", invariants: true, note: "here too" },
  steps: [
    /* 0 */ { op: "gmem.create", id: "g", size: "1G", flags: ["mmap", "init-shared", "hugetlb-2M"], comment: "c" },
    /* 1 */ { op: "vm.create", id: "vm" },
    /* 2 */ { op: "vm.bind", vm: "vm", slot: 3, gpa: "1T", size: "1G", gmem: "g", offset: 0 },
    /* 3 */ { op: "guest.access", vm: "vm", gpa: "0x1000", private: false, write: 7, value: "0x0", level: "4K", expect: "mapped" },
    /* 4 */ { op: "host.mmap", gmem: "g", expect: 0 },
    /* 5 */ { op: "host.access", gmem: "g", offset: "4K", write: "0x10", value: 7, expect: "ok" },
    /* 6 */ { op: "host.pin", gmem: "g", offset: 4096, size: "4096" },
    /* 7 */ { op: "host.unpin", gmem: "g", offset: "2M", size: "4K", expect: "0" },
    /* 8 */ { op: "convert", gmem: "g", offset: "2M", size: "2M", to: "private", mode: "zero", expect: "EAGAIN", errorOffset: "0x201000" },
    /* 9 */ { op: "convert", gmem: "g", offset: 0, size: "4K", to: "private", mode: "preserve", pause: "after-invalidate-begin", as: "c1" },
    /* 10 */ { op: "guest.access", vm: "vm", gpa: "1T", private: true, pause: "after-faultin", as: "f1", expect: "paused" },
    /* 11 */ { op: "resume", id: "c1", expect: "EBUSY", errorOffset: 0 },
    /* 12 */ { op: "resume", id: "f1", expect: "retry" },
    /* 13 */ { op: "punch", gmem: "g", offset: "0x1000", size: "0x1000", expect: "EINVAL", errorOffset: "4K" },
    /* 14 */ { op: "iommu.create", id: "io", mode: "pin" },
    /* 15 */ { op: "iommu.bind", iommu: "io", gmem: "g", expect: "EINVAL" },
    /* 16 */ { op: "iommu.map", iommu: "io", iova: "1G", gmem: "g", offset: "2M", size: "2M", secure: true },
    /* 17 */ { op: "dma", iommu: "io", iova: "0x40000000", secure: true, write: 1, value: 0, expect: "io-fault" },
    /* 18 */ { op: "iommu.unmap", iommu: "io", iova: "1G", size: "2M", secure: true, expect: "ENOENT" },
    /* 19 */ { op: "inject", fault: "enomem-split" },
    /* 20 */ { op: "inject", fault: "sept-remove-fail", count: 3 },
    /* 21 */ { op: "check.attr", gmem: "g", offset: 0, size: "1G", is: "mixed" },
    /* 22 */ { op: "check.folio", gmem: "g", offset: "2M", order: 9, refcount: 512, pincount: 0, mapcount: 1, uptodate: true },
    /* 23 */ { op: "check.folio", gmem: "g", offset: "4M", order: "absent" },
    /* 24 */ { op: "check.spte", vm: "vm", gpa: "0x1000", table: "shared", present: true, level: "2M" },
    /* 25 */ { op: "check.iopte", iommu: "io", iova: "1G", secure: true, present: false },
    /* 26 */ { op: "check.events", sequence: ["gmem.lock", { kind: "kvm.zap", table: "private", count: 1, comment: "x" }], absent: ["convert.rollback"] },
    /* 27 */ { op: "check.events", absent: ["folio.split"] },
    /* 28 */ { op: "check.stats", "folio.split": 2, "kvm.zap": 0, note: "not a counter" },
    /* 29 */ { op: "check.invariants" },
    /* 30 */ { op: "host.munmap", gmem: "g" },
    /* 31 */ { op: "vm.unbind", vm: "vm", slot: 3 },
    /* 32 */ { op: "vm.destroy", vm: "vm" },
    /* 33 */ { op: "gmem.close", gmem: "g", expect: "EBUSY" },
  ],
};

test("scenario: every op parses, sizes convert, expect normalizes", () => {
  const s = parseScenario(JSON.stringify(ALL_OPS));
  assert.is(s.name, "every op");
  assert.is(s.description, "one of each, sizes in every form");
  assert.equal(s.config, { arch: "snp", protocol: "v4", invariants: true, disable: [] });
  const ok = { kind: "ok" };
  const want: unknown[] = [
    { op: "gmem.create", index: 0, id: "g", size: G, flags: ["mmap", "init-shared", "hugetlb-2M"], expect: ok },
    { op: "vm.create", index: 1, id: "vm", expect: ok },
    { op: "vm.bind", index: 2, vm: "vm", slot: 3, gpa: T, size: G, gmem: "g", offset: 0n, expect: ok },
    { op: "guest.access", index: 3, vm: "vm", gpa: 0x1000n, private: false, write: 7, value: 0, level: "4K",
      expect: { kind: "result", value: "mapped" } },
    { op: "host.mmap", index: 4, gmem: "g", expect: ok },
    { op: "host.access", index: 5, gmem: "g", offset: 4n * K, write: 16, value: 7, expect: { kind: "result", value: "ok" } },
    { op: "host.pin", index: 6, gmem: "g", offset: 4096n, size: 4096n, expect: ok },
    { op: "host.unpin", index: 7, gmem: "g", offset: 2n * M, size: 4096n, expect: ok },
    { op: "convert", index: 8, gmem: "g", offset: 2n * M, size: 2n * M, to: "private", mode: "zero",
      expect: { kind: "errno", errno: "EAGAIN", errorOffset: 0x201000n } },
    { op: "convert", index: 9, gmem: "g", offset: 0n, size: 4096n, to: "private", mode: "preserve",
      pause: "after-invalidate-begin", as: "c1", expect: ok },
    { op: "guest.access", index: 10, vm: "vm", gpa: T, private: true, pause: "after-faultin", as: "f1",
      expect: { kind: "result", value: "paused" } },
    { op: "resume", index: 11, id: "c1", expect: { kind: "errno", errno: "EBUSY", errorOffset: 0n } },
    { op: "resume", index: 12, id: "f1", expect: { kind: "result", value: "retry" } },
    { op: "punch", index: 13, gmem: "g", offset: 4096n, size: 4096n, expect: { kind: "errno", errno: "EINVAL", errorOffset: 4096n } },
    { op: "iommu.create", index: 14, id: "io", mode: "pin", expect: ok },
    { op: "iommu.bind", index: 15, iommu: "io", gmem: "g", expect: { kind: "errno", errno: "EINVAL" } },
    { op: "iommu.map", index: 16, iommu: "io", iova: G, gmem: "g", offset: 2n * M, size: 2n * M, secure: true, expect: ok },
    { op: "dma", index: 17, iommu: "io", iova: G, secure: true, write: 1, value: 0, expect: { kind: "result", value: "io-fault" } },
    { op: "iommu.unmap", index: 18, iommu: "io", iova: G, size: 2n * M, secure: true, expect: { kind: "errno", errno: "ENOENT" } },
    { op: "inject", index: 19, fault: "enomem-split", count: 1, expect: ok },
    { op: "inject", index: 20, fault: "sept-remove-fail", count: 3, expect: ok },
    { op: "check.attr", index: 21, gmem: "g", offset: 0n, size: G, is: "mixed" },
    { op: "check.folio", index: 22, gmem: "g", offset: 2n * M, order: 9, refcount: 512, pincount: 0, mapcount: 1, uptodate: true },
    { op: "check.folio", index: 23, gmem: "g", offset: 4n * M, order: "absent" },
    { op: "check.spte", index: 24, vm: "vm", gpa: 0x1000n, table: "shared", present: true, level: "2M" },
    { op: "check.iopte", index: 25, iommu: "io", iova: G, secure: true, present: false },
    { op: "check.events", index: 26, sequence: [{ kind: "gmem.lock", fields: {} }, { kind: "kvm.zap", fields: { table: "private", count: 1 } }],
      absent: ["convert.rollback"] },
    { op: "check.events", index: 27, sequence: [], absent: ["folio.split"] },
    { op: "check.stats", index: 28, counters: { "folio.split": 2, "kvm.zap": 0 } },
    { op: "check.invariants", index: 29 },
    { op: "host.munmap", index: 30, gmem: "g", expect: ok },
    { op: "vm.unbind", index: 31, vm: "vm", slot: 3, expect: ok },
    { op: "vm.destroy", index: 32, vm: "vm", expect: ok },
    { op: "gmem.close", index: 33, gmem: "g", expect: { kind: "errno", errno: "EBUSY" } },
  ];
  // null-prototype maps compare by content
  const got = strip(s.steps).map((x) => JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))));
  const exp = want.map((x) => ({ ...(x as object), section: "steps" })).map((x) => JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))));
  assert.is(got.length, exp.length);
  for (let i = 0; i < exp.length; i++) assert.equal(got[i], exp[i], `step ${i}`);
  // sizes are real bigints, and raw is the step as written
  const bind = s.steps[2];
  assert.ok(bind.op === "vm.bind" && typeof bind.gpa === "bigint" && bind.gpa === 2n ** 40n);
  for (let i = 0; i < s.steps.length; i++) assert.equal(s.steps[i].raw, ALL_OPS.steps[i]);
  assert.ok(!Object.hasOwn(s.steps[3], "pause"), "absent optional fields stay absent");
});

test("scenario: defaults, comments, a BOM, and a failed create that does not define its id", () => {
  const s = parseScenario("\ufeff" + JSON.stringify({
    format: 1, note: "no name, no config",
    steps: [
      { op: "gmem.create", id: "g", size: 4096, flags: ["init-private"], expect: "EINVAL" },
      { op: "gmem.create", id: "g", size: 4096 },
      { op: "convert", gmem: "g", offset: 0, size: 4096, to: "private", pause: "after-execute", as: "p", expect: "ENOMEM" },
      { op: "convert", gmem: "g", offset: 0, size: 4096, to: "private", pause: "after-should-proceed", as: "p" },
      { op: "resume", id: "p" },
      { op: "check.stats", expect_total: 1 },
    ],
  }));
  assert.is(s.name, "");
  assert.is(s.description, undefined);
  assert.equal(s.config, { arch: "sw", protocol: "v2", invariants: false, disable: [] });
  const g = s.steps[1];
  assert.ok(g.op === "gmem.create");
  assert.equal(g.flags, []);
  const st = s.steps[5];
  assert.ok(st.op === "check.stats");
  assert.equal({ ...st.counters }, { expect_total: 1 });
});

test("scenario: parseSize", () => {
  const good: [unknown, bigint][] = [
    [0, 0n], [4096, 4096n], ["4096", 4096n], ["0x1000", 4096n], ["0X1F", 31n], ["4K", 4096n], ["2M", 2n * M],
    ["1G", G], ["1T", T], ["0K", 0n], ["1.5G", 3n * G / 2n], ["0.5K", 512n], ["1.0", 1n], ["007", 7n],
    [Number.MAX_SAFE_INTEGER, 2n ** 53n - 1n], ["0xffffffffffffffff", 2n ** 64n - 1n],
    ["18446744073709551615", 2n ** 64n - 1n], ["16777215T", 16777215n * T], [5n, 5n],
  ];
  for (const [x, v] of good) assert.is(parseSize(x), v, `${String(x)}`);
  const bad: unknown[] = [
    -1, -0, 1.5, 2 ** 53, 2 ** 64, Number.NaN, Infinity, "", " 4K", "4K ", "4k", "4KB", "4KiB", "1.5", "0.3K", "1.0001K",
    "12Q", "-4K", "0x", "0x1K", "1e3", "+4", "4_096", "0x10000000000000000", "18446744073709551616", "16777216T",
    true, null, undefined, [], {}, -1n, 2n ** 64n,
  ];
  for (const x of bad) assert.is(parseSize(x), null, `${String(x)}`);
});

// ---------------------------------------------------------------------------------------------------------------
// Malformed files. PRE defines g (gmem), vm and io at steps 0..2; most cases put the bad step at index 3.

const PRE = [
  { op: "gmem.create", id: "g", size: "4M", flags: ["mmap"] },
  { op: "vm.create", id: "vm" },
  { op: "iommu.create", id: "io", mode: "gmem" },
];
const file = (...steps: unknown[]) => ({ format: 1, name: "bad", steps: [...PRE, ...steps] });
const v4file = (...steps: unknown[]) => ({ ...file(...steps), config: { protocol: "v4" } });
const conv = (extra: Record<string, unknown> = {}) => ({ op: "convert", gmem: "g", offset: 0, size: "4K", to: "shared", ...extra });
const ga = (extra: Record<string, unknown> = {}) => ({ op: "guest.access", vm: "vm", gpa: 0, private: true, ...extra });

const BAD: [string, unknown, number | null, string][] = [
  // the file
  ["truncated JSON", '{"format": 1, "steps": [{"op": "vm.create", "id": "vm"}', null, "json"],
  ["empty text", "", null, "json"],
  ["trailing comma", '{"format": 1, "steps": [{"op": "vm.create", "id": "vm"},]}', null, "json"],
  ["top level is an array", [1], null, ""],
  ["format 2", { ...file(), format: 2 }, null, "format"],
  ["format missing", { name: "x", steps: PRE }, null, "format"],
  ["format as a string", { ...file(), format: "1" }, null, "format"],
  ["unknown top-level field", { ...file(), stepz: [] }, null, "stepz"],
  ["name not a string", { ...file(), name: 3 }, null, "name"],
  ["description not a string", { ...file(), description: ["a"] }, null, "description"],
  ["steps empty", { format: 1, steps: [] }, null, "steps"],
  ["steps missing", { format: 1 }, null, "steps"],
  ["steps not a list", { format: 1, steps: { op: "vm.create" } }, null, "steps"],
  ["config not an object", { ...file(), config: "tdx" }, null, "config"],
  ["config.arch unknown", { ...file(), config: { arch: "arm" } }, null, "config.arch"],
  ["config.protocol unknown", { ...file(), config: { protocol: "v3" } }, null, "config.protocol"],
  ["config.invariants not a boolean", { ...file(), config: { invariants: "yes" } }, null, "config.invariants"],
  ["config unknown field", { ...file(), config: { checks: true } }, null, "config.checks"],
  // one step on its own
  ["step not an object", file(5), 3, ""],
  ["op missing", file({ gmem: "g" }), 3, "op"],
  ["op not a string", file({ op: 7 }), 3, "op"],
  ["unknown op", file({ op: "covert", gmem: "g" }), 3, "op"],
  ["missing field", file(conv({ to: undefined })), 3, "to"],
  ["unknown step field", file({ op: "punch", gmem: "g", offset: 0, sise: "4K" }), 3, "sise"],
  ["unknown field on a check", file({ op: "check.invariants", vm: "vm" }), 3, "vm"],
  ["bad size string", file(conv({ size: "12Q" })), 3, "size"],
  ["lower-case unit", file(conv({ size: "4k" })), 3, "size"],
  ["size above 2^64-1 (hex)", file(conv({ size: "0x10000000000000000" })), 3, "size"],
  ["size above 2^64-1 (unit)", file(conv({ offset: "16777216T" })), 3, "offset"],
  ["negative number", file(conv({ offset: -4096 })), 3, "offset"],
  ["fraction number", file(conv({ size: 1.5 })), 3, "size"],
  ["fraction of a byte with unit", file(conv({ size: "0.3K" })), 3, "size"],
  ["JSON number past 2^53", '{"format":1,"steps":[{"op":"vm.create","id":"vm"},{"op":"guest.access","vm":"vm","gpa":18446744073709551615,"private":true}]}', 1, "gpa"],
  ["id not a string", file({ op: "vm.create", id: 7 }), 3, "id"],
  ["id empty", file({ op: "gmem.create", id: "", size: "4K" }), 3, "id"],
  ["boolean as a string", file(ga({ private: "yes" })), 3, "private"],
  ["unknown flag", file({ op: "gmem.create", id: "h", size: "4K", flags: ["mmap", "hugetlb-4M"] }), 3, "flags"],
  ["flags not a list", file({ op: "gmem.create", id: "h", size: "4K", flags: "mmap" }), 3, "flags"],
  ["bad level", file(ga({ level: "3M" })), 3, "level"],
  ["bad check.spte level", file({ op: "check.spte", vm: "vm", gpa: 0, table: "private", present: true, level: 2 }), 3, "level"],
  ["bad enum (to)", file(conv({ to: "secret" })), 3, "to"],
  ["bad iommu mode", file({ op: "iommu.create", id: "io2", mode: "none" }), 3, "mode"],
  ["slot negative", file({ op: "vm.unbind", vm: "vm", slot: -1 }), 3, "slot"],
  ["slot as a string", file({ op: "vm.unbind", vm: "vm", slot: "0" }), 3, "slot"],
  ["write is a boolean", file(ga({ write: true })), 3, "write"],
  ["write above 2^53", file({ op: "host.access", gmem: "g", offset: 0, write: "0x20000000000001" }), 3, "write"],
  ["value negative", file({ op: "dma", iommu: "io", iova: 0, secure: true, value: -1 }), 3, "value"],
  ["result of another op", file(conv({ expect: "mapped" })), 3, "expect"],
  ["guest result on host.access", file({ op: "host.access", gmem: "g", offset: 0, expect: "memory-fault" }), 3, "expect"],
  ["dma result misspelt", file({ op: "dma", iommu: "io", iova: 0, secure: false, expect: "iofault" }), 3, "expect"],
  ["\"ok\" on convert", file(conv({ expect: "ok" })), 3, "expect"],
  ["unknown errno", file(conv({ expect: "EWHATEVER" })), 3, "expect"],
  ["errno as a number", file(conv({ expect: -22 })), 3, "expect"],
  ["expect on a check", file({ op: "check.attr", gmem: "g", offset: 0, size: "4K", is: "shared", expect: "EINVAL" }), 3, "expect"],
  // (expect 0 on a check is allowed: "every step may carry expect", and a check's only result is that it holds)
  ["errorOffset on the wrong op", file({ op: "host.pin", gmem: "g", offset: 0, size: "4K", expect: "EINVAL", errorOffset: 0 }), 3, "errorOffset"],
  ["errorOffset without an errno", file(conv({ errorOffset: "4K" })), 3, "errorOffset"],
  ["errorOffset not a size", file({ op: "punch", gmem: "g", offset: 0, size: "4K", expect: "EAGAIN", errorOffset: "x" }), 3, "errorOffset"],
  ["mode on a v2 scenario", file(conv({ mode: "zero" })), 3, "mode"],
  ["bad convert mode", v4file(conv({ mode: "scramble" })), 3, "mode"],
  ["pause without as", file(conv({ pause: "after-execute" })), 3, "as"],
  ["as without pause", file(ga({ as: "x" })), 3, "as"],
  ["convert pause on guest.access", file(ga({ pause: "after-invalidate-begin", as: "x" })), 3, "pause"],
  ["pause on another op", file({ op: "host.pin", gmem: "g", offset: 0, size: "4K", pause: "after-execute", as: "x" }), 3, "pause"],
  ["inject count 0", file({ op: "inject", fault: "enomem-split", count: 0 }), 3, "count"],
  ["inject unknown fault", file({ op: "inject", fault: "enomem" }), 3, "fault"],
  ["check.folio bad order", file({ op: "check.folio", gmem: "g", offset: 0, order: 3 }), 3, "order"],
  ["check.folio negative refcount", file({ op: "check.folio", gmem: "g", offset: 0, order: 0, refcount: -1 }), 3, "refcount"],
  ["check.folio uptodate not a boolean", file({ op: "check.folio", gmem: "g", offset: 0, order: 0, uptodate: 1 }), 3, "uptodate"],
  ["check.events empty", file({ op: "check.events" }), 3, "sequence"],
  ["check.events empty lists", file({ op: "check.events", sequence: [], absent: [] }), 3, "sequence"],
  ["check.events sequence not a list", file({ op: "check.events", sequence: "gmem.lock" }), 3, "sequence"],
  ["check.events unknown kind", file({ op: "check.events", sequence: ["gmem.lock", "kvm.zapp"] }), 3, "sequence"],
  ["check.events matcher without kind", file({ op: "check.events", sequence: [{ table: "private" }] }), 3, "sequence"],
  ["check.events matcher field not scalar", file({ op: "check.events", sequence: [{ kind: "kvm.zap", start: [0] }] }), 3, "sequence"],
  ["check.events absent unknown kind", file({ op: "check.events", sequence: ["gmem.lock"], absent: ["nope"] }), 3, "absent"],
  ["check.stats non-integer", file({ op: "check.stats", "kvm.zap": 1.5 }), 3, "kvm.zap"],
  ["check.stats negative", file({ op: "check.stats", "folio.split": 0, "kvm.zap": -1 }), 3, "kvm.zap"],
  ["check.stats string value", file({ op: "check.stats", "kvm.zap": "2" }), 3, "kvm.zap"],
  // the steps together
  ["unknown gmem id", file({ op: "punch", gmem: "h", offset: 0, size: "4K" }), 3, "gmem"],
  ["unknown vm id", file({ op: "vm.bind", vm: "vm2", slot: 0, gpa: 0, size: "4M", gmem: "g", offset: 0 }), 3, "vm"],
  ["unknown gmem id in vm.bind", file({ op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "4M", gmem: "gg", offset: 0 }), 3, "gmem"],
  ["unknown iommu id", file({ op: "dma", iommu: "io2", iova: 0, secure: true }), 3, "iommu"],
  ["unknown id in a check", file({ op: "check.iopte", iommu: "iox", iova: 0, secure: true, present: false }), 3, "iommu"],
  ["id of another kind", file({ op: "iommu.bind", iommu: "g", gmem: "g" }), 3, "iommu"],
  ["used before created", file({ op: "host.mmap", gmem: "h" }, { op: "gmem.create", id: "h", size: "4K" }), 3, "gmem"],
  ["created only by a failing create", file({ op: "gmem.create", id: "h", size: "4K", expect: "EINVAL" }, { op: "host.mmap", gmem: "h" }), 4, "gmem"],
  ["duplicate gmem id", file({ op: "gmem.create", id: "g", size: "4K" }), 3, "id"],
  ["duplicate vm id", file({ op: "vm.create", id: "w" }, { op: "vm.create", id: "w" }), 4, "id"],
  ["resume of unknown id", file({ op: "resume", id: "nope" }), 3, "id"],
  ["resume before the pause", file({ op: "resume", id: "p" }, conv({ pause: "after-execute", as: "p" })), 3, "id"],
  ["resume of a pause that failed", file(conv({ pause: "after-execute", as: "p", expect: "EINVAL" }), { op: "resume", id: "p" }), 4, "id"],
  ["resume twice", file(conv({ pause: "after-execute", as: "p" }), { op: "resume", id: "p" }, { op: "resume", id: "p" }), 5, "id"],
  ["duplicate pause name", file(conv({ pause: "after-execute", as: "p" }), ga({ pause: "after-faultin", as: "p" })), 4, "as"],
  ["resumed convert expecting an access result", file(conv({ pause: "after-execute", as: "p" }), { op: "resume", id: "p", expect: "mapped" }), 4, "expect"],
  ["resumed access expecting a host result", file(ga({ pause: "after-faultin", as: "p" }), { op: "resume", id: "p", expect: "SIGBUS" }), 4, "expect"],
  ["errorOffset on a resumed access", file(ga({ pause: "after-faultin", as: "p" }), { op: "resume", id: "p", expect: "EFAULT", errorOffset: 0 }), 4, "errorOffset"],
  ["resume result unknown", file(conv({ pause: "after-execute", as: "p" }), { op: "resume", id: "p", expect: "done" }), 4, "expect"],
];

test(`scenario: ${BAD.length} malformed files each name the exact step and field`, () => {
  assert.ok(BAD.length >= 40);
  for (const [what, doc, step, field] of BAD) {
    const e = failure(doc);
    assert.instance(e, Error, what);
    assert.is(e.code, "EMALFORMED", what);
    assert.is(e.thread, null, what);
    if (step !== null) assert.is(e.section, "steps", what);
    assert.is(e.step, step, `${what}: step (${e.message})`);
    assert.is(e.field, field, `${what}: field (${e.message})`);
    const prefix = step === null ? "" : `step ${step}`;
    assert.ok(e.message.startsWith(prefix), `${what}: ${e.message}`);
    if (field !== "") assert.ok(e.message.includes(`field "${field}": `), `${what}: ${e.message}`);
  }
});

test("scenario: messages", () => {
  assert.is(failure(file(conv({ size: "12Q" }))).message,
    'step 3 (convert): field "size": "12Q" is not a size (a number, "0x..." or a number with K/M/G/T)');
  assert.match(failure(file(conv({ size: "0x10000000000000000" }))).message, /larger than 2\^64-1/);
  assert.match(failure(file({ op: "covert" })).message, /unknown op "covert" \(did you mean "convert"\?\)/);
  assert.match(failure(file({ op: "punch", gmem: "g", offset: 0, sise: "4K" })).message, /did you mean "size"/);
  assert.match(failure(file({ op: "host.mmap", gmem: "h" }, { op: "gmem.create", id: "h", size: "4K" })).message,
    /created only at step 4/);
  assert.match(failure(file({ op: "gmem.create", id: "g", size: "4K" })).message, /already defined at step 0/);
  const j = failure('{"format": 1,\n "steps": [');
  assert.is(j.step, null);
  assert.match(j.message, /^field "json": not valid JSON at line 2 column 12 \(position 25\)/);
  const json: [string, string][] = [
    ['{"format": 1, "steps": [{"op": "vm.create", "id": "vm"},]}', "line 1 column 57 (position 56): trailing comma before ']'"],
    ['{"format": 1 "steps": []}', "line 1 column 14 (position 13): expected ',' or '}' after a property value"],
    ["{format: 1}", "line 1 column 2 (position 1): expected a property name"],
    ['{"format": 01}', "line 1 column 13 (position 12): malformed number"],
    ['{"name": "a\tb"}', "line 1 column 12 (position 11): control character in a string"],
    ['{"format": 1}\n{}', "line 2 column 1 (position 14): unexpected text after the scenario"],
    ["{\n  \"steps\": [\n    'x'\n  ]\n}", "line 3 column 5 (position 19): unexpected \"'\" where a value belongs"],
  ];
  for (const [text, where] of json) {
    const e = failure(text);
    assert.is(e.field, "json", text);
    assert.ok(e.message.startsWith(`field "json": not valid JSON at ${where}`), e.message);
  }
  assert.match(failure('{"format":1,"steps":[{"op":"vm.create","id":"vm"},{"op":"guest.access","vm":"vm","gpa":18446744073709551615,"private":true}]}').message,
    /"gpa": 18446744073709552000 is not a size \(a JSON number above 2\^53-1 is not exact; write it as a string/);
  assert.match(failure(file({ op: "gmem.create", id: "h", size: "4K", flags: ["mmap", "hugetlb-4M"] })).message,
    /entry 1: "hugetlb-4M" is not a flag/);
});

// ---------------------------------------------------------------------------------------------------------------
// Concurrency (SCENARIOS.md "Concurrency: threads, safeguards and the explorer") and the pause points.

/** JSON-comparable: bigints as "Nn", null-prototype maps as plain objects, raw dropped. */
function plain(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (k, v) => (k === "raw" ? undefined : typeof v === "bigint" ? `${v}n` : v)));
}

const CONTRACT_EXAMPLE = `{ "format": 1, "name": "a DMA map racing a to-private conversion (TDX, gmem-bound IOMMU)",
  "config": { "arch": "tdx", "protocol": "v2", "disable": [] },
  "steps": [
    { "op": "gmem.create", "id": "g", "size": "2M", "flags": ["mmap", "init-shared"] },
    { "op": "vm.create", "id": "vm" },
    { "op": "vm.bind", "vm": "vm", "slot": 0, "gpa": 0, "size": "2M", "gmem": "g", "offset": 0 },
    { "op": "iommu.create", "id": "io", "mode": "gmem" },
    { "op": "iommu.bind", "iommu": "io", "gmem": "g" } ],
  "threads": {
    "conv": [ { "op": "convert", "gmem": "g", "offset": 0, "size": "4K", "to": "private" } ],
    "dma":  [ { "op": "iommu.map", "iommu": "io", "iova": 0, "gmem": "g", "offset": 0, "size": "4K",
                "secure": false, "expect": [0, "EAGAIN", "EACCES"] } ] },
  "finally": [ { "op": "check.invariants" } ] }`;

test("scenario: the concurrency example of SCENARIOS.md parses", () => {
  const s = parseScenario(CONTRACT_EXAMPLE);
  assert.is(s.name, "a DMA map racing a to-private conversion (TDX, gmem-bound IOMMU)");
  assert.equal(s.config, { arch: "tdx", protocol: "v2", invariants: false, disable: [] });
  assert.equal(s.steps.map((x) => [x.op, x.section, x.index, x.thread]),
    [["gmem.create", "steps", 0, undefined], ["vm.create", "steps", 1, undefined], ["vm.bind", "steps", 2, undefined],
      ["iommu.create", "steps", 3, undefined], ["iommu.bind", "steps", 4, undefined]]);
  assert.ok(!Object.hasOwn(s.steps[0], "thread"), "a step outside threads has no thread");
  assert.equal(plain(s.threads), [
    { name: "conv", steps: [{ op: "convert", index: 0, section: "threads", thread: "conv", gmem: "g", offset: "0n",
      size: "4096n", to: "private", expect: { kind: "ok" } }] },
    { name: "dma", steps: [{ op: "iommu.map", index: 0, section: "threads", thread: "dma", iommu: "io", iova: "0n",
      gmem: "g", offset: "0n", size: "4096n", secure: false,
      expect: { kind: "any", of: [{ kind: "ok" }, { kind: "errno", errno: "EAGAIN" }, { kind: "errno", errno: "EACCES" }] } }] },
  ]);
  assert.equal(plain(s.finally), [{ op: "check.invariants", index: 0, section: "finally" }]);
  assert.equal(s.threads![1].steps[0].raw, JSON.parse(CONTRACT_EXAMPLE).threads.dma[0]);
  // without threads/finally the fields stay absent
  const plainFile = parseScenario(JSON.stringify(file()));
  assert.ok(!Object.hasOwn(plainFile, "threads") && !Object.hasOwn(plainFile, "finally"));
});

// The concurrency files below: CPRE defines g, vm (bound) and io (gmem mode, bound) at steps 0..4.
const CPRE = [
  { op: "gmem.create", id: "g", size: "2M", flags: ["mmap", "init-shared"] },
  { op: "vm.create", id: "vm" },
  { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "2M", gmem: "g", offset: 0 },
  { op: "iommu.create", id: "io", mode: "gmem" },
  { op: "iommu.bind", iommu: "io", gmem: "g" },
];
const cv = (extra: Record<string, unknown> = {}) => ({ op: "convert", gmem: "g", offset: 0, size: "4K", to: "private", ...extra });
const mp = (extra: Record<string, unknown> = {}) =>
  ({ op: "iommu.map", iommu: "io", iova: 0, gmem: "g", offset: 0, size: "4K", secure: false, ...extra });
const conc = (threads: unknown, extra: Record<string, unknown> = {}) => ({ format: 1, name: "c", steps: CPRE, threads, ...extra });
const two = (conv: unknown[] = [cv()], dma: unknown[] = [mp()], extra: Record<string, unknown> = {}) => conc({ conv, dma }, extra);
const fin = (...steps: unknown[]) => two(undefined, undefined, { finally: steps });

test("scenario: threads with expect lists, finally with checks, disable lists", () => {
  const s = parseScenario(JSON.stringify({
    format: 1, name: "four threads",
    config: { arch: "sw", disable: ["kvm-retry", "iommu-block", "iommu-callback", "refcount-check", "host-unmap", "iommu-seq", "kvm-retry"] },
    steps: CPRE,
    threads: {
      conv: [cv({ expect: [0, "EAGAIN", "EBUSY"], errorOffset: "4K" }), { op: "gmem.create", id: "g2", size: "4K", flags: ["mmap"] },
        { op: "host.mmap", gmem: "g2" }],
      dma: [mp({ expect: [0, "EAGAIN", "EACCES"] }), { op: "dma", iommu: "io", iova: 0, secure: false, expect: ["ok", "io-fault"] }],
      guest: [{ op: "guest.access", vm: "vm", gpa: 0, private: true, expect: ["mapped", "memory-fault", "retry"] }],
      host: [{ op: "host.access", gmem: "g", offset: 0, expect: ["ok", "SIGBUS", "retry"] },
        { op: "punch", gmem: "g", offset: "4K", size: "4K", expect: ["0", "EAGAIN"] }],
    },
    finally: [
      { op: "check.attr", gmem: "g", offset: 0, size: "4K", is: "private", expect: 0 },
      { op: "check.folio", gmem: "g", offset: 0, order: 0 },
      { op: "check.events", sequence: ["gmem.lock"] },
      { op: "check.stats", "kvm.zap": 1 },
      { op: "check.spte", vm: "vm", gpa: 0, table: "private", present: false },
      { op: "check.iopte", iommu: "io", iova: 0, secure: false, present: false },
      { op: "check.attr", gmem: "g2", offset: 0, size: "4K", is: "shared", comment: "created by thread conv" },
      { op: "inject", fault: "enomem-split" },
      { op: "convert", gmem: "g2", offset: 0, size: "4K", to: "private", expect: ["EAGAIN", 0] },
      { op: "check.invariants" },
    ],
  }));
  assert.equal(s.config.disable, ["kvm-retry", "iommu-block", "iommu-callback", "refcount-check", "host-unmap", "iommu-seq"]);
  assert.equal(s.threads!.map((t) => [t.name, t.steps.length]), [["conv", 3], ["dma", 2], ["guest", 1], ["host", 2]]);
  assert.equal(plain(s.threads![0].steps[0].expect),
    { kind: "any", of: [{ kind: "ok" }, { kind: "errno", errno: "EAGAIN", errorOffset: "4096n" }, { kind: "errno", errno: "EBUSY", errorOffset: "4096n" }] });
  assert.equal(plain(s.threads![1].steps[1].expect), { kind: "any", of: [{ kind: "result", value: "ok" }, { kind: "result", value: "io-fault" }] });
  assert.equal(plain(s.threads![3].steps[0].expect),
    { kind: "any", of: [{ kind: "result", value: "ok" }, { kind: "result", value: "SIGBUS" }, { kind: "result", value: "retry" }] });
  assert.equal(plain(s.threads![3].steps[1].expect), { kind: "any", of: [{ kind: "ok" }, { kind: "errno", errno: "EAGAIN" }] });
  for (const t of s.threads!) for (const [i, st] of t.steps.entries()) assert.equal([st.section, st.thread, st.index], ["threads", t.name, i]);
  assert.equal(s.finally!.map((x) => [x.op, x.section, x.index]), [
    ["check.attr", "finally", 0], ["check.folio", "finally", 1], ["check.events", "finally", 2], ["check.stats", "finally", 3],
    ["check.spte", "finally", 4], ["check.iopte", "finally", 5], ["check.attr", "finally", 6], ["inject", "finally", 7],
    ["convert", "finally", 8], ["check.invariants", "finally", 9]]);
  // host.access may expect "retry" outside threads too
  const h = parseScenario(JSON.stringify(file({ op: "host.access", gmem: "g", offset: 0, expect: "retry" }))).steps[3];
  assert.equal(plain(h.op === "host.access" && h.expect), { kind: "result", value: "retry" });
});

test("scenario: threads may stand without steps; ids a thread creates are its own and finally's", () => {
  const s = parseScenario(JSON.stringify({
    format: 1, steps: [],
    threads: {
      a: [{ op: "gmem.create", id: "ga", size: "2M", flags: ["mmap"] }, { op: "host.mmap", gmem: "ga" }],
      b: [{ op: "vm.create", id: "vb" }, { op: "gmem.create", id: "gb", size: "2M", expect: [0, "ENOMEM"] },
        { op: "vm.bind", vm: "vb", slot: 0, gpa: 0, size: "2M", gmem: "gb", offset: 0 }],
    },
    finally: [{ op: "vm.bind", vm: "vb", slot: 1, gpa: "2M", size: "2M", gmem: "ga", offset: 0, expect: [0, "EINVAL"] },
      { op: "check.folio", gmem: "gb", offset: 0, order: "absent" }],
  }));
  assert.equal(s.steps, []);
  assert.equal(s.threads!.map((t) => t.name), ["a", "b"]);
  assert.is(s.finally!.length, 2);
  // an empty finally is a list of no steps
  assert.equal(parseScenario(JSON.stringify(two(undefined, undefined, { finally: [] }))).finally, []);
  // finally without threads runs after steps
  assert.is(parseScenario(JSON.stringify({ ...file(), finally: [{ op: "check.invariants" }] })).finally!.length, 1);
});

test("scenario: threads keep the order written, even with integer-like names", () => {
  const j = JSON.stringify;
  const text = `{"format": 1, "steps": ${j(CPRE)}, "threads": {"2": ${j([cv()])}, "1": ${j([mp()])}, "x": ${j([mp({ iova: "4K" })])}}}`;
  assert.equal(parseScenario(text).threads!.map((t) => t.name), ["2", "1", "x"]);
  // an object (no text) comes in JavaScript's key order
  assert.equal(validateScenario(JSON.parse(text)).threads!.map((t) => t.name), ["1", "2", "x"]);
});

test("scenario: expect lists in steps, pause points, resume with pause", () => {
  assert.equal(PAUSE_POINTS, {
    convert: ["after-lock", "after-invalidate-begin", "after-should-proceed", "after-execute"],
    punch: ["after-lock", "after-invalidate-begin", "after-should-proceed", "after-execute"],
    "guest.access": ["after-faultin", "after-install"],
    "iommu.map": ["after-get-pfn"],
  });
  assert.equal([...SAFEGUARDS], ["kvm-retry", "iommu-block", "iommu-callback", "refcount-check", "host-unmap", "iommu-seq"]);
  const s = parseScenario(JSON.stringify({
    format: 1, steps: [
      ...CPRE,
      /* 5 */ cv({ pause: "after-lock", as: "c" }),
      /* 6 */ { op: "resume", id: "c", pause: "after-should-proceed" },
      /* 7 */ { op: "resume", id: "c", pause: "after-execute", expect: [0, "EBUSY"] },
      /* 8 */ { op: "resume", id: "c", expect: [0, "EBUSY"], errorOffset: "4K" },
      /* 9 */ { op: "punch", gmem: "g", offset: 0, size: "4K", pause: "after-invalidate-begin", as: "p" },
      /* 10 */ mp({ pause: "after-get-pfn", as: "m", expect: [0, "EAGAIN"] }),
      /* 11 */ { op: "guest.access", vm: "vm", gpa: 0, private: true, pause: "after-install", as: "f", expect: "paused" },
      /* 12 */ { op: "resume", id: "f", pause: "after-faultin", expect: ["paused", "retry"] },
      /* 13 */ { op: "resume", id: "f", expect: ["mapped", "retry", "EFAULT"] },
      /* 14 */ { op: "resume", id: "m", expect: ["EAGAIN", "EACCES", 0] },
    ],
    threads: { t1: [cv({ offset: "4K" })], t2: [mp({ iova: "4K", offset: "4K" })] },
    finally: [{ op: "resume", id: "p", pause: "after-execute" }, { op: "resume", id: "p", expect: ["EBUSY"], errorOffset: 0 }],
  }));
  const st = plain(s.steps.slice(5)) as Record<string, unknown>[];
  assert.equal([st[0].pause, st[0].as, st[1].pause, st[4].pause, st[5].pause, st[6].pause, st[7].pause],
    ["after-lock", "c", "after-should-proceed", "after-invalidate-begin", "after-get-pfn", "after-install", "after-faultin"]);
  assert.ok(!("pause" in st[3]), "a resume without pause has none");
  assert.equal(st[3].expect, { kind: "any", of: [{ kind: "ok" }, { kind: "errno", errno: "EBUSY", errorOffset: "4096n" }] });
  assert.equal(st[8].expect, { kind: "any", of: [{ kind: "result", value: "mapped" }, { kind: "result", value: "retry" }, { kind: "errno", errno: "EFAULT" }] });
  assert.equal(plain(s.finally), [
    { op: "resume", index: 0, section: "finally", id: "p", pause: "after-execute", expect: { kind: "ok" } },
    { op: "resume", index: 1, section: "finally", id: "p", expect: { kind: "any", of: [{ kind: "errno", errno: "EBUSY", errorOffset: "0n" }] } },
  ]);
});

/** [what, file, section, thread, step, field] */
const BAD_CONC: [string, unknown, "steps" | "threads" | "finally" | null, string | null, number | null, string][] = [
  // the shape of threads
  ["5 threads", conc({ a: [cv()], b: [mp()], c: [mp()], d: [mp()], e: [mp()] }), "threads", null, null, "threads"],
  ["1 thread", conc({ conv: [cv()] }), "threads", null, null, "threads"],
  ["no thread", conc({}), "threads", null, null, "threads"],
  ["threads as a list", conc([[cv()], [mp()]]), "threads", null, null, "threads"],
  ["a thread's name empty", conc({ "": [cv()], dma: [mp()] }), "threads", null, null, "threads"],
  ["empty thread", two(undefined, []), "threads", "dma", null, "threads.dma"],
  ["a thread not a list", two(undefined, mp() as unknown as unknown[]), "threads", "dma", null, "threads.dma"],
  ["a thread's name twice", CONTRACT_EXAMPLE.replace('"dma":  [', '"conv": ['), "threads", "conv", null, "threads"],
  ["steps missing beside threads", { format: 1, threads: { a: [cv()], b: [mp()] } }, "steps", null, null, "steps"],
  ["steps not a list beside threads", { ...two(), steps: {} }, "steps", null, null, "steps"],
  ["steps empty without threads, with finally", { format: 1, steps: [], finally: [{ op: "check.invariants" }] }, "steps", null, null, "steps"],
  ["finally not a list", { ...two(), finally: { op: "check.invariants" } }, "finally", null, null, "finally"],
  // ops and fields a thread may not use
  ["check.attr in a thread", two([cv(), { op: "check.attr", gmem: "g", offset: 0, size: "4K", is: "private" }]), "threads", "conv", 1, "op"],
  ["check.folio in a thread", two(undefined, [{ op: "check.folio", gmem: "g", offset: 0, order: 0 }]), "threads", "dma", 0, "op"],
  ["check.spte in a thread", two(undefined, [{ op: "check.spte", vm: "vm", gpa: 0, table: "private", present: true }]), "threads", "dma", 0, "op"],
  ["check.iopte in a thread", two(undefined, [{ op: "check.iopte", iommu: "io", iova: 0, secure: false, present: true }]), "threads", "dma", 0, "op"],
  ["check.events in a thread", two(undefined, [{ op: "check.events", sequence: ["gmem.lock"] }]), "threads", "dma", 0, "op"],
  ["check.stats in a thread", two(undefined, [{ op: "check.stats", "kvm.zap": 0 }]), "threads", "dma", 0, "op"],
  ["check.invariants in a thread", two(undefined, [mp(), { op: "check.invariants" }]), "threads", "dma", 1, "op"],
  ["inject in a thread", two([{ op: "inject", fault: "enomem-split" }, cv()]), "threads", "conv", 0, "op"],
  ["resume in a thread", { ...two(undefined, [{ op: "resume", id: "c" }]), steps: [...CPRE, cv({ pause: "after-lock", as: "c" })] },
    "threads", "dma", 0, "op"],
  ["pause in a thread", two([cv({ pause: "after-lock", as: "c" })]), "threads", "conv", 0, "pause"],
  ["pause in a thread (guest.access)", two(undefined, [{ op: "guest.access", vm: "vm", gpa: 0, private: true, pause: "after-faultin" }]),
    "threads", "dma", 0, "pause"],
  ["as in a thread", two(undefined, [mp(), mp({ as: "m" })]), "threads", "dma", 1, "as"],
  ["unknown field in a thread", two([cv({ sise: "4K" })]), "threads", "conv", 0, "sise"],
  ["bad size in a thread", two(undefined, [mp({ size: "4Q" })]), "threads", "dma", 0, "size"],
  // expect lists
  ["empty expect list in a thread", two(undefined, [mp({ expect: [] })]), "threads", "dma", 0, "expect"],
  ["empty expect list in finally", fin({ op: "punch", gmem: "g", offset: 0, size: "4K", expect: [] }), "finally", null, 0, "expect"],
  ["empty expect list in steps", file(conv({ expect: [] })), "steps", null, 3, "expect"],
  ["unknown errno in an expect list", two([cv({ expect: [0, "EAGIAN"] })]), "threads", "conv", 0, "expect"],
  ["another op's result in an expect list", two(undefined, [mp({ expect: [0, "mapped"] })]), "threads", "dma", 0, "expect"],
  ["a number in an expect list", two([cv({ expect: [0, -11] })]), "threads", "conv", 0, "expect"],
  ["a nested list in expect", two([cv({ expect: [[0]] })]), "threads", "conv", 0, "expect"],
  ["an expect list on a check", fin({ op: "check.invariants", expect: [0] }), "finally", null, 0, "expect"],
  ["errorOffset with a list without errno", two([cv({ expect: [0], errorOffset: 0 })]), "threads", "conv", 0, "errorOffset"],
  ["errorOffset with a list on guest.access", two(undefined, [{ op: "guest.access", vm: "vm", gpa: 0, private: true, expect: ["mapped"], errorOffset: 0 }]),
    "threads", "dma", 0, "errorOffset"],
  ["errorOffset with a list on iommu.map", two(undefined, [mp({ expect: [0, "EAGAIN"], errorOffset: 0 })]), "threads", "dma", 0, "errorOffset"],
  // ids across threads
  ["a thread uses an id another thread creates", two([cv(), { op: "gmem.create", id: "g2", size: "2M" }], [mp({ gmem: "g2" })]),
    "threads", "dma", 0, "gmem"],
  ["a thread uses an id a later thread creates", two([{ op: "vm.bind", vm: "v2", slot: 1, gpa: 0, size: "4K", gmem: "g", offset: 0 }],
    [{ op: "vm.create", id: "v2" }]), "threads", "conv", 0, "vm"],
  ["a thread uses its own id before creating it", two([{ op: "host.mmap", gmem: "g2" }, { op: "gmem.create", id: "g2", size: "4K" }]),
    "threads", "conv", 0, "gmem"],
  ["steps use an id a thread creates", { ...two([{ op: "iommu.create", id: "io2", mode: "pin" }]), steps: [...CPRE, { op: "iommu.bind", iommu: "io2", gmem: "g" }] },
    "steps", null, 5, "iommu"],
  ["a thread creates an id steps created", two([cv(), { op: "vm.create", id: "vm" }]), "threads", "conv", 1, "id"],
  ["two threads create one id", two([{ op: "vm.create", id: "v2" }], [mp(), { op: "vm.create", id: "v2" }]), "threads", "dma", 1, "id"],
  ["finally creates an id a thread created", { ...two([{ op: "iommu.create", id: "io2", mode: "pin" }]), finally: [{ op: "iommu.create", id: "io2", mode: "gmem" }] },
    "finally", null, 0, "id"],
  ["finally uses an id only a failing create makes", { ...two([{ op: "gmem.create", id: "g2", size: "4K", expect: ["ENOMEM", "EINVAL"] }]),
    finally: [{ op: "host.mmap", gmem: "g2" }] }, "finally", null, 0, "gmem"],
  ["an unknown id in finally", fin({ op: "check.attr", gmem: "nope", offset: 0, size: "4K", is: "shared" }), "finally", null, 0, "gmem"],
  ["a bad step in finally", fin({ op: "check.invariants" }, { op: "check.attr", gmem: "g", offset: 0, size: "4Q", is: "shared" }),
    "finally", null, 1, "size"],
  // config.disable
  ["unknown safeguard", { ...file(), config: { disable: ["kvm-retry", "kvm-retyr"] } }, null, null, null, "config.disable"],
  ["safeguard not a string", { ...file(), config: { disable: [1] } }, null, null, null, "config.disable"],
  ["disable not a list", { ...two(), config: { disable: "kvm-retry" } }, null, null, null, "config.disable"],
  // pause points and resume
  ["convert pause point of another op", file(conv({ pause: "after-faultin", as: "p" })), "steps", null, 3, "pause"],
  ["punch pause point misspelt", file({ op: "punch", gmem: "g", offset: 0, size: "4K", pause: "after-locks", as: "p" }), "steps", null, 3, "pause"],
  ["iommu.map pause of a convert", file({ op: "iommu.map", iommu: "io", iova: 0, gmem: "g", offset: 0, size: "4K", secure: true,
    pause: "after-lock", as: "m" }), "steps", null, 3, "pause"],
  ["guest.access pause without as", file(ga({ pause: "after-install" })), "steps", null, 3, "as"],
  ["resume pause not a pause point", file(conv({ pause: "after-lock", as: "p" }), { op: "resume", id: "p", pause: "after-everything" }),
    "steps", null, 4, "pause"],
  ["resume pause of a guest.access on a convert", file(conv({ pause: "after-lock", as: "p" }), { op: "resume", id: "p", pause: "after-faultin" }),
    "steps", null, 4, "pause"],
  ["resume pause of a convert on a guest.access", file(ga({ pause: "after-faultin", as: "p" }), { op: "resume", id: "p", pause: "after-execute" }),
    "steps", null, 4, "pause"],
  ["resume pause of a convert on an iommu.map (in finally)", { ...two(), steps: [...CPRE, mp({ pause: "after-get-pfn", as: "m" })],
    finally: [{ op: "resume", id: "m", pause: "after-lock" }] }, "finally", null, 0, "pause"],
  ["resume after a resume without pause", file(conv({ pause: "after-lock", as: "p" }), { op: "resume", id: "p", pause: "after-execute" },
    { op: "resume", id: "p" }, { op: "resume", id: "p" }), "steps", null, 6, "id"],
  ["resume after a resume with pause that can only fail", file(conv({ pause: "after-lock", as: "p" }),
    { op: "resume", id: "p", pause: "after-execute", expect: ["EBUSY", "EAGAIN"] }, { op: "resume", id: "p" }), "steps", null, 5, "id"],
  ["resume of a pause that can only fail", file({ op: "punch", gmem: "g", offset: 0, size: "4K", pause: "after-lock", as: "p", expect: ["EINVAL"] },
    { op: "resume", id: "p" }), "steps", null, 4, "id"],
  ["resume of a punch expecting an access result", file({ op: "punch", gmem: "g", offset: 0, size: "4K", pause: "after-lock", as: "p" },
    { op: "resume", id: "p", expect: [0, "mapped"] }), "steps", null, 4, "expect"],
  ["errorOffset on a resumed iommu.map", file({ op: "iommu.map", iommu: "io", iova: 0, gmem: "g", offset: 0, size: "4K", secure: true,
    pause: "after-get-pfn", as: "m" }, { op: "resume", id: "m", expect: "EAGAIN", errorOffset: 0 }), "steps", null, 4, "errorOffset"],
  ["host.access expecting paused", file({ op: "host.access", gmem: "g", offset: 0, expect: "paused" }), "steps", null, 3, "expect"],
];

test(`scenario: ${BAD_CONC.length} malformed concurrency files each name the exact section, thread, step and field`, () => {
  for (const [what, doc, section, thread, step, field] of BAD_CONC) {
    const e = failure(doc);
    assert.instance(e, Error, what);
    assert.is(e.code, "EMALFORMED", what);
    assert.is(e.section, section, `${what}: section (${e.message})`);
    assert.is(e.thread, thread, `${what}: thread (${e.message})`);
    assert.is(e.step, step, `${what}: step (${e.message})`);
    assert.is(e.field, field, `${what}: field (${e.message})`);
    const place = step === null ? (thread === null ? "" : `thread "${thread}": `)
      : section === "threads" ? `thread "${thread}" step ${step} (` : section === "finally" ? `finally step ${step} (` : `step ${step} (`;
    assert.ok(e.message.startsWith(place + (step === null ? `field "${field}": ` : "")), `${what}: ${e.message}`);
    assert.ok(e.message.includes(`field "${field}": `), `${what}: ${e.message}`);
  }
});

test("scenario: concurrency messages", () => {
  const m = (doc: unknown) => failure(doc).message;
  assert.is(m(two([cv(), { op: "gmem.create", id: "g2", size: "2M" }], [mp({ gmem: "g2" })])),
    'thread "dma" step 0 (iommu.map): field "gmem": "g2" is created in thread "conv"');
  assert.is(m(two([cv({ size: "4Q" })])),
    'thread "conv" step 0 (convert): field "size": "4Q" is not a size (a number, "0x..." or a number with K/M/G/T)');
  assert.is(m(fin({ op: "check.invariants" }, { op: "check.attr", gmem: "g", offset: 0, size: "4Q", is: "shared" })),
    'finally step 1 (check.attr): field "size": "4Q" is not a size (a number, "0x..." or a number with K/M/G/T)');
  assert.is(m(conc({ a: [cv()], b: [mp()], c: [mp()], d: [mp()], e: [mp()] })), 'field "threads": 5 threads: a scenario has 2 to 4 threads');
  assert.is(m(conc({ conv: [cv()] })), 'field "threads": 1 thread: a scenario has 2 to 4 threads');
  assert.is(m(two(undefined, [])), 'thread "dma": field "threads.dma": empty: a thread has at least one step');
  assert.is(m({ ...file(), config: { disable: ["kvm-retyr"] } }),
    'field "config.disable": entry 0: "kvm-retyr" is not a safeguard ("kvm-retry", "iommu-block", "iommu-callback", '
    + '"refcount-check", "host-unmap", "iommu-seq") (did you mean "kvm-retry"?)');
  assert.match(m({ ...file(), config: { disable: ["iommu_callback"] } }), /did you mean "iommu-callback"\?/);
  assert.match(m(two([{ op: "check.attr", gmem: "g", offset: 0, size: "4K", is: "private" }])),
    /^thread "conv" step 0 \(check\.attr\): field "op": check\.attr is not allowed in a thread/);
  assert.match(m(two([cv({ pause: "after-lock", as: "c" })])), /^thread "conv" step 0 \(convert\): field "pause": pause is not allowed in a thread/);
  assert.match(m(two([cv(), { op: "vm.create", id: "v2" }], [{ op: "vm.create", id: "v2" }])),
    /field "id": vm "v2" is already defined at thread "conv" step 1$/);
  assert.match(m(two(undefined, [mp({ expect: [0, "EAGIAN"] })])), /field "expect": entry 1: "EAGIAN" is not an errno .*did you mean "EAGAIN"/);
  assert.is(m(file(conv({ pause: "after-lock", as: "p" }), { op: "resume", id: "p", pause: "after-faultin" })),
    'step 4 (resume): field "pause": "after-faultin" is not a pause point of convert ("p" is paused at step 3): '
    + '"after-lock", "after-invalidate-begin", "after-should-proceed", "after-execute"');
  assert.is(m(file(conv({ pause: "after-lock", as: "p" }), { op: "resume", id: "p" }, { op: "resume", id: "p" })),
    'step 5 (resume): field "id": "p" was already resumed at step 4 (a resume without pause runs it to its end)');
  assert.match(m(file(conv({ pause: "after-lock", as: "p" }), { op: "resume", id: "p", pause: "after-lockk" })), /did you mean "after-lock"/);
  assert.is(m(file(ga({ pause: "after-lock", as: "p" }))),
    'step 3 (guest.access): field "pause": "after-lock" is not a pause point of guest.access ("after-faultin", "after-install")');
  assert.match(m(file({ op: "iommu.map", iommu: "io", iova: 0, gmem: "g", offset: 0, size: "4K", secure: true, pause: "after-get-pfn", as: "m" },
    { op: "resume", id: "m", expect: "EAGAIN", errorOffset: 0 })), /\(step 3 is an iommu\.map\)$/);
  assert.is(m(CONTRACT_EXAMPLE.replace('"dma":  [', '"conv": [')),
    'thread "conv": field "threads": thread "conv" is written twice (each thread has its own name)');
  const j = JSON.stringify;
  // a name written twice is reported as such (JSON.parse would keep one thread and say "1 thread")...
  assert.is(m(`{"format": 1, "steps": [], "threads": {"a": ${j([{ op: "vm.create", id: "v" }])}, "a": ${j([{ op: "vm.create", id: "w" }])}}}`),
    'thread "a": field "threads": thread "a" is written twice (each thread has its own name)');
  // ...but only once the file's own fields are fine
  assert.is(failure(`{"format": 2, "steps": [], "threads": {"a": [], "a": []}}`).field, "format");
});

test.run();
