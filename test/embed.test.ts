// The embedding contract's runner (../shared/docs/EMBEDDING.md): `runScenario(scenario, { onStep, simulator })`
// from the package, in Node and in a page. It resolves to what `gmemsim run --format json` prints, rejects a
// malformed scenario with code EMALFORMED naming step and field, awaits an onStep that returns a promise, runs on
// a caller's simulator without taking its events or settings, and lets the event loop run during a long run.
import { test } from "uvu";
import * as assert from "uvu/assert";
import files from "gmemsim-test-scenarios";
import { runScenario, createSimulator, createSimulatorSync, type RunReport } from "../bindings/index";
import { parseScenario } from "../bindings/scenario/parse";
import { runScenario as runSync } from "../bindings/scenario/run";
import { runCli, runtime, tempFile } from "gmemsim-test-env";

const SEED = "examples/seed-to-shared-tdx.json";
const json = (name: string): unknown => JSON.parse(files[name]);
/** A report as JSON carries it (what the CLI prints). */
const asJson = (r: RunReport): unknown => JSON.parse(JSON.stringify(r));

test(`embed: runScenario resolves to the sync runner's report for every scenario file (${runtime})`, async () => {
  for (const name of Object.keys(files)) {
    const rep = await runScenario(json(name));
    assert.ok(rep.ok, `${name}: ${rep.failure?.message ?? ""}`);
    assert.equal(asJson(rep), asJson(runSync(parseScenario(files[name]))), name);
  }
});

test("embed: the report is what `gmemsim run --format json` prints (Node)", async () => {
  for (const name of [SEED, "examples/v4-zero.json", "examples/fault-race.json"]) {
    const cli = runCli(["run", name, "--format", "json"]);
    if (cli === null) return; // a page runs no command: the previous test holds the runner to the same report
    assert.is(cli.code, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout), asJson(await runScenario(json(name))), name);
    assert.equal(asJson(await runScenario(files[name])), JSON.parse(cli.stdout), `${name} as text`);
  }
  const failing = JSON.stringify({ format: 1, steps: [
    { op: "gmem.create", id: "g", size: "2M", flags: ["mmap"] },
    { op: "check.attr", gmem: "g", offset: 0, size: "4K", is: "private" }] });
  const p = tempFile("failing.json", failing);
  const cli = runCli(["run", p!, "--format", "json"])!;
  assert.is(cli.code, 1);
  const rep = await runScenario(JSON.parse(failing));
  assert.is(rep.ok, false);
  assert.equal(JSON.parse(cli.stdout), asJson(rep));
  assert.equal([rep.failure?.index, rep.failure?.expected], [1, "private"]);
});

test("embed: a malformed scenario rejects with EMALFORMED naming step and field, and nothing runs", async () => {
  const sim = createSimulatorSync();
  const bad = { format: 1, steps: [{ op: "gmem.create", id: "g", size: "2M" }, { op: "convert", gmem: "g", offset: 0, size: "4K", to: "sideways" }] };
  let seen: unknown = null;
  try { await runScenario(bad, { simulator: sim }); } catch (e) { seen = e; }
  const e = seen as { code: string; message: string; step: number; field: string };
  assert.ok(e instanceof Error, "an Error");
  assert.is(e.code, "EMALFORMED");
  assert.equal([e.step, e.field], [1, "to"]);
  assert.match(e.message, /^step 1 \(convert\): field "to"/);
  assert.equal(sim.objects(), [], "nothing ran: step 0 created nothing");
  for (const x of [null, 42, "not json", { format: 2, steps: [] }, { format: 1 }]) {
    let code = "";
    try { await runScenario(x); } catch (err) { code = (err as { code: string }).code; }
    assert.is(code, "EMALFORMED", JSON.stringify(x));
  }
  let code = "";
  try { await runScenario(json(SEED), { onStep: 3 as unknown as () => void }); } catch (err) { code = (err as { code: string }).code; }
  assert.is(code, "EINVAL", "a bad option is EINVAL");
});

test("embed: onStep sees every step in order with its events; a returned promise is awaited", async () => {
  const sim = await createSimulator({ arch: "tdx" });
  const seen: { index: number; op: string; events: number; changes: number }[] = [];
  let pending = 0;
  const rep = await runScenario(json(SEED), {
    simulator: sim,
    onStep: async (step, result, events) => {
      assert.is(pending, 0, "the next step waits for the previous onStep");
      assert.is(result.op, step.op);
      assert.equal(events, result.events);
      pending++;
      const changes = sim.changeCount;
      await new Promise((r) => setTimeout(r, 1));
      assert.is(sim.changeCount, changes, "nothing ran while onStep awaited");
      pending--;
      seen.push({ index: step.index, op: step.op, events: events.length, changes });
    },
  });
  assert.ok(rep.ok);
  assert.equal(seen.map((s) => s.op), rep.steps.map((s) => s.op));
  assert.equal(seen.map((s) => s.events), rep.steps.map((s) => s.events.length));
  assert.ok(seen.find((s) => s.op === "convert")!.events >= 5);
});

