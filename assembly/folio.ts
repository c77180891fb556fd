// Folios of one guest_memfd inode (the filemap). Per huge block (2 MiB or 1 GiB by the HugeTLB flag; 2 MiB
// granules for a 4 KiB-backed guest_memfd) exactly one of (invariant I2):
//   FB_ABSENT  nothing in the filemap
//   FB_HUGE    one folio of order 9 / 18 at the block start; its fields live in the block descriptor
//   FB_SPLIT   4 KiB folios, one 16-byte entry each in a sub-array that exists only in this state
// so a 1 TiB guest_memfd of 1 GiB folios costs 1024 x 32 bytes. A split block keeps two summaries in the fields
// its huge folio no longer uses: FB_REF = 4 KiB folios referenced beyond the filemap ("busy"), FB_MAP = uptodate
// ones; the safe-refcount walk and merge then skip quiet blocks in O(1). The filemap holds nr_pages references on each
// folio; split and merge require that nothing else holds one (filemap_remove_folio_for_restructuring spins on
// folio_ref_freeze; the model refuses with -EAGAIN instead of spinning).
import {
  FB_STATE, FB_ORDER, FB_FLAGS, FB_PFN, FB_REF, FB_PIN, FB_MAP, FB_SUB, FB_NSUB, FB_SIZE, FB_ABSENT, FB_HUGE, FB_SPLIT,
  FB_CONTENT, FOLIO_HOSTMAP,
  FE_PFN, FE_REF, FE_MAP, FE_PIN, FE_FLAGS, FE_SIZE, FOLIO_PRESENT, FOLIO_UPTODATE, GUP_PIN_COUNTING_BIAS,
  GI_BLOCKS, GI_NBLOCKS, GI_BLOCK_SHIFT, GI_HUGE_ORDER, GI_BLOCKS_ORDER, GI_POPULATED, GI_ORPH, GI_ORPH_N,
  GI_ORPH_CAP, ORPH_SIZE, FE_IOPIN,
} from "./layout";
import { pageAlloc, pageAllocRaw, pageFree, orderFor } from "./alloc";
import { pfnAlloc, pfnFree } from "./pfn";
import { EAGAIN, EINVAL, ENOMEM, ENOENT } from "./errno";

// @ts-ignore: decorator
@inline export function blockShift(gi: u32): u32 { return load<u32>(gi, GI_BLOCK_SHIFT); }
// @ts-ignore: decorator
@inline export function hugeOrder(gi: u32): u32 { return load<u32>(gi, GI_HUGE_ORDER); }
// @ts-ignore: decorator
@inline export function blockAt(gi: u32, b: u32): usize {
  return <usize>load<u32>(gi, GI_BLOCKS) + <usize>b * FB_SIZE;
}
// @ts-ignore: decorator
@inline export function blockState(gi: u32, b: u32): u32 { return load<u8>(blockAt(gi, b), FB_STATE); }
// @ts-ignore: decorator
@inline function entryAt(blk: usize, i: u32): usize { return <usize>load<u32>(blk, FB_SUB) + <usize>i * FE_SIZE; }
// Entry encoding. The 4 KiB entries of a split HugeTLB block are all present and their pfns follow the huge page,
// so neither is stored for them; the refcount is stored minus the one reference the filemap holds; a block-level
// UPTODATE (kept from the huge folio) covers every entry. A split therefore starts from all-zero entries: one
// memory.fill, the floor of what a split must write.
// @ts-ignore: decorator
@inline export function ePresent(gi: u32, e: usize): bool {
  return hugeOrder(gi) != 0 || (load<u16>(e, FE_FLAGS) & FOLIO_PRESENT) != 0;
}
// @ts-ignore: decorator
@inline export function eRef(e: usize): u32 { return load<u32>(e, FE_REF) + 1; }
// @ts-ignore: decorator
@inline function eSetRef(e: usize, r: u32): void { store<u32>(e, r - 1, FE_REF); }
// @ts-ignore: decorator
@inline export function ePfn(gi: u32, blk: usize, off: u32, e: usize): u32 {
  return hugeOrder(gi) != 0 ? load<u32>(blk, FB_PFN) + off : load<u32>(e, FE_PFN);
}
// @ts-ignore: decorator
@inline export function eUptodate(blk: usize, e: usize): bool {
  return ((load<u16>(e, FE_FLAGS) | load<u16>(blk, FB_FLAGS)) & FOLIO_UPTODATE) != 0;
}
// @ts-ignore: decorator
@inline function subOrder(gi: u32): u32 { return orderFor(<u64>FE_SIZE << blockShift(gi)); }

