// Invariants of the data structures themselves: the shareability bitmap's counts (I1's representation), the folio
// blocks (I2) and their refcounts (I4), and the page tables (counters, occupancy, alignment: INV_PT).
import {
  BM_NPAGES, BM_WORDS, BM_CNT2M, BM_CNT1G, BM_N2M, BM_N1G, BM_NWORDS, BM_SHARED, GI_NBLOCKS, GI_NPAGES, GI_POPULATED,
  GI_SPARE_SUB, GI_BUSY_BLOCKS,
} from "../abi/records";
import { INV_PT } from "../abi/consts";
import { pagemapEntry, heapBlockUsed, heapBlockOrder } from "../mm/alloc";
import { recordViolation } from "../lib/machine";
import { spteIsPresent, spteIsLeaf, spteLevel, sptePfn, spteChild, ptRoot, ptLeaves, ptTables, PT_LEVELS } from "../lib/pagetable";
import { blockShift, hugeOrder } from "../gmem/inode";
import {
  FB_STATE, FB_ORDER, FB_PFN, FB_REF, FB_PIN, FB_MAP, FB_SUB, FB_NSUB, FB_ABSENT, FB_HUGE, FB_SPLIT, FE_PFN, FE_MAP,
  FE_PIN, FE_SIZE, GUP_PIN_COUNTING_BIAS, SPARE_MAX_ORDER, blockAt, blockBusy, ePresent, eRef, ePfn, eUptodate, subOrder,
} from "../gmem/folio";

/** Report a violation and return its code. */
export function fail(code: u32, where: u32): u32 {
  recordViolation(code, where);
  return code;
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
  let populated: u32 = 0, busyBlocks: u32 = 0;
  for (let b: u32 = 0; b < nb; b++) {
    const blk = blockAt(gi, b);
    const st = <u32>load<u8>(blk, FB_STATE);
    const first = b << shift;
    if (st == FB_ABSENT) continue;
    if (blockBusy(blk)) busyBlocks++;
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
    let present: u32 = 0, busy: u32 = 0, uptodate: u32 = 0;
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
  if (busyBlocks != load<u32>(gi, GI_BUSY_BLOCKS)) return fail(4, 0); // the summary of the summaries
  // the spare sub-array: none, or an allocated block of the sub-array's order, small, and all zero
  const spare = load<u32>(gi, GI_SPARE_SUB);
  if (spare != 0) {
    const order = subOrder(gi);
    if (order > SPARE_MAX_ORDER || !heapBlockUsed(spare) || heapBlockOrder(spare) != order) return fail(2, 0);
    for (let i: u32 = 0; i < (<u32>FE_SIZE << shift); i += 8) if (load<u64>(spare + i) != 0) return fail(2, 0);
  }
  return 0;
}

// walk state for checkPagetable (per instance)
let leaves1: u32 = 0;
let leaves2: u32 = 0;
let leaves3: u32 = 0;
let tablesSeen: u32 = 0;

/** Page-table structure: counters equal a full walk, per-table occupancy is exact, leaves are aligned. */
export function checkPagetable(pt: usize): u32 {
  leaves1 = 0; leaves2 = 0; leaves3 = 0; tablesSeen = 0;
  const root = ptRoot(pt);
  if (root != 0) {
    const r = checkTable(root, PT_LEVELS, 0);
    if (r != 0) return r;
  }
  if (leaves1 != ptLeaves(pt, 1) || leaves2 != ptLeaves(pt, 2) || leaves3 != ptLeaves(pt, 3)) return fail(INV_PT, 0);
  if (tablesSeen != ptTables(pt)) return fail(INV_PT, 0);
  return 0;
}

function checkTable(table: u32, level: u32, gfnBase: u64): u32 {
  tablesSeen++;
  let present: u32 = 0;
  for (let i: u32 = 0; i < 512; i++) {
    const e = load<u64>(table + (i << 3));
    if (!spteIsPresent(e)) continue;
    present++;
    const gfn = gfnBase + (<u64>i << (<u64>(9 * (level - 1))));
    if (spteIsLeaf(e)) {
      const l = spteLevel(e);
      if (l != level || level > 3) return fail(INV_PT, <u32>gfn);
      if ((sptePfn(e) & ((<u32>1 << (9 * (l - 1))) - 1)) != 0) return fail(INV_PT, <u32>gfn);
      if (l == 1) leaves1++; else if (l == 2) leaves2++; else leaves3++;
    } else {
      if (level == 1) return fail(INV_PT, <u32>gfn);
      const r = checkTable(spteChild(e), level - 1, gfn);
      if (r != 0) return r;
    }
  }
  if (<u32>load<u16>(pagemapEntry(table) + 2) != present) return fail(INV_PT, <u32>gfnBase);
  return 0; // (an empty table may stay: KVM's zaps keep them, as tdp_mmu_zap_leafs does)
}
