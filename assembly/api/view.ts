// Lock-free queries for views and visualizers: what the model looks like over a range, read without the simulator
// lock (lib/lockless.ts: a torn read stays harmless; the caller re-checks every instance's seqcount IN_SEQ and
// reads again), written as records of four u32 to this instance's buffer (IN_VIEW). Each query returns how many records
// it wrote, or -errno; when the buffer fills first, OUT_INFO + VIEW_INFO_MORE is 1 and the next call starts from
// OUT_INFO + VIEW_INFO_NEXT. None of them takes a lock, waits, or writes anything another thread reads.
//
// `grain` (pages, >= 1) is how fine the caller draws: with grain g > 1 a query looks at about one place per bucket
// (the buckets are [k * g, (k + 1) * g), the same for every range, so a batch or a pan keeps them) and skips to the
// next bucket after it; a run may then also cover pages of its bucket it did not look at (a view zoomed out to g
// pages per pixel draws nothing finer). grain 1 is exact.
import { OBJ_MAX, OBJ_INDEX_BITS, PAGE_SIZE, OS_GEN } from "../abi/layout";
import {
  GI_NPAGES, GI_FLAGS, GI_BITMAP, GI_BLOCKS, GI_NBLOCKS, GI_BLOCK_SHIFT, GI_HUGE_ORDER, GI_HOSTPTES, GI_HANDLE,
  BM_NPAGES, BM_WORDS, BM_CNT2M, BM_CNT1G, BM_N2M, BM_N1G, BM_NWORDS, BM_HEADER_SIZE,
} from "../abi/records";
import {
  OBJ_T_FREE, OBJ_T_OP, OBJ_T_BITMAP, OBJ_T_PAGETABLE, OBJ_T_GMEM, OBJ_T_VM, OBJ_T_IOMMU, OUT_INFO, VIEW_INFO_NEXT,
  VIEW_INFO_MORE, VIEW_TABLE_PT, VIEW_TABLE_KVM_PRIVATE, VIEW_TABLE_KVM_SHARED, VIEW_TABLE_IOMMU_SECURE,
  VIEW_TABLE_HOST, VIEW_FOLIO_UPTODATE, VIEW_ID_SHIFT, FOLIO_UPTODATE,
} from "../abi/consts";
import { EBADF, EINVAL } from "../abi/errno";
import { objGet, objEnd, objSlot, objSlotType, objSlotPtr } from "../mm/objects";
import { out } from "../mm/instance";
import { PT_ROOT, PT_OBJ_SIZE, PT_TABLES, levelPages, sptePfn, spteState } from "../lib/pagetable";
import {
  llReadable, llNextLeaf, llLeafGfn, llLeafEntry, llLeafLevel, recReset, recCount, recPut, recRun, recAt,
} from "../lib/lockless";
import { bitmapTest, bitmapNextDiff, bitmapCountShared } from "../lib/bitmap";
import { FB_STATE, FB_ORDER, FB_FLAGS, FB_PFN, FB_SUB, FB_SIZE, FB_HUGE, FB_SPLIT, FE_PFN, FE_FLAGS, FE_SIZE,
  FOLIO_PRESENT, FOLIO_HOSTMAP } from "../gmem/folio";
import { VM_FLAGS, VM_NSLOTS, VM_MAX_SLOTS, vmPt, vmSlot, vmSlotsEnd, slotUsed, slotBase, slotNpages, slotPgoff, slotInode } from "../kvm/vm";
import { IO_MODE, IO_NAREAS, IO_AREA_PTR, ioPt, ioGmem } from "../iommu/domain";
import { IO_AREA_SIZE, ioArea, areaIova, areaNpages, areaInode, areaPgoff, areaSecure } from "../iommu/area";

/** The result of a query: records written, and where a next call would go on. */
function done(next: u32, more: bool): i32 {
  out(OUT_INFO + VIEW_INFO_NEXT, next);
  out(OUT_INFO + VIEW_INFO_MORE, more ? 1 : 0);
  return <i32>recCount();
}

/** The handle index of the inode at gi (0 when gi is not readable: a torn read). */
function inodeIndex(gi: u32): u32 {
  return llReadable(<u64>gi, PAGE_SIZE) ? load<u32>(gi, GI_HANDLE) & ((1 << OBJ_INDEX_BITS) - 1) : 0;
}

