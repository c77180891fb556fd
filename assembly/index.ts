// The export list of the core, and nothing else: every export takes the simulator lock (or returns -EBUSY when
// it could only wait and may not), validates its arguments and handles, and returns 0 / a value / -errno.
// Numeric ABI: handles and page indices are u32 (crossing as i32); byte quantities are f64 whole numbers.
import {
  LAYOUT_MAGIC, LAYOUT_VERSION, H_MAGIC, H_VERSION, H_INIT, H_INSTANCES, H_HEAP_TOP, HEAP_BASE, PAGEMAP_BASE,
  SCRATCH_BASE, SCRATCH_SIZE, MAX_INSTANCES, S_OUT, S_ITER, ITER_SIZE, H_STEP, H_DEBUG,
  OBJ_T_BITMAP, OBJ_T_PAGETABLE, OBJ_T_GMEM, PT_OBJ_SIZE, BM_NPAGES, GI_NPAGES, GI_BITMAP,
  H_FAIL_ALLOC,
} from "./layout";
import { EBADF, EBUSY, EINVAL, ENOMEM, ENOSPC } from "./errno";
import { setMayBlock, simLock, simUnlock } from "./sync";
import { pageAlloc, pageFree, orderFor } from "./alloc";
import { pfnPoolInit } from "./pfn";
import { objNew, objGet, objFree } from "./objects";
import {
  bitmapCreate, bitmapDestroy, bitmapAssign, bitmapTest, bitmapCountShared, bitmapNextDiff, bitmapSharedInBlock,
  bitmapBytes,
} from "./bitmap";
import {
  TdpIter, ptInit, ptMap, ptLookup, ptZapRange, ptDemote, ptDestroy, ptLeaves, ptTables, ptCountRange,
  sptePfn, spteLevel, spteState, ptLastZapStart, ptLastZapEnd,
} from "./pagetable";
import {
  folioAlloc, folioDescribe, splitFolio, mergeFolio, freeBlock, folioRef, folioMarkUptodate, folioLastBusyIndex,
  blockShift,
} from "./folio";
import { gmemInodeCreate, gmemInodeDestroy } from "./gmem";
import { checkOk, checkBitmap, checkFolios, checkPagetable, lastViolationCode, lastViolationWhere } from "./check";

// ---- per-instance state (Wasm globals are thread-local) ---------------------------------------------------------
let scratch: usize = 0;
let iterDepth: u32 = 0;

// @ts-ignore: decorator
@inline function out(i: u32, v: u32): void { store<u32>(scratch + S_OUT + (<usize>i << 2), v); }

function iterPush(): TdpIter {
  const it = changetype<TdpIter>(scratch + S_ITER + <usize>iterDepth * ITER_SIZE);
  iterDepth++;
  return it;
}
function iterPop(): void { iterDepth--; }

/**
 * Attach this instance to the memory: the first instance initialises the header (the others wait for it), every
 * instance gets its own scratch block. may_block: 0 on a browser's main thread. Returns the instance id, or
 * -EINVAL when the memory holds another layout, -ENOMEM if the static data overlaps the page map.
 */
export function sim_attach(may_block: i32): i32 {
  setMayBlock(may_block != 0);
  if (__heap_base > <usize>PAGEMAP_BASE) return -ENOMEM;
  if (atomic.cmpxchg<u32>(H_INIT, 0, 1) == 0) {
    store<u32>(H_MAGIC, LAYOUT_MAGIC);
    store<u32>(H_VERSION, LAYOUT_VERSION);
    store<u32>(H_HEAP_TOP, HEAP_BASE);
    pfnPoolInit();
    atomic.store<u32>(H_INIT, 2);
    atomic.notify(H_INIT);
  } else {
    while (atomic.load<u32>(H_INIT) != 2) {
      if (may_block != 0) atomic.wait<u32>(H_INIT, 1, 1000000);
    }
  }
  if (load<u32>(H_MAGIC) != <u32>LAYOUT_MAGIC || load<u32>(H_VERSION) != <u32>LAYOUT_VERSION) return -EINVAL;
  const id = atomic.add<u32>(H_INSTANCES, 1);
  scratch = <usize>SCRATCH_BASE + <usize>(id % <u32>MAX_INSTANCES) * SCRATCH_SIZE;
  iterDepth = 0;
  return <i32>id;
}