// @ts-ignore: decorator
@inline function busyAdd(blk: usize, d: i32): void { store<u32>(blk, <u32>(<i32>load<u32>(blk, FB_REF) + d), FB_REF); }
// @ts-ignore: decorator
@inline function uptodateAdd(blk: usize, d: i32): void { store<u32>(blk, <u32>(<i32>load<u32>(blk, FB_MAP) + d), FB_MAP); }

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

function releaseBlock(gi: u32, b: u32): void {
  const blk = blockAt(gi, b);
  const st = load<u8>(blk, FB_STATE);
  const ho = hugeOrder(gi);
  if (st == FB_HUGE) {
    pfnFree(load<u32>(blk, FB_PFN), ho);
    store<u32>(gi, load<u32>(gi, GI_POPULATED) - (<u32>1 << ho), GI_POPULATED);
  } else if (st == FB_SPLIT) {
    if (ho != 0) {
      pfnFree(load<u32>(blk, FB_PFN), ho);
      store<u32>(gi, load<u32>(gi, GI_POPULATED) - (<u32>1 << ho), GI_POPULATED);
    } else {
      const nr = <u32>1 << blockShift(gi);
      for (let i: u32 = 0; i < nr; i++) {
        const e = entryAt(blk, i);
        if (load<u16>(e, FE_FLAGS) & FOLIO_PRESENT) pfnFree(load<u32>(e, FE_PFN), 0);
      }
      store<u32>(gi, load<u32>(gi, GI_POPULATED) - load<u32>(blk, FB_NSUB), GI_POPULATED);
    }
    pageFree(load<u32>(blk, FB_SUB), subOrder(gi));
  }
  const content = load<u32>(blk, FB_CONTENT);
  if (content != 0) pageFree(content, contentOrder(gi));
  memory.fill(blk, 0, FB_SIZE);
}

/** Order of the folio holding `index` (0, 9 or 18), or -1 when no folio holds it. */
export function folioOrder(gi: u32, index: u32): i32 {
  const shift = blockShift(gi);
  const blk = blockAt(gi, index >> shift);
  const st = load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) return <i32>load<u8>(blk, FB_ORDER);
  if (st == FB_SPLIT) return ePresent(gi, entryAt(blk, index & ((<u32>1 << shift) - 1))) ? 0 : -1;
  return -1;
}

/** pfn backing `index` (folio_file_pfn), 0 when absent. */
export function folioPfn(gi: u32, index: u32): u32 {
  const shift = blockShift(gi);
  const blk = blockAt(gi, index >> shift);
  const st = load<u8>(blk, FB_STATE);
  const off = index & ((<u32>1 << shift) - 1);
  if (st == FB_HUGE) return load<u32>(blk, FB_PFN) + off;
  if (st == FB_SPLIT) {
    const e = entryAt(blk, off);
    return ePresent(gi, e) ? ePfn(gi, blk, off, e) : 0;
  }
  return 0;
}

/**
 * Describe the folio holding `index` into out (u32[8]): state (0 absent, 1 huge, 2 small), order, pfn of index,
 * refcount, pincount, mapcount, flags, folio's first index. Returns the state.
 */