/** Where the bucket after the one holding x starts: buckets are the multiples of `grain`, whatever the range. */
// @ts-ignore: decorator
@inline function nextBucket(x: u64, grain: u64): u64 { return (x / grain + 1) * grain; }

// ---- objects ------------------------------------------------------------------------------------------------------

/**
 * Live objects from object-table slot `from` on: [handle, OBJ_T_* kind, a, b] with a, b per kind: guest_memfd
 * (pages, huge order | flags << 8), VM (memslots in use, flags), IOMMU (mode, bound inode's handle index),
 * bitmap (pages, 0), page table (table pages, 0). Paused operations are not listed.
 */
export function view_objects(from: u32): i32 {
  recReset();
  const end = objEnd() < <u32>OBJ_MAX ? objEnd() : <u32>OBJ_MAX;
  for (let i: u32 = from > 1 ? from : 1; i < end; i++) {
    const t = objSlotType(i);
    if (t == OBJ_T_FREE || t == OBJ_T_OP) continue;
    const p = objSlotPtr(i);
    if (!llReadable(<u64>p, PT_OBJ_SIZE)) continue; // freed under us
    const handle = i | (load<u32>(objSlot(i), OS_GEN) << OBJ_INDEX_BITS);
    let a: u32 = 0, b: u32 = 0;
    if (t == OBJ_T_GMEM && llReadable(<u64>p, PAGE_SIZE)) {
      a = load<u32>(p, GI_NPAGES);
      b = load<u32>(p, GI_HUGE_ORDER) | (load<u32>(p, GI_FLAGS) << 8);
    } else if (t == OBJ_T_VM && llReadable(<u64>p, PAGE_SIZE)) {
      a = load<u32>(p, VM_NSLOTS);
      b = load<u32>(p, VM_FLAGS);
    } else if (t == OBJ_T_IOMMU && llReadable(<u64>p, PAGE_SIZE)) {
      a = load<u32>(p, IO_MODE);
      b = ioGmem(p) == 0 ? 0 : inodeIndex(ioGmem(p));
    } else if (t == OBJ_T_BITMAP) a = load<u32>(p, BM_NPAGES);
    else if (t == OBJ_T_PAGETABLE) a = load<u32>(p, PT_TABLES);
    if (!recPut(handle, t, a, b)) return done(i, true);
  }
  return done(end, false);
}

/** A VM's memslots in use: [slot << 16 | bound inode's handle index, base gfn, pages, first gmem index]. */
export function view_memslots(h: u32): i32 {
  recReset();
  const vm = objGet(h, OBJ_T_VM);
  if (vm == 0) return -EBADF;
  if (!llReadable(<u64>vm, PAGE_SIZE)) return done(0, false);
  const n = vmSlotsEnd(vm) < VM_MAX_SLOTS ? vmSlotsEnd(vm) : VM_MAX_SLOTS;
  for (let s: u32 = 0; s < n; s++) {
    const sp = vmSlot(vm, s);
    if (slotUsed(sp)) recPut((s << VIEW_ID_SHIFT) | inodeIndex(slotInode(sp)), slotBase(sp), slotNpages(sp), slotPgoff(sp));
  }
  return done(n, false);
}

/**
 * An IOMMU domain's mapped areas from area `from` on, non-secure table first, each in iova order:
 * [secure << 16 | inode's handle index, first iova page, pages, first gmem index].
 */
export function view_areas(h: u32, from: u32): i32 {
  recReset();
  const io = objGet(h, OBJ_T_IOMMU);
  if (io == 0) return -EBADF;
  if (!llReadable(<u64>io, PAGE_SIZE)) return done(0, false);
  const n = load<u32>(io, IO_NAREAS);
  if (!llReadable(<u64>load<u32>(io, IO_AREA_PTR), <u64>n * IO_AREA_SIZE)) return done(0, false);
  for (let i = from; i < n; i++) {
    const a = ioArea(io, i);
    const id = ((areaSecure(a) ? 1 : 0) << VIEW_ID_SHIFT) | inodeIndex(areaInode(a));
    if (!recPut(id, areaIova(a), areaNpages(a), areaPgoff(a))) return done(i, true);
  }
  return done(n, false);
}

