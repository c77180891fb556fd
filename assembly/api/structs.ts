// Exports over the data structures alone: standalone shareability bitmaps and page tables (the structures every
// inode and every KVM / IOMMU table uses), and an inode's folios below the protocol (allocation, split, merge,
// references), for tests, benchmarks and views.
import { BM_NPAGES, GI_BITMAP, GI_NPAGES } from "../abi/records";
import { OUT_INFO, OUT_ERR_INDEX, PT_INFO_PFN, PT_INFO_STATE } from "../abi/consts";
import { EBADF, EBUSY, EINVAL, ENOMEM, ENOSPC } from "../abi/errno";
import { pageAlloc, pageFree, orderFor } from "../mm/alloc";
import { OBJ_T_BITMAP, OBJ_T_PAGETABLE, OBJ_T_GMEM, objNew, objGet, objFree } from "../mm/objects";
import { out, outAt } from "../mm/instance";
import {
  bitmapCreate, bitmapDestroy, bitmapAssign, bitmapTest, bitmapCountShared, bitmapNextDiff, bitmapSharedInBlock,
  bitmapBytes,
} from "../lib/bitmap";
import {
  ptInit, ptMap, ptLookup, ptZapRange, ptDemote, ptDestroy, ptLeaves, ptTables, sptePfn, spteLevel,
  spteState, ptLastZapStart, ptLastZapEnd, levelPages, PT_OBJ_SIZE,
} from "../lib/pagetable";
import { ptCountRange } from "../lib/ptread";
import { iterPush, iterPop } from "../lib/iter";
import { violationsReset } from "../lib/machine";
import { blockShift, hugeOrder, gmemBitmap } from "../gmem/inode";
import { folioDescribe, folioMarkUptodate, blockState, FB_SPLIT } from "../gmem/folio";
import { folioRef, REF_PIN } from "../gmem/refs";
import { lastBusyIndex } from "../gmem/split";
import { invLockedWrite } from "../gmem/lock";
import { gmemGetFolio } from "../gmem/getpfn";
import { gmemSplitBlock, gmemMergeBlock } from "../gmem/restructure";
import { checkBitmap, checkFolios, checkPagetable } from "../check/struct";
import { enter, leave, worldStop, worldStart } from "./bracket";

// ---- standalone shareability bitmaps ----------------------------------------------------------------------------

/** A bitmap of npages (1 .. 2^31) indices, all shared or all private. A handle or -errno. */
export function bitmap_create(npages: u32, shared: i32): i32 {
  if (npages == 0 || npages > 0x80000000) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  let r: i32;
  const bm = bitmapCreate(npages, shared != 0);
  if (bm == 0) r = -ENOMEM;
  else {
    const h = objNew(OBJ_T_BITMAP, bm);
    if (h == 0) { bitmapDestroy(bm); r = -ENOSPC; } else r = <i32>h;
  }
  return leave(r, false);
}

export function bitmap_destroy(h: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const bm = objGet(h, OBJ_T_BITMAP);
  let r: i32 = -EBADF;
  if (bm != 0) { bitmapDestroy(bm); objFree(h); r = 0; }
  return leave(r, false);
}

/** The bitmap of a bitmap handle, or of a guest_memfd handle (read-only queries accept both); 0 if neither. */
function bitmapOf(h: u32): u32 {
  const bm = objGet(h, OBJ_T_BITMAP);
  if (bm != 0) return bm;
  const gi = objGet(h, OBJ_T_GMEM);
  return gi == 0 ? 0 : load<u32>(gi, GI_BITMAP);
}

/** Address of the bitmap header (BM_* of abi/records.ts) of a bitmap or guest_memfd handle, for views; 0 if bad. */
export function bitmap_ptr(h: u32): u32 { return bitmapOf(h); }

/** Set [start, end) shared (1) or private (0). -EINVAL if start > end or end > npages. */
export function bitmap_assign(h: u32, start: u32, end: u32, shared: i32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const bm = objGet(h, OBJ_T_BITMAP);
  let r: i32 = 0;
  if (bm == 0) r = -EBADF;
  else if (start > end || end > load<u32>(bm, BM_NPAGES)) r = -EINVAL;
  else bitmapAssign(bm, start, end, shared != 0);
  return leave(r, false);
}

/** 1 if index i is shared, 0 if private, -errno. */
export function bitmap_test(h: u32, i: u32): i32 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  if (i >= load<u32>(bm, BM_NPAGES)) return -EINVAL;
  return bitmapTest(bm, i) ? 1 : 0;
}

/** Shared indices in [start, end), or -errno. */
function bitmap_count_read(h: u32, start: u32, end: u32): f64 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  if (start > end || end > load<u32>(bm, BM_NPAGES)) return -EINVAL;
  return <f64>bitmapCountShared(bm, start, end);
}
/** bitmap_count_read with the world stopped: a whole read, never half of another thread's step. */
export function bitmap_count(h: u32, start: u32, end: u32): f64 {
  { const e = worldStop(); if (e != 0) return <f64>e; }
  const r = bitmap_count_read(h, start, end);
  worldStart();
  return r;
}