export function folioDescribe(gi: u32, index: u32, out: usize): u32 {
  const shift = blockShift(gi);
  const b = index >> shift;
  const blk = blockAt(gi, b);
  const st = load<u8>(blk, FB_STATE);
  const off = index & ((<u32>1 << shift) - 1);
  memory.fill(out, 0, 32);
  if (st == FB_HUGE) {
    store<u32>(out, 1);
    store<u32>(out, load<u8>(blk, FB_ORDER), 4);
    store<u32>(out, load<u32>(blk, FB_PFN) + off, 8);
    store<u32>(out, load<u32>(blk, FB_REF), 12);
    store<u32>(out, load<u32>(blk, FB_PIN), 16);
    store<u32>(out, load<u32>(blk, FB_MAP), 20);
    store<u32>(out, load<u16>(blk, FB_FLAGS), 24);
    store<u32>(out, b << shift, 28);
    return 1;
  }
  if (st == FB_SPLIT) {
    const e = entryAt(blk, off);
    if (!ePresent(gi, e)) return 0;
    store<u32>(out, 2);
    store<u32>(out, ePfn(gi, blk, off, e), 8);
    store<u32>(out, eRef(e), 12);
    store<u32>(out, load<u16>(e, FE_PIN), 16);
    store<u32>(out, load<u16>(e, FE_MAP), 20);
    store<u32>(out, <u32>(load<u16>(e, FE_FLAGS) | FOLIO_PRESENT) | (eUptodate(blk, e) ? FOLIO_UPTODATE : 0), 24);
    store<u32>(out, index, 28);
    return 2;
  }
  return 0;
}

/**
 * Put a folio for `index` into the filemap if there is none (the allocation half of kvm_gmem_get_folio): with
 * HugeTLB the whole huge block gets one folio from the HugeTLB pool, else one 4 KiB page from the buddy pool.
 * The new folio is not uptodate. Returns 0, or -ENOMEM (pool or heap exhausted; nothing changed).
 */
export function folioAlloc(gi: u32, index: u32): i32 {
  const shift = blockShift(gi);
  const b = index >> shift;
  const blk = blockAt(gi, b);
  const st = load<u8>(blk, FB_STATE);
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
    store<u32>(gi, load<u32>(gi, GI_POPULATED) + (<u32>1 << ho), GI_POPULATED);
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
  const e = entryAt(blk, index & ((<u32>1 << shift) - 1));
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
  store<u16>(e, <u16>FOLIO_PRESENT, FE_FLAGS);
  store<u32>(blk, load<u32>(blk, FB_NSUB) + 1, FB_NSUB);
  store<u32>(gi, load<u32>(gi, GI_POPULATED) + 1, GI_POPULATED);
  return 0;
}

/** Is the folio holding index uptodate (zeroed/prepared)? false when absent. */
export function folioUptodate(gi: u32, index: u32): bool {
  const shift = blockShift(gi);
  const blk = blockAt(gi, index >> shift);
  const st = load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) return (load<u16>(blk, FB_FLAGS) & FOLIO_UPTODATE) != 0;
  if (st == FB_SPLIT) return eUptodate(blk, entryAt(blk, index & ((<u32>1 << shift) - 1)));
  return false;
}

/** folio_mark_uptodate on the folio holding index (after it was zeroed). */
export function folioMarkUptodate(gi: u32, index: u32): void {
  const shift = blockShift(gi);
  const blk = blockAt(gi, index >> shift);
  const st = load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) store<u16>(blk, load<u16>(blk, FB_FLAGS) | <u16>FOLIO_UPTODATE, FB_FLAGS);
  else if (st == FB_SPLIT) {
    const e = entryAt(blk, index & ((<u32>1 << shift) - 1));
    if (ePresent(gi, e) && !eUptodate(blk, e)) {
      store<u16>(e, load<u16>(e, FE_FLAGS) | <u16>FOLIO_UPTODATE, FE_FLAGS);
      uptodateAdd(blk, 1);
    }
  }
}

/**
 * Adjust the references on the folio holding index. kind 0: plain refcount (transient refs), 1: host PTE
 * (mapcount and refcount), 2: long-term GUP pin (small folio: refcount += GUP_PIN_COUNTING_BIAS; large folio:
 * refcount += 1 and pincount += 1, as try_grab_folio does), 3: a pin-mode IOMMU's pin (counted as a pin, and
 * separately, so a host unpin cannot drop it). delta is +1 or -1. Returns 0, -ENOENT (no folio), or -EINVAL
 * (would drop below what is held).
 */
