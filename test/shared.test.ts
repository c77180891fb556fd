// Two and more instances on one shared memory: a worker (Node worker_threads / browser Web Worker) attached with
// createSimulatorSync sees and updates the structures the main thread made, and the simulator lock keeps
// concurrent updates whole.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulator, createSimulatorSync, canShareMemory, EventReader } from "../bindings/index";
import { spawnWorker, runtime } from "gmemsim-test-env";

test("shared: a reader started before the first event (head - n on a young ring) reads the events that follow", () => {
  const sim = createSimulatorSync();
  const head = new EventReader(sim.memory, () => "").head();
  const reader = new EventReader(sim.memory, (k, i) => sim.nameOf(k, i), Math.max(0, head - 64));
  const g = sim.createGmem(2 << 20, ["mmap"]);
  g.convert(0, 4096, "shared");
  const { events, lost } = reader.read();
  assert.is(lost, 0);
  assert.equal([events[0]?.kind, events[events.length - 1]?.kind], ["gmem.lock", "gmem.unlock"]);
});

test("shared: two instances in one thread see one set of structures", () => {
  const a = createSimulatorSync(undefined, { debug: true });
  const b = createSimulatorSync(a.module, { memory: a.memory, debug: true });
  assert.is.not(a.instanceId, b.instanceId);
  const bmA = a.createBitmap(4096);
  const bmB = b.openBitmap(bmA.handle);
  bmB.assign(100, 200, true);
  assert.is(bmA.countShared(), 100);
  const pt = b.createPageTable();
  a.openPageTable(pt.handle).map(7, 0x77, 1);
  assert.equal(pt.lookup(7), { pfn: 0x77, level: 1, state: 0 });
  bmA.dispose();
  try { bmB.test(1); assert.unreachable(); } catch (e) { assert.is((e as { code: string }).code, "EBADF"); }
});

test(`shared: a worker attached to the same memory reads and updates it (${runtime})`, async () => {
  assert.ok(canShareMemory(), "this realm must be able to post shared memory (cross-origin isolated)");
  const sim = await createSimulator({ debug: true });
  const bm = sim.createBitmap(1 << 20);
  bm.assign(5, 9, true);
  const seen = await spawnWorker<boolean[]>(sim.share(), { kind: "bitmap-read", handle: bm.handle, indices: [4, 5, 8, 9] });
  assert.equal(seen, [false, true, true, false]);
  const res = await spawnWorker<{ shared: number }>(sim.share(),
    { kind: "bitmap-assign", handle: bm.handle, ranges: [[1000, 300000, true], [2000, 2100, false]] });
  assert.is(res.shared, 4 + 299000 - 100);
  assert.is(bm.countShared(), res.shared, "the main thread sees the worker's writes");
  bm.check();

  const g = sim.createGmem(4 * 2 ** 20, ["mmap", "init-private", "hugetlb-2M"]);
  g.allocFolio(0);
  const f = await spawnWorker<{ state: string; pfn: number }>(sim.share(), { kind: "gmem-split", handle: g.handle, index: 3 });
  assert.is(f.state, "small");
  assert.equal(g.folio(3).state, "small");
  assert.is(g.folio(3).pfn, f.pfn);

  const pt = sim.createPageTable();
  const gfns = Array.from({ length: 3000 }, (_, i) => i * 7);
  const r = await spawnWorker<{ leaves: { "4K": number } }>(sim.share(), { kind: "pt-map", handle: pt.handle, gfns, pfnBase: 0x5000 });
  assert.is(r.leaves["4K"], 3000);
  assert.equal(pt.lookup(7 * 2999), { pfn: 0x5000 + 2999, level: 1, state: 0 });
  pt.check();
  // the memory grew in the worker (page tables); the main thread's views follow
  assert.is(sim.u32.buffer.byteLength, sim.memory.buffer.byteLength);
});

test(`shared: workers updating concurrently under the per-object locks (${runtime})`, async () => {
  const sim = await createSimulator();
  const bm = sim.createBitmap(1 << 22);
  const jobs = [0, 1, 2].map((k) => spawnWorker<{ instanceId: number }>(sim.share(),
    { kind: "hammer", handle: bm.handle, start: k * 1000003, end: k * 1000003 + 700001, rounds: 300 }));
  const ids = (await Promise.all(jobs)).map((r) => r.instanceId);
  assert.ok(ids.every((id) => id !== sim.instanceId), "each worker is an instance of its own (a finished one's slot is reused)");
  assert.is(bm.countShared(), 3 * 700001);
  bm.check();
});

test.run();
