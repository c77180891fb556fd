// Folios of a guest_memfd inode: HugeTLB and 4 KiB backing, split and merge with contiguous pfns, refusal while
// anything besides the filemap holds a reference, and the inode's create-time errors.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, type GmemFlag, type Gmem } from "../bindings/index";

/** Pin / host-map references straight through the core (the public Gmem.ref takes transient ones only). */
function rawRef(g: Gmem, index: number, kind: "map" | "pin", delta: 1 | -1): void {
  const r = g.sim.core.folio_ref(g.handle, index, kind === "map" ? 1 : 2, delta);
  if (r < 0) throw Object.assign(new Error(`folio_ref ${r}`), { code: r === -22 ? "EINVAL" : `E${-r}` });
}

const M2 = 512, G1 = 262144;
const MiB = 2 ** 20, GiB = 2 ** 30;

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

test("folio: a 2 MiB HugeTLB block is absent, then one huge folio, then 512 small ones, then huge again", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const g = sim.createGmem(8 * MiB, ["mmap", "init-private", "hugetlb-2M"]);
  assert.is(g.hugeOrder, 9);
  assert.is(g.folio(M2 + 3).state, "absent");
  g.allocFolio(M2 + 3);
  const huge = g.folio(M2 + 3);
  assert.is(huge.state, "huge");
  assert.is(huge.order, 9);
  assert.is(huge.index, M2);
  assert.is(huge.refcount, 512, "the filemap holds nr_pages references");
  assert.is(huge.pfn % 512, 3, "pfn of the index inside the folio");
  assert.is(g.populated, 512);
  g.splitFolio(M2 + 3);
  for (const i of [M2, M2 + 3, M2 + 511]) {
    const f = g.folio(i);
    assert.is(f.state, "small");
    assert.is(f.order, 0);
    assert.is(f.pfn, huge.pfn - 3 + (i - M2), "pfns stay contiguous");
    assert.is(f.refcount, 1);
  }
  g.check();
  g.mergeFolio(M2);
  assert.equal(g.folio(M2 + 3), huge);
  g.check();
});

test("folio: 1 GiB -> 4 KiB split and merge back, uptodate carried", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const g = sim.createGmem(2 * GiB, ["mmap", "init-private", "hugetlb-1G"]);
  g.allocFolio(G1 + 5);
  g.markUptodate(G1);
  const base = g.folio(G1).pfn;
  assert.is(base % G1, 0, "a 1 GiB HugeTLB page is naturally aligned");
  g.splitFolio(G1 + 77);
  assert.is(g.folio(2 * G1 - 1).pfn, base + G1 - 1);
  assert.ok(g.folio(2 * G1 - 1).uptodate);
  g.check();
  g.mergeFolio(G1);
  const f = g.folio(G1 + 9);
  assert.equal([f.state, f.order, f.refcount, f.uptodate], ["huge", 18, G1, true]);
  assert.is(sim.memoryStats().pfn1G, 1);
  g.check();
});

test("folio: a merge keeps a provably zero sub-array for the next split, and frees one it cannot prove", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const pages = () => sim.memoryStats().heapPages;
  for (const flag of ["hugetlb-2M", "hugetlb-1G"] as const) { // the pfn pools' own pages, once
    const t = sim.createGmem(GiB, ["mmap", "init-private", flag]);
    t.allocFolio(0);
    t.dispose();
  }
  const before = pages();
  const g = sim.createGmem(8 * MiB, ["mmap", "init-private", "hugetlb-2M"]);
  g.allocFolio(0);
  g.markUptodate(0); // the huge folio's UPTODATE covers every 4 KiB folio after the split
  const h0 = pages();
  g.splitFolio(0);
  assert.is(pages(), h0 + 2, "the split allocates the 512 x 16-byte entries (8 KiB)");
  g.mergeFolio(0);
  assert.is(pages(), h0 + 2, "the merge keeps them: nothing referenced, no per-page flag");
  g.check();
  g.splitFolio(0);
  assert.is(pages(), h0 + 2, "the next split takes the spare instead of allocating");
  for (const i of [0, 1, 511]) assert.equal([g.folio(i).refcount, g.folio(i).pincount, g.folio(i).uptodate], [1, 0, true]);
  g.check();
  g.mergeFolio(0);
  // a block never made uptodate, one 4 KiB folio of it made uptodate while split: that entry carries the flag
  g.allocFolio(M2);
  g.splitFolio(M2); // takes the spare
  assert.is(pages(), h0 + 2);
  g.markUptodate(M2 + 5);
  g.mergeFolio(M2);
  assert.is(g.folio(M2).uptodate, true, "the merged folio is uptodate");
  assert.is(pages(), h0, "not provably zero: freed");
  g.check();
  g.splitFolio(M2);
  assert.is(g.folio(M2 + 5).uptodate, true, "the block's flag covers it now");
  assert.is(pages(), h0 + 2, "a fresh, zeroed sub-array");
  g.mergeFolio(M2);
  assert.is(pages(), h0 + 2, "now provably zero: kept");
  g.check();
  // a 1 GiB block's 4 MiB sub-array is never kept
  const big = sim.createGmem(GiB, ["mmap", "init-private", "hugetlb-1G"]);
  big.allocFolio(0);
  const h1 = pages();
  big.splitFolio(0);
  assert.is(pages(), h1 + 1024);
  big.mergeFolio(0);
  assert.is(pages(), h1, "past PAGE_ALLOC_COSTLY_ORDER the sub-array goes back to the heap");
  big.check();
  // freeing the inode frees its spare with everything else
  g.dispose();
  big.dispose();
  assert.is(pages(), before, "nothing of either inode stays");
});