/** Address of this instance's out-values (u32[32]); queries that return more than one value put them here. */
export function sim_scratch(): u32 { return <u32>scratch; }
export function sim_layout_version(): u32 { return LAYOUT_VERSION; }
export function sim_heap_base(): u32 { return <u32>__heap_base; }

/** Fail the n-th next heap allocation (1 = the next one); 0 turns it off. For exhaustion tests. */
export function sim_fail_alloc(n: u32): i32 {
  if (!simLock()) return -EBUSY;
  store<u32>(H_FAIL_ALLOC, n);
  simUnlock();
  return 0;
}

/** Turn the after-every-step checker on (1) or off (0). */
export function sim_set_checks(on: i32): i32 {
  if (!simLock()) return -EBUSY;
  store<u32>(H_DEBUG, on != 0 ? 1 : 0);
  simUnlock();
  return 0;
}

/** The violation found by the last check: out[0] = invariant number, out[1] = index. */
export function sim_last_violation(): u32 {
  out(0, lastViolationCode());
  out(1, lastViolationWhere());
  return lastViolationCode();
}

// @ts-ignore: decorator
@inline function stepDone(): void { store<u32>(H_STEP, load<u32>(H_STEP) + 1); }

// ---- standalone shareability bitmaps ----------------------------------------------------------------------------

/** A bitmap of npages (1 .. 2^31) indices, all shared or all private. Returns a handle or -errno. */
export function bitmap_create(npages: u32, shared: i32): i32 {
  if (npages == 0 || npages > 0x80000000) return -EINVAL;
  if (!simLock()) return -EBUSY;
  let r: i32;
  const bm = bitmapCreate(npages, shared != 0);
  if (bm == 0) r = -ENOMEM;
  else {
    const h = objNew(OBJ_T_BITMAP, bm);
    if (h == 0) { bitmapDestroy(bm); r = -ENOSPC; } else r = <i32>h;
  }
  stepDone();
  simUnlock();
  return r;
}

export function bitmap_destroy(h: u32): i32 {
  if (!simLock()) return -EBUSY;
  const bm = objGet(h, OBJ_T_BITMAP);
  let r: i32 = -EBADF;
  if (bm != 0) { bitmapDestroy(bm); objFree(h); r = 0; }
  simUnlock();
  return r;
}

/** Address of the bitmap header (layout BM_*) of a bitmap or guest_memfd handle, for typed views; 0 if bad. */
export function bitmap_ptr(h: u32): u32 { return bitmapOf(h); }

/** Set [start, end) shared (1) or private (0). -EINVAL if start > end or end > npages. */
export function bitmap_assign(h: u32, start: u32, end: u32, shared: i32): i32 {
  if (!simLock()) return -EBUSY;
  const bm = objGet(h, OBJ_T_BITMAP);
  let r: i32 = 0;
  if (bm == 0) r = -EBADF;
  else if (start > end || end > load<u32>(bm, BM_NPAGES)) r = -EINVAL;
  else bitmapAssign(bm, start, end, shared != 0);
  stepDone();
  simUnlock();
  return r;
}

/** The bitmap of a bitmap handle, or of a guest_memfd handle (read-only queries accept both); 0 if neither. */
function bitmapOf(h: u32): u32 {
  const bm = objGet(h, OBJ_T_BITMAP);
  if (bm != 0) return bm;
  const gi = objGet(h, OBJ_T_GMEM);
  return gi == 0 ? 0 : load<u32>(gi, GI_BITMAP);
}

/** 1 if index i is shared, 0 if private, -errno. */
export function bitmap_test(h: u32, i: u32): i32 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  if (i >= load<u32>(bm, BM_NPAGES)) return -EINVAL;
  return bitmapTest(bm, i) ? 1 : 0;
}

/** Shared indices in [start, end), or -errno. */
export function bitmap_count(h: u32, start: u32, end: u32): f64 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  if (start > end || end > load<u32>(bm, BM_NPAGES)) return -EINVAL;
  return <f64>bitmapCountShared(bm, start, end);
}

/** First index in [from, end) whose value is not `shared`, else end (the end of a run); or -errno. */
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

/** Run the bitmap's I1 check; 0 or the invariant number (see sim_last_violation). */
export function bitmap_check(h: u32): i32 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  checkOk();
  return <i32>checkBitmap(bm);
}

// ---- standalone page tables -------------------------------------------------------------------------------------

