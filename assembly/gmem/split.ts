// Restructuring folios in the filemap: split a huge folio into 4 KiB folios, merge them back, remove a block or one
// 4 KiB folio (truncation). Each refuses with -EAGAIN while anything besides the filemap references a folio it
// would touch (filemap_remove_folio_for_restructuring spins on folio_ref_freeze; the model refuses instead of
// spinning) and names that folio in lastBusyIndex(). The protocol around them (zapping mappings first, events,
// injected faults) is gmem/restructure.ts.
import { EAGAIN, EINVAL, ENOMEM } from "../abi/errno";
import { FOLIO_UPTODATE } from "../abi/consts";
import {
  FB_STATE, FB_ORDER, FB_FLAGS, FB_REF, FB_PIN, FB_MAP, FB_SUB, FB_NSUB, FB_HUGE, FB_SPLIT, FB_ABSENT, FE_PIN,
  FE_MAP, FE_IOPIN, FE_PFN, FE_SIZE, blockAt, entryAt, entryOf, ePresent, eRef, eUptodate, subOrder, busyAdd,
  uptodateAdd, populatedAdd, releaseBlock, spareTake, sparePut, GUP_PIN_COUNTING_BIAS,
} from "./folio";
import { folioOnlyFilemapRefs } from "./refs";
import { blockShift, hugeOrder } from "./inode";
import { contentGet, contentSet } from "./content";
import { orphanAdd } from "./orphan";
import { pageAlloc, pageFree } from "../mm/alloc";
import { pfnFree } from "../mm/pfn";

// the index of the folio that made the last split/merge/free refuse (error_index), per instance
let lastBusy: u32 = 0;
export function lastBusyIndex(): u32 { return lastBusy; }

/**
 * Split the huge folio of block b into 4 KiB folios, pfns contiguous (kvm_gmem_split_folio_in_filemap; [V2]
 * always 1 GiB/2 MiB -> 4 KiB). 0 (a no-op unless the block holds a huge folio), -EAGAIN if anything besides the
 * filemap holds a reference, -ENOMEM if the 4 KiB entries cannot be allocated (the HVO vmemmap case).
 */
export function splitFolio(gi: u32, b: u32): i32 {
  const blk = blockAt(gi, b);
  if (<u32>load<u8>(blk, FB_STATE) != FB_HUGE) return 0;
  const nr = <u32>1 << <u32>load<u8>(blk, FB_ORDER);
  if (load<u32>(blk, FB_REF) != nr || load<u32>(blk, FB_PIN) != 0 || load<u32>(blk, FB_MAP) != 0) {
    lastBusy = b << blockShift(gi);
    return -EAGAIN;
  }
  // every 4 KiB folio: present, pfn = the huge page's + i, refcount 1, no map or pin: the all-zero entry
  let sub = spareTake(gi);
  if (sub == 0) sub = pageAlloc(subOrder(gi));
  if (sub == 0) return -ENOMEM;
  const uptodate = (load<u16>(blk, FB_FLAGS) & <u16>FOLIO_UPTODATE) != 0; // stays on the block: covers every entry
  store<u8>(blk, <u8>FB_SPLIT, FB_STATE);
  store<u8>(blk, 0, FB_ORDER);
  store<u32>(blk, 0, FB_REF); //                        busy 4 KiB folios: none
  store<u32>(blk, uptodate ? nr : 0, FB_MAP); //         uptodate ones
  store<u32>(blk, sub, FB_SUB);
  store<u32>(blk, nr, FB_NSUB);
  return 0;
}

/** Would splitFolio refuse block b for a reference (a transient one, a pin)? */
export function splitWouldBlock(gi: u32, b: u32): bool {
  return !folioOnlyFilemapRefs(gi, b << blockShift(gi));
}

/**
 * Merge the 4 KiB folios of a split HugeTLB block back into one huge folio (kvm_gmem_try_merge_folio_in_filemap's
 * merge step; the caller decides whether the block is all private). -EINVAL when the block is not a split HugeTLB
 * block, -EAGAIN when any 4 KiB folio is referenced beyond the filemap.
 */
