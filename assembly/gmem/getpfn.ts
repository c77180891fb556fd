// kvm_gmem_get_folio / kvm_gmem_get_pfn: a folio for an index, allocated on first use and zeroed before anything
// maps it (I5). The caller holds the invalidate lock shared (or exclusively).
import { EV_FOLIO_ALLOC, EV_GMEM_ZERO } from "../abi/events";
import { bitmapSharedInBlock } from "../lib/bitmap";
import { emit } from "../lib/events";
import { blockShift, hugeOrder, gmemIndex, gmemBitmap } from "./inode";
import { folioAlloc, folioOrder, folioPfn, folioUptodate, folioMarkUptodate } from "./folio";
import { freeBlock } from "./split";
import { contentZero } from "./content";
import { gmemSplitBlock } from "./restructure";
import { fpTouch, RES_FILEMAP, RES_CONTENT, FP_WRITE } from "../lib/footprint";

/**
 * The folio for index, allocated on first use; with HugeTLB, a huge block that has any shared index is split at
 * once (kvm_gmem_get_folio -> kvm_gmem_try_split_folio_in_filemap). 0 or -errno.
 */
export function gmemGetFolio(gi: u32, index: u32): i32 {
  if (folioOrder(gi, index) >= 0) return 0;
  fpTouch(gmemIndex(gi), RES_FILEMAP, FP_WRITE);
  const r = folioAlloc(gi, index);
  if (r < 0) return r;
  const shift = blockShift(gi);
  const ho = hugeOrder(gi);
  emit(EV_FOLIO_ALLOC, 0, gmemIndex(gi), ho != 0 ? (index >> shift) << shift : index, ho, 0, 0);
  if (ho != 0 && bitmapSharedInBlock(gmemBitmap(gi), index, shift) != 0) {
    const s = gmemSplitBlock(gi, index >> shift);
    if (s < 0) { freeBlock(gi, index >> shift); return s; }
  }
  return 0;
}

/** Zero the folio holding index if it is not uptodate yet (folio_zero_user / clear_highpage), then mark it. */
export function gmemPrepareFolio(gi: u32, index: u32): void {
  if (folioUptodate(gi, index)) return;
  fpTouch(gmemIndex(gi), RES_FILEMAP, FP_WRITE);
  fpTouch(gmemIndex(gi), RES_CONTENT, FP_WRITE);
  const o = folioOrder(gi, index);
  const n: u32 = <u32>1 << <u32>(o < 0 ? 0 : o);
  const first = index & ~(n - 1);
  contentZero(gi, first, first + n);
  folioMarkUptodate(gi, index);
  emit(EV_GMEM_ZERO, 0, gmemIndex(gi), first, first + n, 0, 0);
}

/**
 * kvm_gmem_mapping_order [V2]: the folio's order if its huge block holds no shared index, else 0 (the largest
 * mapping the backing allows).
 */
export function gmemMappingOrder(gi: u32, index: u32): u32 {
  const o = folioOrder(gi, index);
  return (o > 0 && bitmapSharedInBlock(gmemBitmap(gi), index, blockShift(gi)) == 0) ? <u32>o : 0;
}

/**
 * kvm_gmem_get_pfn under the held invalidate lock: get or allocate the folio, zero it on first use. 0 or -errno;
 * the pfn is folioPfn(gi, index) and the order gmemMappingOrder(gi, index) afterwards.
 */
export function gmemGetPfnLocked(gi: u32, index: u32): i32 {
  const r = gmemGetFolio(gi, index);
  if (r == 0) gmemPrepareFolio(gi, index);
  return r;
}