// ---- mappings -----------------------------------------------------------------------------------------------------

/** Is x a whole number in [0, 2^32]? (gfn range ends cross as f64 so that 2^32 is expressible) */
// @ts-ignore: decorator
@inline function isGfnEnd(x: f64): bool { return x >= 0 && x <= 4294967296.0 && x == Math.floor(x); }

/** The page-table descriptor a VIEW_TABLE_* selector names (0 for a handle of the wrong kind). */
function tableOf(table: u32, h: u32): usize {
  if (table == VIEW_TABLE_PT) return objGet(h, OBJ_T_PAGETABLE);
  if (table == VIEW_TABLE_KVM_PRIVATE || table == VIEW_TABLE_KVM_SHARED) {
    const vm = objGet(h, OBJ_T_VM);
    return vm == 0 ? 0 : vmPt(vm, table == VIEW_TABLE_KVM_PRIVATE);
  }
  const io = objGet(h, OBJ_T_IOMMU);
  return io == 0 ? 0 : ioPt(io, table == VIEW_TABLE_IOMMU_SECURE);
}

/**
 * The leaves of one table (VIEW_TABLE_*) over [start, end) of its index space (gfns, iova pages; page indices for
 * VIEW_TABLE_HOST), as runs: [first index, pages, pfn of the first, level | S-EPT state << 8]. Consecutive leaves
 * of one level and state whose frames continue make one run (a huge leaf that starts before `start` is cut there).
 */
export function view_leaves(table: u32, h: u32, start: f64, end: f64, grain: u32): i32 {
  if (table > VIEW_TABLE_HOST || !isGfnEnd(start) || !isGfnEnd(end) || start > end) return -EINVAL;
  recReset();
  const gr: u64 = grain > 1 ? <u64>grain : 1;
  if (table == VIEW_TABLE_HOST) return hostLeaves(h, <u32>start, end > 4294967295.0 ? 0xffffffff : <u32>end, gr);
  const pt = tableOf(table, h);
  if (pt == 0) return -EBADF;
  if (!llReadable(<u64>pt, PT_OBJ_SIZE)) return done(<u32>start, false);
  const root = load<u32>(pt, PT_ROOT);
  const s0 = <u64>start, e0 = <u64>end;
  let g = s0;
  while (g < e0 && llNextLeaf(root, g, e0)) {
    const level = llLeafLevel();
    const lstart = llLeafGfn(), lend = lstart + levelPages(level);
    const s = lstart > g ? lstart : g;
    const e = lend < e0 ? lend : e0;
    const entry = llLeafEntry();
    const pfn = sptePfn(entry) + <u32>(s - lstart);
    if (!recRun(<u32>s, <u32>(e - s), pfn, level | (spteState(entry) << 8), s == g ? 0 : <u32>s, true)) {
      return done(<u32>s, true);
    }
    g = gr > 1 && e < e0 ? max(e, nextBucket(e - 1, gr)) : e;
  }
  return done(end > 4294967295.0 ? 0xffffffff : <u32>end, false);
}

/** The inode a guest_memfd handle names, with its folio blocks readable; 0 otherwise. */
function inodeOf(h: u32): u32 {
  const gi = objGet(h, OBJ_T_GMEM);
  if (gi == 0 || !llReadable(<u64>gi, PAGE_SIZE)) return 0;
  const shift = load<u32>(gi, GI_BLOCK_SHIFT);
  if (shift != 9 && shift != 18) return 0;
  if (!llReadable(<u64>load<u32>(gi, GI_BLOCKS), <u64>load<u32>(gi, GI_NBLOCKS) * FB_SIZE)) return 0;
  if (<u64>load<u32>(gi, GI_NBLOCKS) << shift < <u64>load<u32>(gi, GI_NPAGES)) return 0;
  return gi;
}

/** The 4 KiB entries of a split block, when readable; 0 otherwise. */
function subOf(blk: usize, shift: u32): usize {
  const sub = <usize>load<u32>(blk, FB_SUB);
  return llReadable(<u64>sub, <u64>FE_SIZE << shift) ? sub : 0;
}

