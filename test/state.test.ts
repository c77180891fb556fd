// The lock-free state queries a visualizer uses (bindings/state.ts over assembly/api/view.ts): every run they
// return is checked page by page against the per-page lookups (spte, iopte, folio, test), at grain 1 exactly and
// at coarser grains for what a zoomed-out view relies on; the change seqcount moves with every step and only
// then; and a page's reads of a model a worker keeps converting are never torn.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulator, createSimulatorSync, restoreSimulator, abi, layout, type MappingRun, type Simulator, type Gmem } from "../bindings/index";
import { STOP_PROBE, RESULT_PAUSED } from "../assembly/abi/ops";
import { spawnWorker, runtime } from "gmemsim-test-env";

const MiB = 2 ** 20;

/** A TDX machine after the seed's to-shared flow on page 1, a host mapping of it, and a second touched block. */
function seedModel() {
  const sim = createSimulatorSync(undefined, { arch: "tdx", checks: true });
  const g = sim.createGmem(8 * MiB, ["mmap", "init-private", "hugetlb-2M"], "v2", { name: "g" });
  const vm = sim.createVm({ name: "vm" });
  vm.bind(0, 0, 8 * MiB, g, 0);
  const io = sim.createIommu("gmem", { name: "io" });
  io.bind(g);
  vm.access(0x1000, { private: true });
  vm.access(0x205000, { private: true });
  io.map(0, g, 0, 2 * MiB, true);
  g.convert(0x1000, 4096, "shared");
  io.map(0x1000, g, 0x1000, 4096, false);
  g.mmap();
  g.hostAccess(0x1000, { write: 5 });
  vm.access(0x1000, { private: false });
  return { sim, g, vm, io };
}

/** page -> {pfn, level, state} of every page the runs cover (runs must not overlap). */
function pages(runs: MappingRun[]): Map<number, { pfn: number; level: string; state: number }> {
  const m = new Map<number, { pfn: number; level: string; state: number }>();
  for (const r of runs) {
    assert.ok(r.start < r.end, `empty run ${JSON.stringify(r)}`);
    for (let p = r.start; p < r.end; p++) {
      assert.not.ok(m.has(p), `page ${p} in two runs`);
      m.set(p, { pfn: r.pfn + (p - r.start), level: r.level, state: r.state });
    }
  }
  return m;
}

test("state: VM and IOMMU mappings match spte() / iopte() page by page", () => {
  const { vm, io } = seedModel();
  for (const table of ["private", "shared"] as const) {
    const m = pages(vm.mappings(table));
    for (let gfn = 0; gfn < 2048; gfn++) {
      const e = vm.spte(gfn * 4096, table);
      const r = m.get(gfn);
      assert.is(!!r, !!e, `${table} gfn ${gfn}`);
      if (e && r) {
        assert.equal([r.pfn, r.level, abi.SEPT_STATE_NAMES[r.state]], [e.pfn, e.level, e.state], `${table} gfn ${gfn}`);
      }
    }
    assert.is(m.size, Object.values(vm.leaves(table)).reduce((a, n, i) => a + n * [1, 512, 262144][i], 0));
  }
  // the shape the seed flow leaves: private 4 KiB leaves around the shared page 1, a shared 4 KiB leaf on it
  assert.equal(vm.mappings("shared").map((r) => [r.start, r.end, r.level]), [[1, 2, "4K"]]);
  for (const secure of [true, false]) {
    const m = pages(io.mappings(secure));
    for (let iova = 0; iova < 1024; iova++) {
      const e = io.iopte(iova * 4096, secure);
      const r = m.get(iova);
      assert.is(!!r, !!e, `secure ${secure} iova ${iova}`);
      if (e && r) assert.equal([r.pfn, r.level], [e.pfn, e.level]);
    }
  }
  assert.equal(io.mappings(false).map((r) => [r.start, r.end]), [[1, 2]]);
});

test("state: folios, shareability and host PTEs match folio() / test() page by page", () => {
  const { g } = seedModel();
  const folios = g.folios();
  assert.is(folios[0].start, 0);
  assert.is(folios[folios.length - 1].end, g.npages);
  for (let k = 1; k < folios.length; k++) assert.is(folios[k].start, folios[k - 1].end, "folio runs tile the file");
  for (const r of folios) {
    for (let i = r.start; i < r.end; i++) {
      const f = g.folio(i);
      assert.is(f.state, r.state, `index ${i}`);
      if (r.state !== "absent") {
        assert.equal([f.order, f.pfn, f.uptodate], [r.order, r.pfn + (i - r.start), r.uptodate], `index ${i}`);
      }
    }
  }
  assert.equal(folios.map((r) => [r.start, r.end, r.state]),
    [[0, 512, "small"], [512, 1024, "huge"], [1024, 2048, "absent"]]);
  const share = g.shareability();
  assert.equal(share, [{ start: 0, end: 1, shared: 0 }, { start: 1, end: 2, shared: 1 }, { start: 2, end: 2048, shared: 0 }]);
  for (const r of share) for (let i = r.start; i < r.end; i++) assert.is(g.test(i), r.shared > 0, `index ${i}`);
  assert.equal(g.hostMappings().map((r) => [r.start, r.end, r.level, r.pfn]), [[1, 2, "4K", g.folio(1).pfn]]);
  g.convert(0x1000, 4096, "private");
  assert.equal(g.hostMappings(), [], "a to-private conversion unmaps the host");
});

