// Userspace maps and unmaps (IOMMU_IOAS_MAP[_FILE] / UNMAP, VFIO_IOMMU_MAP_DMA). A gmem-mode map runs as two atomic
// steps with the safeguard the kernel uses for KVM's faults:
//   get-pfn   snapshot the domain's invalidation seq; refuse a range being invalidated; the access check
//             (shareability vs table: "an API in gmem that takes in access type and checks the shareability");
//             the pfns from guest_memfd under its shared invalidate lock (kvm_gmem_get_pfn-like, no references)
//   install   under the domain lock: the range still not being invalidated and the seq unchanged (else -EAGAIN,
//             userspace retries: a conversion ran between the steps), then install the IO entries
// A pin-mode map is one step (GUP through the host mapping, long-term pins, 4 KiB entries).
// Op record: obj = io, obj2 = inode, start = first gmem index, end = its end, a0 = first iova page, a1 = secure,
// seq = the snapshot; the list = (pfn, level) chunks.
import { PAGE_SIZE } from "../abi/layout";
import { EV_IOMMU_MAP, EV_IOMMU_UNMAP, EVF_SECURE } from "../abi/events";
import { SG_IOMMU_BLOCK, SG_IOMMU_SEQ } from "../abi/consts";
import {
  STEP_GET_PFN, STEP_INSTALL, STEP_RUN, ST_MORE, ST_DONE, ST_BLOCKED, HOST_OK, RESULT_BLOCKED,
} from "../abi/ops";
import { EINVAL, EEXIST, ENOENT, EACCES, EAGAIN, EFAULT, ENOMEM } from "../abi/errno";
import {
  OP_OBJ, OP_OBJ2, OP_START, OP_END, OP_SEQ, OP_NLIST, opA, opSetA, opSetStep, opFinish, opNlist, opListA,
  opListB, opListSet, opListReserve,
} from "../lib/oprec";
import { bitmapCountShared } from "../lib/bitmap";
import { emit } from "../lib/events";
import { safeguard, isSnp } from "../lib/machine";
import { iterPush, iterPop } from "../lib/iter";
import { inThreadMode } from "../mm/instance";
import { LW_MUST } from "../mm/sync";
import { ptMap, ptZapRange, ptWalkLeaf, spteLevel, levelPages, ZAP_WHOLE } from "../lib/pagetable";
import { ptCountRange } from "../lib/ptread";
import { gmemNpages, gmemBitmap, gmemIsMmapped, isByteCount, hugeOrder } from "../gmem/inode";
import { invLockRead, invUnlockRead, invLockedWrite, pagesLock } from "../gmem/lock";
import { folioOrder, folioPfn } from "../gmem/folio";
import { folioRef, REF_IOMMU_PIN } from "../gmem/refs";
import { gmemGetFolio, gmemPrepareFolio, getPfnLocks } from "../gmem/getpfn";
import { gmemHostFaultHeld } from "../gmem/host";
import { folioHostMapped } from "../gmem/refs";
import { archIoLevelLimit } from "../arch/arch";
import { ioPt, ioIndex, ioIsGmem, ioGmem, ioSeq, ioLockWrite, iotlbFlush, IO_DOMAIN_LOCK } from "./domain";
import {
  overlapsArea, findArea, reserveArea, recordArea, dropArea, nAreas, ioArea, areaUsed, areaSecure, areaIova,
  areaNpages, areaInode, areaPgoff,
} from "./area";
import { ioRangeInvalidating } from "./invalidate";

/**
 * The map's argument checks: -EINVAL unaligned, empty, past the file or (gmem mode) not the bound guest_memfd, or
 * secure in pin mode. 0: the op record is filled, the first step is get-pfn (gmem) or run (pin).
 */
