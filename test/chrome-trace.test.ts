// toChromeTrace (bindings/trace/chrome.ts): every report of the repository's scenarios read back by a Trace Event
// reader (test/harness/trace-events.ts: required fields, slices that nest per track); one track per mechanism, the
// ops as slices, a conversion's phases nested in its slice in protocol order, every event an instant with its
// fields as args inside its step's time span; one track per scenario thread. The phases inferred from the order of
// events are checked against the phases a paused conversion reports itself (its op.step events).
import { test } from "uvu";
import * as assert from "uvu/assert";
import files from "gmemsim-test-scenarios";
import { runScenario, toChromeTrace, type RunReport } from "../bindings/index";
import { conversionPhases } from "../bindings/trace/phases";
import { parseTrace, type Slice, type ParsedTrace } from "./harness/trace-events";
import { runCli, tempFile, readText } from "gmemsim-test-env";

const json = (name: string): Record<string, unknown> => JSON.parse(files[name]);
async function traced(scn: unknown): Promise<{ rep: RunReport; tr: ParsedTrace }> {
  const rep = await runScenario(scn);
  return { rep, tr: parseTrace(JSON.stringify(toChromeTrace(rep))) };
}

test("chrome trace: every scenario's trace reads back; one instant per event, inside its step's slice", async () => {
  for (const name of Object.keys(files)) {
    const { rep, tr } = await traced(json(name));
    const slices = tr.tracks.flatMap((t) => t.slices).sort((a, b) => a.ts - b.ts);
    assert.is(slices.length, rep.steps.length, `${name}: one top-level slice per step`);
    const instants = tr.tracks.flatMap((t) => t.instants);
    assert.is(instants.length, rep.steps.reduce((n, s) => n + s.events.length, 0), `${name}: one instant per event`);
    rep.steps.forEach((s, k) => {
      const sl = slices[k];
      assert.is(sl.name, s.op);
      assert.equal([sl.args.index, sl.args.result, sl.args.ok], [s.index, s.result, s.ok]);
      const mine = instants.filter((i) => i.ts >= sl.ts && i.ts <= sl.ts + sl.dur).sort((a, b) => a.ts - b.ts);
      assert.equal(mine.map((i) => i.args.seq), s.events.map((e) => e.seq), `${name} step ${k}: its events, in order`);
      for (const e of s.events) {
        const { kind, ...fields } = e;
        const inst = mine.find((i) => i.args.seq === e.seq)!;
        assert.equal([inst.name, inst.args], [kind, fields]);
      }
    });
  }
});

test("chrome trace: the seed flow on TDX: a track per mechanism, the conversion's five phases nested in order", async () => {
  const { tr } = await traced(json("examples/seed-to-shared-tdx.json"));
  assert.match(tr.process, /^gmemsim: .*\(tdx, v2\)$/);
  for (const t of ["gmem g", "vm vm", "iommu io", "TDX module (S-EPT)", "scenario"]) assert.ok(tr.byName.has(t), t);
  const conv = tr.byName.get("gmem g")!.slices.find((s) => s.name === "convert")!;
  assert.equal(conv.children.map((c) => c.name), ["lock", "invalidate_begin", "should_proceed", "execute_work", "invalidate_end"]);
  const inPhase = (tn: string, ph: Slice) => tr.byName.get(tn)!.instants.filter((i) => i.ts > ph.ts && i.ts < ph.ts + ph.dur).map((i) => i.name);
  const [lock, begin, proceed, exec, end] = conv.children;
  assert.equal(inPhase("gmem g", lock), ["gmem.lock"]);
  assert.equal(inPhase("vm vm", begin), ["kvm.invalidate_begin", "kvm.range_add"]);
  assert.equal(inPhase("iommu io", proceed), ["iommu.invalidate", "iommu.iotlb_flush"], "the callback is in should_proceed");
  assert.ok(inPhase("TDX module (S-EPT)", proceed).includes("arch.sept_remove"));
  assert.equal(inPhase("gmem g", exec), ["gmem.set_attr", "folio.split"]);
  assert.equal(inPhase("gmem g", end), ["gmem.unlock"]);
  const iommuInst = tr.byName.get("iommu io")!.instants.find((i) => i.name === "iommu.invalidate")!;
  assert.equal([iommuInst.args.reason, iommuInst.args.secure, iommuInst.cat], ["to-shared", true, "should_proceed"]);
  const sorted = [...tr.tracks].sort((a, b) => (a.sortIndex ?? 0) - (b.sortIndex ?? 0)).map((t) => t.name);
  assert.equal(sorted, ["scenario", "gmem g", "vm vm", "iommu io", "TDX module (S-EPT)"]);
});

test("chrome trace: a failed step is marked, with what it expected and got", async () => {
  const { tr } = await traced({ format: 1, steps: [{ op: "gmem.create", id: "g", size: "2M", flags: ["mmap"] },
    { op: "convert", gmem: "g", offset: 1, size: "4K", to: "shared", expect: 0 }] });
  const bad = tr.byName.get("gmem g")!.slices[1];
  assert.equal([bad.name, bad.cname, bad.args.ok, bad.args.got, bad.args.offset], ["convert", "terrible", false, "EINVAL", 1]);
});