test("state: a coarse grain samples: fewer runs, every sampled page exact, no mapped bucket left out", () => {
  const sim = createSimulatorSync();
  const pt = sim.createPageTable();
  const mapped: number[] = [];
  for (let k = 0; k < 3000; k++) { const gfn = k * 37 + (k % 5); pt.map(gfn, 0x10000 + k * 3, 1); mapped.push(gfn); }
  pt.map(512 * 400, 512 * 9, 2);
  const exact = pt.mappings();
  assert.is(exact.length, 3001, "pfns do not continue: one run per leaf (more than one buffer of records)");
  const exactPages = pages(exact);
  for (const grain of [64, 1000, 40000]) {
    const coarse = pt.mappings(0, 2 ** 32, { grain });
    assert.ok(coarse.length < exact.length, `grain ${grain}: ${coarse.length} runs`);
    for (const r of coarse) {
      const at = exactPages.get(r.start);
      assert.ok(at, `grain ${grain}: run start ${r.start} is mapped`);
      assert.equal([at!.pfn, at!.level], [r.pfn, r.level]);
    }
    const buckets = new Set(mapped.map((gfn) => Math.floor(gfn / grain)));
    for (const b of buckets) {
      const s = b * grain, e = s + grain;
      assert.ok(coarse.some((r) => r.start < e && r.end > s), `grain ${grain}: bucket ${b} has a run`);
    }
  }
  const bm = sim.createBitmap(1 << 16);
  for (let i = 0; i < 1 << 16; i += 3) bm.assign(i, i + 1, true);
  const counts = bm.shareability(0, 1 << 16, { grain: 512 });
  assert.is(counts.length, 128);
  for (const r of counts) assert.is(r.shared, bm.countShared(r.start, r.end));
});

test("state: objects, memslots and areas name what the model holds", () => {
  const { sim, vm, io } = seedModel();
  const objs = sim.objects();
  assert.equal(objs.map((o) => [o.kind, o.name]), [["gmem", "g"], ["vm", "vm"], ["iommu", "io"]]);
  const go = objs[0] as { pages: number; hugeOrder: number; protocol: string; mmap: boolean };
  assert.equal([go.pages, go.hugeOrder, go.protocol, go.mmap], [2048, 9, "v2", true]);
  assert.equal((objs[2] as { gmemIndex: number }).gmemIndex, objs[0].index);
  assert.equal(vm.memslots(), [{ slot: 0, gfn: 0, pages: 2048, index: 0, gmem: "g", gmemIndex: objs[0].index }]);
  assert.equal(io.areas().map((a) => [a.secure, a.iova, a.pages, a.index, a.gmem]),
    [[false, 1, 1, 1, "g"], [true, 0, 512, 0, "g"]], "non-secure table first");
  vm.destroy();
  assert.equal(sim.objects().map((o) => o.kind), ["gmem", "iommu"]);
  try { vm.memslots(); assert.unreachable(); } catch (e) { assert.is((e as { code: string }).code, "EBADF"); }
});

test("state: object kinds and view tables are named from the ABI (assembly/abi/consts.ts)", () => {
  assert.equal([...abi.OBJ_KIND_NAMES], ["free", "bitmap", "pagetable", "gmem", "vm", "iommu", "op"]);
  assert.equal(Object.keys(abi.VIEW_TABLE), ["pt", "kvm-private", "kvm-shared", "iommu-secure", "iommu-nonsecure", "host"]);
  const sim = createSimulatorSync();
  const bm = sim.createBitmap(100), pt = sim.createPageTable();
  assert.equal(sim.objects().map((o) => [o.kind, o.handle]), [["bitmap", bm.handle], ["pagetable", pt.handle]]);
  // the view's records fit where the layout puts them: between the violations and the op record
  assert.ok(layout.VIEW_RECORDS >= 64 && layout.IN_VIEW + layout.VIEW_RECORDS * layout.VIEW_RECORD_SIZE <= layout.IN_OP);
});

test("state: bad ranges and grains are EINVAL, stale handles EBADF", () => {
  const { sim, g, vm } = seedModel();
  const code = (f: () => unknown) => { try { f(); return "none"; } catch (e) { return (e as { code: string }).code; } };
  assert.is(code(() => g.folios(0, g.npages + 1)), "EINVAL");
  assert.is(code(() => g.folios(0, 10, { grain: 0 })), "EINVAL");
  assert.is(code(() => g.shareability(0, 10, { grain: 1.5 })), "EINVAL");
  assert.is(code(() => vm.mappings("private", 10, 5)), "EINVAL");
  assert.is(code(() => vm.mappings("private", 0, 2 ** 32 + 1)), "EINVAL");
  assert.is(code(() => vm.mappings("both" as "private")), "EINVAL");
  const pt = sim.createPageTable();
  pt.dispose();
  assert.is(code(() => pt.mappings()), "EBADF");
});

