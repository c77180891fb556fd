// Invariants as code: each check reads the structures (never writes) and reports the first violation it finds as
// (invariant number, index). Numbers 1..20 are I1..I20 of KERNEL-PROTOCOL.md section 6; 101 is the page tables'
// own structure (counters, occupancy, alignment). The protocol-level invariants arrive with the mechanisms that
// can break them.
import {
  BM_NPAGES, BM_WORDS, BM_CNT2M, BM_CNT1G, BM_N2M, BM_N1G, BM_NWORDS, BM_SHARED,
  FB_STATE, FB_ORDER, FB_PFN, FB_REF, FB_PIN, FB_MAP, FB_SUB, FB_NSUB, FB_ABSENT, FB_HUGE, FB_SPLIT,
  FE_PFN, FE_REF, FE_MAP, FE_PIN, FE_FLAGS, FE_SIZE, FOLIO_PRESENT, GUP_PIN_COUNTING_BIAS,
  GI_NBLOCKS, GI_NPAGES, GI_POPULATED, PT_ROOT, PT_LEAVES, PT_TABLES, PT_LEVELS,
} from "./layout";
import {
  blockAt, blockShift, hugeOrder, folioOrder, folioPfn, folioUptodate, folioPins, ePresent, eRef, ePfn, eUptodate,
  folioIoPins, orphanByPfn,
} from "./folio";
import { pagemapEntry } from "./alloc";
import { spteIsPresent, spteIsLeaf, spteLevel, sptePfn, TdpIter, tdpIterStart, tdpIterNext } from "./pagetable";
import {
  H_DEBUG, H_CORRUPT, OBJ_TABLE, OBJ_SLOT_SIZE, OBJ_MAX, OBJ_T_GMEM, OBJ_T_VM, OBJ_T_OP, GI_BITMAP, GI_NBIND,
  GI_BINDS, GI_BIND_SIZE, GI_INV_LOCK, GI_HOSTPTES, VM_SEQ, VM_ENDS, VM_IN_PROGRESS, VM_RANGE_START, VM_RANGE_END,
  VM_RANGE_VALID, VM_PT_PRIVATE, VM_PT_SHARED, VM_SLOTS, VM_SLOT_SIZE, VM_MAX_SLOTS, OP_KIND, OP_GMEM, OPK_CONVERT,
  FOLIO_UPTODATE, FOLIO_HOSTMAP,
} from "./layout";
import { bitmapSharedInBlock, bitmapTest } from "./bitmap";
import { archMaxPrivateLevel, isTdx, isSnp } from "./arch";
import { rmpLevelOf } from "./snp";
import { tdxInhibited } from "./tdx";
import {
  IO_MODE, IO_PT_SECURE, IO_PT_NONSECURE, IO_AREA_PTR, IO_AREA_SIZE, IO_NAREAS, IO_IN_PROGRESS, IO_RANGE_START,
  IO_RANGE_END, IO_RANGE_VALID, IOMMU_PIN, OBJ_T_IOMMU,
} from "./layout";

export const INV_PT_STRUCT: u32 = 101;

// ---- switches ---------------------------------------------------------------------------------------------------

/** Is the after-every-step checker on? (H_DEBUG bit 0, shared by every instance) */
// @ts-ignore: decorator
@inline export function checksOn(): bool { return (load<u32>(H_DEBUG) & 1) != 0; }

// Debug-only corruption hooks: each makes one mechanism misbehave once, so a test can see the checker name the
// invariant it breaks. The release build compiles them out (DEBUG is false there).
export const DBG_SKIP_ROLLBACK: u32 = 1; //     v2 conversion failure skips the rollback            -> I18
export const DBG_FORCE_WORK: u32 = 2; //        a no-op conversion does work anyway                 -> I19
export const DBG_SKIP_HOST_UNMAP: u32 = 3; //   to-private forgets to zap shared SPTEs               -> I9
export const DBG_BAD_ERROR_INDEX: u32 = 4; //   error_index lands outside the range                  -> I20
export const DBG_SKIP_RETRY: u32 = 5; //        the fault path skips mmu_invalidate_retry_gfn        -> I12

/** Consume the armed corruption hook if it is `which` (always false in release builds). */
export function debugHook(which: u32): bool {
  if (!DEBUG) return false;
  if (load<u32>(H_CORRUPT) != which) return false;
  store<u32>(H_CORRUPT, 0);
  return true;
}

