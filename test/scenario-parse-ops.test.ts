// The scenario-file parser (SCENARIOS.md, format 1 + this project's extensions), well-formed files: every op
// parses and converts its sizes, expect normalizes, defaults apply, and parseSize.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseScenario, parseSize, type Step } from "../bindings/scenario/parse";

const K = 1024n, M = K * K, G = M * K, T = G * K;

/** The steps without `raw` (compared separately). */
function strip(steps: Step[]): unknown[] {
  return steps.map((s) => {
    const { raw: _raw, ...rest } = s;
    return { ...rest };
  });
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
      { op: "check.stats", "gmem.lock": 1 },
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
  assert.equal({ ...st.counters }, { "gmem.lock": 1 });
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

test.run();
