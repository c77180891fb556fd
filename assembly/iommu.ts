// The IOMMU: an iommufd-like domain with a secure (T=1) and a non-secure (T=0) IO page table on the shared walker.
//   pin mode  (today, VFIO type1 / IOMMU_IOAS_MAP): maps go through the host mapping and take long-term GUP pins,
//             so a to-private conversion of a DMA-mapped page fails with -EAGAIN until userspace unmaps it.
//   gmem mode (the seed's proposal): bound to the guest_memfd itself, takes PFNs from it with a shareability check
//             and no references; guest_memfd calls the invalidation callback inside step 2 of every conversion
//             with a reason, and blocks map updates for the range between invalidate_begin and _end.
// The invalidation scheme is the arch's (Jason: "guestmemfd should allow the iommu to plug in either scheme"):
//   sw   zap on every conversion (to-private: T=0 entries, to-shared: T=1 entries)
//   tdx  the same, and it is mandatory: a private page behind a T=0 entry is a host machine check; T=1 follows the
//        S-EPT (demote before a partial zap)
//   snp  keep both kinds (RMPUPDATE flushes the IOTLB; the RMP check makes a wrong-kind DMA a contained fault),
//        but an IO entry is never larger than the RMP entry of its pfn (PSMASH smashes it)
import {
  IO_MODE, IO_GMEM, IO_HANDLE, IO_IOTLB_FLUSHES, IO_SEQ, IO_IN_PROGRESS, IO_RANGE_START, IO_RANGE_END,
  IO_RANGE_VALID, IO_NAREAS, IO_DMA_MCE, IO_PT_SECURE, IO_PT_NONSECURE, IO_AREA_PTR, IO_AREA_CAP, IO_AREA_SIZE, IO_MAX_AREAS,
  IOMMU_PIN, IOMMU_GMEM, REASON_TO_PRIVATE, REASON_TO_SHARED, REASON_TRUNCATE, REASON_UNBIND, OBJ_INDEX_BITS,
  OBJ_MAX, OBJ_TABLE, OBJ_SLOT_SIZE, OBJ_T_IOMMU, IO_SPANS, IO_MAX_SPANS, CTR_REASON_BASE,
  GI_NPAGES, GI_BITMAP, GI_MMAPPED, GI_IOMMUS, GI_IOMMU_SIZE, GI_MAX_IOMMUS, GI_NIOMMU, PAGE_SIZE,
  EV_IOMMU_INVALIDATE_BEGIN, EV_IOMMU_INVALIDATE_END, EV_IOMMU_INVALIDATE, EV_IOMMU_IOTLB_FLUSH, EV_IOMMU_MAP,
  EV_IOMMU_UNMAP,
} from "./layout";
import { pageAlloc, pageFree, orderFor } from "./alloc";
import {
  TdpIter, ptInit, ptDestroy, ptMap, ptZapRange, ptWalkLeaf, spteLevel, sptePfn, ZAP_WHOLE, ZAP_DEMOTE, ptDemoteAt,
  ptCountRange,
} from "./pagetable";
import { bitmapCountShared, bitmapTest } from "./bitmap";
import {
  folioOrder, folioPfn, folioRef, folioPins, folioIoPins, orphanFind, orphanUnpin, orphanByPfn, contentGet, contentSet,
  CONTENT_ENC,
} from "./folio";
import {
  gmemGetFolio, gmemPrepareFolio, gmemHostFault, gmemLockedExclusive, guestRead, guestWrite, isByteCount, HOST_OK,
  gmemIndex, contentRead, contentWord,
} from "./gmem";
import { emit, countAdd, counterBump, EVF_SECURE } from "./events";
import { isTdx, isSnp } from "./arch";
import { rmpLevelOf, rmpIoLevelLimit } from "./snp";
import { EINVAL, EEXIST, ENOENT, EACCES, EAGAIN, EFAULT, ENOMEM, ENOSPC, EBUSY, EBADF } from "./errno";

