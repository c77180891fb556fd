// Snapshot and restore: the whole model state (one memory image plus a small header) is saved to bytes and rebuilt
// in a fresh simulator; a sequence continued after restore matches one that never stopped.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, restoreSimulator, type Simulator } from "../bindings/index";
import { rng } from "./harness/rng";

/** Build a busy state: a hugetlb gmem, a VM, a gmem IOMMU, conversions, host and DMA mappings. */
function build(sim: Simulator) {
  const g = sim.createGmem(8 * 2 ** 20, ["mmap", "init-private", "hugetlb-2M"], "v2", { name: "g" });
  const vm = sim.createVm({ name: "vm" });
  vm.bind(0, 0, 8 * 2 ** 20, g, 0);
  const io = sim.createIommu("gmem", { name: "io" });
  io.bind(g);
  vm.access(0x1000, { private: true, write: 11 });
  io.map(0, g, 0, 2 * 2 ** 20, true);
  g.convert(0x3000, 0x2000, "shared");
  g.mmap();
  g.hostAccess(0x3000, { write: 22 });
  return { g: g.handle, vm: vm.handle, io: io.handle };
}

/** The same pseudo-random continuation on any simulator; returns what it observed. */
function continueOn(sim: Simulator, h: { g: number; vm: number; io: number }, seed: number): unknown[] {
  const g = sim.openGmem(h.g), vm = sim.openVm(h.vm);
  const r = rng(seed);
  const log: unknown[] = [];
  for (let i = 0; i < 300; i++) {
    const page = r.int(2048);
    const op = r.int(4);
    try {
      if (op === 0) { g.convert(page * 4096, 4096, r.int(2) ? "shared" : "private"); log.push("c"); }
      else if (op === 1) log.push(vm.access(page * 4096, { private: r.int(2) === 1, write: r.int(100) }));
      else if (op === 2) log.push(g.hostAccess(page * 4096));
      else log.push(vm.spte(page * 4096, "private"));
    } catch (e) { log.push((e as { code: string }).code); }
  }
  log.push(g.runs(), g.populated, vm.leaves("private"), vm.leaves("shared"), sim.counters());
  log.push(sim.events.read().events.map((e) => ({ ...e, seq: 0 })).slice(-50));
  return log;
}

test("snapshot: restore continues exactly like the original", () => {
  const a = createSimulatorSync(undefined, { arch: "tdx", checks: true });
  const h = build(a);
  a.events.read();
  const bytes = a.snapshot();
  assert.ok(bytes.length > 0x500000 && bytes.length < 64 * 2 ** 20, `snapshot is the used memory (${bytes.length} B)`);
  const b = restoreSimulator(bytes);
  b.events.read();
  assert.is(b.arch, "tdx");
  assert.is(b.checks, true);
  b.checkInvariants();
  assert.is(b.nameOf("gmem", h.g & 4095), "g");
  const la = continueOn(a, h, 7);
  const lb = continueOn(b, h, 7);
  assert.equal(lb, la);
  b.checkInvariants();
});

test("snapshot: bad bytes are refused with EINVAL", () => {
  const a = createSimulatorSync();
  const bytes = a.snapshot();
  for (const bad of [new Uint8Array(10), bytes.slice(0, bytes.length - 1), (() => { const x = bytes.slice(); x[0] = 0; return x; })()]) {
    try { restoreSimulator(bad); assert.unreachable(); } catch (e) { assert.is((e as { code: string }).code, "EINVAL"); }
  }
});

test.run();