export function folioRef(gi: u32, index: u32, kind: u32, delta: i32): i32 {
  const shift = blockShift(gi);
  const blk = blockAt(gi, index >> shift);
  const st = load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) {
    const ref = load<u32>(blk, FB_REF);
    if (kind == 0) {
      // only a transient reference that is actually held can be dropped
      if (delta < 0 && ref <= (<u32>1 << load<u8>(blk, FB_ORDER)) + load<u32>(blk, FB_PIN) + load<u32>(blk, FB_MAP)) return -EINVAL;
      store<u32>(blk, <u32>(<i32>ref + delta), FB_REF);
    } else {
      const at: usize = kind == 1 ? FB_MAP : FB_PIN;
      const c = load<u32>(blk + at);
      if (delta < 0 && c == 0) return -EINVAL;
      store<u32>(blk + at, <u32>(<i32>c + delta));
      store<u32>(blk, <u32>(<i32>ref + delta), FB_REF);
    }
    return 0;
  }
  if (st != FB_SPLIT) return -ENOENT;
  const e = entryAt(blk, index & ((<u32>1 << shift) - 1));
  if (!ePresent(gi, e)) return -ENOENT;
  const ref = eRef(e);
  let nref: u32;
  if (kind == 0) {
    const held: u32 = 1 + <u32>load<u16>(e, FE_MAP) + <u32>load<u16>(e, FE_PIN) * <u32>GUP_PIN_COUNTING_BIAS;
    if (delta < 0 && ref <= held) return -EINVAL; // only a transient reference that is actually held
    nref = <u32>(<i32>ref + delta);
  } else {
    const at: usize = kind == 1 ? FE_MAP : FE_PIN;
    const c = load<u16>(e + at);
    const io = load<u16>(e, FE_IOPIN);
    if (delta < 0 && (c == 0 || (kind == 3 && io == 0) || (kind == 2 && c <= io))) return -EINVAL; // whose pin
    if (delta > 0 && c == 0xffff) return -EINVAL;
    store<u16>(e + at, <u16>(<i32>c + delta));
    if (kind == 3) store<u16>(e, <u16>(<i32>io + delta), FE_IOPIN);
    const w: i32 = kind >= 2 ? <i32>GUP_PIN_COUNTING_BIAS : 1;
    nref = <u32>(<i32>ref + delta * w);
  }
  eSetRef(e, nref);
  if ((ref != 1) != (nref != 1)) busyAdd(blk, nref != 1 ? 1 : -1);
  return 0;
}

/**
 * The safe-refcount test of one folio: does anything besides the filemap hold it (kvm_gmem_has_safe_refcount
 * without the batch ref)? true for an absent index.
 */
export function folioOnlyFilemapRefs(gi: u32, index: u32): bool {
  const shift = blockShift(gi);
  const blk = blockAt(gi, index >> shift);
  const st = load<u8>(blk, FB_STATE);
  if (st == FB_HUGE) return load<u32>(blk, FB_REF) == (<u32>1 << load<u8>(blk, FB_ORDER));
  if (st == FB_SPLIT) {
    const e = entryAt(blk, index & ((<u32>1 << shift) - 1));
    return !ePresent(gi, e) || eRef(e) == 1;
  }
  return true;
}

// Scratch: the index of the folio that made the last split/merge/free refuse (error_index), per instance.
let lastBusyIndex: u32 = 0;
export function folioLastBusyIndex(): u32 { return lastBusyIndex; }

/**
 * Split the huge folio of block b into 4 KiB folios, pfns contiguous (kvm_gmem_split_folio_in_filemap; [V2]
 * always 1 GiB/2 MiB -> 4 KiB). No-op (0) unless the block holds a huge folio. -EAGAIN if anything besides the
 * filemap holds a reference, -ENOMEM if the 4 KiB entries cannot be allocated (the HVO vmemmap case).
 */
