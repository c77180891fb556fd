// The radix page table and its tdp_iter-style walker: map / lookup / zap / demote at every level, tables freed
// when emptied (an IOMMU unmap) or kept (KVM's zaps), a huge leaf never descended into, ENOMEM leaving the table
// intact.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync } from "../bindings/index";
import { rng } from "./harness/rng";

const M2 = 512, G1 = 262144;

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

test("pagetable: map and look up at 4K, 2M and 1G", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const pt = sim.createPageTable();
  pt.map(5, 0x1234, 1);
  pt.map(2 * M2, 0x10000 * M2, 2);
  pt.map(3 * G1, 0x400 * G1, 3);
  assert.equal(pt.lookup(5), { pfn: 0x1234, level: 1, state: 0 });
  assert.equal(pt.lookup(2 * M2 + 17), { pfn: 0x10000 * M2 + 17, level: 2, state: 0 });
  assert.equal(pt.lookup(3 * G1 + 70000), { pfn: 0x400 * G1 + 70000, level: 3, state: 0 });
  assert.is(pt.lookup(6), null);
  assert.equal(pt.leaves(), { "4K": 1, "2M": 1, "1G": 1 });
  assert.is(pt.countRange(0, 2 ** 32), 3);
  pt.check();
});

test("pagetable: overlapping, misaligned and out-of-range maps are refused", () => {
  const sim = createSimulatorSync();
  const pt = sim.createPageTable();
  pt.map(M2, 0x200 * M2, 2);
  assert.is(code(() => pt.map(M2 + 3, 7, 1)), "EEXIST", "4K inside a 2M leaf");
  assert.is(code(() => pt.map(M2, 0x400 * M2, 2)), "EEXIST", "same 2M");
  pt.map(G1 + 8, 9, 1);
  assert.is(code(() => pt.map(G1, 0, 3)), "EEXIST", "1G over a table with a 4K leaf");
  assert.is(code(() => pt.map(3, 0, 2)), "EINVAL", "misaligned gfn");
  assert.is(code(() => pt.map(0, 3, 2)), "EINVAL", "misaligned pfn");
  assert.is(code(() => pt.map(0, 0, 4 as 3)), "EINVAL", "level 4");
  assert.is(code(() => pt.map(2 ** 32, 0, 1)), "EINVAL", "gfn past 2^32");
  assert.is(code(() => pt.zap(5, 2, "zap")), "EINVAL", "start > end");
  assert.is(code(() => pt.zap(0, 2 ** 32 + 1, "zap")), "EINVAL", "end past 2^32");
  assert.equal(pt.leaves(), { "4K": 1, "2M": 1, "1G": 0 });
  pt.check();
});

test("pagetable: zapping 4 KiB inside a 2 MiB leaf never descends into the leaf", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const pt = sim.createPageTable();
  pt.map(0, 0, 2);
  pt.map(M2, 0x800, 2);
  // whole: the straddling leaf goes entirely (non-TDX KVM), the neighbour stays
  const z = pt.zap(7, 8, "zap");
  assert.equal(z, { count: 1, start: 0, end: M2 });
  assert.is(pt.lookup(0), null);
  assert.is(pt.lookup(M2)!.level, 2);
  // demote: exactly the one 4 KiB page goes (TDX precise zap)
  const d = pt.zap(M2 + 7, M2 + 8, "demote");
  assert.equal(d, { count: 1, start: M2 + 7, end: M2 + 8 });
  assert.is(pt.lookup(M2 + 7), null);
  assert.equal(pt.lookup(M2 + 6), { pfn: 0x806, level: 1, state: 0 });
  assert.equal(pt.lookup(M2 + 8), { pfn: 0x808, level: 1, state: 0 });
  assert.equal(pt.leaves(), { "4K": 511, "2M": 0, "1G": 0 });
  pt.check();
});

