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
// all-zero entries: one memory.fill, the floor of what a split must write.
import {
  GI_BLOCKS, GI_NBLOCKS, GI_BLOCK_SHIFT, GI_HUGE_ORDER, GI_BLOCKS_ORDER, GI_POPULATED,
} from "../abi/records";
import { ENOMEM, EINVAL, ENOENT } from "../abi/errno";
import { FOLIO_UPTODATE } from "../abi/consts";
import { pageAlloc, pageFree, orderFor } from "../mm/alloc";
import { pfnAlloc, pfnFree } from "../mm/pfn";
import { blockShift, hugeOrder } from "./inode";

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

// reference kinds of folioRef
export const REF_TRANSIENT: u32 = 0;
export const REF_HOSTMAP: u32 = 1;
export const REF_PIN: u32 = 2;
export const REF_IOMMU_PIN: u32 = 3;

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
// @ts-ignore: decorator
@inline export function busyAdd(blk: usize, d: i32): void { store<u32>(blk, <u32>(<i32>load<u32>(blk, FB_REF) + d), FB_REF); }
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
  pageFree(load<u32>(gi, GI_BLOCKS), load<u32>(gi, GI_BLOCKS_ORDER));
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

/**
 * Adjust the references on the folio holding index. REF_TRANSIENT: plain refcount; REF_HOSTMAP: host PTE
 * (mapcount and refcount); REF_PIN: long-term GUP pin (small folio: refcount += GUP_PIN_COUNTING_BIAS; large
 * folio: refcount += 1 and pincount += 1, as try_grab_folio does); REF_IOMMU_PIN: a pin-mode IOMMU's pin (counted
 * as a pin, and separately, so a host unpin cannot drop it). delta is +1 or -1. 0, -ENOENT (no folio), or -EINVAL
 * (would drop below what is held).
 */
export function folioRef(gi: u32, index: u32, kind: u32, delta: i32): i32 {
  const blk = blockOf(gi, index);
  const st = <u32>load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) {
    const ref = load<u32>(blk, FB_REF);
    if (kind == REF_TRANSIENT) {
      // only a transient reference that is actually held can be dropped
      if (delta < 0 && ref <= (<u32>1 << load<u8>(blk, FB_ORDER)) + load<u32>(blk, FB_PIN) + load<u32>(blk, FB_MAP)) return -EINVAL;
      store<u32>(blk, <u32>(<i32>ref + delta), FB_REF);
    } else {
      const at: usize = kind == REF_HOSTMAP ? FB_MAP : FB_PIN;
      const c = load<u32>(blk + at);
      if (delta < 0 && c == 0) return -EINVAL;
      store<u32>(blk + at, <u32>(<i32>c + delta));
      store<u32>(blk, <u32>(<i32>ref + delta), FB_REF);
    }
    return 0;
  }
  if (st != FB_SPLIT) return -ENOENT;
  const e = entryOf(gi, blk, index);
  if (!ePresent(gi, e)) return -ENOENT;
  const ref = eRef(e);
  let nref: u32;
  if (kind == REF_TRANSIENT) {
    const held: u32 = 1 + <u32>load<u16>(e, FE_MAP) + <u32>load<u16>(e, FE_PIN) * GUP_PIN_COUNTING_BIAS;
    if (delta < 0 && ref <= held) return -EINVAL;
    nref = <u32>(<i32>ref + delta);
  } else {
    const at: usize = kind == REF_HOSTMAP ? FE_MAP : FE_PIN;
    const c = load<u16>(e + at);
    const io = load<u16>(e, FE_IOPIN);
    if (delta < 0 && (c == 0 || (kind == REF_IOMMU_PIN && io == 0) || (kind == REF_PIN && c <= io))) return -EINVAL;
    if (delta > 0 && c == 0xffff) return -EINVAL;
    store<u16>(e + at, <u16>(<i32>c + delta));
    if (kind == REF_IOMMU_PIN) store<u16>(e, <u16>(<i32>io + delta), FE_IOPIN);
    const w: i32 = kind >= REF_PIN ? <i32>GUP_PIN_COUNTING_BIAS : 1;
    nref = <u32>(<i32>ref + delta * w);
  }
  eSetRef(e, nref);
  if ((ref != 1) != (nref != 1)) busyAdd(blk, nref != 1 ? 1 : -1);
  return 0;
}