/** A mechanism found an invariant broken while it ran (post-conditions, install-time checks). */
export function recordViolation(code: u32, where: u32): void {
  if (violationCode == 0) { violationCode = code; violationWhere = where; }
}

let violationCode: u32 = 0;
let violationWhere: u32 = 0;
export function lastViolationCode(): u32 { return violationCode; }
export function lastViolationWhere(): u32 { return violationWhere; }

import { DEBUG } from "./debug";

function fail(code: u32, where: u32): u32 {
  violationCode = code;
  violationWhere = where;
  return code;
}

export function checkOk(): u32 {
  violationCode = 0;
  violationWhere = 0;
  return 0;
}

/** I1 (representation): per-2 MiB and per-1 GiB counts and the total equal the bits; no bit past npages. */
export function checkBitmap(bm: u32): u32 {
  const npages = load<u32>(bm, BM_NPAGES);
  const words = <usize>load<u32>(bm, BM_WORDS);
  const n2m = load<u32>(bm, BM_N2M);
  const n1g = load<u32>(bm, BM_N1G);
  const nwords = load<u32>(bm, BM_NWORDS);
  const c2 = <usize>load<u32>(bm, BM_CNT2M);
  const c1 = <usize>load<u32>(bm, BM_CNT1G);
  if ((npages & 63) != 0) {
    const last = load<u64>(words + (<usize>(nwords - 1) << 3));
    if ((last >> (<u64>(npages & 63))) != 0) return fail(1, npages);
  }
  let total: u64 = 0;
  let g: u32 = 0;
  let gsum: u32 = 0;
  for (let b: u32 = 0; b < n2m; b++) {
    let pop: u32 = 0;
    const w0 = b << 3;
    for (let w = w0; w < w0 + 8 && w < nwords; w++) pop += <u32>popcnt<u64>(load<u64>(words + (<usize>w << 3)));
    if (pop != <u32>load<u16>(c2 + (<usize>b << 1))) return fail(1, b << 9);
    if ((b >> 9) != g) {
      if (gsum != load<u32>(c1 + (<usize>g << 2))) return fail(1, g << 18);
      g = b >> 9; gsum = 0;
    }
    gsum += pop;
    total += pop;
  }
  if (n1g > 0 && gsum != load<u32>(c1 + (<usize>g << 2))) return fail(1, g << 18);
  if (total != <u64>load<u32>(bm, BM_SHARED)) return fail(1, 0);
  return 0;
}

/**
 * I2 (folio structure) and I4 (refcount accounting): per block exactly absent / one huge folio of the gmem's
 * HugeTLB order at the block start / a sub-array of 4 KiB folios (for HugeTLB: all present, pfns contiguous from
 * the huge page); refcounts at least what the filemap, host PTEs and pins hold; the populated count adds up.
 */
export function checkFolios(gi: u32): u32 {
  const nb = load<u32>(gi, GI_NBLOCKS);
  const shift = blockShift(gi);
  const ho = hugeOrder(gi);
  const npages = load<u32>(gi, GI_NPAGES);
  let populated: u32 = 0;
  for (let b: u32 = 0; b < nb; b++) {
    const blk = blockAt(gi, b);
    const st = load<u8>(blk, FB_STATE);
    const first = b << shift;
    if (st == FB_ABSENT) continue;
    if (st == FB_HUGE) {
      if (ho == 0 || <u32>load<u8>(blk, FB_ORDER) != ho) return fail(2, first);
      const pfn = load<u32>(blk, FB_PFN);
      if ((pfn & ((<u32>1 << ho) - 1)) != 0) return fail(2, first);
      const nr = <u32>1 << ho;
      if (load<u32>(blk, FB_REF) < nr + load<u32>(blk, FB_PIN) + load<u32>(blk, FB_MAP)) return fail(4, first);
      populated += nr;
      continue;
    }
    if (st != FB_SPLIT) return fail(2, first);
    const nr = <u32>1 << shift;
    const sub = <usize>load<u32>(blk, FB_SUB);
    if (sub == 0) return fail(2, first);
    let present: u32 = 0;
    let busy: u32 = 0;
    let uptodate: u32 = 0;
    const base = load<u32>(blk, FB_PFN);
    for (let i: u32 = 0; i < nr; i++) {
      const e = sub + <usize>i * FE_SIZE;
      if (!ePresent(gi, e)) continue;
      if (first + i >= npages) return fail(2, first + i);
      if (ho != 0 && (load<u32>(e, FE_PFN) != 0 || ePfn(gi, blk, i, e) != base + i)) return fail(2, first + i);
      const need = <u64>1 + <u64>load<u16>(e, FE_MAP) + <u64>load<u16>(e, FE_PIN) * GUP_PIN_COUNTING_BIAS;
      if (<u64>eRef(e) < need) return fail(4, first + i);
      if (eRef(e) != 1) busy++;
      if (eUptodate(blk, e)) uptodate++;
      present++;
    }
    if (busy != load<u32>(blk, FB_REF) || uptodate != load<u32>(blk, FB_MAP)) return fail(4, first); // summaries
    if (present != load<u32>(blk, FB_NSUB)) return fail(2, first);
    if (ho != 0 && present != nr) return fail(2, first);
    if (present == 0) return fail(2, first); // an empty granule keeps no sub-array
    populated += present;
  }
  if (populated != load<u32>(gi, GI_POPULATED)) return fail(2, 0);
  return 0;
}