export function splitFolio(gi: u32, b: u32): i32 {
  const blk = blockAt(gi, b);
  if (load<u8>(blk, FB_STATE) != FB_HUGE) return 0;
  const order = <u32>load<u8>(blk, FB_ORDER);
  const nr = <u32>1 << order;
  if (load<u32>(blk, FB_REF) != nr || load<u32>(blk, FB_PIN) != 0 || load<u32>(blk, FB_MAP) != 0) {
    lastBusyIndex = b << blockShift(gi);
    return -EAGAIN;
  }
  // every 4 KiB folio: present, pfn = the huge page's + i, refcount 1, no map or pin: the all-zero entry
  const sub = pageAlloc(subOrder(gi));
  if (sub == 0) return -ENOMEM;
  const flags = <u64>(load<u16>(blk, FB_FLAGS) & FOLIO_UPTODATE); // stays on the block: covers every entry
  store<u8>(blk, <u8>FB_SPLIT, FB_STATE);
  store<u8>(blk, 0, FB_ORDER);
  store<u32>(blk, 0, FB_REF); //                               busy 4 KiB folios: none
  store<u32>(blk, (flags & <u64>FOLIO_UPTODATE) != 0 ? nr : 0, FB_MAP); // uptodate ones
  store<u32>(blk, sub, FB_SUB);
  store<u32>(blk, nr, FB_NSUB);
  return 0;
}

/**
 * Merge the 4 KiB folios of a split HugeTLB block back into one huge folio (kvm_gmem_try_merge_folio_in_filemap's
 * merge step; the caller decides whether the block is all private). -EINVAL when the block is not a split HugeTLB
 * block, -EAGAIN when any 4 KiB folio is referenced beyond the filemap (folioLastBusyIndex() names it).
 */
export function mergeFolio(gi: u32, b: u32): i32 {
  const ho = hugeOrder(gi);
  const blk = blockAt(gi, b);
  if (ho == 0 || load<u8>(blk, FB_STATE) != FB_SPLIT) return -EINVAL;
  const nr = <u32>1 << ho;
  if (load<u32>(blk, FB_REF) != 0) {
    // some 4 KiB folio is referenced beyond the filemap: name the first one
    let p = <usize>load<u32>(blk, FB_SUB);
    for (let i: u32 = 0; i < nr; i++) {
      if (eRef(p) != 1 || (load<u64>(p, 8) & 0xffffffff) != 0) { lastBusyIndex = (b << ho) + i; break; }
      p += FE_SIZE;
    }
    return -EAGAIN;
  }
  const anyUptodate = load<u32>(blk, FB_MAP) != 0 || (load<u16>(blk, FB_FLAGS) & FOLIO_UPTODATE) != 0;
  pageFree(load<u32>(blk, FB_SUB), subOrder(gi));
  store<u8>(blk, <u8>FB_HUGE, FB_STATE);
  store<u8>(blk, <u8>ho, FB_ORDER);
  // A 4 KiB folio that was never made uptodate reads zero, so the merged folio counts as zeroed.
  store<u16>(blk, anyUptodate ? <u16>FOLIO_UPTODATE : 0, FB_FLAGS);
  store<u32>(blk, nr, FB_REF);
  store<u32>(blk, 0, FB_PIN);
  store<u32>(blk, 0, FB_MAP);
  store<u32>(blk, 0, FB_SUB);
  store<u32>(blk, 0, FB_NSUB);
  return 0;
}

/**
 * Remove every folio of block b from the filemap and return its frames (truncate_inode_folio on a whole block).
 * -EAGAIN if any folio is referenced beyond the filemap; nothing changes then.
 */
export function freeBlock(gi: u32, b: u32): i32 {
  const blk = blockAt(gi, b);
  const st = load<u8>(blk, FB_STATE);
  if (st == FB_ABSENT) return 0;
  if (st == FB_HUGE) {
    if (!folioOnlyFilemapRefs(gi, b << blockShift(gi))) { lastBusyIndex = b << blockShift(gi); return -EAGAIN; }
  } else {
    const nr = <u32>1 << blockShift(gi);
    for (let i: u32 = 0; i < nr; i++) {
      const e = entryAt(blk, i);
      if (ePresent(gi, e) && (eRef(e) != 1 || load<u32>(e, FE_MAP) != 0)) {
        lastBusyIndex = (b << blockShift(gi)) + i;
        return -EAGAIN;
      }
    }
  }
  releaseBlock(gi, b);
  return 0;
}