export function mapInit(op: u32, io: u32, iova: f64, gi: u32, offset: f64, size: f64, secure: bool): i32 {
  if (!isByteCount(iova) || !isByteCount(offset) || !isByteCount(size)) return -EINVAL;
  const iv = <u64>iova, off = <u64>offset, sz = <u64>size;
  const mask = <u64>PAGE_SIZE - 1;
  if ((iv & mask) != 0 || (off & mask) != 0 || (sz & mask) != 0 || sz == 0) return -EINVAL;
  if (((iv + sz) >> 12) > <u64>0xffffffff) return -EINVAL;
  if (off + sz > (<u64>gmemNpages(gi) << 12)) return -EINVAL;
  const gmemMode = ioIsGmem(io);
  if (gmemMode && ioGmem(io) != gi) return -EINVAL;
  if (!gmemMode && secure) return -EINVAL;
  store<u32>(op, io, OP_OBJ);
  store<u32>(op, gi, OP_OBJ2);
  store<u32>(op, <u32>(off >> 12), OP_START);
  store<u32>(op, <u32>((off + sz) >> 12), OP_END);
  opSetA(op, 0, <u32>(iv >> 12));
  opSetA(op, 1, secure ? 1 : 0);
  store<u32>(op, 0, OP_NLIST);
  opSetStep(op, gmemMode ? STEP_GET_PFN : STEP_RUN);
  return 0;
}

/**
 * Does [ivp, ivp + n) collide with an area: -EEXIST, 0 (free), or 1 (it lies inside an area, at the area's own
 * offsets, over pages whose entries the callback zapped: a refill, the seed's step 4).
 */
function areaCheck(io: u32, ivp: u32, gi: u32, pg: u32, n: u32, secure: bool): i32 {
  if (!overlapsArea(io, ivp, n, secure)) return 0;
  const a = findArea(io, ivp, secure);
  if (a == 0 || !ioIsGmem(io) || areaInode(a) != gi || <u64>ivp + n > <u64>areaIova(a) + areaNpages(a) ||
      ivp - areaIova(a) != pg - areaPgoff(a)) return -EEXIST;
  const it = iterPush();
  const c = ptCountRange(ioPt(io, secure), it, <u64>ivp, <u64>ivp + n);
  iterPop();
  return c != 0 ? -EEXIST : 1;
}

/** The largest IO page level for the page at pgoff mapped at iova with `left` pages to go (alignment, folio, RMP). */
function ioLevel(gi: u32, iova: u32, pgoff: u32, left: u32, pfn: u32): u32 {
  const o = folioOrder(gi, pgoff);
  let level: u32 = 1;
  for (let l: u32 = 3; l >= 2; l--) {
    const n = <u32>levelPages(l);
    if (o < <i32>(9 * (l - 1))) continue;
    if ((iova & (n - 1)) != 0 || (pgoff & (n - 1)) != 0 || (pfn & (n - 1)) != 0 || left < n) continue;
    level = l;
    break;
  }
  if (level > 1) { const r = archIoLevelLimit(gi, pgoff); if (r < level) level = r; }
  return level;
}

/** One atomic step of an IOMMU map. */
export function mapStep(op: u32, step: u32, probe: bool): u32 {
  const io = load<u32>(op, OP_OBJ), gi = load<u32>(op, OP_OBJ2);
  if (step == STEP_GET_PFN) return getPfns(op, io, gi, probe);
  if (step == STEP_INSTALL) { if (probe) return ST_MORE; return install(op, io, gi); }
  return pinMap(op, io, gi, probe);
}

function getPfns(op: u32, io: u32, gi: u32, probe: bool): u32 {
  const pg = load<u32>(op, OP_START), n = load<u32>(op, OP_END) - pg;
  const ivp = opA(op, 0), secure = opA(op, 1) != 0;
  const locked = invLockedWrite(gi); // IOMMU page-table updates wait while a conversion is in flight
  if (locked && (probe || inThreadMode())) return ST_BLOCKED;
  if (probe) return ST_MORE;
  // locks in order: the invalidate lock (shared, for the pfns), the consumers (a HugeTLB get_pfn may split: this
  // domain is one of them), the domain, the pages
  const shared = !locked && invLockRead(gi);
  if (shared && hugeOrder(gi) != 0) getPfnLocks(gi, false, LW_MUST);
  ioLockWrite(io);
  const ac = areaCheck(io, ivp, gi, pg, n, secure);
  if (ac < 0) { if (shared) invUnlockRead(gi); opFinish(op, ac); return ST_DONE; }
  if (!shared) { opFinish(op, -EAGAIN); return ST_DONE; } // a call: a conversion holds the lock
  store<u32>(op, ioSeq(io), OP_SEQ); // mmu_seq-style snapshot, before the pfns
  if (safeguard(SG_IOMMU_BLOCK) && ioRangeInvalidating(io, pg, n)) { invUnlockRead(gi); opFinish(op, -EAGAIN); return ST_DONE; }
  if (!isSnp()) { // the access check: shareability vs table (SNP keeps both kinds: the RMP check contains misuse)
    const sh = bitmapCountShared(gmemBitmap(gi), pg, pg + n);
    if (secure ? sh != 0 : sh != <u64>n) { invUnlockRead(gi); opFinish(op, -EACCES); return ST_DONE; }
  }
  pagesLock(gi);
  // count the chunks, then fill them: (pfn, level) per IO entry to install
  let chunks: u32 = 0;
  let r: i32 = 0;
  for (let i: u32 = 0; i < n; ) {
    r = gmemGetFolio(gi, pg + i); // allocates through guest_memfd, takes no reference
    if (r < 0) break;
    gmemPrepareFolio(gi, pg + i);
    i += <u32>levelPages(ioLevel(gi, ivp + i, pg + i, n - i, folioPfn(gi, pg + i)));
    chunks++;
  }
  if (r == 0 && !opListReserve(op, chunks)) r = -ENOMEM;
  if (r == 0) {
    let k: u32 = 0;
    for (let i: u32 = 0; i < n; k++) {
      const pfn = folioPfn(gi, pg + i);
      const level = ioLevel(gi, ivp + i, pg + i, n - i, pfn);
      opListSet(op, k, pfn, level);
      i += <u32>levelPages(level);
    }
    store<u32>(op, chunks, OP_NLIST);
  }
  invUnlockRead(gi);
  if (r < 0) { opFinish(op, r); return ST_DONE; }
  opSetStep(op, STEP_INSTALL);
  return ST_MORE;
}

