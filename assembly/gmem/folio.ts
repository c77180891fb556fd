// Folios of one guest_memfd inode (the filemap). Per huge block (2 MiB or 1 GiB by the HugeTLB flag; 2 MiB
// granules for a 4 KiB-backed guest_memfd) exactly one of (invariant I2):
//   FB_ABSENT  nothing in the filemap
//   FB_HUGE    one folio of order 9 / 18 at the block start; its fields live in the block descriptor
//   FB_SPLIT   4 KiB folios, one entry each in a sub-array that exists only in this state
// so a 1 TiB guest_memfd of 1 GiB folios costs 1024 x 32 bytes. A split block keeps two summaries in the fields
// its huge folio no longer uses: FB_REF = 4 KiB folios referenced beyond the filemap ("busy"), FB_MAP = uptodate
// ones; the safe-refcount walk and merge then skip quiet blocks in O(1). The filemap holds nr_pages references on
// each folio. Restructuring (split, merge, truncation) is gmem/split.ts.
//
//   block descriptor (FB_SIZE): +0 state u8, +1 order u8, +2 flags u16, +4 pfn u32, +8 refcount u32,
//     +12 pincount u32, +16 mapcount u32, +20 sub-array u32, +24 present 4 KiB entries u32, +28 content array u32
//   4 KiB entry (FE_SIZE): +0 pfn u32, +4 refcount - 1 u32, +8 mapcount u16, +10 pincount u16, +12 flags u16,
//     +14 pins a pin-mode IOMMU holds u16
// The entries of a split HugeTLB block are all present and their pfns follow the huge page, so neither is stored
// for them; a block-level UPTODATE (kept from the huge folio) covers every entry. A split therefore starts from
// all-zero entries: one memory.fill, the floor of what a split must write; or none, when the inode keeps a spare:
// a merge whose sub-array it can prove all-zero keeps it for the next split (spareTake/sparePut below).
import {
  GI_BLOCKS, GI_NBLOCKS, GI_BLOCK_SHIFT, GI_HUGE_ORDER, GI_BLOCKS_ORDER, GI_POPULATED, GI_SPARE_SUB, GI_BUSY_BLOCKS,
} from "../abi/records";
import { ENOMEM } from "../abi/errno";
import { FOLIO_UPTODATE } from "../abi/consts";
import { pageAlloc, pageFree, orderFor } from "../mm/alloc";
import { pfnAlloc, pfnFree } from "../mm/pfn";
import { blockShift, hugeOrder } from "./inode";
import { DEBUG } from "../lib/debug";

export const FB_STATE: usize = 0;
export const FB_ORDER: usize = 1;
export const FB_FLAGS: usize = 2;
export const FB_PFN: usize = 4;
export const FB_REF: usize = 8;
export const FB_PIN: usize = 12;
export const FB_MAP: usize = 16;
export const FB_SUB: usize = 20;
export const FB_NSUB: usize = 24;
export const FB_CONTENT: usize = 28;
export const FB_SIZE: u32 = 32;
export const FB_ABSENT: u32 = 0;
export const FB_HUGE: u32 = 1;
export const FB_SPLIT: u32 = 2;

export const FE_PFN: usize = 0;
export const FE_REF: usize = 4;
export const FE_MAP: usize = 8;
export const FE_PIN: usize = 10;
export const FE_FLAGS: usize = 12;
export const FE_IOPIN: usize = 14;
export const FE_SIZE: u32 = 16;
export const FOLIO_PRESENT: u16 = 1;
// FOLIO_UPTODATE = 2 (abi/consts.ts: the binding reads it in folio_describe's flags)
export const FOLIO_HOSTMAP: u16 = 4; //            a host PTE maps this 4 KiB page (mmap of the guest_memfd)
export const GUP_PIN_COUNTING_BIAS: u32 = 1024;

