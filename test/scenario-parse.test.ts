// The scenario-file parser (SCENARIOS.md, format 1 + this project's extensions): every op parses and converts its
// sizes; every kind of malformed file is a ScenarioFormatError naming the exact step and field; ids are checked
// across steps.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseScenario, parseSize, ScenarioFormatError, type Step } from "../bindings/scenario/parse";

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

test.run();
