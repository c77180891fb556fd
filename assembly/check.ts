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
import { blockAt, blockShift, hugeOrder } from "./folio";
import { pagemapEntry } from "./alloc";
import { spteIsPresent, spteIsLeaf, spteLevel, sptePfn } from "./pagetable";

export const INV_PT_STRUCT: u32 = 101;

let violationCode: u32 = 0;
let violationWhere: u32 = 0;
export function lastViolationCode(): u32 { return violationCode; }
export function lastViolationWhere(): u32 { return violationWhere; }

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
    const base = load<u32>(blk, FB_PFN);
    for (let i: u32 = 0; i < nr; i++) {
      const e = sub + <usize>i * FE_SIZE;
      const fl = load<u16>(e, FE_FLAGS);
      if (!(fl & FOLIO_PRESENT)) {
        if (ho != 0) return fail(2, first + i); // a HugeTLB block is never partially freed
        continue;
      }
      if (first + i >= npages) return fail(2, first + i);
      if (ho != 0 && load<u32>(e, FE_PFN) != base + i) return fail(2, first + i);
      const need = <u64>1 + <u64>load<u16>(e, FE_MAP) + <u64>load<u16>(e, FE_PIN) * GUP_PIN_COUNTING_BIAS;
      if (<u64>load<u32>(e, FE_REF) < need) return fail(4, first + i);
      present++;
    }
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