export function pt_create(): i32 {
  if (!simLock()) return -EBUSY;
  let r: i32;
  const pt = pageAlloc(orderFor(PT_OBJ_SIZE));
  if (pt == 0) r = -ENOMEM;
  else {
    ptInit(pt);
    const h = objNew(OBJ_T_PAGETABLE, pt);
    if (h == 0) { pageFree(pt, 0); r = -ENOSPC; } else r = <i32>h;
  }
  simUnlock();
  return r;
}

export function pt_destroy(h: u32): i32 {
  if (!simLock()) return -EBUSY;
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32 = -EBADF;
  if (pt != 0) { ptDestroy(pt); pageFree(pt, 0); objFree(h); r = 0; }
  simUnlock();
  return r;
}

/** Map gfn -> pfn at level 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB); state: software bits 0..7. */
export function pt_map(h: u32, gfn: u32, pfn: u32, level: u32, state: u32): i32 {
  if (!simLock()) return -EBUSY;
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else if (state > 7) r = -EINVAL;
  else r = ptMap(pt, gfn, pfn, level, state);
  stepDone();
  simUnlock();
  return r;
}

/** Level of the leaf mapping gfn (0: none); out[0] = pfn of gfn itself, out[1] = state. */
export function pt_lookup(h: u32, gfn: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  const e = ptLookup(pt, gfn);
  if (e == 0) { out(0, 0); out(1, 0); return 0; }
  const level = spteLevel(e);
  const mask = <u32>((<u64>1 << (<u64>(9 * (level - 1)))) - 1);
  out(0, sptePfn(e) + (gfn & mask));
  out(1, spteState(e));
  return <i32>level;
}

/** Is x a whole number in [0, 2^32]? (gfn range ends cross as f64 so that 2^32 is expressible) */
// @ts-ignore: decorator
@inline function isGfnEnd(x: f64): bool { return x >= 0 && x <= 4294967296.0 && x == Math.floor(x); }

/**
 * Zap every leaf mapping a gfn in [start, end); partial: 0 zap a straddling huge leaf whole, 1 demote it first.
 * Returns the number of leaves removed (out[0], out[1] = zapped span as f64 halves: see pt_last_zap_*) or -errno.
 */
export function pt_zap(h: u32, start: f64, end: f64, partial: u32): i32 {
  if (!isGfnEnd(start) || !isGfnEnd(end) || start > end || partial > 1) return -EINVAL;
  if (!simLock()) return -EBUSY;
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else {
    const it = iterPush();
    r = ptZapRange(pt, it, <u64>start, <u64>end, partial);
    iterPop();
  }
  stepDone();
  simUnlock();
  return r;
}
export function pt_last_zap_start(): f64 { return <f64>ptLastZapStart(); }
export function pt_last_zap_end(): f64 { return <f64>ptLastZapEnd(); }

export function pt_demote(h: u32, gfn: u32, level: u32): i32 {
  if (!simLock()) return -EBUSY;
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else if (level != 2 && level != 3) r = -EINVAL;
  else r = ptDemote(pt, gfn, level);
  stepDone();
  simUnlock();
  return r;
}

/** Present leaves at level (1..3) by the counters; or -errno. */
export function pt_leaves(h: u32, level: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  if (level < 1 || level > 3) return -EINVAL;
  return <i32>ptLeaves(pt, level);
}

/** Table pages in use (root included). */
export function pt_tables(h: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  return <i32>ptTables(pt);
}

/** Present leaves in [start, end) counted by walking with the iterator. */
export function pt_count_range(h: u32, start: f64, end: f64): i32 {
  if (!isGfnEnd(start) || !isGfnEnd(end) || start > end) return -EINVAL;
  if (!simLock()) return -EBUSY;
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else {
    const it = iterPush();
    r = <i32>ptCountRange(pt, it, <u64>start, <u64>end);
    iterPop();
  }
  simUnlock();
  return r;
}

export function pt_check(h: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  checkOk();
  return <i32>checkPagetable(pt);
}

// ---- guest_memfd inodes: structures -----------------------------------------------------------------------------

/** Create a guest_memfd of size bytes with GMEM_FLAG_* flags; a handle or -errno (see gmemInodeCreate). */
export function gmem_create(size: f64, flags: u32): i32 {
  if (!simLock()) return -EBUSY;
  let r = gmemInodeCreate(size, flags);
  if (r > 0) {
    const h = objNew(OBJ_T_GMEM, <u32>r);
    if (h == 0) { gmemInodeDestroy(<u32>r); r = -ENOSPC; } else r = <i32>h;
  }
  stepDone();
  simUnlock();
  return r;
}

