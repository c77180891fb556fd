// What every gmem-mode IOMMU scheme shares: blocking map updates of a range between invalidate_begin and _end (an
// invalidation sequence and in-progress range like KVM's mmu_invalidate_*), revoking whole areas (truncation,
// unbind: "if it detects truncate while an iommufd area still covers the truncated region it can just revoke the
// whole area"), smashing IO entries larger than the backing, and reporting each callback as an event.
import {
  EV_IOMMU_INVALIDATE_BEGIN, EV_IOMMU_INVALIDATE_END, EV_IOMMU_INVALIDATE, EVF_SECURE,
} from "../abi/events";
import { CTR_REASON_BASE, SG_IOMMU_BLOCK } from "../abi/consts";
import { emit, counterBump } from "../lib/events";
import { safeguard } from "../lib/machine";
import { ptWalkLeaf, ptDemoteAt, spteLevel } from "../lib/pagetable";
import {
  IO_SEQ, IO_IN_PROGRESS, IO_RANGE_START, IO_RANGE_END, IO_RANGE_VALID, IO_SPANS, IO_MAX_SPANS, ioIndex, ioPt,
  ioLockWrite, iotlbFlush, ioIsGmem,
} from "./domain";
import {
  nAreas, ioArea, areaUsed, areaInode, areaPgoff, areaNpages, areaIova, areaSecure, dropArea,
} from "./area";

// the iova span the IOMMU's areas give to a gmem range (iovaSpan)
let spanStart: u32 = 0;
let spanEnd: u32 = 0;

/** The iova span the areas of one table (which: 0 non-secure, 1 secure, 2 both) give to gmem range [s, e). */
function iovaSpan(io: u32, gi: u32, s: u32, e: u32, which: u32): void {
  let found = false;
  spanStart = 0xffffffff; spanEnd = 0;
  for (let i: u32 = 0, na = nAreas(io); i < na; i++) {
    const a = ioArea(io, i);
    if (!areaUsed(a) || areaInode(a) != gi) continue;
    if (which != 2 && (areaSecure(a) ? 1 : 0) != which) continue;
    const pg = areaPgoff(a), n = areaNpages(a);
    const lo = s > pg ? s : pg, hi = e < pg + n ? e : pg + n;
    if (lo >= hi) continue;
    const ivs = areaIova(a) + lo - pg, ive = areaIova(a) + hi - pg;
    if (ivs < spanStart) spanStart = ivs;
    if (ive > spanEnd) spanEnd = ive;
    found = true;
  }
  if (!found) { spanStart = s; spanEnd = e; } // no area maps the range: report the gmem range
}

// @ts-ignore: decorator
@inline function spanAt(io: u32, i: u32): usize { return <usize>io + IO_SPANS + (<usize>i << 4); }

/** invalidate_begin for gmem range [s, e): map updates of the range wait until _end (unless SG_IOMMU_BLOCK is off). */
export function ioInvalidateBegin(io: u32, gi: u32, s: u32, e: u32): void {
  ioLockWrite(io);
  if (safeguard(SG_IOMMU_BLOCK)) {
    const n = load<i32>(io, IO_IN_PROGRESS) + 1;
    store<i32>(io, n, IO_IN_PROGRESS);
    if (n == 1 || load<u32>(io, IO_RANGE_VALID) == 0) {
      store<u32>(io, s, IO_RANGE_START);
      store<u32>(io, e, IO_RANGE_END);
      store<u32>(io, 1, IO_RANGE_VALID);
    } else {
      if (s < load<u32>(io, IO_RANGE_START)) store<u32>(io, s, IO_RANGE_START);
      if (e > load<u32>(io, IO_RANGE_END)) store<u32>(io, e, IO_RANGE_END);
    }
  }
  iovaSpan(io, gi, s, e, 2);
  // remember the span: a truncate may revoke the areas before invalidate_end reports the same range
  for (let i: u32 = 0; i < IO_MAX_SPANS; i++) {
    const r = spanAt(io, i);
    if (load<u32>(r, 12) != 0) continue;
    store<u32>(r, s); store<u32>(r, e, 4); store<u32>(r, spanStart, 8); store<u32>(r, spanEnd - spanStart + 1, 12);
    break;
  }
  emit(EV_IOMMU_INVALIDATE_BEGIN, 0, ioIndex(io), spanStart, spanEnd, 0, 0);
}