/** Remove the 4 KiB folio at index of a 4 KiB-backed guest_memfd. -EAGAIN if referenced, -EINVAL if HugeTLB. */
export function freeSmall(gi: u32, index: u32): i32 {
  if (hugeOrder(gi) != 0) return -EINVAL;
  const shift = blockShift(gi);
  const b = index >> shift;
  const blk = blockAt(gi, b);
  if (load<u8>(blk, FB_STATE) != FB_SPLIT) return 0;
  const e = entryAt(blk, index & ((<u32>1 << shift) - 1));
  if (!ePresent(gi, e)) return 0;
  const pins = <u32>load<u16>(e, FE_PIN);
  if (eRef(e) != 1 + pins * GUP_PIN_COUNTING_BIAS || load<u16>(e, FE_MAP) != 0) {
    lastBusyIndex = index;
    return -EAGAIN;
  }
  if (pins != 0) {
    // truncate_inode_folio removes a pinned page from the filemap anyway; the pin keeps the frame until unpin
    if (!orphanAdd(gi, index, load<u32>(e, FE_PFN), pins, load<u16>(e, FE_IOPIN), contentGet(gi, index))) return -ENOMEM;
    busyAdd(blk, -1);
  } else pfnFree(load<u32>(e, FE_PFN), 0);
  if (eUptodate(blk, e)) uptodateAdd(blk, -1);
  memory.fill(e, 0, FE_SIZE);
  contentSet(gi, index, 0);
  const n = load<u32>(blk, FB_NSUB) - 1;
  store<u32>(blk, n, FB_NSUB);
  store<u32>(gi, load<u32>(gi, GI_POPULATED) - 1, GI_POPULATED);
  if (n == 0) releaseBlock(gi, b);
  return 0;
}

// ---- page content -----------------------------------------------------------------------------------------------
// One value per 4 KiB page (what host and guest accesses read and write), kept per block in an array of u64 that
// exists only once a non-zero value was written: low 32 bits the value, bit 32 CONTENT_ENC (the value was written
// through a private, encrypted mapping; the arch decides what a read through the other kind of mapping sees).
export const CONTENT_ENC: u64 = <u64>1 << 32;

// @ts-ignore: decorator
@inline function contentOrder(gi: u32): u32 { return orderFor(<u64>8 << blockShift(gi)); }

/** The content word of index (0 when nothing was ever written). */
export function contentGet(gi: u32, index: u32): u64 {
  const shift = blockShift(gi);
  const arr = load<u32>(blockAt(gi, index >> shift), FB_CONTENT);
  if (arr == 0) return 0;
  return load<u64>(<usize>arr + (<usize>(index & ((<u32>1 << shift) - 1)) << 3));
}

/** Store the content word of index; false on -ENOMEM (the first non-zero write of a block allocates its array). */
export function contentSet(gi: u32, index: u32, word: u64): bool {
  const shift = blockShift(gi);
  const blk = blockAt(gi, index >> shift);
  let arr = load<u32>(blk, FB_CONTENT);
  if (arr == 0) {
    if (word == 0) return true;
    arr = pageAlloc(contentOrder(gi));
    if (arr == 0) return false;
    store<u32>(blk, arr, FB_CONTENT);
  }
  store<u64>(<usize>arr + (<usize>(index & ((<u32>1 << shift) - 1)) << 3), word);
  return true;
}

/** Zero the content of [start, end) (clear_highpage / folio_zero_user / kvm_gmem_zero_range). */
export function contentZero(gi: u32, start: u32, end: u32): void {
  const shift = blockShift(gi);
  let i = start;
  while (i < end) {
    const b = i >> shift;
    const blockEnd = (b + 1) << shift;
    const e = end < blockEnd ? end : blockEnd;
    const arr = load<u32>(blockAt(gi, b), FB_CONTENT);
    if (arr != 0) {
      const off = i & ((<u32>1 << shift) - 1);
      memory.fill(<usize>arr + (<usize>off << 3), 0, <usize>(e - i) << 3);
    }
    i = e;
  }
}