/** First index in [from, end) whose value is not `shared`, else end; or -errno. */
export function bitmap_next_diff(h: u32, from: u32, end: u32, shared: i32): f64 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  if (from > end || end > load<u32>(bm, BM_NPAGES)) return -EINVAL;
  return <f64>bitmapNextDiff(bm, from, end, shared != 0);
}

/** Shared indices in the huge block (order 9 or 18) holding index, in O(1); or -errno. */
export function bitmap_block_shared(h: u32, index: u32, order: u32): i32 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  if (index >= load<u32>(bm, BM_NPAGES) || (order != 9 && order != 18)) return -EINVAL;
  return <i32>bitmapSharedInBlock(bm, index, order);
}

export function bitmap_bytes(h: u32): f64 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  return <f64>bitmapBytes(bm);
}

/** Run the bitmap's I1 check; 0 or the invariant number (sim_last_violation gives where). */
export function bitmap_check(h: u32): i32 {
  { const e = worldStop(); if (e != 0) return e; } // a whole read: no step of another thread half done under it
  const bm = bitmapOf(h);
  let r: i32 = -EBADF;
  if (bm != 0) { violationsReset(); r = <i32>checkBitmap(bm); }
  worldStart();
  return r;
}

// ---- standalone page tables -------------------------------------------------------------------------------------

export function pt_create(): i32 {
  { const e = enter(); if (e != 0) return e; }
  let r: i32;
  const pt = pageAlloc(orderFor(PT_OBJ_SIZE));
  if (pt == 0) r = -ENOMEM;
  else {
    ptInit(pt);
    const h = objNew(OBJ_T_PAGETABLE, pt);
    if (h == 0) { pageFree(pt, 0); r = -ENOSPC; } else r = <i32>h;
  }
  return leave(r, false);
}

export function pt_destroy(h: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32 = -EBADF;
  if (pt != 0) { ptDestroy(pt); pageFree(pt, 0); objFree(h); r = 0; }
  return leave(r, false);
}

/** Map gfn -> pfn at level 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB); state: software bits 0..7. */
export function pt_map(h: u32, gfn: u32, pfn: u32, level: u32, state: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else if (state > 7) r = -EINVAL;
  else r = ptMap(pt, gfn, pfn, level, state);
  return leave(r, false);
}

/** Level of the leaf mapping gfn (0: none); info PT_INFO_PFN = pfn of gfn itself, PT_INFO_STATE = state. */
function pt_lookup_read(h: u32, gfn: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  const e = ptLookup(pt, gfn);
  if (e == 0) { out(OUT_INFO + PT_INFO_PFN, 0); out(OUT_INFO + PT_INFO_STATE, 0); return 0; }
  const level = spteLevel(e);
  out(OUT_INFO + PT_INFO_PFN, sptePfn(e) + (gfn & (<u32>levelPages(level) - 1)));
  out(OUT_INFO + PT_INFO_STATE, spteState(e));
  return <i32>level;
}
/** pt_lookup_read with the world stopped: a whole read, never half of another thread's step. */
export function pt_lookup(h: u32, gfn: u32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  const r = pt_lookup_read(h, gfn);
  worldStart();
  return r;
}

/** Is x a whole number in [0, 2^32]? (gfn range ends cross as f64 so that 2^32 is expressible) */
// @ts-ignore: decorator
@inline function isGfnEnd(x: f64): bool { return x >= 0 && x <= 4294967296.0 && x == Math.floor(x); }

/**
 * Zap every leaf mapping a gfn in [start, end); partial bit 0 (ZAP_DEMOTE): a straddling huge leaf is demoted first,
 * else zapped whole; bit 1 (ZAP_KEEP_TABLES): every table stays (KVM), else tables go as an IOMMU unmap frees them.
 */
export function pt_zap(h: u32, start: f64, end: f64, partial: u32): i32 {
  if (!isGfnEnd(start) || !isGfnEnd(end) || start > end || partial > 3) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else { const it = iterPush(); r = ptZapRange(pt, it, <u64>start, <u64>end, partial); iterPop(); }
  return leave(r, false);
}
export function pt_last_zap_start(): f64 { return <f64>ptLastZapStart(); }
export function pt_last_zap_end(): f64 { return <f64>ptLastZapEnd(); }

export function pt_demote(h: u32, gfn: u32, level: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else if (level != 2 && level != 3) r = -EINVAL;
  else r = ptDemote(pt, gfn, level);
  return leave(r, false);
}

/** Present leaves at level (1..3) by the counters; or -errno. */
function pt_leaves_read(h: u32, level: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  if (level < 1 || level > 3) return -EINVAL;
  return <i32>ptLeaves(pt, level);
}
/** pt_leaves_read with the world stopped: a whole read, never half of another thread's step. */
export function pt_leaves(h: u32, level: u32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  const r = pt_leaves_read(h, level);
  worldStart();
  return r;
}