/** Host PTEs (the guest_memfd's mmap) over [start, end) of its page indices: 4 KiB leaves only. */
function hostLeaves(h: u32, start: u32, end: u32, gr: u64): i32 {
  if (objGet(h, OBJ_T_GMEM) == 0) return -EBADF;
  const gi = inodeOf(h);
  if (gi == 0) return done(start, false);
  const npages = load<u32>(gi, GI_NPAGES);
  if (end > npages) return -EINVAL;
  if (load<u32>(gi, GI_HOSTPTES) == 0) return done(end, false);
  const shift = load<u32>(gi, GI_BLOCK_SHIFT), ho = load<u32>(gi, GI_HUGE_ORDER);
  const blocks = <usize>load<u32>(gi, GI_BLOCKS);
  let p = start, from = start; // from: where the scan began after the last run
  while (p < end) {
    const blk = blocks + <usize>(p >> shift) * FB_SIZE;
    const bend = ((p >> shift) + 1) << shift;
    const sub = load<u8>(blk, FB_STATE) == <u8>FB_SPLIT ? subOf(blk, shift) : 0;
    if (sub == 0) { p = bend < end ? bend : end; continue; }
    const ent = sub + <usize>(p & ((1 << shift) - 1)) * FE_SIZE;
    if ((load<u16>(ent, FE_FLAGS) & FOLIO_HOSTMAP) == 0) { p++; continue; }
    const pfn = ho != 0 ? load<u32>(blk, FB_PFN) + (p & ((1 << shift) - 1)) : load<u32>(ent, FE_PFN);
    if (!recRun(p, 1, pfn, 1, p == from ? 0 : p, true)) return done(p, true);
    p = gr > 1 ? <u32>min(<u64>end, nextBucket(<u64>p, gr)) : p + 1;
    from = p;
  }
  return done(end, false);
}

// ---- folios and shareability ----------------------------------------------------------------------------------

/**
 * The folio layout over [start, end) of a guest_memfd's page indices, as runs: [first index, pages, pfn of the
 * first, state | order << 8 | VIEW_FOLIO_UPTODATE] with state 0 absent, 1 huge (order 9 / 18), 2 a 4 KiB folio
 * (FOLIO_INFO_STATE's numbers). A run of 4 KiB folios is one whose frames continue; each huge folio is its own run
 * unless a grain > 1 merges neighbours.
 */
export function view_folios(h: u32, start: u32, end: u32, grain: u32): i32 {
  if (objGet(h, OBJ_T_GMEM) == 0) return -EBADF;
  recReset();
  const gi = inodeOf(h);
  if (gi == 0) return done(start, false);
  if (start > end || end > load<u32>(gi, GI_NPAGES)) return -EINVAL;
  const gr: u64 = grain > 1 ? <u64>grain : 1;
  const shift = load<u32>(gi, GI_BLOCK_SHIFT), ho = load<u32>(gi, GI_HUGE_ORDER);
  const blocks = <usize>load<u32>(gi, GI_BLOCKS);
  let p = start;
  while (p < end) {
    const b = p >> shift;
    const blk = blocks + <usize>b * FB_SIZE;
    const bstart = b << shift, bend = bstart + (<u32>1 << shift);
    const st = <u32>load<u8>(blk, FB_STATE);
    let n: u32 = 1, pfn: u32 = 0, d: u32 = 0; // d: the record's kind word (0: absent)
    if (st == FB_HUGE && <u32>load<u8>(blk, FB_ORDER) == shift) {
      n = bend - p;
      pfn = load<u32>(blk, FB_PFN) + (p - bstart);
      d = FB_HUGE | (shift << 8) | ((load<u16>(blk, FB_FLAGS) & <u16>FOLIO_UPTODATE) != 0 ? VIEW_FOLIO_UPTODATE : 0);
    } else if (st == FB_SPLIT && subOf(blk, shift) != 0) {
      const ent = subOf(blk, shift) + <usize>(p - bstart) * FE_SIZE;
      const flags = load<u16>(ent, FE_FLAGS) | (ho != 0 ? load<u16>(blk, FB_FLAGS) : 0);
      if (ho != 0 || (flags & FOLIO_PRESENT) != 0) {
        pfn = ho != 0 ? load<u32>(blk, FB_PFN) + (p - bstart) : load<u32>(ent, FE_PFN);
        d = FB_SPLIT | ((flags & <u16>FOLIO_UPTODATE) != 0 ? VIEW_FOLIO_UPTODATE : 0);
      }
    } else n = bend - p; // absent (or a block read torn)
    if (n > end - p) n = end - p;
    // every position gets a run, so a gap before p was skipped as finer than the grain: p may join across it;
    // at grain 1 each huge folio stays its own run
    const join: u32 = gr == 1 && (d & 0xff) == FB_HUGE ? p + 1 : 0;
    if (!recRun(p, n, pfn, d, join, d != 0)) return done(p, true);
    const e = p + n;
    p = gr > 1 && e < end ? <u32>min(<u64>end, max(<u64>e, nextBucket(<u64>e - 1, gr))) : e;
  }
  return done(end, false);
}