function install(op: u32, io: u32, gi: u32): u32 {
  ioLockWrite(io);
  const pg = load<u32>(op, OP_START), n = load<u32>(op, OP_END) - pg;
  const ivp = opA(op, 0), secure = opA(op, 1) != 0;
  const ac = areaCheck(io, ivp, gi, pg, n, secure);
  if (ac < 0) { opFinish(op, ac); return ST_DONE; }
  const refill = ac == 1;
  if (!refill && !reserveArea(io)) { opFinish(op, -ENOMEM); return ST_DONE; }
  // the safeguard: a conversion began or ran since the pfns were taken -> -EAGAIN (userspace retries)
  if (safeguard(SG_IOMMU_BLOCK)) {
    if (ioRangeInvalidating(io, pg, n)) { opFinish(op, -EAGAIN); return ST_DONE; }
    if (safeguard(SG_IOMMU_SEQ) && ioSeq(io) != load<u32>(op, OP_SEQ)) { opFinish(op, -EAGAIN); return ST_DONE; }
  }
  const pt = ioPt(io, secure);
  let iv = ivp;
  let firstLevel: u32 = 0;
  for (let k: u32 = 0, nc = opNlist(op); k < nc; k++) {
    const level = opListB(op, k);
    const m = ptMap(pt, iv, opListA(op, k), level, 0);
    if (m < 0) { unwind(pt, ivp, iv); opFinish(op, m); return ST_DONE; }
    if (firstLevel == 0) firstLevel = level;
    iv += <u32>levelPages(level);
  }
  if (!refill) recordArea(io, ivp, n, gi, pg, secure, false);
  emit(EV_IOMMU_MAP, secure ? EVF_SECURE : 0, ioIndex(io), ivp, ivp + n, firstLevel, 0);
  opFinish(op, 0);
  return ST_DONE;
}

function unwind(pt: usize, s: u32, e: u32): void {
  if (e <= s) return;
  const it = iterPush();
  ptZapRange(pt, it, <u64>s, <u64>e, ZAP_WHOLE);
  iterPop();
}