/** Apply fn-like transforms: mark every page of [start, end) as last written shared (clear CONTENT_ENC). */
export function contentClearEnc(gi: u32, start: u32, end: u32): void {
  const shift = blockShift(gi);
  for (let i = start; i < end; i++) {
    const arr = load<u32>(blockAt(gi, i >> shift), FB_CONTENT);
    if (arr == 0) { i |= (<u32>1 << shift) - 1; continue; }
    const p = <usize>arr + (<usize>(i & ((<u32>1 << shift) - 1)) << 3);
    store<u64>(p, load<u64>(p) & ~CONTENT_ENC);
  }
}

// ---- host PTE flag on 4 KiB folios ------------------------------------------------------------------------------

/** Is index mapped by a host PTE? */
export function folioHostMapped(gi: u32, index: u32): bool {
  const shift = blockShift(gi);
  const blk = blockAt(gi, index >> shift);
  if (load<u8>(blk, FB_STATE) != FB_SPLIT) return false;
  return (load<u16>(entryAt(blk, index & ((<u32>1 << shift) - 1)), FE_FLAGS) & FOLIO_HOSTMAP) != 0;
}

/** Set or clear the host PTE of a present 4 KiB folio, with its mapcount and refcount. */
export function folioSetHostMap(gi: u32, index: u32, on: bool): void {
  const shift = blockShift(gi);
  const e = entryAt(blockAt(gi, index >> shift), index & ((<u32>1 << shift) - 1));
  const fl = load<u16>(e, FE_FLAGS);
  if (on == ((fl & FOLIO_HOSTMAP) != 0)) return;
  store<u16>(e, on ? (fl | <u16>FOLIO_HOSTMAP) : (fl & ~(<u16>FOLIO_HOSTMAP)), FE_FLAGS);
  const d: i32 = on ? 1 : -1;
  store<u16>(e, <u16>(<i32>load<u16>(e, FE_MAP) + d), FE_MAP);
  const ref = eRef(e);
  const nref = <u32>(<i32>ref + d);
  eSetRef(e, nref);
  if ((ref != 1) != (nref != 1)) busyAdd(blockAt(gi, index >> shift), nref != 1 ? 1 : -1);
}

/** Pins on the 4 KiB folio at index (0 when absent or huge). */
export function folioPins(gi: u32, index: u32): u32 {
  const shift = blockShift(gi);
  const blk = blockAt(gi, index >> shift);
  if (load<u8>(blk, FB_STATE) == FB_HUGE) return load<u32>(blk, FB_PIN);
  if (load<u8>(blk, FB_STATE) != FB_SPLIT) return 0;
  const e = entryAt(blk, index & ((<u32>1 << shift) - 1));
  return ePresent(gi, e) ? <u32>load<u16>(e, FE_PIN) : 0;
}

/**
 * First index in [start, end) whose folio holds references beyond the filemap (kvm_gmem_has_safe_refcount's
 * walk); returns the folio's first index (which may lie before start for a huge folio), or 0xffffffff if none.
 * extra: references to ignore on the first folio checked (the injected transient reference is added by the caller).
 */
export function firstUnsafeFolio(gi: u32, start: u32, end: u32): u32 {
  const shift = blockShift(gi);
  let i = start;
  while (i < end) {
    const b = i >> shift;
    const blk = blockAt(gi, b);
    const st = load<u8>(blk, FB_STATE);
    const blockEnd = (b + 1) << shift;
    if (st == FB_HUGE) {
      if (load<u32>(blk, FB_REF) != (<u32>1 << load<u8>(blk, FB_ORDER))) return b << shift;
    } else if (st == FB_SPLIT && load<u32>(blk, FB_REF) != 0) { // a quiet block has no busy folio
      const e = end < blockEnd ? end : blockEnd;
      for (let j = i; j < e; j++) {
        const en = entryAt(blk, j & ((<u32>1 << shift) - 1));
        if (ePresent(gi, en) && eRef(en) != 1) return j;
      }
    }
    i = blockEnd;
  }
  return 0xffffffff;
}

// ---- pinned pages that truncation removed from the filemap ------------------------------------------------------
// truncate_inode_folio removes a pinned 4 KiB page from the filemap anyway: the pins keep the frame, and whatever a
// device (pin-mode IOMMU) reads or writes through them goes to that frame, not to the page the index gets next.