/** Does nothing besides the filemap hold the folio of index (the safe-refcount test)? true when absent. */
export function folioOnlyFilemapRefs(gi: u32, index: u32): bool {
  const blk = blockOf(gi, index);
  const st = <u32>load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) return load<u32>(blk, FB_REF) == (<u32>1 << load<u8>(blk, FB_ORDER));
  if (st == FB_SPLIT) {
    const e = entryOf(gi, blk, index);
    return !ePresent(gi, e) || eRef(e) == 1;
  }
  return true;
}

/**
 * First index in [start, end) whose folio holds references beyond the filemap (kvm_gmem_has_safe_refcount's
 * walk); the folio's first index (before start for a huge folio that begins earlier), or 0xffffffff if none.
 */
export function firstUnsafeFolio(gi: u32, start: u32, end: u32): u32 {
  const shift = blockShift(gi);
  let i = start;
  while (i < end) {
    const b = i >> shift;
    const blk = blockAt(gi, b);
    const st = <u32>load<u8>(blk, FB_STATE);
    const blockEnd = (b + 1) << shift;
    if (st == FB_HUGE) {
      if (load<u32>(blk, FB_REF) != (<u32>1 << load<u8>(blk, FB_ORDER))) return b << shift;
    } else if (st == FB_SPLIT && load<u32>(blk, FB_REF) != 0) { // a quiet block has no busy folio
      const e = end < blockEnd ? end : blockEnd;
      for (let j = i; j < e; j++) {
        const en = entryOf(gi, blk, j);
        if (ePresent(gi, en) && eRef(en) != 1) return j;
      }
    }
    i = blockEnd;
  }
  return 0xffffffff;
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

// ---- host PTE flag and pins on 4 KiB folios ----------------------------------------------------------------------

/** Is index mapped by a host PTE? */
export function folioHostMapped(gi: u32, index: u32): bool {
  const blk = blockOf(gi, index);
  if (<u32>load<u8>(blk, FB_STATE) != FB_SPLIT) return false;
  return (load<u16>(entryOf(gi, blk, index), FE_FLAGS) & FOLIO_HOSTMAP) != 0;
}

/** Set or clear the host PTE of a present 4 KiB folio, with its mapcount and refcount. */
export function folioSetHostMap(gi: u32, index: u32, on: bool): void {
  const blk = blockOf(gi, index);
  const e = entryOf(gi, blk, index);
  const fl = load<u16>(e, FE_FLAGS);
  if (on == ((fl & FOLIO_HOSTMAP) != 0)) return;
  store<u16>(e, on ? (fl | FOLIO_HOSTMAP) : (fl & ~FOLIO_HOSTMAP), FE_FLAGS);
  const d: i32 = on ? 1 : -1;
  store<u16>(e, <u16>(<i32>load<u16>(e, FE_MAP) + d), FE_MAP);
  const ref = eRef(e);
  const nref = <u32>(<i32>ref + d);
  eSetRef(e, nref);
  if ((ref != 1) != (nref != 1)) busyAdd(blk, nref != 1 ? 1 : -1);
}

/** Pins on the folio at index (0 when absent). */
export function folioPins(gi: u32, index: u32): u32 {
  const blk = blockOf(gi, index);
  const st = <u32>load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) return load<u32>(blk, FB_PIN);
  if (st != FB_SPLIT) return 0;
  const e = entryOf(gi, blk, index);
  return ePresent(gi, e) ? <u32>load<u16>(e, FE_PIN) : 0;
}

/** Pins a pin-mode IOMMU holds on the 4 KiB folio at index (0 when absent or huge). */
export function folioIoPins(gi: u32, index: u32): u32 {
  const blk = blockOf(gi, index);
  if (<u32>load<u8>(blk, FB_STATE) != FB_SPLIT) return 0;
  const e = entryOf(gi, blk, index);
  return ePresent(gi, e) ? <u32>load<u16>(e, FE_IOPIN) : 0;
}
