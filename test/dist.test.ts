// The published bundle (dist/index.js: the binding with both cores embedded, es2022) works as a user imports it,
// in Node and in a browser page: no top-level await, no Node-only code on the way.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { importDist, runtime } from "gmemsim-test-env";

test(`dist: the bundle runs the seed's to-shared flow (${runtime})`, async () => {
  const m = await importDist();
  assert.type(m.createSimulator, "function");
  assert.type(m.createSimulatorSync, "function");
  const sim = await m.createSimulator({ arch: "tdx", checks: true });
  const g = sim.createGmem(4 * 2 ** 20, ["mmap", "init-private", "hugetlb-2M"]);
  const vm = sim.createVm();
  vm.bind(0, 0, 4 * 2 ** 20, g, 0);
  const io = sim.createIommu("gmem");
  io.bind(g);
  assert.equal(vm.access(0x1000, { private: true }), { result: "mapped", level: "2M", value: 0 });
  io.map(0, g, 0, 2 * 2 ** 20, true);
  sim.events.read();
  g.convert(0x1000, 4096, "shared");
  const kinds = sim.events.read().events.map((e) => e.kind);
  const order = ["gmem.lock", "kvm.invalidate_begin", "kvm.zap", "iommu.invalidate", "gmem.set_attr", "folio.split",
    "kvm.invalidate_end", "gmem.unlock"];
  let i = 0;
  for (const k of kinds) if (k === order[i]) i++;
  assert.is(i, order.length, `the seed's order in ${kinds.join(", ")}`);
  try { g.convert(1, 4096, "private"); assert.unreachable(); } catch (e) {
    assert.instance(e, m.GmemError);
    assert.is((e as { code: string }).code, "EINVAL");
  }
});

test.run();
