// Explorer defects an adversarial review found, each pinned through the public API (gmemsim's exports): a false
// I19 after an unchecked replay, a pin-mode unmap's footprint missing its folio pins, a preemption bound pruning
// with sleep sets, the no-thread and exact-budget cases reported as sampled, shards that did not split the budget,
// setup's paused ops lost to `finally`, a stale step name, lax validation, and an access without `expect`.
import { test } from "uvu";
import * as assert from "uvu/assert";
import files from "gmemsim-test-scenarios";
import { exploreSync, runScenario, parseScenario, type ExploreOptions, type ScheduleStep } from "../bindings/index";

const example = (name: string): string => files[`examples/${name}.json`];
const doc = (name: string, steps: unknown[], threads: Record<string, unknown[]>, fin?: unknown[]): string =>
  JSON.stringify({ format: 1, name, config: { arch: "sw", protocol: "v2" }, steps, threads, ...(fin ? { finally: fin } : {}) });
const gmem = (id: string, init = "init-shared") => ({ op: "gmem.create", id, size: "2M", flags: ["mmap", init] });
const codeOf = (f: () => unknown): string | undefined => {
  try { f(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
};

test("explore: a conversion whose lock step was replayed unchecked is not reported as breaking I19", () => {
  // setup ends with a no-op conversion (its record says "was a no-op"); every later conversion is a real one
  const text = doc("i19 after replay", [
    gmem("g"), gmem("h"), { op: "vm.create", id: "vm" },
    { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "2M", gmem: "g", offset: 0 },
    { op: "convert", gmem: "g", offset: 0, size: "4K", to: "shared" },
  ], {
    a: [{ op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "private" }],
    b: [{ op: "convert", gmem: "h", offset: "0x2000", size: "4K", to: "private" }],
  });
  const rep = exploreSync(text, { reduction: "none" });
  assert.ok(rep.ok, rep.failure?.violation.message);
  assert.is(rep.mode, "exhaustive");
  assert.is(rep.schedules, 252, "every interleaving of 5 + 5 steps");
});

test("explore: a pin-mode unmap conflicts with a to-private refcount check (the reduction keeps both orders)", () => {
  const text = doc("pin-mode unmap vs to-private", [
    gmem("g"), { op: "host.mmap", gmem: "g" }, { op: "iommu.create", id: "io", mode: "pin" },
    { op: "iommu.map", iommu: "io", iova: 0, gmem: "g", offset: 0, size: "4K", secure: false },
  ], {
    vfio: [{ op: "iommu.unmap", iommu: "io", iova: 0, size: "4K", secure: false }],
    conv: [{ op: "convert", gmem: "g", offset: 0, size: "4K", to: "private", expect: [0, "EAGAIN"] }],
  }, [{ op: "check.invariants" }]);
  for (const reduction of ["sleep-sets", "none"] as const) {
    const rep = exploreSync(text, { reduction });
    assert.ok(rep.ok, rep.failure?.violation.message);
    assert.equal(rep.results.find((r) => r.op === "convert")!.results, [0, "EAGAIN"], reduction);
  }
});

test("explore: a pin-mode unmap conflicts with a punch of the pinned page (both orders run)", () => {
  const text = doc("pin-mode unmap vs punch", [
    gmem("g"), { op: "host.mmap", gmem: "g" }, { op: "iommu.create", id: "io", mode: "pin" },
    { op: "iommu.map", iommu: "io", iova: 0, gmem: "g", offset: 0, size: "4K", secure: false },
  ], {
    vfio: [{ op: "iommu.unmap", iommu: "io", iova: 0, size: "4K", secure: false }],
    punch: [{ op: "punch", gmem: "g", offset: 0, size: "4K" }],
  }, [{ op: "check.invariants" }]);
  const firsts = new Set<string>();
  const rep = exploreSync(text, { onSchedule: (e) => firsts.add(e.schedule[0].thread) });
  assert.ok(rep.ok, rep.failure?.violation.message);
  assert.equal([...firsts].sort(), ["punch", "vfio"], "the unpin before the truncation and after it");
});

test("explore: a preemption bound turns the sleep sets off, so no bounded schedule is lost", () => {
  // b pins, a unpins, b unpins: a[1] = 0 and b[1] = EINVAL only when b[0] < a[1] < b[1], reached within one
  // preemption only as b[0] a[0] a[1] b[1], which the sleep set of a[0] (independent of b[0]) used to prune
  const text = doc("bound vs sleep sets", [gmem("g"), gmem("h"), { op: "host.mmap", gmem: "g" }, { op: "host.mmap", gmem: "h" }], {
    a: [{ op: "host.access", gmem: "h", offset: 0, expect: "ok" }, { op: "host.unpin", gmem: "g", offset: 0, size: "4K", expect: [0, "EINVAL"] }],
    b: [{ op: "host.pin", gmem: "g", offset: 0, size: "4K" }, { op: "host.unpin", gmem: "g", offset: 0, size: "4K", expect: [0, "EINVAL"] }],
  });
  const pairs = new Set<string>();
  const res = (s: ScheduleStep[], t: string) => s.find((x) => x.thread === t && x.opIndex === 1)!.result;
  const rep = exploreSync(text, { preemptionBound: 1, onSchedule: (e) => pairs.add(`${res(e.schedule, "a")}/${res(e.schedule, "b")}`) });
  assert.ok(rep.ok, rep.failure?.violation.message);
  assert.ok(pairs.has("0/EINVAL"), [...pairs].join(" "));
  assert.is(rep.reduction, "none");
  assert.is(rep.schedules, exploreSync(text, { preemptionBound: 1, reduction: "none" }).schedules);
});

test("explore: a scenario without threads is one complete schedule, exhaustive", () => {
  const rep = exploreSync(example("fault-race"));
  assert.ok(rep.ok, rep.failure?.violation.message);
  assert.is(rep.mode, "exhaustive");
  assert.is(rep.schedules, 1);
  assert.is(rep.pctSchedules, 0);
});

test("explore: a budget of exactly the schedule count is exhaustive; one less samples", () => {
  const s = example("race-dma-map-vs-to-private");
  const n = exploreSync(s).schedules;
  const exact = exploreSync(s, { maxSchedules: n });
  assert.is(exact.mode, "exhaustive");
  assert.is(exact.schedules, n);
  const less = exploreSync(s, { maxSchedules: n - 1 });
  assert.is(less.mode, "sampled");
  assert.is(less.schedules - less.pctSchedules, n - 1);
});

test("explore: sampled shards split the budget: N shards together run what one run does", () => {
  const s = example("race-three-threads-two-ops");
  const whole = exploreSync(s, { maxSchedules: 50, seed: 3 });
  assert.is(whole.mode, "sampled");
  const parts = [0, 1].map((index) => exploreSync(s, { maxSchedules: 50, seed: 3, shard: { index, of: 2 } }));
  for (const p of parts) { assert.is(p.mode, "sampled"); assert.is(p.schedules - p.pctSchedules, 25); assert.is(p.pctSchedules, 25); }
  assert.is(parts[0].schedules + parts[1].schedules, whole.schedules);
});

test("explore: ops setup left paused can be resumed in finally, in every schedule", () => {
  const text = doc("paused by setup", [
    gmem("g"), gmem("h"), { op: "convert", gmem: "h", offset: 0, size: "4K", to: "private", pause: "after-lock", as: "c" },
  ], {
    a: [{ op: "convert", gmem: "g", offset: 0, size: "4K", to: "private" }],
    b: [{ op: "host.mmap", gmem: "g" }],
  }, [{ op: "resume", id: "c", expect: 0 }, { op: "check.attr", gmem: "h", offset: 0, size: "4K", is: "private" }]);
  const rep = exploreSync(text);
  assert.ok(rep.ok, rep.failure?.violation.message);
  assert.ok(rep.schedules >= 2, `${rep.schedules}`);
});

test("explore: a deadlock's replay says it is not exact (gmemsim run does not wait)", () => {
  const text = doc("deadlock", [gmem("g"), { op: "convert", gmem: "g", offset: 0, size: "4K", to: "private", pause: "after-lock", as: "held" }], {
    a: [{ op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "private" }], b: [{ op: "host.mmap", gmem: "g" }],
  });
  const rep = exploreSync(text);
  assert.is(rep.failure?.violation.kind, "deadlock");
  assert.match(String(rep.failure!.replay.description), /not exact/);
});

test("explore: an op that fails before its first step is named by its own step, not the previous op's", () => {
  const text = doc("stale step name", [gmem("g"), gmem("h")], {
    a: [{ op: "convert", gmem: "g", offset: 0, size: "4K", to: "private" },
      { op: "convert", gmem: "g", offset: "4M", size: "4K", to: "private", expect: "EINVAL" }],
    b: [{ op: "host.mmap", gmem: "h" }],
  });
  const names = new Set<string>();
  const rep = exploreSync(text, { onSchedule: (e) => names.add(e.schedule.find((x) => x.thread === "a" && x.opIndex === 1)!.step) });
  assert.ok(rep.ok, rep.failure?.violation.message);
  assert.equal([...names], ["run"]);
});

test("explore: bad options and an unparsed object with empty lists are Errors with a code", () => {
  const s = example("race-pin-vs-to-private");
  const bad: ExploreOptions[] = [
    { preemptionBound: -1 }, { preemptionBound: 1.5 }, { preemptionBound: "2" as unknown as number },
    { reduction: "dpor" as unknown as "none" }, { seed: -1 }, { seed: 0.5 }, { seed: NaN }, { pctDepth: 0 },
  ];
  for (const o of bad) assert.is(codeOf(() => exploreSync(s, o)), "EINVAL", JSON.stringify(o));
  assert.is(codeOf(() => exploreSync(s, { seed: undefined, preemptionBound: undefined })), undefined, "undefined is the default");
  assert.is(codeOf(() => exploreSync({ steps: [], threads: { a: [], b: [] } })), "EMALFORMED");
  assert.is(codeOf(() => exploreSync({ steps: [] })), "EMALFORMED");
  assert.ok(exploreSync(parseScenario(s)).ok, "a parsed scenario is taken as it is");
});

test("scenario: an access without expect must succeed, and mapped / ok are success", () => {
  const steps = [
    gmem("g"), { op: "host.mmap", gmem: "g" }, { op: "vm.create", id: "vm" },
    { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "2M", gmem: "g", offset: 0 },
    { op: "host.access", gmem: "g", offset: 0, write: 5 },
    { op: "guest.access", vm: "vm", gpa: 0, private: false, value: 5 },
  ];
  return runScenario({ format: 1, name: "no expect", config: { arch: "sw" }, steps }).then((r) => {
    assert.ok(r.ok, JSON.stringify(r.failure));
    const rep = exploreSync(doc("no expect in threads", steps.slice(0, 4), {
      a: [{ op: "host.access", gmem: "g", offset: "0x1000" }], b: [{ op: "guest.access", vm: "vm", gpa: "0x2000", private: false }],
    }));
    assert.ok(rep.ok, rep.failure?.violation.message);
    const fails = exploreSync(doc("private fault without expect", steps.slice(0, 4), {
      a: [{ op: "guest.access", vm: "vm", gpa: "0x1000", private: true }], b: [{ op: "host.mmap", gmem: "g" }],
    }));
    assert.is(fails.failure?.violation.kind, "expect", "a memory-fault exit is not success");
  });
});

test.run();