export function gmem_destroy(h: u32): i32 {
  if (!simLock()) return -EBUSY;
  const gi = objGet(h, OBJ_T_GMEM);
  let r: i32 = -EBADF;
  if (gi != 0) { gmemInodeDestroy(gi); objFree(h); r = 0; }
  simUnlock();
  return r;
}

/** Address of the inode (layout GI_*) for views; 0 for a bad handle. */
export function gmem_ptr(h: u32): u32 { return objGet(h, OBJ_T_GMEM); }

/** Look a gmem handle up and check index < npages; the inode or 0 (then *err is set). */
let lastErr: i32 = 0;
function gmemIndex(h: u32, index: u32): u32 {
  const gi = objGet(h, OBJ_T_GMEM);
  if (gi == 0) { lastErr = -EBADF; return 0; }
  if (index >= load<u32>(gi, GI_NPAGES)) { lastErr = -EINVAL; return 0; }
  return gi;
}

/** Put a folio for index into the filemap (allocating the whole huge block with HugeTLB). 0 or -errno. */
export function folio_alloc(h: u32, index: u32): i32 {
  if (!simLock()) return -EBUSY;
  const gi = gmemIndex(h, index);
  const r = gi == 0 ? lastErr : folioAlloc(gi, index);
  stepDone();
  simUnlock();
  return r;
}

/** Describe the folio holding index into out[0..7] (see folioDescribe); returns the state or -errno. */
export function folio_describe(h: u32, index: u32): i32 {
  const gi = gmemIndex(h, index);
  if (gi == 0) return lastErr;
  return <i32>folioDescribe(gi, index, scratch + S_OUT);
}

/** Split the huge folio holding index to 4 KiB folios. 0 or -errno (-EAGAIN: out[0] = busy index). */
export function folio_split(h: u32, index: u32): i32 {
  if (!simLock()) return -EBUSY;
  const gi = gmemIndex(h, index);
  let r: i32;
  if (gi == 0) r = lastErr;
  else { r = splitFolio(gi, index >> blockShift(gi)); if (r < 0) out(0, folioLastBusyIndex()); }
  stepDone();
  simUnlock();
  return r;
}

/** Merge the split HugeTLB block holding index back into one folio. 0 or -errno (-EAGAIN: out[0]). */
export function folio_merge(h: u32, index: u32): i32 {
  if (!simLock()) return -EBUSY;
  const gi = gmemIndex(h, index);
  let r: i32;
  if (gi == 0) r = lastErr;
  else { r = mergeFolio(gi, index >> blockShift(gi)); if (r < 0) out(0, folioLastBusyIndex()); }
  stepDone();
  simUnlock();
  return r;
}

/** Remove every folio of the block holding index from the filemap. 0 or -errno (-EAGAIN: out[0]). */
export function folio_free_block(h: u32, index: u32): i32 {
  if (!simLock()) return -EBUSY;
  const gi = gmemIndex(h, index);
  let r: i32;
  if (gi == 0) r = lastErr;
  else { r = freeBlock(gi, index >> blockShift(gi)); if (r < 0) out(0, folioLastBusyIndex()); }
  stepDone();
  simUnlock();
  return r;
}

/** Take (+1) or drop (-1) a reference of kind 0 (transient), 1 (host PTE), 2 (long-term pin). 0 or -errno. */
export function folio_ref(h: u32, index: u32, kind: u32, delta: i32): i32 {
  if (kind > 2 || (delta != 1 && delta != -1)) return -EINVAL;
  if (!simLock()) return -EBUSY;
  const gi = gmemIndex(h, index);
  const r = gi == 0 ? lastErr : folioRef(gi, index, kind, delta);
  stepDone();
  simUnlock();
  return r;
}

export function folio_mark_uptodate(h: u32, index: u32): i32 {
  if (!simLock()) return -EBUSY;
  const gi = gmemIndex(h, index);
  let r: i32 = 0;
  if (gi == 0) r = lastErr;
  else folioMarkUptodate(gi, index);
  simUnlock();
  return r;
}

/** Run I1 on the inode's bitmap and I2/I4 on its folios; 0 or the invariant number. */
export function gmem_check(h: u32): i32 {
  const gi = objGet(h, OBJ_T_GMEM);
  if (gi == 0) return -EBADF;
  checkOk();
  const r = checkBitmap(load<u32>(gi, GI_BITMAP));
  if (r != 0) return <i32>r;
  return <i32>checkFolios(gi);
}