// @ts-ignore: decorator
@inline export function ioPt(io: u32, secure: bool): usize { return <usize>io + (secure ? IO_PT_SECURE : IO_PT_NONSECURE); }
// @ts-ignore: decorator
@inline export function ioIndex(io: u32): u32 { return load<u32>(io, IO_HANDLE) & ((1 << OBJ_INDEX_BITS) - 1); }
// @ts-ignore: decorator
@inline export function ioArea(io: u32, i: u32): usize { return <usize>load<u32>(io, IO_AREA_PTR) + <usize>i * IO_AREA_SIZE; }
// @ts-ignore: decorator
@inline export function ioIsGmem(io: u32): bool { return load<u32>(io, IO_MODE) == IOMMU_GMEM; }

export function iommuCreate(mode: u32): u32 {
  const io = pageAlloc(0);
  if (io == 0) return 0;
  store<u32>(io, mode, IO_MODE);
  ptInit(ioPt(io, true));
  ptInit(ioPt(io, false));
  return io;
}

export function iommuDestroy(io: u32, it: TdpIter): void {
  iommuRevokeAll(io, it, REASON_UNBIND);
  const gi = load<u32>(io, IO_GMEM);
  if (gi != 0) iommuUnregister(gi, io);
  ptDestroy(ioPt(io, true));
  ptDestroy(ioPt(io, false));
  freeAreas(io);
  pageFree(io, 0);
}

// ---- binding to a guest_memfd (gmem mode): one registration, global to the fd ------------------------------------

/** Bind the IOMMU fd to the guest_memfd. -EINVAL in pin mode, -EEXIST bound to it already, -EBUSY to another. */
export function iommuBind(io: u32, gi: u32): i32 {
  if (!ioIsGmem(io)) return -EINVAL;
  const cur = load<u32>(io, IO_GMEM);
  if (cur == gi) return -EEXIST;
  if (cur != 0) return -EBUSY;
  if (gmemLockedExclusive(gi)) return -EBUSY;
  const n = load<u32>(gi, GI_NIOMMU);
  if (n >= <u32>GI_MAX_IOMMUS) return -ENOSPC;
  store<u32>(<usize>gi + GI_IOMMUS + <usize>n * GI_IOMMU_SIZE, io);
  store<u32>(gi, n + 1, GI_NIOMMU);
  store<u32>(io, gi, IO_GMEM);
  return 0;
}

function iommuUnregister(gi: u32, io: u32): void {
  const n = load<u32>(gi, GI_NIOMMU);
  for (let i: u32 = 0; i < n; i++) {
    const rec = <usize>gi + GI_IOMMUS + <usize>i * GI_IOMMU_SIZE;
    if (load<u32>(rec) != io) continue;
    memory.copy(rec, <usize>gi + GI_IOMMUS + <usize>(n - 1) * GI_IOMMU_SIZE, GI_IOMMU_SIZE);
    memory.fill(<usize>gi + GI_IOMMUS + <usize>(n - 1) * GI_IOMMU_SIZE, 0, GI_IOMMU_SIZE);
    store<u32>(gi, n - 1, GI_NIOMMU);
    return;
  }
}

/** Unbind from the guest_memfd: the callback with reason unbind revokes every area first. */
export function iommuUnbind(io: u32, it: TdpIter): i32 {
  const gi = load<u32>(io, IO_GMEM);
  if (!ioIsGmem(io) || gi == 0) return -EINVAL;
  if (gmemLockedExclusive(gi)) return -EBUSY;
  iommuRevokeAll(io, it, REASON_UNBIND);
  iommuUnregister(gi, io);
  store<u32>(io, 0, IO_GMEM);
  return 0;
}

// @ts-ignore: decorator
@inline export function gmemNiommu(gi: u32): u32 { return load<u32>(gi, GI_NIOMMU); }
// @ts-ignore: decorator
@inline export function gmemIommu(gi: u32, i: u32): u32 { return load<u32>(<usize>gi + GI_IOMMUS + <usize>i * GI_IOMMU_SIZE); }

// ---- areas ------------------------------------------------------------------------------------------------------

// Areas live in a heap array sorted by (secure, iova): lookups by iova are binary searches, inserts and removals
// move the tail (appending in iova order, the common case, moves nothing).
// @ts-ignore: decorator
@inline export function nAreas(io: u32): u32 { return load<u32>(io, IO_NAREAS); }

// @ts-ignore: decorator
@inline function areaKey(a: usize): u64 { return (<u64>load<u32>(a, 20) << 32) | <u64>load<u32>(a, 4); }

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