// walk state for checkPagetable (per instance)
let ptLeaves1: u32 = 0;
let ptLeaves2: u32 = 0;
let ptLeaves3: u32 = 0;
let ptTablesSeen: u32 = 0;

/** Page-table structure: counters equal a full walk, per-table occupancy is exact, leaves are aligned. */
export function checkPagetable(pt: usize): u32 {
  ptLeaves1 = 0; ptLeaves2 = 0; ptLeaves3 = 0; ptTablesSeen = 0;
  const root = load<u32>(pt, PT_ROOT);
  if (root != 0) {
    const r = checkTable(root, PT_LEVELS, 0);
    if (r != 0) return r;
  }
  if (ptLeaves1 != load<u32>(pt, PT_LEAVES) || ptLeaves2 != load<u32>(pt, PT_LEAVES + 4) ||
      ptLeaves3 != load<u32>(pt, PT_LEAVES + 8)) return fail(INV_PT_STRUCT, 0);
  if (ptTablesSeen != load<u32>(pt, PT_TABLES)) return fail(INV_PT_STRUCT, 0);
  return 0;
}

function checkTable(table: u32, level: u32, gfnBase: u64): u32 {
  ptTablesSeen++;
  let present: u32 = 0;
  for (let i: u32 = 0; i < 512; i++) {
    const e = load<u64>(table + (i << 3));
    if (!spteIsPresent(e)) continue;
    present++;
    const gfn = gfnBase + (<u64>i << (<u64>(9 * (level - 1))));
    if (spteIsLeaf(e)) {
      const l = spteLevel(e);
      if (l != level || level > 3) return fail(INV_PT_STRUCT, <u32>gfn);
      if ((sptePfn(e) & ((<u32>1 << (9 * (l - 1))) - 1)) != 0) return fail(INV_PT_STRUCT, <u32>gfn);
      if (l == 1) ptLeaves1++; else if (l == 2) ptLeaves2++; else ptLeaves3++;
    } else {
      if (level == 1) return fail(INV_PT_STRUCT, <u32>gfn);
      const r = checkTable(<u32>(e & 0xffffffff000), level - 1, gfn);
      if (r != 0) return r;
    }
  }
  if (<u32>load<u16>(pagemapEntry(table) + 2) != present) return fail(INV_PT_STRUCT, <u32>gfnBase);
  // an emptied table below the root is freed at once
  if (present == 0 && level < <u32>PT_LEVELS) return fail(INV_PT_STRUCT, <u32>gfnBase);
  return 0;
}

// ---- the whole-model check (after every step when enabled) ------------------------------------------------------

/**
 * Every invariant that can be read off the current state: I1-I8, I13-I17 (I9, I12, I18-I20 are post-conditions the
 * mechanisms check as they run). Returns 0 or the first violated invariant (lastViolationWhere: the index / gfn).
 */
