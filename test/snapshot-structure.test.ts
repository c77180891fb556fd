// A snapshot's checksum only shows accidents: whoever can change the bytes can recompute it. Behind it, the core
// checks the structures every later allocation trusts (assembly/api/sim.ts sim_image_check: the heap's page map and
// free lists, the object table and its free-slot list, the pfn pools, the header at rest) before any instance
// attaches, so an image whose free list points into live structures, loops, or whose table points anywhere is
// refused with EINVAL, never used. Every edit here is resealed with the checksum recomputed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, restoreSimulator, layout as L } from "../bindings/index";
import { hash } from "../bindings/snapshot"; // the checksum, to reseal an edited image

const M = 2 ** 20;
const HEADER = 32;


/** A busy state with freed heap blocks, freed object slots and freed frames on the pfn stacks. */
function busySnapshot(): Uint8Array {
  const sim = createSimulatorSync(undefined, { arch: "tdx" });
  const keep = sim.createGmem(4 * M, ["mmap", "init-private", "hugetlb-2M"]);
  const vm = sim.createVm();
  vm.bind(0, 0, 4 * M, keep, 0);
  vm.access(0x1000, { private: true, write: 5 });
  const io = sim.createIommu("gmem");
  io.bind(keep);
  for (let i = 0; i < 3; i++) {
    const gone = sim.createGmem(M, ["mmap", "init-shared"]);
    gone.mmap();
    for (let p = 0; p < 8; p++) gone.hostAccess(p * 4096, { write: p });
    gone.munmap();
    gone.dispose();
  }
  sim.createBitmap(100000).dispose();
  // two free buddy blocks of one order (freed single pages go to the per-cpu list instead)
  const x1 = sim.createBitmap(100000);
  sim.createBitmap(100000); // kept between them: the two cannot merge
  const x3 = sim.createBitmap(100000);
  x1.dispose();
  x3.dispose();
  sim.createBitmap(2 ** 20); // kept: its words are a block of several pages
  const a = sim.createBitmap(64), b = sim.createBitmap(64);
  a.dispose(); // two freed slots on the free-slot list
  b.dispose();
  return sim.snapshot();
}

/** An edited copy of a snapshot, resealed; `at(a)` is the image byte offset of memory address a. */
class Image {
  readonly x: Uint8Array;
  readonly dv: DataView;
  readonly base: number;
  constructor(bytes: Uint8Array) {
    this.x = bytes.slice();
    this.dv = new DataView(this.x.buffer);
    this.base = HEADER + ((this.dv.getUint32(16, true) + 3) & ~3);
  }
  /** where memory address a is in the image (which leaves the event rings out) */
  at(a: number): number { return this.base + (a >= L.RINGS_END ? a - (L.RINGS_END - L.RING_BASE) : a); }
  get(a: number): number { return this.dv.getUint32(this.at(a), true); }
  set(a: number, v: number): void { this.dv.setUint32(this.at(a), v >>> 0, true); }
  get top(): number { return this.get(L.H_HEAP_TOP); }
  pagemap(a: number): number { return this.get(L.PAGEMAP_BASE + (a >>> 12) * 4); }
  setPagemap(a: number, v: number): void { this.set(L.PAGEMAP_BASE + (a >>> 12) * 4, v); }
  slot(i: number, field: number): number { return L.OBJ_TABLE + i * L.OBJ_SLOT_SIZE + field; }
  /** the first slot of the object table that is live (type != 0) or free (type == 0) below H_OBJ_NEXT */
  findSlot(live: boolean): number {
    for (let i = 1; i < this.get(L.H_OBJ_NEXT); i++) if ((this.x[this.base + this.slot(i, L.OS_TYPE)] !== 0) === live) return i;
    throw new Error("no such slot");
  }
  /** the heads of blocks in the heap whose page-map byte has `flag` (FREE or USED) */
  blocks(flag: number): { addr: number; order: number }[] {
    const r: { addr: number; order: number }[] = [];
    for (let a = L.HEAP_BASE; a < this.top;) {
      const e = this.pagemap(a) & 0xff;
      if ((e & 0xc0) === flag) r.push({ addr: a, order: e & 0x3f });
      a += 4096 * 2 ** (e & 0x3f);
    }
    return r;
  }
  /** the per-cpu list of free single pages, linked through the page map (bits 8-31: next address >> 12) */
  pcpList(): number[] {
    const nodes: number[] = [];
    for (let n = this.get(L.H_PCP_HEAD); n !== 0 && nodes.length < 10000; n = (this.pagemap(n) >>> 8) * 4096) nodes.push(n);
    return nodes;
  }
  /** the order whose free list is longest (its head first) */
  longestList(): { order: number; nodes: number[] } {
    let best = { order: 0, nodes: [] as number[] };
    for (let k = 0; k <= L.MAX_ORDER; k++) {
      const nodes: number[] = [];
      for (let n = this.get(L.H_FREE_HEADS + 4 * k); n !== 0 && nodes.length < 10000; n = this.get(n)) nodes.push(n);
      if (nodes.length > best.nodes.length) best = { order: k, nodes };
    }
    return best;
  }
  sealed(): Uint8Array {
    this.dv.setUint32(24, hash(this.x.subarray(HEADER)), true);
    return this.x;
  }
}