test("folio: the inode counts its busy blocks through every kind of reference, and the refcount walk trusts it", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  for (const flags of [["mmap", "init-shared"], ["mmap", "init-shared", "hugetlb-2M"]] as GmemFlag[][]) {
    const g = sim.createGmem(8 * MiB, flags);
    for (const i of [3, M2 + 7, 3 * M2]) g.allocFolio(i);
    const refuse = (index: number) => {
      try { g.convert(0, 8 * MiB, "private"); assert.unreachable("converted with a busy folio"); } catch (e) {
        assert.is((e as { code: string }).code, "EAGAIN");
        assert.is((e as { errorOffset: number }).errorOffset, index * 4096, "error_index = the busy folio");
      }
    };
    for (const [kind, add, drop] of [
      ["transient", (i: number) => g.ref(i, "transient", 1), (i: number) => g.ref(i, "transient", -1)],
      ["map", (i: number) => rawRef(g, i, "map", 1), (i: number) => rawRef(g, i, "map", -1)],
      ["pin", (i: number) => rawRef(g, i, "pin", 1), (i: number) => rawRef(g, i, "pin", -1)],
    ] as const) {
      add(M2 + 7); add(M2 + 7); add(3 * M2); // two references on one folio, one on a folio of another block
      g.check(); // the checker recounts the busy blocks and compares
      refuse(M2 + 7);
      drop(M2 + 7);
      refuse(M2 + 7);
      drop(M2 + 7);
      g.check();
      refuse(3 * M2);
      drop(3 * M2);
      g.check();
      assert.is(g.runs().length, 1, `${kind}: nothing changed while refused`);
    }
    g.convert(0, 8 * MiB, "private"); // quiet everywhere now
    g.convert(0, 8 * MiB, "shared");
    g.check();
  }
  // a huge folio: a pin makes its block busy, the unpin quiet again
  const h = sim.createGmem(4 * MiB, ["mmap", "init-private", "hugetlb-2M"]);
  h.allocFolio(0);
  rawRef(h, 5, "pin", 1);
  h.check();
  assert.is(code(() => h.splitFolio(0)), "EAGAIN");
  rawRef(h, 5, "pin", -1);
  h.check();
  h.splitFolio(0);
  h.check();
});

test("folio: split and merge refuse while a pin, a host mapping or a transient reference is held", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const g = sim.createGmem(4 * MiB, ["mmap", "init-private", "hugetlb-2M"]);
  g.allocFolio(0);
  rawRef(g, 7, "pin", 1);
  const pinned = g.folio(7);
  assert.is(pinned.refcount, 512 + 1, "a pin on a large folio adds 1 ...");
  assert.is(pinned.pincount, 1, "... and counts in pincount");
  try { g.splitFolio(0); assert.unreachable(); } catch (e) {
    assert.is((e as { code: string }).code, "EAGAIN");
    assert.is((e as { errorOffset: number }).errorOffset, 0, "error index = the folio's first index");
  }
  assert.is(g.folio(0).state, "huge", "nothing changed");
  rawRef(g, 7, "pin", -1);
  g.splitFolio(0);
  rawRef(g, 300, "pin", 1);
  assert.is(g.folio(300).refcount, 1 + 1024, "a pin on a small folio adds GUP_PIN_COUNTING_BIAS");
  try { g.mergeFolio(0); assert.unreachable(); } catch (e) {
    assert.is((e as { code: string }).code, "EAGAIN");
    assert.is((e as { errorOffset: number }).errorOffset, 300 * 4096);
  }
  rawRef(g, 300, "pin", -1);
  rawRef(g, 301, "map", 1);
  assert.is(code(() => g.mergeFolio(0)), "EAGAIN");
  assert.is(code(() => g.freeBlock(0)), "EAGAIN");
  rawRef(g, 301, "map", -1);
  g.ref(302, "transient", 1);
  assert.is(code(() => g.mergeFolio(0)), "EAGAIN");
  g.ref(302, "transient", -1);
  g.mergeFolio(0);
  assert.is(code(() => g.ref(302, "transient", -1)), "EINVAL", "cannot drop the filemap's own references");
  assert.is(code(() => rawRef(g, 302, "pin", -1)), "EINVAL", "no pin to drop");
  assert.is(code(() => g.ref(302, "pin" as "transient", 1)), "EINVAL", "the public API takes transient references only");
  assert.is(code(() => g.mergeFolio(0)), "EINVAL", "already huge");
  g.check();
});