export function checkAll(it: TdpIter): u32 {
  let pausedConverts: u32 = 0;
  let pausedOps: u32 = 0;
  for (let i: u32 = 1; i < <u32>OBJ_MAX; i++) {
    const slot = <usize>OBJ_TABLE + <usize>i * OBJ_SLOT_SIZE;
    if (<u32>load<u8>(slot) == OBJ_T_OP) {
      pausedOps++;
      const op = load<u32>(slot, 4);
      if (load<u32>(op, OP_KIND) == OPK_CONVERT) {
        pausedConverts++;
        // I14: a conversion in flight holds its inode's invalidate lock exclusively
        const gi = load<u32>(op, OP_GMEM);
        if (load<u32>(gi, GI_INV_LOCK) != 0xffffffff) return fail(14, 0);
      }
    }
  }
  for (let i: u32 = 1; i < <u32>OBJ_MAX; i++) {
    const slot = <usize>OBJ_TABLE + <usize>i * OBJ_SLOT_SIZE;
    const t = <u32>load<u8>(slot);
    const p = load<u32>(slot, 4);
    if (t == OBJ_T_GMEM) {
      const r = checkGmem(p, pausedConverts);
      if (r != 0) return r;
    } else if (t == OBJ_T_VM) {
      const r = checkVm(p, it, pausedOps);
      if (r != 0) return r;
    } else if (t == OBJ_T_IOMMU) {
      const r = checkIommu(p, it, pausedConverts);
      if (r != 0) return r;
    }
  }
  return 0;
}

function checkGmem(gi: u32, pausedConverts: u32): u32 {
  const bm = load<u32>(gi, GI_BITMAP);
  let r = checkBitmap(bm);
  if (r != 0) return r;
  r = checkFolios(gi);
  if (r != 0) return r;
  const lockedByOp = load<u32>(gi, GI_INV_LOCK) == 0xffffffff;
  if (lockedByOp && pausedConverts == 0) return fail(14, 0); // the lock is held by nobody in flight
  const nb = load<u32>(gi, GI_NBLOCKS);
  const shift = blockShift(gi);
  const ho = hugeOrder(gi);
  let hostPtes: u32 = 0;
  for (let b: u32 = 0; b < nb; b++) {
    const blk = blockAt(gi, b);
    const st = load<u8>(blk, FB_STATE);
    if (st == FB_HUGE) {
      // I3: a huge folio never holds a shared index (a conversion in flight may be between set_attr and split)
      if (!lockedByOp && bitmapSharedInBlock(bm, b << shift, shift) != 0) return fail(3, b << shift);
    } else if (st == FB_SPLIT) {
      const sub = <usize>load<u32>(blk, FB_SUB);
      const nr = <u32>1 << shift;
      for (let k: u32 = 0; k < nr; k++) {
        const e = sub + <usize>k * FE_SIZE;
        const fl = load<u16>(e, FE_FLAGS);
        if (!ePresent(gi, e) || !(fl & FOLIO_HOSTMAP)) continue;
        const index = (b << shift) + k;
        hostPtes++;
        if (!eUptodate(blk, e)) return fail(5, index);         // I5: zero before expose
        if (!bitmapTest(bm, index)) return fail(6, index);      // I6: no private page in a host PTE
        if (rmpLevelOf(gi, index) != 0) return fail(10, index); // I10: a host-mapped pfn is RMP-unassigned
      }
    }
  }
  if (hostPtes != load<u32>(gi, GI_HOSTPTES)) return fail(6, 0);
  void ho;
  // I17: every binding record names a live slot of its VM that points back at this inode, inside i_size
  const n = load<u32>(gi, GI_NBIND);
  for (let i: u32 = 0; i < n; i++) {
    const rec = <usize>gi + GI_BINDS + <usize>i * GI_BIND_SIZE;
    const vm = load<u32>(rec);
    const sn = load<u32>(rec, 8);
    if (sn >= <u32>VM_MAX_SLOTS) return fail(17, 0);
    const sp = <usize>vm + VM_SLOTS + <usize>sn * VM_SLOT_SIZE;
    if (load<u32>(sp) == 0 || load<u32>(sp, 20) != gi) return fail(17, 0);
    if (<u64>load<u32>(sp, 16) + load<u32>(sp, 8) > <u64>load<u32>(gi, GI_NPAGES)) return fail(17, load<u32>(sp, 16));
  }
  return 0;
}

