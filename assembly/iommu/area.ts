// The areas userspace mapped into an IOMMU domain (iommufd's iopt_area): a heap array sorted by (secure, iova), so
// lookups by iova are binary searches and inserts and removals move the tail (appending in iova order, the common
// case, moves nothing). The array grows by doubling.
//   area (IO_AREA_SIZE): +0 used u32, +4 first iova page u32, +8 pages u32, +12 inode u32, +16 first gmem index u32,
//   +20 secure u32, +24 pinned u32 (pin mode: the area holds GUP pins)
import { pageAlloc, pageFree, orderFor } from "../mm/alloc";
import { ptWalkLeaf, ptZapRange, sptePfn, ZAP_WHOLE } from "../lib/pagetable";
import { iterPush, iterPop } from "../lib/iter";
import { folioPfn } from "../gmem/folio";
import { folioRef, folioIoPins, REF_IOMMU_PIN } from "../gmem/refs";
import { orphanByPfn, orphanIoPins, orphanUnpin } from "../gmem/orphan";
import { IO_NAREAS, IO_AREA_PTR, IO_AREA_CAP, ioPt } from "./domain";

const AR_USED: usize = 0;
const AR_IOVA: usize = 4;
const AR_NPAGES: usize = 8;
const AR_INODE: usize = 12;
const AR_PGOFF: usize = 16;
const AR_SECURE: usize = 20;
const AR_PINNED: usize = 24;
export const IO_AREA_SIZE: u32 = 32;
const IO_MAX_AREAS: u32 = 0x1000000; //             a sanity bound; the array grows with memory

// @ts-ignore: decorator
@inline export function nAreas(io: u32): u32 { return load<u32>(io, IO_NAREAS); }
// @ts-ignore: decorator
@inline export function ioArea(io: u32, i: u32): usize { return <usize>load<u32>(io, IO_AREA_PTR) + <usize>i * IO_AREA_SIZE; }
// @ts-ignore: decorator
@inline export function areaIova(a: usize): u32 { return load<u32>(a, AR_IOVA); }
// @ts-ignore: decorator
@inline export function areaNpages(a: usize): u32 { return load<u32>(a, AR_NPAGES); }
// @ts-ignore: decorator
@inline export function areaInode(a: usize): u32 { return load<u32>(a, AR_INODE); }
// @ts-ignore: decorator
@inline export function areaPgoff(a: usize): u32 { return load<u32>(a, AR_PGOFF); }
// @ts-ignore: decorator
@inline export function areaSecure(a: usize): bool { return load<u32>(a, AR_SECURE) != 0; }
// @ts-ignore: decorator
@inline export function areaPinned(a: usize): bool { return load<u32>(a, AR_PINNED) != 0; }
// @ts-ignore: decorator
@inline export function areaUsed(a: usize): bool { return load<u32>(a, AR_USED) != 0; }
// @ts-ignore: decorator
@inline function areaKey(a: usize): u64 { return (<u64>load<u32>(a, AR_SECURE) << 32) | <u64>load<u32>(a, AR_IOVA); }

