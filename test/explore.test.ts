// The interleaving explorer through its public API (explore / exploreSync): the contract's example, every safeguard's
// race example (holds with the safeguard, a counterexample without it, and the counterexample replays under `run`),
// the sleep-set reduction against the full interleaving space (same final states), shards, bounds, sampling.
import { test } from "uvu";
import * as assert from "uvu/assert";
import files from "gmemsim-test-scenarios";
import { exploreSync, explore, parseShard, type ExploreOptions, type ScheduleEnd } from "../bindings/explore/index";
import { parseScenario } from "../bindings/scenario/parse";
import { runScenario } from "../bindings/scenario/run";
import { Gmem } from "../bindings/objects/gmem";
import { Vm } from "../bindings/objects/vm";
import { Iommu } from "../bindings/objects/iommu";
import type { Scenario } from "../bindings/scenario/types";

const scn = (name: string): Scenario => parseScenario(files[`examples/${name}.json`]);
const withOff = (s: Scenario, ...off: string[]): Scenario => ({ ...s, config: { ...s.config, disable: off as Scenario["config"]["disable"] } });

/** What a schedule leaves behind that matters: results, attributes, folios, and every table's entries for pages 0-3. */
function fingerprint(e: ScheduleEnd): string {
  const out: unknown[] = [e.schedule.filter((s) => s.result !== undefined).map((s) => `${s.thread}${s.opIndex}=${s.result}`).sort()];
  for (const [id, h] of e.ids.gmem) {
    const g = new Gmem(e.simulator, h);
    out.push(id, g.runs(), [0, 1, 2, 3].map((i) => { const { pfn, ...f } = g.folio(i); void pfn; return f; }));
  }
  for (const [id, h] of e.ids.vm) {
    const v = new Vm(e.simulator, h);
    out.push(id, [0, 1, 2, 3].flatMap((i) => (["private", "shared"] as const).map((t) => v.spte(i * 4096, t)?.level ?? "-")));
  }
  for (const [id, h] of e.ids.iommu) {
    const io = new Iommu(e.simulator, h);
    out.push(id, [0, 1, 2, 3].flatMap((i) => [true, false].map((sec) => io.iopte(i * 4096, sec)?.level ?? "-")));
  }
  return JSON.stringify(out);
}

function finals(s: Scenario, opts: ExploreOptions = {}): { set: Set<string>; schedules: string[]; rep: ReturnType<typeof exploreSync> } {
  const set = new Set<string>(), schedules: string[] = [];
  const rep = exploreSync(s, { ...opts, onSchedule: (e) => {
    set.add(fingerprint(e));
    schedules.push(e.schedule.map((x) => `${x.thread}.${x.step}`).join(" "));
  } });
  return { set, schedules, rep };
}

test("explore: the contract's example holds exhaustively and reports every result the map can have", () => {
  const rep = exploreSync(scn("race-dma-map-vs-to-private"));
  assert.ok(rep.ok, rep.failure?.violation.message);
  assert.is(rep.mode, "exhaustive");
  assert.ok(rep.schedules >= 3);
  const map = rep.results.find((r) => r.op === "iommu.map")!;
  assert.equal(map.results, [0, "EACCES", "EAGAIN"]);
  assert.equal(rep.results.find((r) => r.op === "convert")!.results, [0]);
  assert.ok(rep.naive >= rep.schedules, "the naive count bounds what ran");
});

const SAFEGUARD_EXAMPLES: [string, string[], string][] = [
  ["race-fault-vs-to-shared", ["kvm-retry"], "I12"],
  ["race-dma-map-vs-to-private", ["iommu-block"], "I7"],
  ["race-dma-map-vs-to-private", ["iommu-seq"], "I7"],
  ["race-pin-vs-to-private", ["refcount-check"], "I9"],
  ["race-host-fault-vs-to-private", ["host-unmap", "refcount-check"], "I6"],
  ["race-secure-dma-vs-to-shared", ["iommu-callback"], "I9"],
];

for (const [name, off, inv] of SAFEGUARD_EXAMPLES) {
  test(`explore: ${name} holds with every safeguard, breaks ${inv} without ${off.join(" + ")}, and the replay fails the same way`, () => {
    const on = exploreSync(scn(name));
    assert.ok(on.ok, on.failure?.violation.message);
    assert.is(on.mode, "exhaustive");
    const rep = exploreSync(withOff(scn(name), ...off));
    assert.not.ok(rep.ok);
    const f = rep.failure!;
    assert.is(f.violation.kind, "invariant");
    assert.ok(f.violation.invariants!.includes(inv), `${f.violation.invariants} should include ${inv}`);
    assert.ok(f.schedule.length >= 2);
    const replay = runScenario(parseScenario(JSON.stringify(f.replay)));
    assert.not.ok(replay.ok, "the replay must fail");
    assert.ok(replay.failure!.invariants?.includes(inv), `replay broke ${replay.failure!.invariants} (${replay.failure!.got})`);
    assert.is(replay.failure!.index, replay.steps.length - 1, "at its last step: the schedule's failing step");
  });
}

test("explore: a result outside expect is a counterexample too (host-unmap alone: EAGAIN from the reference check)", () => {
  const rep = exploreSync(withOff(scn("race-host-fault-vs-to-private"), "host-unmap"));
  assert.not.ok(rep.ok);
  assert.is(rep.failure!.violation.kind, "expect");
  assert.is(rep.failure!.violation.got, "EAGAIN with errorOffset 0x0");
  const replay = runScenario(parseScenario(JSON.stringify(rep.failure!.replay)));
  assert.not.ok(replay.ok);
  assert.match(replay.failure!.got ?? "", /EAGAIN/);
});