// @ts-ignore: decorator
@inline export function blockAt(gi: u32, b: u32): usize { return <usize>load<u32>(gi, GI_BLOCKS) + <usize>b * FB_SIZE; }
// @ts-ignore: decorator
@inline export function blockState(gi: u32, b: u32): u32 { return load<u8>(blockAt(gi, b), FB_STATE); }
// @ts-ignore: decorator
@inline export function blockOf(gi: u32, index: u32): usize { return blockAt(gi, index >> blockShift(gi)); }
// @ts-ignore: decorator
@inline export function entryAt(blk: usize, i: u32): usize { return <usize>load<u32>(blk, FB_SUB) + <usize>i * FE_SIZE; }
// @ts-ignore: decorator
@inline export function entryOf(gi: u32, blk: usize, index: u32): usize {
  return entryAt(blk, index & ((<u32>1 << blockShift(gi)) - 1));
}
// @ts-ignore: decorator
@inline export function ePresent(gi: u32, e: usize): bool {
  return hugeOrder(gi) != 0 || (load<u16>(e, FE_FLAGS) & FOLIO_PRESENT) != 0;
}
// @ts-ignore: decorator
@inline export function eRef(e: usize): u32 { return load<u32>(e, FE_REF) + 1; }
// @ts-ignore: decorator
@inline export function eSetRef(e: usize, r: u32): void { store<u32>(e, r - 1, FE_REF); }
// @ts-ignore: decorator
@inline export function ePfn(gi: u32, blk: usize, off: u32, e: usize): u32 {
  return hugeOrder(gi) != 0 ? load<u32>(blk, FB_PFN) + off : load<u32>(e, FE_PFN);
}
// @ts-ignore: decorator
@inline export function eUptodate(blk: usize, e: usize): bool {
  return ((load<u16>(e, FE_FLAGS) | load<u16>(blk, FB_FLAGS)) & <u16>FOLIO_UPTODATE) != 0;
}
// @ts-ignore: decorator
@inline export function subOrder(gi: u32): u32 { return orderFor(<u64>FE_SIZE << blockShift(gi)); }
// The inode counts its busy blocks (GI_BUSY_BLOCKS): a huge folio referenced beyond the filemap, or a split block
// with a busy 4 KiB folio. With none, a safe-refcount walk has nothing to find, however large the range.
/** Is the block busy (a huge folio with references beyond the filemap's, or a split block with a busy folio)? */
export function blockBusy(blk: usize): bool {
  const st = <u32>load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) return load<u32>(blk, FB_REF) != (<u32>1 << load<u8>(blk, FB_ORDER));
  return st == FB_SPLIT && load<u32>(blk, FB_REF) != 0;
}
// @ts-ignore: decorator
@inline function busyBlocksAdd(gi: u32, d: i32): void {
  store<u32>(gi, <u32>(<i32>load<u32>(gi, GI_BUSY_BLOCKS) + d), GI_BUSY_BLOCKS);
}
// @ts-ignore: decorator
@inline export function busyBlocks(gi: u32): u32 { return load<u32>(gi, GI_BUSY_BLOCKS); }
/** A split block's busy 4 KiB folios change by d. */
// @ts-ignore: decorator
@inline export function busyAdd(gi: u32, blk: usize, d: i32): void {
  const old = load<u32>(blk, FB_REF), n = <u32>(<i32>old + d);
  store<u32>(blk, n, FB_REF);
  if ((old == 0) != (n == 0)) busyBlocksAdd(gi, n != 0 ? 1 : -1);
}
/** A huge folio's refcount becomes ref. */
export function hugeRefSet(gi: u32, blk: usize, ref: u32): void {
  const nr = <u32>1 << load<u8>(blk, FB_ORDER);
  const was = load<u32>(blk, FB_REF) != nr;
  store<u32>(blk, ref, FB_REF);
  if (was != (ref != nr)) busyBlocksAdd(gi, was ? -1 : 1);
}
// @ts-ignore: decorator
@inline export function uptodateAdd(blk: usize, d: i32): void { store<u32>(blk, <u32>(<i32>load<u32>(blk, FB_MAP) + d), FB_MAP); }
// @ts-ignore: decorator
@inline export function populatedAdd(gi: u32, d: i32): void {
  store<u32>(gi, <u32>(<i32>load<u32>(gi, GI_POPULATED) + d), GI_POPULATED);
}