function findArea(io: u32, iova: u32, secure: bool): usize {
  let i = lowerBound(io, secure, iova);
  if (i < nAreas(io) && areaKey(ioArea(io, i)) == ((<u64>(secure ? 1 : 0) << 32) | <u64>iova)) return ioArea(io, i);
  if (i == 0) return 0;
  const a = ioArea(io, i - 1);
  if ((load<u32>(a, 20) != 0) != secure) return 0;
  return iova - load<u32>(a, 4) < load<u32>(a, 8) ? a : 0;
}

function overlapsArea(io: u32, iova: u32, n: u32, secure: bool): bool {
  const i = lowerBound(io, secure, iova);
  if (i < nAreas(io)) {
    const a = ioArea(io, i);
    if ((load<u32>(a, 20) != 0) == secure && <u64>load<u32>(a, 4) < <u64>iova + n) return true;
  }
  if (i > 0) {
    const a = ioArea(io, i - 1);
    if ((load<u32>(a, 20) != 0) == secure && <u64>load<u32>(a, 4) + load<u32>(a, 8) > <u64>iova) return true;
  }
  return false;
}

/** Make room for one more area; false on -ENOMEM. (The slot is chosen by recordArea.) */
function newArea(io: u32): usize {
  const n = nAreas(io), cap = load<u32>(io, IO_AREA_CAP);
  if (n >= <u32>IO_MAX_AREAS) return 0;
  if (n < cap) return 1;
  const ncap = cap == 0 ? 64 : cap * 2;
  const arr = pageAlloc(orderFor(<u64>ncap * IO_AREA_SIZE));
  if (arr == 0) return 0;
  const old = load<u32>(io, IO_AREA_PTR);
  if (old != 0) {
    memory.copy(arr, old, <usize>n * IO_AREA_SIZE);
    pageFree(old, orderFor(<u64>cap * IO_AREA_SIZE));
  }
  store<u32>(io, arr, IO_AREA_PTR);
  store<u32>(io, ncap, IO_AREA_CAP);
  return 1;
}

function freeAreas(io: u32): void {
  const arr = load<u32>(io, IO_AREA_PTR);
  if (arr != 0) pageFree(arr, orderFor(<u64>load<u32>(io, IO_AREA_CAP) * IO_AREA_SIZE));
  store<u32>(io, 0, IO_AREA_PTR);
  store<u32>(io, 0, IO_AREA_CAP);
}

/** The largest IO page level for the page at pgoff mapped at iova with n pages left (alignment, folio, RMP). */
function ioLevel(gi: u32, iova: u32, pgoff: u32, left: u32, pfn: u32, secure: bool): u32 {
  const o = folioOrder(gi, pgoff);
  let level: u32 = 1;
  for (let l: u32 = 3; l >= 2; l--) {
    const n: u32 = l == 3 ? 262144 : 512;
    if (o < <i32>(9 * (l - 1))) continue;
    if ((iova & (n - 1)) != 0 || (pgoff & (n - 1)) != 0 || (pfn & (n - 1)) != 0 || left < n) continue;
    level = l;
    break;
  }
  if (isSnp() && level > 1) { const r = rmpIoLevelLimit(gi, pgoff); if (r < level) level = r; }
  void secure;
  return level;
}

// ---- userspace: map / unmap -------------------------------------------------------------------------------------

/**
 * Map [offset, offset + size) of the guest_memfd at iova in the secure or non-secure table.
 * -EINVAL unaligned, empty, past the file or (gmem mode) not the bound guest_memfd, or secure in pin mode;
 * -EEXIST overlaps a mapped area of that table; -EACCES the range's shareability does not allow that table (sw,
 * tdx); -EAGAIN a conversion of the range is in flight (the map never installs an entry for the old state);
 * -EFAULT (pin mode) the file is not mmapped or a page is private; -ENOMEM / -ENOSPC out of tables / areas.
 */
