// Splitting and merging folios as the protocol does it: mappings larger than the new folios go first (I15: the
// notifier's restructure call; TDX v3 "Zap mappings before splitting backend folios"), injected faults fire here,
// and the events record it. The raw structure change is gmem/split.ts.
import { EV_FOLIO_SPLIT, EV_FOLIO_MERGE } from "../abi/events";
import { INJ_ENOMEM_SPLIT, INJ_TRANSIENT_REF } from "../abi/consts";
import { ENOMEM } from "../abi/errno";
import { bitmapSharedInBlock } from "../lib/bitmap";
import { emit, countAdd } from "../lib/events";
import { injectTake } from "../lib/inject";
import { blockShift, hugeOrder, gmemIndex, gmemBitmap } from "./inode";
import { blockState, FB_HUGE, FB_SPLIT } from "./folio";
import { splitFolio, mergeFolio, splitWouldBlock } from "./split";
import { notifierRestructure } from "./notifier";

/** Split the huge folio of block b (to-shared, or the huge-block rule at allocation); emits folio.split. */
export function gmemSplitBlock(gi: u32, b: u32): i32 {
  if (blockState(gi, b) != FB_HUGE) return 0;
  if (injectTake(INJ_ENOMEM_SPLIT)) return -ENOMEM; // the HVO vmemmap re-allocation failed
  // an injected transient reference: folio_ref_freeze spins until it is dropped (bounded in the model)
  injectTake(INJ_TRANSIENT_REF);
  const from = hugeOrder(gi);
  const first = b << blockShift(gi);
  if (!splitWouldBlock(gi, b)) notifierRestructure(gi, first, <u32>1 << from, 1); // nothing larger than 4 KiB stays
  const r = splitFolio(gi, b);
  if (r == 0) {
    emit(EV_FOLIO_SPLIT, 0, gmemIndex(gi), first, from, 0, 0);
    countAdd(EV_FOLIO_SPLIT, <u32>1 << from);
  }
  return r;
}

/** Merge a split HugeTLB block that is all private again (to-private); emits folio.merge. */
export function gmemMergeBlock(gi: u32, b: u32): i32 {
  if (hugeOrder(gi) == 0 || blockState(gi, b) != FB_SPLIT) return 0;
  const shift = blockShift(gi);
  if (bitmapSharedInBlock(gmemBitmap(gi), b << shift, shift) != 0) return 0; // kvm_gmem_has_some_shared
  const r = mergeFolio(gi, b);
  if (r == 0) {
    emit(EV_FOLIO_MERGE, 0, gmemIndex(gi), b << shift, 0, hugeOrder(gi), 0);
    countAdd(EV_FOLIO_MERGE, <u32>1 << hugeOrder(gi));
  }
  return r;
}