/** First area whose key is >= (secure, iova). */
function lowerBound(io: u32, secure: bool, iova: u32): u32 {
  const key = (<u64>(secure ? 1 : 0) << 32) | <u64>iova;
  let lo: u32 = 0, hi = nAreas(io);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (areaKey(ioArea(io, mid)) < key) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** The index of the first area of `secure`'s table (the areas of a table follow in iova order): a walk's cursor. */
export function areaFirst(io: u32, secure: bool): u32 { return lowerBound(io, secure, 0); }

/** The area of `secure`'s table holding iova page iova, or 0. */
export function findArea(io: u32, iova: u32, secure: bool): usize {
  const i = lowerBound(io, secure, iova);
  if (i < nAreas(io) && areaKey(ioArea(io, i)) == ((<u64>(secure ? 1 : 0) << 32) | <u64>iova)) return ioArea(io, i);
  if (i == 0) return 0;
  const a = ioArea(io, i - 1);
  if (areaSecure(a) != secure) return 0;
  return iova - areaIova(a) < areaNpages(a) ? a : 0;
}

/** Does [iova, iova + n) of `secure`'s table overlap any area? */
export function overlapsArea(io: u32, iova: u32, n: u32, secure: bool): bool {
  const i = lowerBound(io, secure, iova);
  if (i < nAreas(io)) {
    const a = ioArea(io, i);
    if (areaSecure(a) == secure && <u64>areaIova(a) < <u64>iova + n) return true;
  }
  if (i > 0) {
    const a = ioArea(io, i - 1);
    if (areaSecure(a) == secure && <u64>areaIova(a) + areaNpages(a) > <u64>iova) return true;
  }
  return false;
}

/** Make room for one more area; false on -ENOMEM. */
export function reserveArea(io: u32): bool {
  const n = nAreas(io), cap = load<u32>(io, IO_AREA_CAP);
  if (n >= IO_MAX_AREAS) return false;
  if (n < cap) return true;
  const ncap = cap == 0 ? 64 : cap * 2;
  const arr = pageAlloc(orderFor(<u64>ncap * IO_AREA_SIZE));
  if (arr == 0) return false;
  const old = load<u32>(io, IO_AREA_PTR);
  if (old != 0) {
    memory.copy(arr, old, <usize>n * IO_AREA_SIZE);
    pageFree(old, orderFor(<u64>cap * IO_AREA_SIZE));
  }
  store<u32>(io, arr, IO_AREA_PTR);
  store<u32>(io, ncap, IO_AREA_CAP);
  return true;
}

export function freeAreas(io: u32): void {
  const arr = load<u32>(io, IO_AREA_PTR);
  if (arr != 0) pageFree(arr, orderFor(<u64>load<u32>(io, IO_AREA_CAP) * IO_AREA_SIZE));
  store<u32>(io, 0, IO_AREA_PTR);
  store<u32>(io, 0, IO_AREA_CAP);
}

/** Insert an area in key order (room reserved by reserveArea). */
export function recordArea(io: u32, iova: u32, n: u32, gi: u32, pg: u32, secure: bool, pinned: bool): void {
  const i = lowerBound(io, secure, iova);
  const cnt = nAreas(io);
  if (i < cnt) memory.copy(ioArea(io, i + 1), ioArea(io, i), <usize>(cnt - i) * IO_AREA_SIZE);
  const a = ioArea(io, i);
  store<u32>(a, 1, AR_USED);
  store<u32>(a, iova, AR_IOVA);
  store<u32>(a, n, AR_NPAGES);
  store<u32>(a, gi, AR_INODE);
  store<u32>(a, pg, AR_PGOFF);
  store<u32>(a, secure ? 1 : 0, AR_SECURE);
  store<u32>(a, pinned ? 1 : 0, AR_PINNED);
  store<u32>(io, cnt + 1, IO_NAREAS);
}

/**
 * Remove area a: zap its entries and, in pin mode, drop its pins (each pin belongs to the frame the entry points
 * at: the index's folio, or a frame truncation orphaned). The next area moves into its slot. The entries removed.
 */
export function dropArea(io: u32, a: usize): u32 {
  const secure = areaSecure(a);
  const iova = areaIova(a), n = areaNpages(a);
  const pt = ioPt(io, secure);
  if (areaPinned(a)) {
    const gi = areaInode(a), pg = areaPgoff(a);
    for (let i: u32 = 0; i < n; i++) {
      const p = ptWalkLeaf(pt, iova + i);
      if (p == 0) continue;
      const pfn = sptePfn(load<u64>(p)); // pin-mode entries are 4 KiB
      if (folioPfn(gi, pg + i) == pfn && folioIoPins(gi, pg + i) != 0) folioRef(gi, pg + i, REF_IOMMU_PIN, -1);
      else { const o = orphanByPfn(gi, pfn); if (o != 0 && orphanIoPins(o) != 0) orphanUnpin(gi, o, true); }
    }
  }
  const it = iterPush();
  const r = ptZapRange(pt, it, <u64>iova, <u64>iova + n, ZAP_WHOLE);
  iterPop();
  const end = ioArea(io, nAreas(io));
  if (a + IO_AREA_SIZE < end) memory.copy(a, a + IO_AREA_SIZE, end - a - IO_AREA_SIZE); // keep the order
  memory.fill(end - IO_AREA_SIZE, 0, IO_AREA_SIZE);
  store<u32>(io, nAreas(io) - 1, IO_NAREAS);
  return r < 0 ? 0 : <u32>r;
}