test("chrome trace: scenario threads get a track each for their ops", async () => {
  const { rep, tr } = await traced({ format: 1, config: { arch: "tdx" }, steps: [
    { op: "gmem.create", id: "g", size: "2M", flags: ["mmap", "init-shared"] }, { op: "vm.create", id: "vm" },
    { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "2M", gmem: "g", offset: 0 },
    { op: "iommu.create", id: "io", mode: "gmem" }, { op: "iommu.bind", iommu: "io", gmem: "g" }],
  threads: {
    conv: [{ op: "convert", gmem: "g", offset: 0, size: "4K", to: "private" }],
    dma: [{ op: "iommu.map", iommu: "io", iova: 0, gmem: "g", offset: 0, size: "4K", secure: false, expect: [0, "EAGAIN", "EACCES"] }] },
  finally: [{ op: "check.invariants" }] });
  assert.ok(rep.ok, rep.failure?.message);
  assert.equal(tr.byName.get("thread conv")!.slices.map((s) => [s.name, s.args.thread]), [["convert", "conv"]]);
  assert.equal(tr.byName.get("thread dma")!.slices.map((s) => s.name), ["iommu.map"]);
  assert.equal(tr.byName.get("thread conv")!.slices[0].children.map((c) => c.name)[0], "lock");
  assert.ok(tr.byName.get("iommu io")!.instants.some((i) => i.name === "iommu.invalidate_begin"), "events stay on their mechanism");
});

test("chrome trace: an explorer counterexample's paused ops and their resumes are on their thread's track", async () => {
  const { rep, tr } = await traced({ format: 1, config: { arch: "tdx" }, steps: [
    { op: "gmem.create", id: "g", size: "2M", flags: ["mmap", "init-private"] }, { op: "vm.create", id: "vm" },
    { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "2M", gmem: "g", offset: 0 },
    { op: "guest.access", vm: "vm", gpa: 0, private: true, pause: "after-faultin", as: "vcpu.0" },
    { op: "convert", gmem: "g", offset: 0, size: "4K", to: "shared", pause: "after-lock", as: "conv.0" },
    { op: "resume", id: "conv.0" }, { op: "resume", id: "vcpu.0", expect: ["retry", "mapped", "memory-fault"] }] });
  assert.ok(rep.ok, rep.failure?.message);
  assert.equal(tr.byName.get("thread vcpu")!.slices.map((s) => s.name), ["guest.access", "resume"]);
  assert.equal(tr.byName.get("thread conv")!.slices.map((s) => s.name), ["convert", "resume"]);
  assert.ok(tr.byName.get("vm vm")!.instants.some((i) => i.name === "guest.fault"), "events stay on their mechanism");
});

/**
 * Each convert / punch of a scenario file run again paused after every one of its steps (the op then reports each
 * step it ran in an op.step event): the phases inferred from the same events without op.step must agree.
 */
test("chrome trace: phases inferred from event order agree with what a paused conversion reports", async () => {
  let compared = 0;
  for (const name of Object.keys(files)) {
    const doc = json(name);
    if (doc.threads) continue;
    const steps = doc.steps as Record<string, unknown>[];
    const v4 = (doc.config as { protocol?: string } | undefined)?.protocol === "v4";
    for (let k = 0; k < steps.length; k++) {
      const st = steps[k];
      if ((st.op !== "convert" && st.op !== "punch") || st.pause !== undefined) continue;
      const points = st.op === "convert" && v4 ? ["after-lock", "after-should-proceed", "after-invalidate-begin", "after-execute"]
        : ["after-lock", "after-invalidate-begin", "after-should-proceed", "after-execute"];
      const { expect: _x, errorOffset: _o, ...call } = st;
      void _x; void _o;
      const chain = [{ ...call, pause: points[0], as: "__p" },
        ...points.slice(1).map((p) => ({ op: "resume", id: "__p", pause: p })), { op: "resume", id: "__p" }];
      const before = steps.slice(0, k).filter((s) => !String(s.op).startsWith("check.") && s.pause === undefined && s.op !== "resume");
      const { finally: _f, ...rest } = doc;
      void _f;
      const rep = await runScenario({ ...rest, steps: [...before, ...chain] });
      const events = rep.steps.slice(before.length).flatMap((s) => s.events);
      if (!events.some((e) => e.kind === "op.step")) continue; // the op ended before its first pause point
      const protocol = v4 ? "v4" : "v2";
      const truth = conversionPhases(events, protocol, String(st.op)).filter((_, i) => events[i].kind !== "op.step");
      const plain = events.filter((e) => e.kind !== "op.step");
      assert.equal(conversionPhases(plain, protocol, String(st.op)), truth, `${name} step ${k}: ${plain.map((e) => e.kind).join(" ")}`);
      compared++;
    }
  }
  assert.ok(compared >= 20, `${compared} conversions compared`);
});

test("chrome trace: `gmemsim run --chrome-trace` writes the same trace (Node)", async () => {
  const out = tempFile("trace.json");
  if (out === null) return; // a page runs no command
  const r = runCli(["run", "examples/seed-to-private-snp.json", "--chrome-trace", out]);
  assert.is(r!.code, 0, r!.stderr);
  const written = JSON.parse(await readText(out));
  const rep = await runScenario(json("examples/seed-to-private-snp.json"));
  assert.equal(written, JSON.parse(JSON.stringify(toChromeTrace(rep))));
  assert.ok(parseTrace(written).byName.has("SNP firmware (RMP)"));
  const bad = runCli(["run", "examples/seed-to-private-snp.json", "--chrome-trace"]);
  assert.is(bad!.code, 2, "--chrome-trace needs a file");
});

test.run();
