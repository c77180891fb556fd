// Pinned pages that truncation removed from the filemap. truncate_inode_folio removes a pinned 4 KiB page from
// the filemap anyway: the pins keep the frame, and whatever a device (pin-mode IOMMU) reads or writes through them
// goes to that frame, not to the page the index gets next. One record per frame, in an array grown by doubling,
// and an index by pfn behind it in the same block (open addressing, twice as many slots as records, so a lookup
// by frame is constant time: a pin-mode unmap, a DMA and the invariant checker look up every entry's frame).
//   record (ORPH_SIZE): +0 index u32, +4 pfn u32, +8 pins u32 (all), +12 pins a pin-mode IOMMU holds u32,
//   +16 content word u64
//   pfn index (after cap records): u32[2 * cap] record number + 1 (0: empty), linear probing from pfnSlot(pfn)
import { GI_ORPH, GI_ORPH_N, GI_ORPH_CAP } from "../abi/records";
import { pageAlloc, pageFree, orderFor } from "../mm/alloc";
import { pfnFree } from "../mm/pfn";

const OR_INDEX: usize = 0;
const OR_PFN: usize = 4;
const OR_PINS: usize = 8;
const OR_IOPINS: usize = 12;
const OR_CONTENT: usize = 16;
const ORPH_SIZE: u32 = 32;

// @ts-ignore: decorator
@inline function orphanAt(gi: u32, i: u32): usize { return <usize>load<u32>(gi, GI_ORPH) + <usize>i * ORPH_SIZE; }
// @ts-ignore: decorator
@inline export function orphanCount(gi: u32): u32 { return load<u32>(gi, GI_ORPH_N); }
// @ts-ignore: decorator
@inline export function orphanPfn(rec: usize): u32 { return load<u32>(rec, OR_PFN); }
// @ts-ignore: decorator
@inline export function orphanIoPins(rec: usize): u32 { return load<u32>(rec, OR_IOPINS); }
// @ts-ignore: decorator
@inline export function orphanContent(rec: usize): u64 { return load<u64>(rec, OR_CONTENT); }
// @ts-ignore: decorator
@inline export function orphanSetContent(rec: usize, w: u64): void { store<u64>(rec, w, OR_CONTENT); }

/** The order of the block holding cap records and their pfn index. */
function arrayOrder(cap: u32): u32 { return orderFor(<u64>cap * (ORPH_SIZE + 8)); }

/** The pfn index: u32[2 * cap] after the records (cap is a power of two). */
// @ts-ignore: decorator
@inline function indexBase(gi: u32): usize { return <usize>load<u32>(gi, GI_ORPH) + <usize>load<u32>(gi, GI_ORPH_CAP) * ORPH_SIZE; }
// @ts-ignore: decorator
@inline function indexMask(gi: u32): u32 { return 2 * load<u32>(gi, GI_ORPH_CAP) - 1; }
// @ts-ignore: decorator
@inline function pfnSlot(gi: u32, pfn: u32): u32 { return (pfn * 0x9e3779b1) >> 7 & indexMask(gi); }

/** Enter record i (its pfn) in the index (a free slot exists: at most cap of the 2 * cap are used). */
function indexInsert(gi: u32, i: u32): void {
  const base = indexBase(gi), mask = indexMask(gi);
  let s = pfnSlot(gi, load<u32>(orphanAt(gi, i), OR_PFN));
  while (load<u32>(base + (<usize>s << 2)) != 0) s = (s + 1) & mask;
  store<u32>(base + (<usize>s << 2), i + 1);
}

/** The index slot holding record i (it is there). */
function indexSlotOf(gi: u32, i: u32): u32 {
  const base = indexBase(gi), mask = indexMask(gi);
  let s = pfnSlot(gi, load<u32>(orphanAt(gi, i), OR_PFN));
  while (load<u32>(base + (<usize>s << 2)) != i + 1) s = (s + 1) & mask;
  return s;
}

/** Empty slot s, moving later entries of its probe run back so every lookup still finds them (Knuth's algorithm R). */
function indexDelete(gi: u32, s: u32): void {
  const base = indexBase(gi), mask = indexMask(gi);
  let hole = s, j = s;
  for (;;) {
    j = (j + 1) & mask;
    const v = load<u32>(base + (<usize>j << 2));
    if (v == 0) break;
    const home = pfnSlot(gi, load<u32>(orphanAt(gi, v - 1), OR_PFN));
    // move v into the hole unless its home lies cyclically in (hole, j]
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      store<u32>(base + (<usize>hole << 2), v);
      hole = j;
    }
  }
  store<u32>(base + (<usize>hole << 2), 0);
}

