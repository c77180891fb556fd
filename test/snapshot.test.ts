// Snapshot and restore: the whole model state (one memory image plus a small header) is saved to bytes and rebuilt
// in a fresh simulator; a sequence continued after restore matches one that never stopped.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, restoreSimulator, type Simulator } from "../bindings/index";
import { rng } from "./harness/rng";
import { hash } from "../bindings/snapshot";
import * as L from "../assembly/abi/layout";

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

test("snapshot: a corrupted image with a recomputed checksum is refused by its structures, never used", () => {
  const sim = createSimulatorSync({ arch: "tdx" });
  const g = sim.createGmem(8 * 2 ** 20, ["mmap", "init-private", "hugetlb-2M"]);
  const vm = sim.createVm();
  vm.bind(0, 0, 8 * 2 ** 20, g, 0);
  vm.access(0, { private: true });
  g.convert(4096, 4096, "shared");
  sim.createBitmap(100).dispose(); // a free object slot
  sim.createBitmap(100000).dispose(); // a free buddy block (freed single pages go to the per-cpu list)
  const good = sim.snapshot();
  const dv = new DataView(good.buffer, good.byteOffset, good.byteLength);
  const nlen = (dv.getUint32(16, true) + 3) & ~3, base = 32 + nlen, used = dv.getUint32(12, true);
  const img = (a: number) => base + (a >= L.RINGS_END ? a - (L.RINGS_END - L.RING_BASE) : a); // (no rings in images)
  const heads = Array.from({ length: L.MAX_ORDER + 1 }, (_, o) => dv.getUint32(base + L.H_FREE_HEADS + 4 * o, true));
  const order = heads.findIndex((h) => h !== 0);
  assert.ok(order >= 0, "the heap has a free block");
  const block = heads[order];
  const live = (() => { for (let i = 1; i < L.OBJ_MAX; i++) if (dv.getUint8(base + L.OBJ_TABLE + i * 16) !== 0) return i; return -1; })();
  const cases: [string, (d: DataView) => void][] = [
    ["a free-list head past the heap top", (d) => d.setUint32(base + L.H_FREE_HEADS + 4 * order, used + L.PAGE_SIZE, true)],
    ["a free-list head inside the static region", (d) => d.setUint32(base + L.H_FREE_HEADS + 4 * order, L.OBJ_TABLE, true)],
    ["a free-list head not page-aligned", (d) => d.setUint32(base + L.H_FREE_HEADS + 4 * order, block + 8, true)],
    ["a free block pointing at itself (a cycle)", (d) => { d.setUint32(img(block), block, true); d.setUint32(img(block) + 4, 0, true); }],
    ["a free list through a live block", (d) => d.setUint8(img(L.PAGEMAP_BASE + (block / L.PAGE_SIZE) * 4), L.PAGEMAP_USED | order)],
    ["an object slot pointing outside the heap", (d) => d.setUint32(base + L.OBJ_TABLE + live * 16 + L.OS_PTR, 16, true)],
    ["a free object-slot list past the table", (d) => d.setUint32(base + L.H_OBJ_FREE, L.OBJ_MAX + 5, true)],
  ];
  for (const [what, corrupt] of cases) {
    const bad = good.slice();
    const d = new DataView(bad.buffer);
    corrupt(d);
    d.setUint32(24, hash(bad.subarray(32)), true); // an attacker's (or a careful tool's) checksum
    let code: string | undefined;
    try { restoreSimulator(bad); } catch (e) { code = (e as { code?: string }).code; }
    assert.is(code, "EINVAL", what);
  }
  assert.is(restoreSimulator(good).objects().length, sim.objects().length, "the intact image restores");
});

test.run();