/** invalidate_end: seq++, the range unblocks when the last invalidation ends. */
export function ioInvalidateEnd(io: u32, gi: u32, s: u32, e: u32): void {
  ioLockWrite(io);
  if (safeguard(SG_IOMMU_BLOCK)) {
    store<u32>(io, load<u32>(io, IO_SEQ) + 1, IO_SEQ);
    const n = load<i32>(io, IO_IN_PROGRESS) - 1;
    store<i32>(io, n, IO_IN_PROGRESS);
    if (n == 0) store<u32>(io, 0, IO_RANGE_VALID);
  }
  iovaSpan(io, gi, s, e, 2);
  for (let i: u32 = 0; i < IO_MAX_SPANS; i++) {
    const r = spanAt(io, i);
    if (load<u32>(r, 12) == 0 || load<u32>(r) != s || load<u32>(r, 4) != e) continue;
    spanStart = load<u32>(r, 8);
    spanEnd = spanStart + load<u32>(r, 12) - 1;
    memory.fill(r, 0, 16);
    break;
  }
  emit(EV_IOMMU_INVALIDATE_END, 0, ioIndex(io), spanStart, spanEnd, 0, 0);
}

/** Is a map of gmem range [pg, pg + n) blocked by an invalidation in flight? */
export function ioRangeInvalidating(io: u32, pg: u32, n: u32): bool {
  return load<i32>(io, IO_IN_PROGRESS) > 0 && load<u32>(io, IO_RANGE_VALID) != 0 &&
    pg < load<u32>(io, IO_RANGE_END) && load<u32>(io, IO_RANGE_START) < pg + n;
}

/** One iommu.invalidate event and its counters (the callback ran with `reason` on one table). */
export function reportInvalidate(io: u32, secure: bool, s: u32, e: u32, count: u32, reason: u32): void {
  emit(EV_IOMMU_INVALIDATE, secure ? EVF_SECURE : 0, ioIndex(io), s, e, count, reason);
  counterBump(CTR_REASON_BASE + reason);
}

/** The iova span of one table for the event of a callback on gmem range [s, e). */
export function callbackSpan(io: u32, gi: u32, s: u32, e: u32, secure: bool): void { iovaSpan(io, gi, s, e, secure ? 1 : 0); }
// @ts-ignore: decorator
@inline export function lastSpanStart(): u32 { return spanStart; }
// @ts-ignore: decorator
@inline export function lastSpanEnd(): u32 { return spanEnd; }

/** Truncation: revoke every area of either table that overlaps gmem range [s, e) (both schemes). */
export function ioRevokeRange(io: u32, gi: u32, s: u32, e: u32, reason: u32): i32 {
  ioLockWrite(io);
  let total: u32 = 0;
  for (let t: u32 = 0; t < 2; t++) {
    const secure = t == 1;
    let count: u32 = 0;
    iovaSpan(io, gi, s, e, t);
    const ss = spanStart, se = spanEnd;
    for (let i: u32 = 0; i < nAreas(io); ) {
      const a = ioArea(io, i);
      const pg = areaPgoff(a), n = areaNpages(a);
      if (areaInode(a) != gi || areaSecure(a) != secure || pg >= e || pg + n <= s) { i++; continue; }
      count += dropArea(io, a); // revoke the whole area (the next one moved into slot i)
    }
    reportInvalidate(io, secure, ss, se, count, reason);
    total += count;
  }
  if (total > 0) iotlbFlush(io);
  return <i32>total;
}

/** Revoke every area (unbind, or the IOMMU going away). */
export function ioRevokeAll(io: u32, reason: u32): void {
  ioLockWrite(io);
  let count: u32 = 0;
  const any = nAreas(io) != 0;
  while (nAreas(io) != 0) count += dropArea(io, ioArea(io, nAreas(io) - 1));
  if (any && ioIsGmem(io)) reportInvalidate(io, false, 0, 0xffffffff, count, reason);
  if (count > 0) iotlbFlush(io);
}

/** No IO entry larger than `maxLevel` stays over gmem range [first, first + n) (a split, an SNP RMP change). */
export function ioSmash(io: u32, gi: u32, first: u32, n: u32, maxLevel: u32): void {
  ioLockWrite(io);
  for (let c = first & ~511; c < first + n; c += 512) {
    for (let k: u32 = 0, na = nAreas(io); k < na; k++) {
      const a = ioArea(io, k);
      if (areaInode(a) != gi) continue;
      const pg = areaPgoff(a);
      if (c < pg || c >= pg + areaNpages(a)) continue;
      const iova = areaIova(a) + c - pg;
      const pt = ioPt(io, areaSecure(a));
      let p = ptWalkLeaf(pt, iova);
      // a 1 GiB leaf goes to 2 MiB first, then (to 4 KiB) the 2 MiB one holding the chunk
      while (p != 0 && spteLevel(load<u64>(p)) > maxLevel) {
        if (ptDemoteAt(pt, p) < 0) break;
        p = ptWalkLeaf(pt, iova);
      }
    }
  }
}