export function iommuMap(io: u32, it: TdpIter, iova: f64, gi: u32, offset: f64, size: f64, secure: bool): i32 {
  if (!isByteCount(iova) || !isByteCount(offset) || !isByteCount(size)) return -EINVAL;
  const iv = <u64>iova, off = <u64>offset, sz = <u64>size;
  const mask = <u64>PAGE_SIZE - 1;
  if ((iv & mask) != 0 || (off & mask) != 0 || (sz & mask) != 0 || sz == 0) return -EINVAL;
  if (((iv + sz) >> 12) > <u64>0xffffffff) return -EINVAL;
  if (off + sz > (<u64>load<u32>(gi, GI_NPAGES) << 12)) return -EINVAL;
  const ivp = <u32>(iv >> 12), pg = <u32>(off >> 12), n = <u32>(sz >> 12);
  const gmemMode = ioIsGmem(io);
  if (gmemMode && load<u32>(io, IO_GMEM) != gi) return -EINVAL;
  if (!gmemMode && secure) return -EINVAL;
  const pt = ioPt(io, secure);
  // a map that lies inside an existing area, at the same offsets, over pages with no entry left (the callback
  // zapped them) restores them: the seed's step 4. Anything else overlapping an area is -EEXIST.
  let area: usize = 0;
  let refill = false;
  if (overlapsArea(io, ivp, n, secure)) {
    const a = findArea(io, ivp, secure);
    if (a == 0 || !gmemMode || load<u32>(a, 12) != gi || <u64>ivp + n > <u64>load<u32>(a, 4) + load<u32>(a, 8) ||
        ivp - load<u32>(a, 4) != pg - load<u32>(a, 16) || ptCountRange(pt, it, <u64>ivp, <u64>ivp + n) != 0) {
      return -EEXIST;
    }
    area = a;
    refill = true;
  } else {
    area = newArea(io);
    if (area == 0) return -ENOMEM;
  }
  if (gmemMode) {
    // IOMMU page-table updates are blocked while a conversion of the range is in flight
    if (gmemLockedExclusive(gi)) return -EAGAIN;
    if (load<i32>(io, IO_IN_PROGRESS) > 0 && load<u32>(io, IO_RANGE_VALID) != 0 &&
        pg < load<u32>(io, IO_RANGE_END) && load<u32>(io, IO_RANGE_START) < pg + n) return -EAGAIN;
    // kvm_gmem_get_pfn-like access check: shareability vs table
    if (!isSnp()) {
      const shared = bitmapCountShared(load<u32>(gi, GI_BITMAP), pg, pg + n);
      if (secure ? shared != 0 : shared != <u64>n) return -EACCES;
    }
    const seq0 = load<u32>(io, IO_SEQ);
    let i: u32 = 0;
    let firstLevel: u32 = 0;
    while (i < n) {
      const r = gmemGetFolio(gi, pg + i); // allocates through guest_memfd, takes no reference
      if (r < 0) { unwindMap(pt, it, ivp, ivp + i); return r; }
      gmemPrepareFolio(gi, pg + i);
      const pfn = folioPfn(gi, pg + i);
      const level = ioLevel(gi, ivp + i, pg + i, n - i, pfn, secure);
      if (load<u32>(io, IO_SEQ) != seq0) { unwindMap(pt, it, ivp, ivp + i); return -EAGAIN; }
      const m = ptMap(pt, ivp + i, pfn, level, 0);
      if (m < 0) { unwindMap(pt, it, ivp, ivp + i); return m; }
      if (firstLevel == 0) firstLevel = level;
      i += level == 3 ? 262144 : level == 2 ? 512 : 1;
    }
    if (!refill) recordArea(io, area, ivp, n, gi, pg, secure, false);
    emit(EV_IOMMU_MAP, secure ? EVF_SECURE : 0, ioIndex(io), ivp, ivp + n, firstLevel, 0);
    return 0;
  }
  // pin mode: GUP through the host mapping, long-term pins, 4 KiB IOPTEs
  if (load<u32>(gi, GI_MMAPPED) == 0) return -EFAULT;
  for (let i: u32 = 0; i < n; i++) {
    const r = gmemHostFault(gi, pg + i);
    if (r != HOST_OK) return r < 0 && r != -0x10000 ? r : -EFAULT;
  }
  for (let i: u32 = 0; i < n; i++) {
    const m = ptMap(pt, ivp + i, folioPfn(gi, pg + i), 1, 0);
    if (m < 0) { unwindMap(pt, it, ivp, ivp + i); return m; }
  }
  for (let i: u32 = 0; i < n; i++) folioRef(gi, pg + i, 3, 1); // a pin-mode IOMMU's pin
  recordArea(io, area, ivp, n, gi, pg, false, true);
  emit(EV_IOMMU_MAP, 0, ioIndex(io), ivp, ivp + n, 1, 0);
  return 0;
}