/** Set up an empty filemap for npages indices; false on -ENOMEM. hugeOrd: 0 (4 KiB), 9 or 18. */
export function folioMapInit(gi: u32, npages: u32, hugeOrd: u32): bool {
  const shift: u32 = hugeOrd == 0 ? 9 : hugeOrd;
  const nblocks = <u32>((<u64>npages + (<u64>1 << shift) - 1) >> shift);
  const order = orderFor(<u64>nblocks * FB_SIZE);
  const blocks = pageAlloc(order);
  if (blocks == 0) return false;
  store<u32>(gi, blocks, GI_BLOCKS);
  store<u32>(gi, nblocks, GI_NBLOCKS);
  store<u32>(gi, shift, GI_BLOCK_SHIFT);
  store<u32>(gi, hugeOrd, GI_HUGE_ORDER);
  store<u32>(gi, order, GI_BLOCKS_ORDER);
  store<u32>(gi, 0, GI_POPULATED);
  return true;
}

/** Free every folio, pfn and array (the inode is going away: nothing may still reference it). */
export function folioMapDestroy(gi: u32): void {
  const n = load<u32>(gi, GI_NBLOCKS);
  for (let b: u32 = 0; b < n; b++) releaseBlock(gi, b);
  const spare = spareTake(gi);
  if (spare != 0) pageFree(spare, subOrder(gi));
  pageFree(load<u32>(gi, GI_BLOCKS), load<u32>(gi, GI_BLOCKS_ORDER));
}

/**
 * The spare sub-array: one all-zero sub-array per inode, kept by a merge that can prove it zero and taken by the
 * next split instead of allocating and zeroing one (as the per-cpu lists keep freed pages of small orders for
 * the next allocation, free_unref_page). Only up to PAGE_ALLOC_COSTLY_ORDER (a 2 MiB block's 8 KiB): a 1 GiB
 * block's 4 MiB goes back to the heap. Taken and put by exchange, so two restructurings never share one.
 */
export const SPARE_MAX_ORDER: u32 = 3;

/** The inode's spare all-zero sub-array, now the caller's, or 0. */
// @ts-ignore: decorator
@inline export function spareTake(gi: u32): u32 { return atomic.xchg<u32>(<usize>gi + GI_SPARE_SUB, 0); }

/** Keep an all-zero sub-array as the spare; false (the caller frees it) when the inode has one or it is too big. */
export function sparePut(gi: u32, sub: u32): bool {
  if (DEBUG) {
    for (let i: u32 = 0; i < (<u32>FE_SIZE << blockShift(gi)); i += 8) assert(load<u64>(sub + i) == 0, "sparePut: not zero");
  }
  return subOrder(gi) <= SPARE_MAX_ORDER && atomic.cmpxchg<u32>(<usize>gi + GI_SPARE_SUB, 0, sub) == 0;
}