function checkVm(vm: u32, it: TdpIter, pausedOps: u32): u32 {
  // I13: begin/end balance
  const inProgress = load<i32>(vm, VM_IN_PROGRESS);
  if (inProgress < 0) return fail(13, 0);
  if (pausedOps == 0 && inProgress != 0) return fail(13, 0);
  if (load<u32>(vm, VM_SEQ) != load<u32>(vm, VM_ENDS)) return fail(13, 0);
  // I17: slots of one inode never overlap in index space
  for (let a: u32 = 0; a < <u32>VM_MAX_SLOTS; a++) {
    const sa = <usize>vm + VM_SLOTS + <usize>a * VM_SLOT_SIZE;
    if (load<u32>(sa) == 0) continue;
    for (let b = a + 1; b < <u32>VM_MAX_SLOTS; b++) {
      const sb = <usize>vm + VM_SLOTS + <usize>b * VM_SLOT_SIZE;
      if (load<u32>(sb) == 0 || load<u32>(sb, 20) != load<u32>(sa, 20)) continue;
      const pa = load<u32>(sa, 16), pb = load<u32>(sb, 16);
      if (pa < pb + load<u32>(sb, 8) && pb < pa + load<u32>(sa, 8)) return fail(17, pa);
    }
  }
  for (let t: u32 = 0; t < 2; t++) {
    const isPrivate = t == 0;
    const pt = <usize>vm + (isPrivate ? VM_PT_PRIVATE : VM_PT_SHARED);
    tdpIterStart(it, load<u32>(pt), 1, 0, <u64>1 << 32);
    while (it.valid) {
      const e = it.oldSpte;
      if (spteIsPresent(e) && spteIsLeaf(e)) {
        const r = checkLeaf(vm, <u32>it.gfn, e, isPrivate, inProgress);
        if (r != 0) return r;
      }
      tdpIterNext(it);
    }
  }
  return 0;
}

/** One SPTE: I7/I8 (type), I5 (uptodate), I15 (mapping <= folio, right pfn), I16 (huge mapping rules). */
function checkLeaf(vm: u32, gfn: u32, e: u64, isPrivate: bool, inProgress: i32): u32 {
  const level = spteLevel(e);
  const n: u32 = level == 3 ? 262144 : level == 2 ? 512 : 1;
  // the memslot holding the leaf's first gfn
  let sp: usize = 0;
  for (let s: u32 = 0; s < <u32>VM_MAX_SLOTS; s++) {
    const p = <usize>vm + VM_SLOTS + <usize>s * VM_SLOT_SIZE;
    if (load<u32>(p) != 0 && gfn >= load<u32>(p, 4) && gfn - load<u32>(p, 4) < load<u32>(p, 8)) { sp = p; break; }
  }
  if (sp == 0) return fail(17, gfn); // an SPTE outside every memslot
  const base = load<u32>(sp, 4), npages = load<u32>(sp, 8), pgoff = load<u32>(sp, 16), gi = load<u32>(sp, 20);
  // I16: a huge leaf lies inside its slot, keeps gfn -> index alignment, has uniform attributes, arch allows it
  if (level > 1) {
    if (<u64>gfn + n > <u64>base + npages) return fail(16, gfn);
    if (((gfn - base + pgoff) & (n - 1)) != 0) return fail(16, gfn);
  }
  const index = gfn - base + pgoff;
  const bm = load<u32>(gi, GI_BITMAP);
  const inRange = inProgress > 0 && load<u32>(vm, VM_RANGE_VALID) != 0 &&
    gfn < load<u32>(vm, VM_RANGE_END) && <u64>gfn + n > <u64>load<u32>(vm, VM_RANGE_START);
  if (level > 1) {
    const c = bitmapSharedInBlock(bm, index, level == 3 ? 18 : 9);
    if (c != 0 && c != n && !inRange) return fail(16, gfn);
    if (isPrivate && level > archMaxPrivateLevel(gi, index)) return fail(isSnp() ? 10 : 16, gfn);
  }
  // I11 (TDX): no huge private mapping in a block demoted after a 4 KiB accept (no re-promotion)
  if (isTdx() && isPrivate && level == 2 && tdxInhibited(gi, index)) return fail(11, gfn);
  // I11 (TDX): between ops every S-EPT leaf is accepted (MAPPED): no PENDING, BLOCKED or REMOVED one is left
  if (isTdx() && isPrivate && ((e >> 8) & 7) != 0) return fail(11, gfn);
  // I15: the mapping lies in one folio of at least its size, at the folio's pfn
  const o = folioOrder(gi, index);
  if (o < 0) return fail(15, gfn);
  if (<u32>o < 9 * (level - 1)) return fail(15, gfn);
  if (folioPfn(gi, index) != sptePfn(e)) return fail(15, gfn);
  // I5: zero before expose
  if (!folioUptodate(gi, index)) return fail(5, gfn);
  // I10 (SNP): a pfn mapped private in the NPT is RMP-assigned (its level was checked above)
  if (isSnp() && isPrivate && !inRange && rmpLevelOf(gi, index) == 0) return fail(10, gfn);
  // I7 / I8: entry type matches the attribute (outside an in-progress invalidation of the gfn)
  const shared = bitmapTest(bm, index);
  if (!isPrivate && !shared && (isTdx() || isSnp())) return fail(7, gfn); // a private page behind a non-secure entry
  if (!inRange && (isPrivate == shared)) return fail(8, gfn);
  return 0;
}