function unwindMap(pt: usize, it: TdpIter, s: u32, e: u32): void {
  if (e > s) ptZapRange(pt, it, <u64>s, <u64>e, ZAP_WHOLE);
}

function recordArea(io: u32, unused: usize, iova: u32, n: u32, gi: u32, pg: u32, secure: bool, pinned: bool): void {
  void unused;
  const i = lowerBound(io, secure, iova);
  const cnt = nAreas(io);
  if (i < cnt) memory.copy(ioArea(io, i + 1), ioArea(io, i), <usize>(cnt - i) * IO_AREA_SIZE);
  const a = ioArea(io, i);
  store<u32>(a, 1);
  store<u32>(a, iova, 4);
  store<u32>(a, n, 8);
  store<u32>(a, gi, 12);
  store<u32>(a, pg, 16);
  store<u32>(a, secure ? 1 : 0, 20);
  store<u32>(a, pinned ? 1 : 0, 24);
  store<u32>(a, 0, 28);
  store<u32>(io, cnt + 1, IO_NAREAS);
}

function dropArea(io: u32, it: TdpIter, a: usize): u32 {
  const secure = load<u32>(a, 20) != 0;
  const iova = load<u32>(a, 4), n = load<u32>(a, 8);
  const pt = ioPt(io, secure);
  if (load<u32>(a, 24) != 0) {
    // each pin belongs to the frame this area's entry points at: the index's folio, or a frame truncation orphaned
    const gi = load<u32>(a, 12), pg = load<u32>(a, 16);
    for (let i: u32 = 0; i < n; i++) {
      const p = ptWalkLeaf(pt, iova + i);
      if (p == 0) continue;
      const pfn = sptePfn(load<u64>(p)); // pin-mode entries are 4 KiB
      if (folioPfn(gi, pg + i) == pfn && folioIoPins(gi, pg + i) != 0) folioRef(gi, pg + i, 3, -1);
      else { const o = orphanByPfn(gi, pfn); if (o != 0 && load<u32>(o, 12) != 0) orphanUnpin(gi, o, true); }
    }
  }
  const r = ptZapRange(pt, it, <u64>iova, <u64>iova + n, ZAP_WHOLE);
  const end = ioArea(io, nAreas(io));
  if (a + IO_AREA_SIZE < end) memory.copy(a, a + IO_AREA_SIZE, end - a - IO_AREA_SIZE); // keep the order
  memory.fill(end - IO_AREA_SIZE, 0, IO_AREA_SIZE);
  store<u32>(io, load<u32>(io, IO_NAREAS) - 1, IO_NAREAS);
  return r < 0 ? 0 : <u32>r;
}

function iotlbFlush(io: u32): void {
  store<u32>(io, load<u32>(io, IO_IOTLB_FLUSHES) + 1, IO_IOTLB_FLUSHES);
  emit(EV_IOMMU_IOTLB_FLUSH, 0, ioIndex(io), 0, 0, 0, 0);
}

/**
 * Unmap [iova, iova + size) of one table: as iommufd, an unmap covers whole areas. -EINVAL unaligned or empty,
 * -ENOENT nothing mapped there or the range cuts through an area. Pin mode drops the pins.
 */