/** A pin-mode map (one step): GUP through the host mapping, long-term pins, 4 KiB IO entries. */
function pinMap(op: u32, io: u32, gi: u32, probe: bool): u32 {
  if (invLockedWrite(gi) && (probe || inThreadMode())) return ST_BLOCKED; // the faults would wait
  if (probe) return ST_MORE;
  // locks in order: the invalidate lock (shared: GUP's faults), the domain, the pages
  const shared = invLockRead(gi);
  if (shared && hugeOrder(gi) != 0) getPfnLocks(gi, false, LW_MUST, <usize>io + IO_DOMAIN_LOCK); // faults may split
  ioLockWrite(io);
  const pg = load<u32>(op, OP_START), n = load<u32>(op, OP_END) - pg;
  const ivp = opA(op, 0);
  if (overlapsArea(io, ivp, n, false)) { opFinish(op, -EEXIST); return ST_DONE; }
  if (!reserveArea(io)) { opFinish(op, -ENOMEM); return ST_DONE; }
  if (!gmemIsMmapped(gi)) { opFinish(op, -EFAULT); return ST_DONE; }
  if (!shared) { opFinish(op, -EFAULT); return ST_DONE; } // a call: a conversion holds the lock, the GUP fails
  pagesLock(gi);
  for (let i: u32 = 0; i < n; i++) {
    if (folioHostMapped(gi, pg + i)) continue;
    const r = gmemHostFaultHeld(gi, pg + i);
    if (r != HOST_OK) { opFinish(op, r < 0 ? r : -EFAULT); return ST_DONE; } // SIGBUS: -EFAULT
  }
  const pt = ioPt(io, false);
  for (let i: u32 = 0; i < n; i++) {
    const m = ptMap(pt, ivp + i, folioPfn(gi, pg + i), 1, 0);
    if (m < 0) { unwind(pt, ivp, ivp + i); opFinish(op, m); return ST_DONE; }
  }
  for (let i: u32 = 0; i < n; i++) folioRef(gi, pg + i, REF_IOMMU_PIN, 1);
  recordArea(io, ivp, n, gi, pg, false, true);
  emit(EV_IOMMU_MAP, 0, ioIndex(io), ivp, ivp + n, 1, 0);
  opFinish(op, 0);
  return ST_DONE;
}

/** The page locks of the inodes of the areas of [s, e) in one table, in address order (after the domain lock). */
function lockAreaInodes(io: u32, s: u64, e: u64, secure: bool): void {
  let last: u32 = 0;
  for (;;) {
    let next: u32 = 0xffffffff;
    for (let i: u32 = 0, na = nAreas(io); i < na; i++) {
      const a = ioArea(io, i);
      if (!areaUsed(a) || areaSecure(a) != secure) continue;
      const as = <u64>areaIova(a), ae = as + areaNpages(a);
      const gi = areaInode(a);
      if (as < e && ae > s && gi > last && gi < next) next = gi;
    }
    if (next == 0xffffffff) return;
    pagesLock(next);
    last = next;
  }
}

/**
 * Unmap [iova, iova + size) of one table: as iommufd, an unmap covers whole areas. -EINVAL unaligned or empty,
 * -ENOENT nothing mapped there or the range cuts through an area; RESULT_BLOCKED (gmem mode) while a conversion of
 * the bound guest_memfd is in flight. Pin mode drops the pins. One event per area, with the level of its first entry
 * and the entries removed.
 */
export function iommuUnmap(io: u32, iova: f64, size: f64, secure: bool): i32 {
  if (!isByteCount(iova) || !isByteCount(size)) return -EINVAL;
  const iv = <u64>iova, sz = <u64>size;
  const mask = <u64>PAGE_SIZE - 1;
  if ((iv & mask) != 0 || (sz & mask) != 0 || sz == 0) return -EINVAL;
  const s = iv >> 12, e = (iv + sz) >> 12;
  let found: u32 = 0;
  for (let i: u32 = 0, na = nAreas(io); i < na; i++) {
    const a = ioArea(io, i);
    if (!areaUsed(a) || areaSecure(a) != secure) continue;
    const as = <u64>areaIova(a), ae = as + areaNpages(a);
    if (as >= e || ae <= s) continue;
    if (as < s || ae > e) return -ENOENT; // cuts through an area
    found++;
  }
  if (found == 0) return -ENOENT;
  if (ioIsGmem(io) && ioGmem(io) != 0 && invLockedWrite(ioGmem(io))) return RESULT_BLOCKED;
  ioLockWrite(io);
  lockAreaInodes(io, s, e, secure); // a pin-mode area's pins are folio references
  for (let i: u32 = 0; i < nAreas(io); ) {
    const a = ioArea(io, i);
    const as = <u64>areaIova(a), ae = as + areaNpages(a);
    if (areaSecure(a) != secure || as >= e || ae <= s) { i++; continue; }
    const p = ptWalkLeaf(ioPt(io, secure), <u32>as);
    const level = p != 0 ? spteLevel(load<u64>(p)) : 0;
    const count = dropArea(io, a); // the next area moved into slot i: look at it next
    emit(EV_IOMMU_UNMAP, secure ? EVF_SECURE : 0, ioIndex(io), <u32>as, <u32>ae, level, count);
  }
  iotlbFlush(io);
  return 0;
}