export function orphanAdd(gi: u32, index: u32, pfn: u32, pins: u32, iopins: u32, content: u64): bool {
  const n = load<u32>(gi, GI_ORPH_N);
  const cap = load<u32>(gi, GI_ORPH_CAP);
  if (n == cap) {
    const ncap = cap == 0 ? 128 : cap * 2;
    const arr = pageAlloc(arrayOrder(ncap)); // (zeroed: an empty index)
    if (arr == 0) return false;
    const old = load<u32>(gi, GI_ORPH);
    if (old != 0) {
      memory.copy(arr, old, <usize>n * ORPH_SIZE);
      pageFree(old, arrayOrder(cap));
    }
    store<u32>(gi, arr, GI_ORPH);
    store<u32>(gi, ncap, GI_ORPH_CAP);
    for (let i: u32 = 0; i < n; i++) indexInsert(gi, i);
  }
  const r = orphanAt(gi, n);
  store<u32>(r, index, OR_INDEX);
  store<u32>(r, pfn, OR_PFN);
  store<u32>(r, pins, OR_PINS);
  store<u32>(r, iopins, OR_IOPINS);
  store<u64>(r, content, OR_CONTENT);
  indexInsert(gi, n);
  store<u32>(gi, n + 1, GI_ORPH_N);
  return true;
}

/** The record of index with pins of the given kind left (iommu: a pin-mode IOMMU's; else a host pin), or 0. */
export function orphanFind(gi: u32, index: u32, iommu: bool): usize {
  const n = load<u32>(gi, GI_ORPH_N);
  for (let i: u32 = 0; i < n; i++) {
    const r = orphanAt(gi, i);
    if (load<u32>(r, OR_INDEX) != index) continue;
    const io = load<u32>(r, OR_IOPINS), all = load<u32>(r, OR_PINS);
    if (iommu ? io != 0 : all > io) return r;
  }
  return 0;
}

/** The record holding frame pfn, or 0 (constant time: the pfn index). */
export function orphanByPfn(gi: u32, pfn: u32): usize {
  if (load<u32>(gi, GI_ORPH_N) == 0) return 0;
  const base = indexBase(gi), mask = indexMask(gi);
  let s = pfnSlot(gi, pfn);
  for (let v = load<u32>(base + (<usize>s << 2)); v != 0; v = load<u32>(base + (<usize>s << 2))) {
    const r = orphanAt(gi, v - 1);
    if (load<u32>(r, OR_PFN) == pfn) return r;
    s = (s + 1) & mask;
  }
  return 0;
}

/** Drop one pin (a host pin, or an IOMMU's); the frame goes back to the pool with the last one. */
export function orphanUnpin(gi: u32, rec: usize, iommu: bool): void {
  const pins = load<u32>(rec, OR_PINS) - 1;
  if (iommu) store<u32>(rec, load<u32>(rec, OR_IOPINS) - 1, OR_IOPINS);
  if (pins != 0) { store<u32>(rec, pins, OR_PINS); return; }
  pfnFree(load<u32>(rec, OR_PFN), 0);
  const i = <u32>((rec - <usize>load<u32>(gi, GI_ORPH)) / ORPH_SIZE);
  indexDelete(gi, indexSlotOf(gi, i));
  const n = load<u32>(gi, GI_ORPH_N) - 1;
  const last = orphanAt(gi, n);
  if (last != rec) { // the last record moves into the hole: its index slot follows
    store<u32>(indexBase(gi) + (<usize>indexSlotOf(gi, n) << 2), i + 1);
    memory.copy(rec, last, ORPH_SIZE);
  }
  store<u32>(gi, n, GI_ORPH_N);
}

/** Free the array (the inode is going away; the caller made sure no record is left). */
export function orphanRelease(gi: u32): void {
  const arr = load<u32>(gi, GI_ORPH);
  if (arr != 0) pageFree(arr, arrayOrder(load<u32>(gi, GI_ORPH_CAP)));
  store<u32>(gi, 0, GI_ORPH);
  store<u32>(gi, 0, GI_ORPH_N);
  store<u32>(gi, 0, GI_ORPH_CAP);
}
