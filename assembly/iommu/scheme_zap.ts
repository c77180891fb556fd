// IOMMU invalidation scheme "zap" (sw, tdx): on a conversion the callback zaps the entries of the kind the pages
// leave, precisely (a straddling huge entry is split first, as the S-EPT): to-private zaps non-secure (T=0) entries
// (on TDX a private page behind a T=0 entry is a host machine check: "unmap shared IOPTE before to-private"),
// to-shared zaps secure (T=1) ones; the area keeps the hole, and userspace re-maps into it (the seed's step 4).
// Truncation revokes whole areas. Plugged into the inode's notifier list as ops NOPS_IOMMU_ZAP.
import { NOPS_IOMMU_ZAP, REASON_TRUNCATE, REASON_TO_SHARED } from "../abi/consts";
import { ptZapRange, ZAP_DEMOTE } from "../lib/pagetable";
import { ptTouch } from "../lib/ptread";
import { iterPush, iterPop } from "../lib/iter";
import { notifierOpsSet, notifierPrefetchSet } from "../gmem/notifier";
import { ioPt, iotlbFlush } from "./domain";
import { nAreas, ioArea, areaUsed, areaInode, areaSecure, areaPgoff, areaNpages, areaIova } from "./area";
import {
  ioInvalidateBegin, ioInvalidateEnd, ioRevokeRange, ioSmash, reportInvalidate, callbackSpan, lastSpanStart,
  lastSpanEnd,
} from "./invalidate";
import { ioLockWrite } from "./domain";

function zapBegin(io: u32, gi: u32, s: u32, e: u32, reason: u32): void { ioInvalidateBegin(io, gi, s, e); }
function zapEnd(io: u32, gi: u32, s: u32, e: u32, reason: u32): void { ioInvalidateEnd(io, gi, s, e); }
function zapRestructure(io: u32, gi: u32, first: u32, n: u32, how: u32): void { ioSmash(io, gi, first, n, how & 0xff); }

/** The callback: zap the entries of the old kind of [s, e); truncation revokes. Entries removed, or -ENOMEM. */
function zapInvalidate(io: u32, gi: u32, s: u32, e: u32, reason: u32, filter: u32): i32 {
  if (reason == REASON_TRUNCATE) return ioRevokeRange(io, gi, s, e, reason);
  ioLockWrite(io);
  const secure = reason == REASON_TO_SHARED;
  let count: u32 = 0;
  callbackSpan(io, gi, s, e, secure);
  const ss = lastSpanStart(), se = lastSpanEnd();
  for (let i: u32 = 0, na = nAreas(io); i < na; i++) {
    const a = ioArea(io, i);
    if (!areaUsed(a) || areaInode(a) != gi || areaSecure(a) != secure) continue;
    const pg = areaPgoff(a), n = areaNpages(a);
    const lo = s > pg ? s : pg, hi = e < pg + n ? e : pg + n;
    if (lo >= hi) continue;
    const iv = areaIova(a);
    const it = iterPush();
    const r = ptZapRange(ioPt(io, secure), it, <u64>(iv + lo - pg), <u64>(iv + hi - pg), ZAP_DEMOTE);
    iterPop();
    if (r < 0) return r;
    count += <u32>r;
  }
  reportInvalidate(io, secure, ss, se, count, reason);
  if (count > 0) iotlbFlush(io);
  return <i32>count;
}

/** The IO entries (either kind) the callback would zap for gmem range [s, e), read (the caller bounds the range). */
function zapPrefetch(io: u32, gi: u32, s: u32, e: u32): u64 {
  let x: u64 = 0;
  for (let i: u32 = 0, na = nAreas(io); i < na; i++) {
    const a = ioArea(io, i);
    if (!areaUsed(a) || areaInode(a) != gi) continue;
    const pg = areaPgoff(a), n = areaNpages(a);
    const lo = s > pg ? s : pg, hi = e < pg + n ? e : pg + n;
    const pt = ioPt(io, areaSecure(a));
    for (let p = lo; p < hi; p++) x += ptTouch(pt, areaIova(a) + p - pg);
  }
  return x;
}

export function iommuSchemeZapInit(): void {
  notifierOpsSet(NOPS_IOMMU_ZAP, zapBegin, zapInvalidate, zapEnd, zapRestructure);
  notifierPrefetchSet(NOPS_IOMMU_ZAP, zapPrefetch);
}
