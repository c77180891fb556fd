// An error inside a step that is not a failed expectation (the model trapped, the machine died under the run) fails
// that step with a clear message, and the run still ends with a report: runScenario resolves, never rejects with a
// bare engine error halfway.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, runScenario, layout as L } from "../bindings/index";

test("run errors: a step whose call traps fails with the errno and the reason; the report still comes", async () => {
  const sim = createSimulatorSync();
  const scn = { format: 1, steps: [
    { op: "gmem.create", id: "g", size: "4M", flags: ["mmap", "init-private"] },
    { op: "convert", gmem: "g", offset: 0, size: "4K", to: "shared" },
    { op: "convert", gmem: "g", offset: 0, size: "4K", to: "private" },
  ] };
  const rep = await runScenario(scn, { simulator: sim, onStep: (s) => {
    if (s.op !== "gmem.create") return;
    // a wild bitmap and folio-block pointer in the new inode (GI_BITMAP, GI_BLOCKS): the conversion's loads trap
    const obj = sim.objects().find((o) => o.kind === "gmem")!;
    const gi = sim.u32[(L.OBJ_TABLE + obj.index * L.OBJ_SLOT_SIZE + L.OS_PTR) >> 2];
    sim.u32[(gi + 16) >> 2] = 0xfffffff0;
    sim.u32[(gi + 20) >> 2] = 0xfffffff0;
  } });
  assert.is(rep.ok, false);
  assert.is(rep.steps.length, 2, "the run stopped at the failed step");
  const f = rep.failure!;
  assert.is(f.op, "convert");
  assert.is(f.index, 1);
  assert.is(f.expected, "the step to run");
  assert.match(f.got!, /^ENOTRECOVERABLE: the model trapped in gmem_convert/);
  assert.match(f.message!, /^convert: ENOTRECOVERABLE/);
  assert.equal(sim.failure?.code, "ENOTRECOVERABLE");
});

test.run();
