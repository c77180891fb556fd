// Pinned pages that truncation removed from the filemap. truncate_inode_folio removes a pinned 4 KiB page from
// the filemap anyway: the pins keep the frame, and whatever a device (pin-mode IOMMU) reads or writes through them
// goes to that frame, not to the page the index gets next. One record per frame, in an array grown by doubling.
//   record (ORPH_SIZE): +0 index u32, +4 pfn u32, +8 pins u32 (all), +12 pins a pin-mode IOMMU holds u32,
//   +16 content word u64
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

export function orphanAdd(gi: u32, index: u32, pfn: u32, pins: u32, iopins: u32, content: u64): bool {
  const n = load<u32>(gi, GI_ORPH_N);
  const cap = load<u32>(gi, GI_ORPH_CAP);
  if (n == cap) {
    const ncap = cap == 0 ? 128 : cap * 2;
    const arr = pageAlloc(orderFor(<u64>ncap * ORPH_SIZE));
    if (arr == 0) return false;
    const old = load<u32>(gi, GI_ORPH);
    if (old != 0) {
      memory.copy(arr, old, <usize>n * ORPH_SIZE);
      pageFree(old, orderFor(<u64>cap * ORPH_SIZE));
    }
    store<u32>(gi, arr, GI_ORPH);
    store<u32>(gi, ncap, GI_ORPH_CAP);
  }
  const r = orphanAt(gi, n);
  store<u32>(r, index, OR_INDEX);
  store<u32>(r, pfn, OR_PFN);
  store<u32>(r, pins, OR_PINS);
  store<u32>(r, iopins, OR_IOPINS);
  store<u64>(r, content, OR_CONTENT);
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

/** The record holding frame pfn, or 0. */
export function orphanByPfn(gi: u32, pfn: u32): usize {
  const n = load<u32>(gi, GI_ORPH_N);
  for (let i: u32 = 0; i < n; i++) { const r = orphanAt(gi, i); if (load<u32>(r, OR_PFN) == pfn) return r; }
  return 0;
}

/** Drop one pin (a host pin, or an IOMMU's); the frame goes back to the pool with the last one. */
export function orphanUnpin(gi: u32, rec: usize, iommu: bool): void {
  const pins = load<u32>(rec, OR_PINS) - 1;
  if (iommu) store<u32>(rec, load<u32>(rec, OR_IOPINS) - 1, OR_IOPINS);
  if (pins != 0) { store<u32>(rec, pins, OR_PINS); return; }
  pfnFree(load<u32>(rec, OR_PFN), 0);
  const n = load<u32>(gi, GI_ORPH_N) - 1;
  const last = orphanAt(gi, n);
  if (last != rec) memory.copy(rec, last, ORPH_SIZE);
  store<u32>(gi, n, GI_ORPH_N);
}

/** Free the array (the inode is going away; the caller made sure no record is left). */
export function orphanRelease(gi: u32): void {
  const arr = load<u32>(gi, GI_ORPH);
  if (arr != 0) pageFree(arr, orderFor(<u64>load<u32>(gi, GI_ORPH_CAP) * ORPH_SIZE));
  store<u32>(gi, 0, GI_ORPH);
  store<u32>(gi, 0, GI_ORPH_N);
  store<u32>(gi, 0, GI_ORPH_CAP);
}