// @ts-ignore: decorator
@inline function orphanAt(gi: u32, i: u32): usize { return <usize>load<u32>(gi, GI_ORPH) + <usize>i * ORPH_SIZE; }

function orphanAdd(gi: u32, index: u32, pfn: u32, pins: u32, iopins: u32, content: u64): bool {
  const n = load<u32>(gi, GI_ORPH_N);
  const cap = load<u32>(gi, GI_ORPH_CAP);
  if (n == cap) {
    const ncap = cap == 0 ? 128 : cap * 2;
    const arr = pageAlloc(orderFor(<u64>ncap * ORPH_SIZE));
    if (arr == 0) return false;
    const old = load<u32>(gi, GI_ORPH);
    if (old != 0) {
      memory.copy(arr, old, <usize>n * ORPH_SIZE);
      pageFree(old, orderFor(<u64>cap * ORPH_SIZE));
    }
    store<u32>(gi, arr, GI_ORPH);
    store<u32>(gi, ncap, GI_ORPH_CAP);
  }
  const r = orphanAt(gi, n);
  store<u32>(r, index);
  store<u32>(r, pfn, 4);
  store<u32>(r, pins, 8);
  store<u32>(r, iopins, 12);
  store<u64>(r, content, 16);
  store<u32>(gi, n + 1, GI_ORPH_N);
  return true;
}

/** The orphan record of index with pins of the given kind left (iommu: pin-mode IOMMU pins), or 0. */
export function orphanFind(gi: u32, index: u32, iommu: bool): usize {
  const n = load<u32>(gi, GI_ORPH_N);
  for (let i: u32 = 0; i < n; i++) {
    const r = orphanAt(gi, i);
    if (load<u32>(r) != index) continue;
    const io = load<u32>(r, 12), all = load<u32>(r, 8);
    if (iommu ? io != 0 : all > io) return r;
  }
  return 0;
}

/** The orphan record holding frame pfn, or 0. */
export function orphanByPfn(gi: u32, pfn: u32): usize {
  const n = load<u32>(gi, GI_ORPH_N);
  for (let i: u32 = 0; i < n; i++) { const r = orphanAt(gi, i); if (load<u32>(r, 4) == pfn) return r; }
  return 0;
}

/** Drop one pin (a host pin, or an IOMMU's); the frame goes back to the pool with the last one. */
export function orphanUnpin(gi: u32, rec: usize, iommu: bool): void {
  const pins = load<u32>(rec, 8) - 1;
  if (iommu) store<u32>(rec, load<u32>(rec, 12) - 1, 12);
  if (pins != 0) { store<u32>(rec, pins, 8); return; }
  pfnFree(load<u32>(rec, 4), 0);
  const n = load<u32>(gi, GI_ORPH_N) - 1;
  const last = orphanAt(gi, n);
  if (last != rec) memory.copy(rec, last, ORPH_SIZE);
  store<u32>(gi, n, GI_ORPH_N);
}

/** Frames held by orphans. */
export function orphanCount(gi: u32): u32 { return load<u32>(gi, GI_ORPH_N); }

/** Free the orphan array (the inode is going away; the caller made sure no orphan is left). */
export function orphanRelease(gi: u32): void {
  const arr = load<u32>(gi, GI_ORPH);
  if (arr != 0) pageFree(arr, orderFor(<u64>load<u32>(gi, GI_ORPH_CAP) * ORPH_SIZE));
  store<u32>(gi, 0, GI_ORPH);
  store<u32>(gi, 0, GI_ORPH_N);
  store<u32>(gi, 0, GI_ORPH_CAP);
}

/** IOMMU pins on the 4 KiB folio at index (pin mode), 0 when absent or huge. */
export function folioIoPins(gi: u32, index: u32): u32 {
  const shift = blockShift(gi);
  const blk = blockAt(gi, index >> shift);
  if (load<u8>(blk, FB_STATE) != FB_SPLIT) return 0;
  const e = entryAt(blk, index & ((<u32>1 << shift) - 1));
  return ePresent(gi, e) ? <u32>load<u16>(e, FE_IOPIN) : 0;
}