const bytes = busySnapshot();

/** Each corruption: what it is, and the edit (on a fresh copy). */
const CORRUPTIONS: [string, (m: Image) => void][] = [
  // the heap top (the binding already refuses a top that is not the image's size; these keep the two equal)
  ["heap top not page aligned (image cut to match)", (m) => cutImage(m, 4)],
  ["heap top one page lower, cutting the last block (image cut to match)", (m) => cutImage(m, 4096)],
  // the free lists
  ["free-list head pointing into a live object", (m) => m.set(L.H_FREE_HEADS, m.get(m.slot(m.findSlot(true), L.OS_PTR)))],
  ["free-list head pointing at an allocated block", (m) => m.set(L.H_FREE_HEADS + 4, m.blocks(0x40)[3].addr)],
  ["free-list head past the heap top", (m) => m.set(L.H_FREE_HEADS, m.top + 4096)],
  ["free-list head past 4 GiB - 4 KiB", (m) => m.set(L.H_FREE_HEADS, 0xfffff000)],
  ["free-list head below the heap (the page map)", (m) => m.set(L.H_FREE_HEADS, L.PAGEMAP_BASE)],
  ["free-list head not page aligned", (m) => { const l = m.longestList(); m.set(L.H_FREE_HEADS + 4 * l.order, l.nodes[0] + 8); }],
  ["free list made cyclic (last node back to the head)", (m) => { const l = m.longestList(); m.set(l.nodes[l.nodes.length - 1], l.nodes[0]); }],
  ["free list node pointing at itself", (m) => { const l = m.longestList(); m.set(l.nodes[0], l.nodes[0]); }],
  ["free block dropped from its list (head skips it)", (m) => {
    const l = m.longestList();
    m.set(L.H_FREE_HEADS + 4 * l.order, l.nodes[1] ?? 0);
    if (l.nodes[1]) m.set(l.nodes[1] + 4, 0);
  }],
  ["free block on the list of another order", (m) => { const l = m.longestList(); m.setPagemap(l.nodes[0], 0x80 | (l.order + 1)); }],
  // the per-cpu list
  ["per-cpu list head at an allocated block", (m) => m.set(L.H_PCP_HEAD, m.blocks(L.PAGEMAP_USED)[3].addr)],
  ["per-cpu list head past the heap top", (m) => m.set(L.H_PCP_HEAD, m.top + 4096)],
  ["per-cpu list made cyclic (last page back to the first)", (m) => {
    const l = m.pcpList();
    m.setPagemap(l[l.length - 1], L.PAGEMAP_PCP | ((l[0] / 4096) << 8));
  }],
  ["per-cpu page dropped from its list (head skips it)", (m) => m.set(L.H_PCP_HEAD, m.pcpList()[1] ?? 0)],
  ["per-cpu page marked a free buddy", (m) => m.setPagemap(m.pcpList()[0], 0x80)],
  ["per-cpu count off by one", (m) => m.set(L.H_PCP_COUNT, m.get(L.H_PCP_COUNT) + 1)],
  // the page map
  ["allocated block's head byte cleared", (m) => m.setPagemap(m.blocks(0x40)[0].addr, 0)],
  ["an interior page of an allocated block marked a free buddy", (m) => {
    const big = m.blocks(0x40).find((b) => b.order >= 1)!;
    m.setPagemap(big.addr + 4096 * 2 ** (big.order - 1), 0x80 | (big.order - 1));
  }],
  ["a page above the heap top marked free", (m) => m.setPagemap(m.top, 0x80)],
  ["a block head of order 40", (m) => m.setPagemap(m.blocks(0x40)[0].addr, 0x40 | 40)],
  ["allocated-page count off by one", (m) => m.set(L.H_PAGES_USED, m.get(L.H_PAGES_USED) + 1)],
  // the object table
  ["live object pointing outside the heap", (m) => m.set(m.slot(m.findSlot(true), L.OS_PTR), 0x10)],
  ["live object pointing past the heap top", (m) => m.set(m.slot(m.findSlot(true), L.OS_PTR), m.top + 4096)],
  ["live object pointing at a free block", (m) => m.set(m.slot(m.findSlot(true), L.OS_PTR), m.longestList().nodes[0])],
  ["live object pointing inside a block", (m) => m.set(m.slot(m.findSlot(true), L.OS_PTR), m.get(m.slot(m.findSlot(true), L.OS_PTR)) + 64)],
  ["object slot of an unknown kind", (m) => { m.x[m.base + m.slot(m.findSlot(true), L.OS_TYPE)] = 9; }],
  ["free object slot keeping a pointer", (m) => m.set(m.slot(m.findSlot(false), L.OS_PTR), m.blocks(0x40)[0].addr)],
  ["live object of generation 0", (m) => m.set(m.slot(m.findSlot(true), L.OS_GEN), 0)],
  ["next never-used slot past the table", (m) => m.set(L.H_OBJ_NEXT, L.OBJ_MAX + 1)],
  ["a slot above the next never-used one in use", (m) => { const i = m.get(L.H_OBJ_NEXT) + 2; m.x[m.base + m.slot(i, L.OS_TYPE)] = 3; m.set(m.slot(i, L.OS_PTR), m.blocks(0x40)[0].addr); }],
  ["live-object count off by one", (m) => m.set(L.H_OBJ_LIVE, m.get(L.H_OBJ_LIVE) + 1)],
  ["free-slot list head at a live slot", (m) => m.set(L.H_OBJ_FREE, m.findSlot(true))],
  ["free-slot list head out of range", (m) => m.set(L.H_OBJ_FREE, 0xfffff)],
  ["free-slot list made cyclic", (m) => { const i = m.get(L.H_OBJ_FREE); m.set(m.slot(i, L.OS_NEXT), i); }],
  // the pfn pools
  ["pfn watermark below its pool", (m) => m.set(L.PFN_NEXT_SMALL, 0)],
  ["pfn frames in use past the capacity", (m) => m.set(L.PFN_USED_2M, m.get(L.PFN_LIMIT_2M) + 1)],
  ["pfn stack pointing at a live object", (m) => m.set(L.PFN_STACK_SMALL, m.get(m.slot(m.findSlot(true), L.OS_PTR)))],
  ["pfn stack page claiming 5000 pfns", (m) => m.set(m.get(L.PFN_STACK_SMALL) + 4, 5000)],
  ["pfn stack chain made cyclic", (m) => { const p = m.get(L.PFN_STACK_SMALL); m.set(p, p); }],
  ["pfn on the stack never handed out", (m) => m.set(m.get(L.PFN_STACK_SMALL) + 8, 0x0fffffff)],
  // the header
  ["world stop held", (m) => m.set(L.H_FREEZE, 1)],
  ["allocator lock held", (m) => m.set(L.H_ALLOC_LOCK, 1)],
  ["machine marked dead", (m) => m.set(L.H_DEAD, 3)],
  ["an instance block claimed", (m) => m.set(L.INSTANCE_BASE + L.IN_STATE, 1)],
  ["arch 7", (m) => m.set(L.H_ARCH, 7)],
];