export function iommuUnmap(io: u32, it: TdpIter, iova: f64, size: f64, secure: bool): i32 {
  if (!isByteCount(iova) || !isByteCount(size)) return -EINVAL;
  const iv = <u64>iova, sz = <u64>size;
  const mask = <u64>PAGE_SIZE - 1;
  if ((iv & mask) != 0 || (sz & mask) != 0 || sz == 0) return -EINVAL;
  const s = iv >> 12, e = (iv + sz) >> 12;
  let found: u32 = 0;
  for (let i: u32 = 0, na = nAreas(io); i < na; i++) {
    const a = ioArea(io, i);
    if (load<u32>(a) == 0 || (load<u32>(a, 20) != 0) != secure) continue;
    const as = <u64>load<u32>(a, 4), ae = as + load<u32>(a, 8);
    if (as >= e || ae <= s) continue;
    if (as < s || ae > e) return -ENOENT; // cuts through an area
    found++;
  }
  if (found == 0) return -ENOENT;
  if (ioIsGmem(io)) {
    const gi = load<u32>(io, IO_GMEM);
    if (gi != 0 && gmemLockedExclusive(gi)) return -EAGAIN;
  }
  for (let i: u32 = 0; i < nAreas(io); ) {
    const a = ioArea(io, i);
    const as = <u64>load<u32>(a, 4), ae = as + load<u32>(a, 8);
    if ((load<u32>(a, 20) != 0) != secure || as >= e || ae <= s) { i++; continue; }
    const count = dropArea(io, it, a); // the next area moved into slot i: look at it next
    emit(EV_IOMMU_UNMAP, secure ? EVF_SECURE : 0, ioIndex(io), <u32>as, <u32>ae, count, 0);
  }
  iotlbFlush(io);
  return 0;
}

// ---- DMA from the device ----------------------------------------------------------------------------------------

export const DMA_OK: i32 = 1;
export const DMA_IO_FAULT: i32 = 2;
export const DMA_MACHINE_CHECK: i32 = 3;

let dmaValue: u32 = 0;
export function lastDmaValue(): u32 { return dmaValue; }

/**
 * A device access at iova through the secure or non-secure table: io-fault without an entry; on TDX a private
 * page behind a non-secure entry is a host machine check (and a secure entry to a shared page faults: T=1 follows
 * the S-EPT); on SNP the RMP check turns a wrong-kind access into a contained fault; sw faults likewise.
 */
export function iommuDma(io: u32, iova: f64, secure: bool, doWrite: bool, value: u32): i32 {
  if (!(iova >= 0 && iova < 17592186044416.0 && iova == Math.floor(iova))) return -EINVAL;
  const ivp = <u32>(<u64>iova >> 12);
  const sptep = ptWalkLeaf(ioPt(io, secure), ivp);
  if (sptep == 0) return DMA_IO_FAULT;
  const a = findArea(io, ivp, secure);
  if (a == 0) return DMA_IO_FAULT;
  const gi = load<u32>(a, 12);
  const index = load<u32>(a, 16) + (ivp - load<u32>(a, 4));
  const e = load<u64>(sptep);
  const level = spteLevel(e);
  const pfn = sptePfn(e) + (ivp & (level == 3 ? 262143 : level == 2 ? 511 : 0));
  if (load<u32>(io, IO_MODE) == IOMMU_PIN && folioPfn(gi, index) != pfn) {
    // a pinned frame truncation took out of the file: the device still reaches it through its pin
    const o = orphanByPfn(gi, pfn);
    if (o == 0) return DMA_IO_FAULT;
    dmaValue = contentRead(load<u64>(o, 16), false); // a pin-mode entry is non-secure
    if (doWrite) store<u64>(o, contentWord(value, false), 16);
    return DMA_OK;
  }
  const shared = bitmapTest(load<u32>(gi, GI_BITMAP), index);
  if (!secure && !shared) {
    if (isTdx()) {
      store<u32>(io, load<u32>(io, IO_DMA_MCE) + 1, IO_DMA_MCE);
      return DMA_MACHINE_CHECK;
    }
    return DMA_IO_FAULT;
  }
  if (secure && shared) return DMA_IO_FAULT; // T=1 follows the private side (SNP: the RMP check faults it)
  dmaValue = guestRead(gi, index, secure);
  if (doWrite && !guestWrite(gi, index, secure, value)) return -ENOMEM;
  return DMA_OK;
}

// ---- the invalidation callback (gmem mode), called by guest_memfd --------------------------------------------------

