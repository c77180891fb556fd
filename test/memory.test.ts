// The memory map and the core's own allocator: a 1 TiB guest_memfd of 1 GiB folios costs kilobytes beyond its
// bitmap, freed memory is reused, and running out of the 4 GiB of Wasm memory is ENOMEM with state intact.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, createSimulator, layout } from "../bindings/index";
import { readText } from "gmemsim-test-env";

const GiB = 2 ** 30, TiB = 2 ** 40;

test("memory: 1 TiB of 1 GiB folios and 1 GiB of 4 KiB folios, with their cost printed", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  let before = sim.memoryStats().heapPages;
  const big = sim.createGmem(TiB, ["mmap", "init-private", "hugetlb-1G"]);
  const bitmapBytes = big.bitmapBytes();
  for (let i = 0; i < big.npages; i += 262144) big.allocFolio(i);
  const totalBig = (sim.memoryStats().heapPages - before) * 4096;
  assert.is(big.populated * 4096, TiB);
  assert.is(sim.memoryStats().pfn1G, 1024);
  assert.ok(bitmapBytes >= TiB / 4096 / 8, "1 bit per 4 KiB");
  assert.ok(totalBig - bitmapBytes <= 64 * 1024, `folio map of 1024 huge folios is kilobytes (${totalBig - bitmapBytes} B)`);
  big.check();

  before = sim.memoryStats().heapPages;
  const small = sim.createGmem(GiB, ["mmap", "init-shared"]);
  for (let i = 0; i < small.npages; i++) small.allocFolio(i);
  const totalSmall = (sim.memoryStats().heapPages - before) * 4096;
  assert.is(small.populated, 262144);
  assert.ok(totalSmall <= 262144 * 16 + 2 * 1024 * 1024, "16 B per 4 KiB folio plus the bitmap");
  small.check();
  console.log(`    [memory] 1 TiB hugetlb-1G populated: ${(totalBig / 2 ** 20).toFixed(2)} MiB ` +
    `(bitmap ${(bitmapBytes / 2 ** 20).toFixed(2)} MiB, inode + folio map ${(totalBig - bitmapBytes) / 1024} KiB); ` +
    `1 GiB at 4 KiB populated: ${(totalSmall / 2 ** 20).toFixed(2)} MiB`);
});

test("memory: freed blocks are reused, buddies merge", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const g = sim.createGmem(64 * GiB, ["mmap", "init-shared"]);
  const stats1 = sim.memoryStats();
  g.dispose();
  const g2 = sim.createGmem(64 * GiB, ["mmap", "init-shared"]);
  const stats2 = sim.memoryStats();
  assert.is(stats2.memoryBytes, stats1.memoryBytes, "no growth: the same blocks came back");
  assert.is(stats2.heapPages, stats1.heapPages);
  g2.dispose();
  // many small allocations, freed, then one large one fits in the same space
  const pts = Array.from({ length: 600 }, () => sim.createPageTable());
  const grown = sim.memoryStats().memoryBytes;
  for (const p of pts) p.dispose();
  const bm = sim.createBitmap(600 * 4096 * 8 / 2);
  assert.is(sim.memoryStats().memoryBytes, grown, "coalesced buddies hold a larger block");
  bm.check();
});

test("memory: running out of Wasm memory is ENOMEM and leaves everything intact", async () => {
  const sim = await createSimulator({ maximumPages: 2048, checks: true }); // 128 MiB
  const keep = sim.createGmem(64 * GiB, ["mmap", "init-private", "hugetlb-1G"]);
  keep.allocFolio(0);
  keep.splitFolio(0);
  const made = [];
  let err: { code?: string } | undefined;
  for (let i = 0; i < 64 && !err; i++) {
    try { made.push(sim.createGmem(TiB, ["mmap", "init-private"])); } catch (e) { err = e as { code?: string }; }
  }
  assert.ok(err, "ran out");
  assert.is(err!.code, "ENOMEM");
  const s = sim.memoryStats();
  assert.ok(s.memoryBytes <= 2048 * 65536);
  keep.check();
  assert.is(keep.folio(5).state, "small");
  // the simulator keeps working: free one and the same request succeeds
  made.pop()!.dispose();
  const again = sim.createGmem(TiB, ["mmap", "init-private"]);
  again.check();
});

test("memory: populating past what the memory holds is ENOMEM from the fault that needed it, and the model goes on", async () => {
  const sim = await createSimulator({ maximumPages: 1024, checks: false }); // 64 MiB of Wasm memory
  const size = 16 * GiB;
  const g = sim.createGmem(size, ["mmap", "init-private"]);
  const vm = sim.createVm();
  vm.bind(0, 0, size, g, 0);
  let faults = 0;
  let err: string | undefined;
  for (; faults < size / 4096; faults++) {
    try { vm.access(faults * 4096, { private: true }); } catch (e) { err = (e as { code: string }).code; break; }
  }
  assert.is(err, "ENOMEM", `a fault runs out (after ${faults} pages)`);
  assert.ok(faults > 1000, "plenty fit before that");
  sim.checkInvariants();
  const populated = g.populated;
  // free some memory: punch the first half of what is populated, then faults succeed again
  g.punch(0, Math.floor(faults / 2) * 4096);
  sim.checkInvariants();
  assert.ok(g.populated < populated);
  vm.access(0, { private: true });
  assert.equal(vm.spte(0, "private")?.level, "4K");
  sim.checkInvariants();
});

test("memory: a request bigger than 4 GiB of Wasm memory can hold is ENOMEM", () => {
  const sim = createSimulatorSync();
  const before = sim.memoryStats();
  let c: string | undefined;
  try { sim.createBitmap(2 ** 31); sim.createBitmap(2 ** 31); sim.createGmem(2 ** 43, []); } catch (e) { c = (e as { code: string }).code; }
  // 2^31 bits = 256 MiB each: fits. The gmem of 8 TiB initialised shared needs 256 MiB more and fits as well;
  // but a single block larger than 2 GiB never does:
  assert.is(c, undefined, "two 256 MiB bitmaps and an 8 TiB guest_memfd fit");
  try { sim.createGmem(2 ** 43 + 4096, []); assert.unreachable(); } catch (e) { assert.is((e as { code: string }).code, "ENOMEM"); }
  assert.ok(sim.memoryStats().memoryBytes >= before.memoryBytes);
});

test("memory: layout constants the binding reads match the core", () => {
  const sim = createSimulatorSync();
  assert.is(sim.core.sim_layout_version(), layout.LAYOUT_VERSION);
  assert.ok(sim.core.sim_heap_base() <= layout.PAGEMAP_BASE, "asc static data ends below the page map");
  assert.ok(sim.core.sim_heap_base() >= layout.MEMORY_BASE);
  const hdr = new Uint32Array(sim.memory.buffer, layout.HEADER_BASE, 4);
  assert.is(hdr[0], layout.LAYOUT_MAGIC);
});

test("memory: the release core contains no managed allocation", async () => {
  const wat = await readText("build/release.wat");
  assert.ok(wat.length > 1000);
  assert.not.match(wat, /__new|__alloc/);
  assert.match(wat, /\(import "env" "memory" \(memory \$0 \d+ 65536 shared\)\)/);
});

test.run();
