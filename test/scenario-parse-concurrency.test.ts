// The scenario-file parser, concurrency (SCENARIOS.md "Concurrency: threads, safeguards and the explorer"): threads,
// finally, expect lists, config.disable and the pause points; ids across threads; malformed concurrency files.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseScenario, validateScenario, PAUSE_POINTS, SAFEGUARDS } from "../bindings/scenario/parse";
import { failure, file, conv, ga } from "./scenario-parse/helpers";

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
export const BAD_CONC: [string, unknown, "steps" | "threads" | "finally" | null, string | null, number | null, string][] = [
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