/** Drop a block's folios, frames, sub-array and content, whatever references them (callers check first). */
export function releaseBlock(gi: u32, b: u32): void {
  const blk = blockAt(gi, b);
  const st = <u32>load<u8>(blk, FB_STATE);
  const ho = hugeOrder(gi);
  if (st == FB_HUGE) {
    pfnFree(load<u32>(blk, FB_PFN), ho);
    populatedAdd(gi, -(<i32>1 << ho));
  } else if (st == FB_SPLIT) {
    if (ho != 0) {
      pfnFree(load<u32>(blk, FB_PFN), ho);
      populatedAdd(gi, -(<i32>1 << ho));
    } else {
      const nr = <u32>1 << blockShift(gi);
      for (let i: u32 = 0; i < nr; i++) {
        const e = entryAt(blk, i);
        if (load<u16>(e, FE_FLAGS) & FOLIO_PRESENT) pfnFree(load<u32>(e, FE_PFN), 0);
      }
      populatedAdd(gi, -<i32>load<u32>(blk, FB_NSUB));
    }
    pageFree(load<u32>(blk, FB_SUB), subOrder(gi));
  }
  const content = load<u32>(blk, FB_CONTENT);
  if (content != 0) pageFree(content, contentOrder(gi));
  if (blockBusy(blk)) busyBlocksAdd(gi, -1);
  memory.fill(blk, 0, FB_SIZE);
}

// @ts-ignore: decorator
@inline export function contentOrder(gi: u32): u32 { return orderFor(<u64>8 << blockShift(gi)); }

/** Order of the folio holding `index` (0, 9 or 18), or -1 when no folio holds it. */
export function folioOrder(gi: u32, index: u32): i32 {
  const blk = blockOf(gi, index);
  const st = <u32>load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) return <i32>load<u8>(blk, FB_ORDER);
  if (st == FB_SPLIT) return ePresent(gi, entryOf(gi, blk, index)) ? 0 : -1;
  return -1;
}

/** pfn backing `index` (folio_file_pfn), 0 when absent. */
export function folioPfn(gi: u32, index: u32): u32 {
  const blk = blockOf(gi, index);
  const st = <u32>load<u8>(blk, FB_STATE);
  const off = index & ((<u32>1 << blockShift(gi)) - 1);
  if (st == FB_HUGE) return load<u32>(blk, FB_PFN) + off;
  if (st == FB_SPLIT) {
    const e = entryAt(blk, off);
    return ePresent(gi, e) ? ePfn(gi, blk, off, e) : 0;
  }
  return 0;
}

/**
 * Describe the folio holding `index` into an info block (FOLIO_INFO_* of abi/consts.ts): state (0 absent, 1 huge,
 * 2 small), order, pfn of index, refcount, pincount, mapcount, flags, folio's first index. Returns the state.
 */
export function folioDescribe(gi: u32, index: u32, info: usize): u32 {
  const b = index >> blockShift(gi);
  const blk = blockAt(gi, b);
  const st = <u32>load<u8>(blk, FB_STATE);
  const off = index & ((<u32>1 << blockShift(gi)) - 1);
  memory.fill(info, 0, 32);
  if (st == FB_HUGE) {
    store<u32>(info, 1);
    store<u32>(info, load<u8>(blk, FB_ORDER), 4);
    store<u32>(info, load<u32>(blk, FB_PFN) + off, 8);
    store<u32>(info, load<u32>(blk, FB_REF), 12);
    store<u32>(info, load<u32>(blk, FB_PIN), 16);
    store<u32>(info, load<u32>(blk, FB_MAP), 20);
    store<u32>(info, load<u16>(blk, FB_FLAGS), 24);
    store<u32>(info, b << blockShift(gi), 28);
    return 1;
  }
  if (st == FB_SPLIT) {
    const e = entryAt(blk, off);
    if (!ePresent(gi, e)) return 0;
    store<u32>(info, 2);
    store<u32>(info, ePfn(gi, blk, off, e), 8);
    store<u32>(info, eRef(e), 12);
    store<u32>(info, load<u16>(e, FE_PIN), 16);
    store<u32>(info, load<u16>(e, FE_MAP), 20);
    store<u32>(info, <u32>(load<u16>(e, FE_FLAGS) | FOLIO_PRESENT) | (eUptodate(blk, e) ? FOLIO_UPTODATE : 0), 24);
    store<u32>(info, index, 28);
    return 2;
  }
  return 0;
}