test("folio: truncating a block returns its frames; a 4 KiB-backed inode allocates page by page", () => {
  const sim = createSimulatorSync(undefined, { debug: true });
  const g = sim.createGmem(4 * MiB, ["mmap", "hugetlb-2M"]);
  g.allocFolio(M2);
  assert.is(sim.memoryStats().pfn2M, 1);
  g.freeBlock(M2);
  assert.is(g.folio(M2).state, "absent");
  assert.is(sim.memoryStats().pfn2M, 0);
  g.allocFolio(M2 + 1);
  assert.is(sim.memoryStats().pfn2M, 1, "the freed 2 MiB page is reused");

  const s = sim.createGmem(3 * MiB + 4096, ["mmap"]);
  assert.is(s.hugeOrder, 0);
  s.allocFolio(700);
  s.allocFolio(701);
  assert.is(s.folio(700).state, "small");
  assert.is(s.folio(702).state, "absent");
  assert.is(s.populated, 2);
  assert.is(code(() => s.splitFolio(700)), undefined, "splitting a small folio is a no-op");
  assert.is(code(() => s.mergeFolio(700)), "EINVAL", "no HugeTLB block to merge");
  s.allocFolio(s.npages - 1); // 768: the ragged last page, in the same 2 MiB granule as 700
  s.allocFolio(10);
  assert.is(s.populated, 4);
  s.freeBlock(700);
  assert.is(s.populated, 1);
  assert.is(s.folio(701).state, "absent");
  s.check();
  g.check();
});

test("folio: gmem.create flag and size errors (KVM_CREATE_GUEST_MEMFD)", () => {
  const sim = createSimulatorSync();
  const cases: [string, number | bigint, GmemFlag[], "v2" | "v4", string | undefined][] = [
    ["size 0", 0, [], "v2", "EINVAL"],
    ["negative", -4096, [], "v2", "EINVAL"],
    ["unaligned", 4097, [], "v2", "EINVAL"],
    ["fraction", 4096.5, [], "v2", "EINVAL"],
    ["NaN", NaN, [], "v2", "EINVAL"],
    ["past 2^53", 2n ** 60n, [], "v2", "EINVAL"],
    ["both init flags", 4096, ["mmap", "init-shared", "init-private"], "v2", "EINVAL"],
    ["both hugetlb sizes", 4 * MiB, ["hugetlb-2M", "hugetlb-1G"], "v2", "EINVAL"],
    ["v2 init-private needs mmap", 4096, ["init-private"], "v2", "EINVAL"],
    ["v4 init-shared needs mmap", 4096, ["init-shared"], "v4", "EINVAL"],
    ["hugetlb-2M size not 2M-aligned", 3 * MiB, ["hugetlb-2M"], "v2", "EINVAL"],
    ["hugetlb-1G size not 1G-aligned", 2 * MiB, ["hugetlb-1G"], "v2", "EINVAL"],
    ["unknown flag", 4096, ["huge" as GmemFlag], "v2", "EINVAL"],
    ["past the model's 8 TiB", 2 ** 43 + 4096, [], "v2", "ENOMEM"],
    ["v2 default", 4096, [], "v2", undefined],
    ["v4 init-shared with mmap", 4096, ["mmap", "init-shared"], "v4", undefined],
  ];
  for (const [name, size, flags, proto, want] of cases) {
    assert.is(code(() => sim.createGmem(size, flags, proto)), want, name);
  }
  assert.is(sim.createGmem(8192, [], "v2").countShared(), 2, "v2 starts shared");
  assert.is(sim.createGmem(8192, [], "v4").countShared(), 0, "v4 starts private");
  assert.is(sim.createGmem(8192, ["mmap", "init-private"], "v2").countShared(), 0);
});

test.run();