test("pagetable: demote a 1 GiB leaf twice down, then zap a range across levels", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const pt = sim.createPageTable();
  pt.map(G1, 4 * G1, 3, 2);
  pt.demote(G1, 3);
  assert.equal(pt.leaves(), { "4K": 0, "2M": 512, "1G": 0 });
  pt.demote(G1 + 3 * M2, 2);
  assert.equal(pt.lookup(G1 + 3 * M2 + 5), { pfn: 4 * G1 + 3 * M2 + 5, level: 1, state: 2 });
  assert.is(code(() => pt.demote(G1 + 3 * M2, 2)), "ENOENT");
  const z = pt.zap(G1 + 3 * M2 + 100, G1 + 5 * M2 + 1, "demote");
  // 412 4K leaves of the demoted block, one 2M leaf, then 1 4K of the next 2M after demoting it
  assert.is(z.count, 412 + 1 + 1);
  assert.is(z.start, G1 + 3 * M2 + 100);
  assert.is(z.end, G1 + 5 * M2 + 1);
  assert.equal(pt.leaves(), { "4K": 100 + 511, "2M": 512 - 3, "1G": 0 });
  pt.check();
});

test("pagetable: tables emptied by a zap go back to the heap", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const pt = sim.createPageTable();
  const heap0 = sim.memoryStats().heapPages;
  for (let g = 0; g < 2048; g++) pt.map(5 * G1 + g, 0x1000 + g, 1);
  assert.is(pt.tables(), 1 + 1 + 1 + 4);
  assert.is(sim.memoryStats().heapPages - heap0, 7);
  pt.zap(5 * G1, 5 * G1 + 1024);
  assert.is(pt.tables(), 1 + 1 + 1 + 2);
  pt.zap(0, 2 ** 32);
  assert.is(pt.tables(), 1, "only the root is left");
  assert.is(sim.memoryStats().heapPages - heap0, 1);
  pt.check();
  pt.dispose();
  assert.is(sim.memoryStats().heapPages, heap0 - 1, "the table descriptor page is freed with it");
});

/**
 * Random maps and zaps against a set of leaves. keepTables: KVM's zaps, so the model also tracks which tables exist
 * (none is ever freed): a huge map over a table is EEXIST, and the table count is exact.
 */