test("explore: three threads on TDX and on SNP hold exhaustively", () => {
  for (const arch of ["tdx", "snp"]) {
    const rep = exploreSync(scn(`race-three-threads-${arch}`));
    assert.ok(rep.ok, `${arch}: ${rep.failure?.violation.message}`);
    assert.is(rep.mode, "exhaustive");
    assert.ok(rep.schedules > 50, `${arch}: ${rep.schedules}`);
  }
});

test("explore: the sleep-set reduction reaches exactly the final states of every interleaving", () => {
  for (const name of ["race-three-threads-tdx", "race-three-threads-snp", "race-fault-vs-to-shared", "race-secure-dma-vs-to-shared"]) {
    const full = finals(scn(name), { reduction: "none" });
    const reduced = finals(scn(name));
    assert.ok(full.rep.ok && reduced.rep.ok);
    assert.ok(reduced.rep.schedules <= full.rep.schedules);
    assert.equal([...reduced.set].sort(), [...full.set].sort(), name);
  }
});

test("explore: shards are disjoint and together run exactly the unsharded schedules", () => {
  const s = scn("race-three-threads-tdx");
  const whole = finals(s).schedules;
  for (const n of [2, 3, 5]) {
    const parts = [...Array(n).keys()].map((i) => finals(s, { shard: `${i + 1}/${n}` }));
    const all = parts.flatMap((p) => p.schedules);
    assert.is(all.length, whole.length, `${n} shards`);
    assert.equal([...all].sort(), [...whole].sort(), `${n} shards`);
    for (const p of parts) assert.is(p.rep.shard!.of, n);
  }
});

test("explore: a preemption bound of 0 runs each thread to completion once it is scheduled", () => {
  const rep = finals(scn("race-three-threads-tdx"), { preemptionBound: 0 });
  assert.ok(rep.rep.ok);
  assert.is(rep.rep.mode, "exhaustive");
  assert.ok(rep.rep.schedules <= 6 * 2, `${rep.rep.schedules}`); // 3! thread orders (an op may block and hand over)
  const full = finals(scn("race-three-threads-tdx"), { preemptionBound: 1 });
  assert.ok(full.rep.schedules > rep.rep.schedules);
});

test("explore: beyond --max-schedules it samples with PCT, deterministically per seed", () => {
  const s = scn("race-three-threads-tdx");
  const a = finals(s, { maxSchedules: 10, seed: 7 });
  const b = finals(s, { maxSchedules: 10, seed: 7 });
  assert.is(a.rep.mode, "sampled");
  assert.is(a.rep.schedules, 20, "10 depth-first, then 10 PCT samples");
  assert.is(a.rep.pctSchedules, 10);
  assert.equal(a.schedules, b.schedules, "same seed, same sample");
  const c = finals(s, { maxSchedules: 10, seed: 8 });
  assert.not.equal(a.schedules.slice(10), c.schedules.slice(10), "another seed, another sample");
});

test("explore: a thread that can never run is a deadlock, reported as a failure", () => {
  const text = JSON.stringify({ format: 1, name: "deadlock", config: { arch: "sw" }, steps: [
    { op: "gmem.create", id: "g", size: "2M", flags: ["mmap", "init-shared"] },
    { op: "convert", gmem: "g", offset: 0, size: "4K", to: "private", pause: "after-lock", as: "held" },
  ], threads: {
    a: [{ op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "private" }],
    b: [{ op: "host.mmap", gmem: "g" }],
  } });
  const rep = exploreSync(text);
  assert.not.ok(rep.ok);
  assert.is(rep.failure!.violation.kind, "deadlock");
  assert.match(rep.failure!.violation.message, /a\[0\] convert/);
});

test("explore: bad options and malformed files are Errors with a code", () => {
  for (const bad of ["0/2", "3/2", "x", "1/0", "-1/2"]) {
    try { parseShard(bad); assert.unreachable(bad); } catch (e) { assert.is((e as { code: string }).code, "EINVAL", bad); }
  }
  assert.equal(parseShard("2/4"), { index: 1, of: 4 });
  try { exploreSync(scn("race-fault-vs-to-shared"), { maxSchedules: 0 }); assert.unreachable(); }
  catch (e) { assert.is((e as { code: string }).code, "EINVAL"); }
  try { exploreSync("{\"format\": 1, \"steps\": [], \"threads\": {\"a\": []}}"); assert.unreachable(); }
  catch (e) { assert.is((e as { code: string }).code, "EMALFORMED"); }
});

const big = (): Scenario => parseScenario(files["examples/race-three-threads-two-ops.json"]);

test("explore: the async form gives the same report and lets the event loop run in between", async () => {
  let ticks = 0, progress = 0;
  const timer = setInterval(() => ticks++, 1);
  const rep = await explore(big(), { maxSchedules: 1500, onProgress: () => progress++ });
  clearInterval(timer);
  const sync = exploreSync(big(), { maxSchedules: 1500 });
  assert.is(rep.schedules, sync.schedules);
  assert.equal(rep.results, sync.results);
  assert.ok(progress > 0 && ticks > 0, `the loop ran ${ticks} timers and ${progress} progress calls while exploring`);
});

test("explore: the reduction prunes a larger space and still reaches every final state", () => {
  const full = finals(big(), { reduction: "none" });
  const reduced = finals(big());
  assert.ok(full.rep.ok && reduced.rep.ok, full.rep.failure?.violation.message ?? reduced.rep.failure?.violation.message);
  assert.ok(reduced.rep.schedules * 1.3 < full.rep.schedules, `${reduced.rep.schedules} vs ${full.rep.schedules}`);
  assert.ok(reduced.rep.sleepBlocked > 0);
  assert.equal([...reduced.set].sort(), [...full.set].sort());
});

test.run();