/** Table pages in use (root included). */
function pt_tables_read(h: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  return <i32>ptTables(pt);
}
/** pt_tables_read with the world stopped: a whole read, never half of another thread's step. */
export function pt_tables(h: u32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  const r = pt_tables_read(h);
  worldStart();
  return r;
}

/** Present leaves in [start, end) counted by walking with the iterator. */
export function pt_count_range(h: u32, start: f64, end: f64): i32 {
  if (!isGfnEnd(start) || !isGfnEnd(end) || start > end) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else { const it = iterPush(); r = <i32>ptCountRange(pt, it, <u64>start, <u64>end); iterPop(); }
  return leave(r, false);
}

export function pt_check(h: u32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32 = -EBADF;
  if (pt != 0) { violationsReset(); r = <i32>checkPagetable(pt); }
  worldStart();
  return r;
}

// ---- an inode's folios below the protocol ----------------------------------------------------------------------

/** The inode of a gmem handle whose npages exceeds index; 0 and *lastErr otherwise. */
let lastErr: i32 = 0;
function gmemIndexed(h: u32, index: u32): u32 {
  const gi = objGet(h, OBJ_T_GMEM);
  if (gi == 0) { lastErr = -EBADF; return 0; }
  if (index >= load<u32>(gi, GI_NPAGES)) { lastErr = -EINVAL; return 0; }
  return gi;
}

/** Put a folio for index into the filemap (kvm_gmem_get_folio). -EBUSY while a paused operation holds the inode. */
export function folio_alloc(h: u32, index: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const gi = gmemIndexed(h, index);
  const r = gi == 0 ? lastErr : invLockedWrite(gi) ? -EBUSY : gmemGetFolio(gi, index);
  return leave(r, false);
}

/** Describe the folio holding index into the info block (FOLIO_INFO_*); the state or -errno. */
function folio_describe_read(h: u32, index: u32): i32 {
  const gi = gmemIndexed(h, index);
  if (gi == 0) return lastErr;
  return <i32>folioDescribe(gi, index, outAt(OUT_INFO));
}
/** folio_describe_read with the world stopped: a whole read, never half of another thread's step. */
export function folio_describe(h: u32, index: u32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  const r = folio_describe_read(h, index);
  worldStart();
  return r;
}

/** Split the huge folio holding index to 4 KiB folios (mappings first). -EAGAIN: OUT_ERR_INDEX = busy index. */
export function folio_split(h: u32, index: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const gi = gmemIndexed(h, index);
  let r: i32;
  if (gi == 0) r = lastErr;
  else if (invLockedWrite(gi)) r = -EBUSY;
  else { r = gmemSplitBlock(gi, index >> blockShift(gi)); if (r < 0) out(OUT_ERR_INDEX, lastBusyIndex()); }
  return leave(r, false);
}

/** Merge the split HugeTLB block holding index back into one folio. -EAGAIN: OUT_ERR_INDEX = busy index. */
export function folio_merge(h: u32, index: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const gi = gmemIndexed(h, index);
  let r: i32;
  if (gi == 0) r = lastErr;
  else if (invLockedWrite(gi)) r = -EBUSY;
  else if (bitmapSharedInBlock(gmemBitmap(gi), index, blockShift(gi)) != 0) r = -EINVAL; // has some shared
  else if (blockState(gi, index >> blockShift(gi)) != FB_SPLIT || hugeOrder(gi) == 0) r = -EINVAL;
  else { r = gmemMergeBlock(gi, index >> blockShift(gi)); if (r < 0) out(OUT_ERR_INDEX, lastBusyIndex()); }
  return leave(r, false);
}

/** Take (+1) or drop (-1) a reference of kind REF_TRANSIENT, REF_HOSTMAP or REF_PIN (tests). 0 or -errno. */
export function folio_ref(h: u32, index: u32, kind: u32, delta: i32): i32 {
  if (kind > REF_PIN || (delta != 1 && delta != -1)) return -EINVAL; // the binding only offers REF_TRANSIENT
  { const e = enter(); if (e != 0) return e; }
  const gi = gmemIndexed(h, index);
  const r = gi == 0 ? lastErr : folioRef(gi, index, kind, delta);
  return leave(r, false);
}

export function folio_mark_uptodate(h: u32, index: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const gi = gmemIndexed(h, index);
  let r: i32 = 0;
  if (gi == 0) r = lastErr; else folioMarkUptodate(gi, index);
  return leave(r, false);
}

/** Run I1 on the inode's bitmap and I2/I4 on its folios; 0 or the invariant number. */
export function gmem_check(h: u32): i32 {
  { const e = worldStop(); if (e != 0) return e; } // a whole read: no conversion of another thread half done under it
  const gi = objGet(h, OBJ_T_GMEM);
  let r: i32 = -EBADF;
  if (gi != 0) {
    violationsReset();
    r = <i32>checkBitmap(gmemBitmap(gi));
    if (r == 0) r = <i32>checkFolios(gi);
  }
  worldStart();
  return r;
}