/**
 * Put a folio for `index` into the filemap if there is none (the allocation half of kvm_gmem_get_folio): with
 * HugeTLB the whole huge block gets one folio from the HugeTLB pool, else one 4 KiB page from the buddy pool.
 * The new folio is not uptodate. 0, or -ENOMEM (pool or heap exhausted; nothing changed).
 */
export function folioAlloc(gi: u32, index: u32): i32 {
  const blk = blockOf(gi, index);
  const st = <u32>load<u8>(blk, FB_STATE);
  const ho = hugeOrder(gi);
  if (ho != 0) {
    if (st != FB_ABSENT) return 0;
    const pfn = pfnAlloc(ho);
    if (pfn == 0) return -ENOMEM;
    store<u8>(blk, <u8>FB_HUGE, FB_STATE);
    store<u8>(blk, <u8>ho, FB_ORDER);
    store<u16>(blk, 0, FB_FLAGS);
    store<u32>(blk, pfn, FB_PFN);
    store<u32>(blk, <u32>1 << ho, FB_REF);
    store<u32>(blk, 0, FB_PIN);
    store<u32>(blk, 0, FB_MAP);
    populatedAdd(gi, <i32>1 << ho);
    return 0;
  }
  let fresh = false;
  if (st == FB_ABSENT) {
    const sub = pageAlloc(subOrder(gi));
    if (sub == 0) return -ENOMEM;
    store<u8>(blk, <u8>FB_SPLIT, FB_STATE);
    store<u32>(blk, sub, FB_SUB);
    store<u32>(blk, 0, FB_NSUB);
    fresh = true;
  }
  const e = entryOf(gi, blk, index);
  if (load<u16>(e, FE_FLAGS) & FOLIO_PRESENT) return 0;
  const pfn = pfnAlloc(0);
  if (pfn == 0) {
    if (fresh) { pageFree(load<u32>(blk, FB_SUB), subOrder(gi)); memory.fill(blk, 0, FB_SIZE); }
    return -ENOMEM;
  }
  store<u32>(e, pfn, FE_PFN);
  eSetRef(e, 1);
  store<u16>(e, 0, FE_MAP);
  store<u16>(e, 0, FE_PIN);
  store<u16>(e, FOLIO_PRESENT, FE_FLAGS);
  store<u32>(blk, load<u32>(blk, FB_NSUB) + 1, FB_NSUB);
  populatedAdd(gi, 1);
  return 0;
}

/** Is the folio holding index uptodate (zeroed/prepared)? false when absent. */
export function folioUptodate(gi: u32, index: u32): bool {
  const blk = blockOf(gi, index);
  const st = <u32>load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) return (load<u16>(blk, FB_FLAGS) & <u16>FOLIO_UPTODATE) != 0;
  if (st == FB_SPLIT) return eUptodate(blk, entryOf(gi, blk, index));
  return false;
}

/** folio_mark_uptodate on the folio holding index (after it was zeroed). */
export function folioMarkUptodate(gi: u32, index: u32): void {
  const blk = blockOf(gi, index);
  const st = <u32>load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) store<u16>(blk, load<u16>(blk, FB_FLAGS) | <u16>FOLIO_UPTODATE, FB_FLAGS);
  else if (st == FB_SPLIT) {
    const e = entryOf(gi, blk, index);
    if (ePresent(gi, e) && !eUptodate(blk, e)) {
      store<u16>(e, load<u16>(e, FE_FLAGS) | <u16>FOLIO_UPTODATE, FE_FLAGS);
      uptodateAdd(blk, 1);
    }
  }
}

/** First index in [s, e) with a folio (where an injected transient reference sits); s if none. */
export function firstPopulated(gi: u32, s: u32, e: u32): u32 {
  for (let i = s; i < e; i++) {
    const o = folioOrder(gi, i);
    if (o >= 0) return (i >> <u32>o) << <u32>o;
    if (blockState(gi, i >> blockShift(gi)) == FB_ABSENT) i |= (<u32>1 << blockShift(gi)) - 1;
  }
  return s;
}