/**
 * IO page tables: every entry belongs to an area (I17), maps a present, uptodate folio at the right pfn and no
 * larger than it (I15, I5); outside an in-flight invalidation a non-secure entry maps only shared pages (I7: on
 * TDX a host machine check) and a secure one only private pages (I9), except on SNP, whose scheme keeps both and
 * instead bounds the entry by the RMP entry (I10); a pin-mode entry holds its GUP pin (I4).
 */
function checkIommu(io: u32, it: TdpIter, pausedConverts: u32): u32 {
  const pinMode = load<u32>(io, IO_MODE) == IOMMU_PIN;
  for (let t: u32 = 0; t < 2; t++) {
    const secure = t == 1;
    const pt = <usize>io + (secure ? IO_PT_SECURE : IO_PT_NONSECURE);
    tdpIterStart(it, load<u32>(pt), 1, 0, <u64>1 << 32);
    while (it.valid) {
      const e = it.oldSpte;
      if (spteIsPresent(e) && spteIsLeaf(e)) {
        const iova = <u32>it.gfn;
        const level = spteLevel(e);
        const n: u32 = level == 3 ? 262144 : level == 2 ? 512 : 1;
        let area: usize = 0;
        for (let i: u32 = 0, na = load<u32>(io, IO_NAREAS); i < na; i++) {
          const a = <usize>load<u32>(io, IO_AREA_PTR) + <usize>i * IO_AREA_SIZE;
          if (load<u32>(a) != 0 && (load<u32>(a, 20) != 0) == secure && iova >= load<u32>(a, 4) &&
              <u64>iova + n <= <u64>load<u32>(a, 4) + load<u32>(a, 8)) { area = a; break; }
        }
        if (area == 0) return fail(17, iova);
        const gi = load<u32>(area, 12);
        const index = load<u32>(area, 16) + iova - load<u32>(area, 4);
        if (pinMode && folioPfn(gi, index) != sptePfn(e)) {
          // a truncated page the IOMMU's pin keeps: the entry must still point at that orphaned frame
          const orphan = orphanByPfn(gi, sptePfn(e));
          if (orphan == 0 || load<u32>(orphan, 12) == 0) return fail(15, iova);
          tdpIterNext(it);
          continue;
        }
        const o = folioOrder(gi, index);
        if (o < 0 || <u32>o < 9 * (level - 1) || folioPfn(gi, index) != sptePfn(e)) return fail(15, iova);
        if (!folioUptodate(gi, index)) return fail(5, iova);
        const bm = load<u32>(gi, GI_BITMAP);
        const inFlight = load<i32>(io, IO_IN_PROGRESS) > 0 && load<u32>(io, IO_RANGE_VALID) != 0 &&
          index < load<u32>(io, IO_RANGE_END) && index + n > load<u32>(io, IO_RANGE_START);
        const shared = bitmapTest(bm, index);
        if (isSnp()) {
          const r = rmpLevelOf(gi, index);
          if (r != 0 && level > r) return fail(10, iova);
        } else if (!secure && !shared) {
          return fail(7, iova);
        } else if (secure && shared && !inFlight && pausedConverts == 0) {
          return fail(9, iova);
        }
        if (pinMode && folioIoPins(gi, index) == 0) return fail(4, iova);
      }
      tdpIterNext(it);
    }
  }
  return 0;
}