function randomMapsAndZaps(keepTables: boolean, seed: number): void {
  const sim = createSimulatorSync(undefined, { debug: true });
  const pt = sim.createPageTable();
  const r = rng(seed);
  const SIZE = [0, 1, M2, G1];
  // the model: leaves keyed "level:base" -> pfn
  const leaves = new Map<string, number>();
  const overlapping = (s: number, e: number) => [...leaves.keys()].filter((k) => {
    const [l, b] = k.split(":").map(Number);
    return b < e && b + SIZE[l] > s;
  });
  const zapLeaf = (key: string, a: number, b: number, demote: boolean): void => {
    const [l, base] = key.split(":").map(Number);
    const pfn = leaves.get(key)!;
    leaves.delete(key);
    if (!demote || (base >= a && base + SIZE[l] <= b) || l === 1) return;
    for (let i = 0; i < 512; i++) {
      const cb = base + i * SIZE[l - 1];
      const ck = `${l - 1}:${cb}`;
      leaves.set(ck, pfn + i * SIZE[l - 1]);
      tableFor(l - 1, cb); // the demotion made the table
      if (cb < b && cb + SIZE[l - 1] > a) zapLeaf(ck, a, b, demote);
    }
  };
  const span = 4 * G1;
  // keepTables: the 2 MiB regions holding a PTE table and the 1 GiB regions holding a PMD table (tables only appear)
  const pte = new Set<number>(), pmd = new Set<number>();
  const tableFor = (level: number, gfn: number): void => {
    if (level <= 1) pte.add(Math.floor(gfn / M2));
    if (level <= 2) pmd.add(Math.floor(gfn / G1));
  };
  for (let n = 0; n < 1500; n++) {
    if (r.int(10) < 6) {
      const level = ([1, 1, 1, 2, 2, 3] as const)[r.int(6)];
      const size = SIZE[level];
      const gfn = r.int(span / size) * size;
      const pfn = (0x100 + r.int(1000)) * size;
      const tabled = keepTables && (level === 2 ? pte.has(gfn / M2) : level === 3 && pmd.has(gfn / G1));
      const free = overlapping(gfn, gfn + size).length === 0 && !tabled;
      let got: string | undefined;
      try { pt.map(gfn, pfn, level); } catch (e) { got = (e as { code: string }).code; }
      assert.is(got, free ? undefined : "EEXIST", `map ${gfn} L${level}`);
      if (free) { leaves.set(`${level}:${gfn}`, pfn); tableFor(level, gfn); }
    } else {
      const a = r.int(span);
      const b = Math.min(span, a + 1 + r.int(r.int(2) ? 600 : 3 * M2));
      const demote = r.int(2) === 1;
      const expect = overlapping(a, b);
      for (const k of expect) zapLeaf(k, a, b, demote);
      pt.zap(a, b, demote ? "demote" : "zap", { keepTables });
    }
    if (n % 100 === 99) {
      pt.check();
      const counts = { "4K": 0, "2M": 0, "1G": 0 };
      for (const k of leaves.keys()) counts[(["", "4K", "2M", "1G"] as const)[+k.split(":")[0]] as "4K"]++;
      assert.equal(pt.leaves(), counts, `leaf counts at op ${n}`);
      if (keepTables) assert.is(pt.tables(), 1 + 1 + pmd.size + pte.size, `root, one PUD table, ${pmd.size} PMD, ${pte.size} PTE`);
      else { // an IOMMU unmap frees what it empties: exactly the tables on the way to a leaf stay
        const holding = (l: number, per: number) => new Set([...leaves.keys()].filter((k) => +k.split(":")[0] <= l)
          .map((k) => Math.floor(+k.split(":")[1] / per))).size;
        assert.is(pt.tables(), 1 + (leaves.size ? 1 : 0) + holding(2, G1) + holding(1, M2), `tables at op ${n}`);
      }
      for (let t = 0; t < 200; t++) {
        const g = r.int(span);
        let want: { pfn: number; level: number } | null = null;
        for (const l of [3, 2, 1]) {
          const base = Math.floor(g / SIZE[l]) * SIZE[l];
          const p = leaves.get(`${l}:${base}`);
          if (p !== undefined) { want = { pfn: p + g - base, level: l }; break; }
        }
        const got = pt.lookup(g);
        assert.equal(got && { pfn: got.pfn, level: got.level }, want, `gfn ${g} at op ${n}`);
      }
    }
  }
}

test("pagetable: random maps and zaps agree with a set of leaves (tables freed as an IOMMU unmap frees them)", () => {
  randomMapsAndZaps(false, 42);
});

test("pagetable: random maps and zaps that keep every table (KVM's tdp_mmu_zap_leafs) agree, tables counted", () => {
  randomMapsAndZaps(true, 43);
});

test("pagetable: a zap that keeps tables clears a whole 1 GiB of 4 KiB leaves, tables in order or scattered", () => {
  for (const scattered of [false, true]) {
    const sim = createSimulatorSync(undefined, { debug: true });
    const pt = sim.createPageTable();
    // scattered: the PTE tables are allocated in a shuffled order, so no two neighbours lie next to each other
    const order = [...Array(512).keys()];
    if (scattered) { const r = rng(7); for (let i = 511; i > 0; i--) { const j = r.int(i + 1); [order[i], order[j]] = [order[j], order[i]]; } }
    for (const t of order) pt.map(G1 + t * M2, 0x4000, 1); // one leaf first: the table exists
    for (let g = G1; g < 2 * G1; g++) if (g % M2 !== 0) pt.map(g, 0x4000 + (g % M2), 1);
    const heap = sim.memoryStats().heapPages, tables = pt.tables();
    assert.equal(pt.zap(G1 - 5, 2 * G1 + 5, "zap", { keepTables: true }), { count: G1, start: G1, end: 2 * G1 });
    assert.equal(pt.leaves(), { "4K": 0, "2M": 0, "1G": 0 });
    assert.is(pt.tables(), tables, "every table stays");
    assert.is(sim.memoryStats().heapPages, heap);
    for (const g of [G1, G1 + 1, G1 + 300 * M2 + 17, 2 * G1 - 1]) assert.is(pt.lookup(g), null);
    pt.check(); // occupancy of every kept table is 0 and its entries are
    pt.map(G1 + 3, 0x9000, 1); // a fault finds its tables in place
    assert.is(pt.tables(), tables);
    assert.is(code(() => pt.map(G1 + 2 * M2, 0x9000, 2)), "EEXIST", "a huge map over a kept table: the caller zaps it first");
    assert.equal(pt.zap(G1 + 2 * M2, G1 + 3 * M2), { count: 0, start: G1 + 2 * M2, end: G1 + 2 * M2 }, "an empty table dropped");
    assert.is(pt.tables(), tables - 1);
    pt.map(G1 + 2 * M2, 0x9000, 2);
    pt.check();
    for (const bad of [{ keepTables: 1 }, { keepTables: "yes" }, 7, [], null]) {
      assert.is(code(() => pt.zap(0, 1, "zap", bad as never)), "EINVAL", `opts ${JSON.stringify(bad)}`);
    }
  }
});