test("state: the change count moves by two per step, never for a query or a probe", () => {
  const { sim, g, vm } = seedModel();
  const c0 = sim.changeCount;
  assert.is(c0 % 2, 0);
  g.folios(); vm.mappings("private"); sim.objects(); g.folio(3); vm.spte(0, "private");
  assert.is(sim.changeCount, c0, "queries change nothing");
  assert.is(sim.core.gmem_convert(g.handle, 0, 4096, 1, 0, STOP_PROBE), RESULT_PAUSED, "a probe: the conversion could run");
  assert.is(sim.changeCount, c0, "a probe gives the count back");
  g.convert(0, 4096, "shared");
  assert.is(sim.changeCount, c0 + 2);
  try { g.convert(1, 4096, "shared"); } catch { /* EINVAL: a failed step is still a step */ }
  assert.is(sim.changeCount, c0 + 4);
});

test("state: a call waiting out a world stop is not a call: the change count stays", () => {
  const sim = createSimulatorSync(undefined, { mayBlock: false, checks: false });
  const g = sim.createGmem(2 * MiB, ["mmap", "init-private"]);
  const i32 = new Int32Array(sim.memory.buffer, 0, (layout.HEADER_BASE + layout.HEADER_SIZE) >> 2);
  const c0 = sim.changeCount;
  Atomics.store(i32, layout.H_FREEZE >> 2, layout.MAX_INSTANCES); // another slot's world stop (never ours: slot 0)
  let code: unknown;
  try { g.convert(0, 4096, "shared"); } catch (e) { code = (e as { code?: string }).code; }
  assert.is(code, "EBUSY", "a thread that may not sleep gives up after spinning");
  assert.is(sim.changeCount, c0, "the wait moved no count");
  Atomics.store(i32, layout.H_FREEZE >> 2, 0);
  g.convert(0, 4096, "shared");
  assert.is(sim.changeCount, c0 + 2);
});

test("state: a snapshot keeps the change count but no view's hold on writers nor its sleepers", () => {
  const sim = createSimulatorSync();
  sim.createBitmap(10);
  const i32 = new Int32Array(sim.memory.buffer, 0, (layout.HEADER_BASE + layout.HEADER_SIZE) >> 2);
  Atomics.store(i32, layout.H_VIEW_HOLD >> 2, 1);
  Atomics.store(i32, layout.H_CHANGE_WAITERS >> 2, 2);
  const snap = sim.snapshot();
  Atomics.store(i32, layout.H_VIEW_HOLD >> 2, 0);
  const r = restoreSimulator(snap);
  const j = new Int32Array(r.memory.buffer, 0, (layout.HEADER_BASE + layout.HEADER_SIZE) >> 2);
  assert.equal([Atomics.load(j, layout.H_VIEW_HOLD >> 2), Atomics.load(j, layout.H_CHANGE_WAITERS >> 2)], [0, 0]);
  assert.is(r.changeCount, sim.changeCount);
});

/** Whether a shareability reading is one the worker's loop can leave: [0, 64) all private or all shared. */
function wholeState(runs: { start: number; end: number; shared: number }[]): boolean {
  const first = runs[0];
  return runs.length >= 1 && first.start === 0 && (first.shared === 0 || (first.shared === first.end - first.start && first.end === 64));
}

test(`state: a page's lock-free reads of a model a worker keeps converting are whole (${runtime})`, async () => {
  const sim: Simulator = await createSimulator({ arch: "tdx" });
  const g: Gmem = sim.createGmem(4 * MiB, ["mmap", "init-private", "hugetlb-2M"], "v2", { name: "g" });
  const vm = sim.createVm();
  vm.bind(0, 0, 4 * MiB, g, 0);
  vm.access(0, { private: true });
  const c0 = sim.changeCount;
  const job = spawnWorker<{ rounds: number }>(sim.share(), { kind: "convert-loop", gmem: g.handle, offset: 0, size: 64 * 4096, ms: 600 });
  let reads = 0, whole = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < 900) {
    const r = sim.readConsistent(() => ({ share: g.shareability(0, 512), folios: g.folios(0, 512), priv: vm.mappings("private", 0, 512) }));
    reads++;
    if (r === undefined) { await new Promise((res) => setTimeout(res, 0)); continue; }
    whole++;
    assert.ok(wholeState(r.share), `torn shareability ${JSON.stringify(r.share)}`);
    // shared pages are never in the private table
    const shared = r.share[0].shared > 0;
    assert.ok(!shared || r.priv.every((m) => m.start >= 64), `private leaves over shared pages: ${JSON.stringify(r.priv)}`);
    await new Promise((res) => setTimeout(res, 0));
  }
  const { rounds } = await job;
  assert.ok(rounds > 10, `the worker converted (${rounds} rounds)`);
  assert.ok(whole > 5, `${whole} whole reads of ${reads}`);
  assert.is(sim.changeCount, c0 + rounds * 4, "two steps per round, two counts per step");
});

test.run();