/** The bitmap of a guest_memfd or bitmap handle with its words and counts readable; 0 otherwise. */
function bitmapOf(h: u32): u32 {
  let bm = objGet(h, OBJ_T_BITMAP);
  if (bm == 0) {
    const gi = objGet(h, OBJ_T_GMEM);
    if (gi == 0 || !llReadable(<u64>gi, PAGE_SIZE)) return 0;
    bm = load<u32>(gi, GI_BITMAP);
  }
  if (!llReadable(<u64>bm, BM_HEADER_SIZE)) return 0;
  const npages = <u64>load<u32>(bm, BM_NPAGES);
  const n2m = <u64>load<u32>(bm, BM_N2M), n1g = <u64>load<u32>(bm, BM_N1G), nwords = <u64>load<u32>(bm, BM_NWORDS);
  if (nwords << 6 < npages || n2m << 9 < npages || n1g << 18 < npages) return 0;
  if (!llReadable(<u64>load<u32>(bm, BM_WORDS), nwords << 3) || !llReadable(<u64>load<u32>(bm, BM_CNT2M), n2m << 1) ||
      !llReadable(<u64>load<u32>(bm, BM_CNT1G), n1g << 2)) return 0;
  return bm;
}

/**
 * Shareability over [start, end) of a guest_memfd's (or a bitmap's) indices, as runs: [first index, pages, shared
 * pages among them, 0]. grain 1: the maximal runs of one value (the ranges the kernel's maple tree holds); grain >
 * 1: one count per bucket, neighbouring buckets of one uniform value merged.
 */
export function view_shareability(h: u32, start: u32, end: u32, grain: u32): i32 {
  if (objGet(h, OBJ_T_GMEM) == 0 && objGet(h, OBJ_T_BITMAP) == 0) return -EBADF;
  recReset();
  const bm = bitmapOf(h);
  if (bm == 0) return done(start, false);
  if (start > end || end > load<u32>(bm, BM_NPAGES)) return -EINVAL;
  let p = start;
  while (p < end) {
    let e: u32, shared: u32;
    if (grain > 1) {
      e = <u32>min(<u64>end, nextBucket(<u64>p, <u64>grain));
      shared = <u32>bitmapCountShared(bm, p, e);
    } else {
      const v = bitmapTest(bm, p);
      e = bitmapNextDiff(bm, p, end, v);
      if (e <= p || e > end) e = end; // torn
      shared = v ? e - p : 0;
    }
    const n = e - p;
    // while building, word 3 says uniform private (1), uniform shared (2) or mixed (0), so uniform runs merge
    const d: u32 = shared == 0 ? 1 : shared == n ? 2 : 0;
    if (!(d != 0 ? recRun(p, n, 0, d, p, false) : recPut(p, n, shared, 0))) return sharedCounts(done(p, true));
    p = e;
  }
  return sharedCounts(done(end, false));
}

/** Turn the building kinds of shareability records into their shared-page counts (word 2), word 3 back to 0. */
function sharedCounts(r: i32): i32 {
  for (let i: u32 = 0; i < recCount(); i++) {
    const at = recAt(i);
    const d = load<u32>(at, 12);
    if (d == 1) store<u32>(at, 0, 8);
    else if (d == 2) store<u32>(at, load<u32>(at, 4), 8);
    store<u32>(at, 0, 12);
  }
  return r;
}
