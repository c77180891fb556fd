// IOMMU invalidation scheme "keep" (snp): AMD allows private and shared DMA at once and the RMP check turns a
// wrong-kind DMA into a contained fault, so a conversion zaps nothing ("this zap+map is not necessary on the AMD
// hw"); the RMPUPDATE flushes the IOTLB. What must hold is the granularity rule: an IO entry is never larger than
// the RMP entry of its pfn, so entries are smashed with the RMP (restructure). Truncation revokes whole areas.
// Plugged into the inode's notifier list as ops NOPS_IOMMU_KEEP.
import { NOPS_IOMMU_KEEP, REASON_TRUNCATE, REASON_TO_SHARED } from "../abi/consts";
import { notifierOpsSet } from "../gmem/notifier";
import {
  ioInvalidateBegin, ioInvalidateEnd, ioRevokeRange, ioSmash, reportInvalidate, callbackSpan, lastSpanStart,
  lastSpanEnd,
} from "./invalidate";

function keepBegin(io: u32, gi: u32, s: u32, e: u32, reason: u32): void { ioInvalidateBegin(io, gi, s, e); }
function keepEnd(io: u32, gi: u32, s: u32, e: u32, reason: u32): void { ioInvalidateEnd(io, gi, s, e); }
function keepRestructure(io: u32, gi: u32, first: u32, n: u32, how: u32): void { ioSmash(io, gi, first, n, how & 0xff); }

function keepInvalidate(io: u32, gi: u32, s: u32, e: u32, reason: u32, filter: u32): i32 {
  if (reason == REASON_TRUNCATE) return ioRevokeRange(io, gi, s, e, reason);
  const secure = reason == REASON_TO_SHARED;
  callbackSpan(io, gi, s, e, secure);
  reportInvalidate(io, secure, lastSpanStart(), lastSpanEnd(), 0, reason);
  return 0;
}

export function iommuSchemeKeepInit(): void {
  notifierOpsSet(NOPS_IOMMU_KEEP, keepBegin, keepInvalidate, keepEnd, keepRestructure);
}