export function mergeFolio(gi: u32, b: u32): i32 {
  const ho = hugeOrder(gi);
  const blk = blockAt(gi, b);
  if (ho == 0 || <u32>load<u8>(blk, FB_STATE) != FB_SPLIT) return -EINVAL;
  const nr = <u32>1 << ho;
  if (load<u32>(blk, FB_REF) != 0) {
    for (let i: u32 = 0; i < nr; i++) {
      const e = entryAt(blk, i);
      if (eRef(e) != 1 || load<u16>(e, FE_MAP) != 0 || load<u16>(e, FE_PIN) != 0) { lastBusy = (b << ho) + i; break; }
    }
    return -EAGAIN;
  }
  // a 4 KiB folio that was never made uptodate reads zero, so the merged folio counts as zeroed
  const blockUptodate = (load<u16>(blk, FB_FLAGS) & <u16>FOLIO_UPTODATE) != 0;
  const anyUptodate = load<u32>(blk, FB_MAP) != 0 || blockUptodate;
  // All-zero entries, provably: none busy (FB_REF 0: refcount 1, so no map, pin or host PTE either), and no
  // per-entry UPTODATE: a block-level one is never cleared while split and makes a per-entry one unnecessary
  // (folioMarkUptodate), and without it FB_MAP counts the per-entry ones.
  const sub = load<u32>(blk, FB_SUB);
  if (!((blockUptodate || load<u32>(blk, FB_MAP) == 0) && sparePut(gi, sub))) pageFree(sub, subOrder(gi));
  store<u8>(blk, <u8>FB_HUGE, FB_STATE);
  store<u8>(blk, <u8>ho, FB_ORDER);
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
  const st = <u32>load<u8>(blk, FB_STATE);
  if (st == FB_ABSENT) return 0;
  if (st == FB_HUGE) {
    if (!folioOnlyFilemapRefs(gi, b << blockShift(gi))) { lastBusy = b << blockShift(gi); return -EAGAIN; }
  } else {
    const nr = <u32>1 << blockShift(gi);
    for (let i: u32 = 0; i < nr; i++) {
      const e = entryAt(blk, i);
      if (ePresent(gi, e) && (eRef(e) != 1 || load<u16>(e, FE_MAP) != 0)) {
        lastBusy = (b << blockShift(gi)) + i;
        return -EAGAIN;
      }
    }
  }
  releaseBlock(gi, b);
  return 0;
}

/**
 * Remove the 4 KiB folio at index of a 4 KiB-backed guest_memfd. A pinned one leaves the filemap anyway: its frame,
 * content and pins live on as an orphan (gmem/orphan.ts). -EAGAIN if referenced otherwise, -EINVAL if HugeTLB.
 */
export function freeSmall(gi: u32, index: u32): i32 {
  if (hugeOrder(gi) != 0) return -EINVAL;
  const b = index >> blockShift(gi);
  const blk = blockAt(gi, b);
  if (<u32>load<u8>(blk, FB_STATE) != FB_SPLIT) return 0;
  const e = entryOf(gi, blk, index);
  if (!ePresent(gi, e)) return 0;
  const pins = <u32>load<u16>(e, FE_PIN);
  if (eRef(e) != 1 + pins * GUP_PIN_COUNTING_BIAS || load<u16>(e, FE_MAP) != 0) {
    lastBusy = index;
    return -EAGAIN;
  }
  if (pins != 0) {
    if (!orphanAdd(gi, index, load<u32>(e, FE_PFN), pins, load<u16>(e, FE_IOPIN), contentGet(gi, index))) return -ENOMEM;
    busyAdd(gi, blk, -1);
  } else pfnFree(load<u32>(e, FE_PFN), 0);
  if (eUptodate(blk, e)) uptodateAdd(blk, -1);
  memory.fill(e, 0, FE_SIZE);
  contentSet(gi, index, 0);
  const n = load<u32>(blk, FB_NSUB) - 1;
  store<u32>(blk, n, FB_NSUB);
  populatedAdd(gi, -1);
  if (n == 0) releaseBlock(gi, b);
  return 0;
}