/** The iova span the IOMMU's areas give to gmem range [s, e) (of one table, or both: which 2); false if none. */
let spanStart: u32 = 0;
let spanEnd: u32 = 0;
function iovaSpan(io: u32, gi: u32, s: u32, e: u32, which: u32): bool {
  let found = false;
  spanStart = 0xffffffff; spanEnd = 0;
  for (let i: u32 = 0, na = nAreas(io); i < na; i++) {
    const a = ioArea(io, i);
    if (load<u32>(a) == 0 || load<u32>(a, 12) != gi) continue;
    if (which != 2 && load<u32>(a, 20) != which) continue;
    const pg = load<u32>(a, 16), n = load<u32>(a, 8);
    const lo = s > pg ? s : pg, hi = e < pg + n ? e : pg + n;
    if (lo >= hi) continue;
    const ivs = load<u32>(a, 4) + lo - pg, ive = load<u32>(a, 4) + hi - pg;
    if (ivs < spanStart) spanStart = ivs;
    if (ive > spanEnd) spanEnd = ive;
    found = true;
  }
  if (!found) { spanStart = s; spanEnd = e; }
  return found;
}

/** iommu invalidate_begin for gmem range [s, e): map updates of the range are blocked until _end. */
export function iommuInvalidateBegin(io: u32, gi: u32, s: u32, e: u32): void {
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
  iovaSpan(io, gi, s, e, 2);
  // remember the span: a truncate may revoke the areas before invalidate_end reports the same range
  for (let i: u32 = 0; i < <u32>IO_MAX_SPANS; i++) {
    const r = <usize>io + IO_SPANS + (<usize>i << 4);
    if (load<u32>(r, 12) != 0) continue;
    store<u32>(r, s); store<u32>(r, e, 4); store<u32>(r, spanStart, 8); store<u32>(r, spanEnd - spanStart + 1, 12);
    break;
  }
  emit(EV_IOMMU_INVALIDATE_BEGIN, 0, ioIndex(io), spanStart, spanEnd, 0, 0);
}

export function iommuInvalidateEnd(io: u32, gi: u32, s: u32, e: u32): void {
  store<u32>(io, load<u32>(io, IO_SEQ) + 1, IO_SEQ);
  const n = load<i32>(io, IO_IN_PROGRESS) - 1;
  store<i32>(io, n, IO_IN_PROGRESS);
  if (n == 0) store<u32>(io, 0, IO_RANGE_VALID);
  iovaSpan(io, gi, s, e, 2);
  for (let i: u32 = 0; i < <u32>IO_MAX_SPANS; i++) {
    const r = <usize>io + IO_SPANS + (<usize>i << 4);
    if (load<u32>(r, 12) == 0 || load<u32>(r) != s || load<u32>(r, 4) != e) continue;
    spanStart = load<u32>(r, 8);
    spanEnd = spanStart + load<u32>(r, 12) - 1;
    memory.fill(r, 0, 16);
    break;
  }
  emit(EV_IOMMU_INVALIDATE_END, 0, ioIndex(io), spanStart, spanEnd, 0, 0);
}

/**
 * The invalidation callback with a reason, for gmem range [s, e): to-private zaps non-secure entries, to-shared
 * secure ones (sw and tdx; tdx demotes a straddling secure leaf like the S-EPT; snp keeps both kinds); truncate
 * revokes every area that overlaps (both tables, all arches): "userspace made a mistake and gets burned but the
 * kernel is safe". Emits one iommu.invalidate per table it looked at. Returns entries removed or -ENOMEM.
 */