test("pagetable: KVM's conversions keep its tables; a 2 MiB fault over an emptied one drops it unflushed", () => {
  const sim = createSimulatorSync(undefined, { debug: true, checks: true });
  const MiB = 2 ** 20;
  const g = sim.createGmem(4 * MiB, ["mmap", "init-private", "hugetlb-2M"]);
  const vm = sim.createVm();
  vm.bind(0, 0, 4 * MiB, g, 0);
  const level = (gpa: number) => (vm.access(gpa, { private: true }) as { level?: string }).level;
  g.convert(0x5000, 4096, "shared"); // a shared page splits the 2 MiB folio: private faults map 4 KiB
  for (const p of [0, 1, 2, 7]) assert.is(level(p * 4096), "4K");
  g.convert(0x5000, 4096, "private");
  const heap = sim.memoryStats().heapPages;
  sim.events.read();
  g.convert(0, 2 * MiB, "shared");
  const kinds = sim.events.read().events.map((e) => e.kind);
  assert.ok(kinds.includes("kvm.zap"), "the four 4 KiB SPTEs go");
  assert.is(vm.info().privateLeaves, 0);
  assert.is(sim.memoryStats().heapPages - heap, 2, "the PTE table stays (the split's entries are the 2 pages)");
  g.convert(0, 2 * MiB, "private"); // all private again: merged to one 2 MiB folio
  const before = sim.memoryStats().heapPages;
  sim.events.read();
  assert.is(level(0), "2M");
  const after = sim.events.read().events.map((e) => e.kind);
  assert.ok(!after.includes("kvm.zap") && !after.includes("kvm.tlb_flush"), `nothing was mapped there: ${after.join(", ")}`);
  assert.is(sim.memoryStats().heapPages, before - 1, "the empty PTE table the 2 MiB leaf replaces is freed");
  sim.checkInvariants();
});

test("pagetable: ENOMEM in the middle of a map frees the tables it allocated", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const pt = sim.createPageTable();
  pt.map(0, 0, 1);
  const heap0 = sim.memoryStats().heapPages;
  sim.failAllocation(2); // the second table this map needs
  assert.is(code(() => pt.map(7 * G1 + 3, 5, 1)), "ENOMEM");
  assert.is(sim.memoryStats().heapPages, heap0);
  assert.is(pt.lookup(7 * G1 + 3), null);
  pt.map(7 * G1 + 3, 5, 1);
  assert.is(pt.lookup(7 * G1 + 3)!.pfn, 5);
  sim.failAllocation(1);
  assert.is(code(() => pt.zap(7 * G1, 7 * G1 + 1, "demote")), undefined, "a 4K zap needs no table");
  pt.map(9 * G1, 0, 3);
  sim.failAllocation(1);
  assert.is(code(() => pt.zap(9 * G1, 9 * G1 + 1, "demote")), "ENOMEM", "demotion needs a table");
  sim.failAllocation(0);
  assert.is(pt.lookup(9 * G1 + 5)!.level, 3, "the huge leaf is untouched");
  pt.check();
});

test.run();