/** Lower the heap top (and the snapshot's `used`) by n bytes, cutting the image to match. */
function cutImage(m: Image, n: number): void {
  m.set(L.H_HEAP_TOP, m.top - n);
  m.dv.setUint32(12, m.dv.getUint32(12, true) - n, true);
  (m as { x: Uint8Array }).x = m.x.slice(0, m.x.length - n);
  (m as { dv: DataView }).dv = new DataView(m.x.buffer);
}

test("snapshot structure: the busy image restores and checks (the cases below start from it)", () => {
  const m = new Image(bytes);
  assert.ok(m.longestList().nodes.length >= 2, "free blocks are listed");
  assert.ok(m.pcpList().length >= 2 && m.pcpList().length === m.get(L.H_PCP_COUNT), "freed single pages are on the per-cpu list");
  assert.ok(m.get(L.H_OBJ_FREE) !== 0, "a freed object slot is listed");
  assert.ok(m.get(L.PFN_STACK_SMALL) !== 0, "freed frames are stacked");
  restoreSimulator(m.sealed()).checkInvariants();
});

for (const [what, edit] of CORRUPTIONS) {
  test(`snapshot structure: refused with EINVAL, never used: ${what}`, () => {
    const m = new Image(bytes);
    edit(m);
    const t0 = performance.now();
    let code: string | undefined, message = "";
    try { restoreSimulator(m.sealed()); } catch (e) { code = (e as { code?: string }).code; message = (e as Error).message; }
    assert.is(code, "EINVAL", `restored: ${what}`);
    assert.match(message, /^restore: EINVAL \(/);
    assert.ok(performance.now() - t0 < 5000, "refused in bounded time");
  });
}

test("snapshot structure: after the refusals, the intact snapshot still restores and continues", () => {
  const sim = restoreSimulator(bytes);
  sim.checkInvariants();
  const g = sim.createGmem(2 * M, ["mmap", "init-shared"]);
  g.mmap();
  g.hostAccess(0, { write: 9 });
  assert.is(g.hostAccess(0).value, 9);
  sim.checkInvariants();
});

test.run();