test("embed: on a caller's simulator: its objects stay, its events and settings are its own", async () => {
  const sim = createSimulatorSync({ checks: false });
  sim.setSafeguardsOff(["kvm-retry"]);
  sim.createBitmap(64);
  sim.events.read();
  const before = sim.events.head();
  const rep = await runScenario({ format: 1, name: "on mine", config: { invariants: true, protocol: "v4" }, steps: [
    { op: "gmem.create", id: "g", size: "2M", flags: ["mmap"] },
    { op: "convert", gmem: "g", offset: 0, size: "4K", to: "shared", mode: "zero" }] }, { simulator: sim });
  assert.ok(rep.ok, rep.failure?.message);
  assert.ok(sim.objects().some((o) => o.kind === "gmem" && o.name === "g" && o.protocol === "v4"), "the run's gmem is in my simulator");
  assert.is(sim.events.head() > before, true);
  assert.ok(sim.events.read().events.some((e) => e.kind === "gmem.set_attr"), "my reader still sees the run's events");
  assert.equal([sim.checks, sim.protocol, sim.core.sim_safeguards_off()], [false, "v2", 1], "my settings are back");
  // an arch differing from a simulator that holds objects is refused; an empty one takes the scenario's
  let code = "";
  try { await runScenario(json(SEED), { simulator: sim }); } catch (e) { code = (e as { code: string }).code; }
  assert.is(code, "EINVAL");
  const empty = createSimulatorSync();
  assert.ok((await runScenario(json(SEED), { simulator: empty })).ok);
  assert.is(empty.arch, "tdx");
});

test("embed: a long run lets the event loop in between steps", async () => {
  const steps: unknown[] = [{ op: "gmem.create", id: "g", size: "64M", flags: ["mmap", "init-private", "hugetlb-2M"] },
    { op: "vm.create", id: "vm" }, { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "64M", gmem: "g", offset: 0 }];
  for (let i = 0; i < 3000; i++) {
    const off = `0x${((i * 37) % 16384 * 4096).toString(16)}`;
    steps.push({ op: "guest.access", vm: "vm", gpa: off, private: true, expect: "mapped" });
    steps.push({ op: "convert", gmem: "g", offset: off, size: "4K", to: "shared" });
    steps.push({ op: "convert", gmem: "g", offset: off, size: "4K", to: "private" });
  }
  let timerFired = false;
  let firedAt = -1, n = 0;
  setTimeout(() => { timerFired = true; }, 0);
  const t0 = Date.now();
  const rep = await runScenario({ format: 1, steps }, { onStep: () => { n++; if (timerFired && firedAt < 0) firedAt = n; } });
  assert.ok(rep.ok, rep.failure?.message);
  assert.ok(Date.now() - t0 > 30 || firedAt > 0, "the run took long enough to need a turn");
  assert.ok(firedAt > 0 && firedAt < steps.length, `a timer ran during the run (at step ${firedAt} of ${steps.length})`);
});

test("embed: a scenario object built in code: keys set to undefined are absent, as in its JSON", async () => {
  const scn = { format: 1, name: undefined, config: { arch: "sw", disable: undefined }, steps: [
    { op: "gmem.create", id: "g", size: "2M", flags: ["mmap"], expect: undefined, comment: undefined },
    { op: "check.attr", gmem: "g", offset: 0, size: "4K", is: "shared" }] };
  const rep = await runScenario(scn);
  assert.ok(rep.ok, rep.failure?.message);
  assert.equal(asJson(rep), asJson(await runScenario(JSON.parse(JSON.stringify(scn)))));
  let err: { code?: string; message?: string } | undefined;
  try { await runScenario({ format: 1, steps: [{ op: "gmem.create", id: "g", size: undefined }] }); } catch (e) { err = e as typeof err; }
  assert.is(err?.code, "EMALFORMED");
  assert.match(err!.message!, /size/, "a required field set to undefined is missing");
  const proto = JSON.parse('{"format":1,"steps":[{"op":"vm.create","id":"v","__proto__":{"x":1}}]}');
  try { await runScenario(proto); err = undefined; } catch (e) { err = e as typeof err; }
  assert.is(err?.code, "EMALFORMED", "a __proto__ key is an unknown field, not a prototype");
});

test.run();