export function iommuInvalidate(io: u32, it: TdpIter, gi: u32, s: u32, e: u32, reason: u32): i32 {
  if (reason == REASON_TRUNCATE) {
    let total: u32 = 0;
    for (let t: u32 = 0; t < 2; t++) {
      const secure = t == 1;
      let count: u32 = 0;
      iovaSpan(io, gi, s, e, t);
      const ss = spanStart, se = spanEnd;
      for (let i: u32 = 0; i < nAreas(io); ) {
        const a = ioArea(io, i);
        const pg = load<u32>(a, 16), n = load<u32>(a, 8);
        if (load<u32>(a, 12) != gi || (load<u32>(a, 20) != 0) != secure || pg >= e || pg + n <= s) { i++; continue; }
        count += dropArea(io, it, a); // revoke the whole area (the next one moved into slot i)
      }
      emit(EV_IOMMU_INVALIDATE, secure ? EVF_SECURE : 0, ioIndex(io), ss, se, count, reason);
      countAdd(EV_IOMMU_INVALIDATE, count);
      counterBump(CTR_REASON_BASE + reason);
      total += count;
    }
    if (total > 0) iotlbFlush(io);
    return <i32>total;
  }
  const secure = reason == REASON_TO_SHARED;
  let count: u32 = 0;
  iovaSpan(io, gi, s, e, secure ? 1 : 0);
  const ss = spanStart, se = spanEnd;
  if (!isSnp()) {
    for (let i: u32 = 0, na = nAreas(io); i < na; i++) {
      const a = ioArea(io, i);
      if (load<u32>(a) == 0 || load<u32>(a, 12) != gi || (load<u32>(a, 20) != 0) != secure) continue;
      const pg = load<u32>(a, 16), n = load<u32>(a, 8);
      const lo = s > pg ? s : pg, hi = e < pg + n ? e : pg + n;
      if (lo >= hi) continue;
      const iv = load<u32>(a, 4);
      // precise: a straddling huge IO entry is split first, so exactly the converted pages go
      const r = ptZapRange(ioPt(io, secure), it, <u64>(iv + lo - pg), <u64>(iv + hi - pg), ZAP_DEMOTE);
      if (r < 0) return r;
      count += <u32>r; // the area keeps the hole: userspace re-maps into it (step 4 of the seed flow)
    }
  }
  emit(EV_IOMMU_INVALIDATE, secure ? EVF_SECURE : 0, ioIndex(io), ss, se, count, reason);
  countAdd(EV_IOMMU_INVALIDATE, count);
  counterBump(CTR_REASON_BASE + reason);
  if (count > 0) iotlbFlush(io);
  return <i32>count;
}

/** Revoke every area (unbind, or the IOMMU going away). */
function iommuRevokeAll(io: u32, it: TdpIter, reason: u32): void {
  let count: u32 = 0;
  const any = nAreas(io) != 0;
  while (nAreas(io) != 0) count += dropArea(io, it, ioArea(io, nAreas(io) - 1));
  if (any && ioIsGmem(io)) {
    emit(EV_IOMMU_INVALIDATE, 0, ioIndex(io), 0, 0xffffffff, count, reason);
    countAdd(EV_IOMMU_INVALIDATE, count);
    counterBump(CTR_REASON_BASE + reason);
  }
  if (count > 0) iotlbFlush(io);
}

/** On SNP every RMPUPDATE flushes the IOTLB: of every IOMMU on the machine, bound or pinning. */
export function iommuRmpFlush(gi: u32): void {
  void gi;
  for (let i: u32 = 1; i < <u32>OBJ_MAX; i++) {
    const slot = <usize>OBJ_TABLE + <usize>i * OBJ_SLOT_SIZE;
    if (<u32>load<u8>(slot) == OBJ_T_IOMMU) iotlbFlush(load<u32>(slot, 4));
  }
}

/** IO entries larger than the RMP entry of their pfn are smashed with it (SNP PSMASH of 2 MiB chunk at index). */
export function iommuSmash(gi: u32, index2m: u32): void {
  const n = gmemNiommu(gi);
  for (let i: u32 = 0; i < n; i++) {
    const io = gmemIommu(gi, i);
    for (let k: u32 = 0, na = nAreas(io); k < na; k++) {
      const a = ioArea(io, k);
      if (load<u32>(a, 12) != gi) continue;
      const pg = load<u32>(a, 16), cnt = load<u32>(a, 8);
      if (index2m < pg || index2m >= pg + cnt) continue;
      const iova = load<u32>(a, 4) + index2m - pg;
      const pt = ioPt(io, load<u32>(a, 20) != 0);
      let p = ptWalkLeaf(pt, iova);
      // a 1 GiB leaf goes to 2 MiB first, then the 2 MiB one holding the chunk to 4 KiB
      while (p != 0 && spteLevel(load<u64>(p)) >= 2) {
        if (ptDemoteAt(pt, p) < 0) break;
        p = ptWalkLeaf(pt, iova);
      }
    }
  }
}

/** For views and checks: out-values of an IOMMU. */
export function iommuDmaMce(io: u32): u32 { return load<u32>(io, IO_DMA_MCE); }
void EBADF; void ENOMEM; void IOMMU_PIN; void REASON_TO_PRIVATE; void spteLevel; void sptePfn;
