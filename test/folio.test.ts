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
