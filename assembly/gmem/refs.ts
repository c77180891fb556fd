// References on folios beyond the filemap's own: transient ones, host PTEs (mapcount), long-term GUP pins (the
// pin bias on a small folio, pincount on a large one), and the pins a pin-mode IOMMU holds; and the tests the
// protocol makes on them (the safe-refcount walk, "only filemap references": restructuring may go ahead).
import { DEBUG } from "../lib/debug";
import { EINVAL, ENOENT } from "../abi/errno";
import {
  FB_STATE, FB_ORDER, FB_REF, FB_PIN, FB_MAP, FB_HUGE, FB_SPLIT, FE_FLAGS, FE_MAP, FE_PIN, FE_IOPIN,
  FOLIO_HOSTMAP, GUP_PIN_COUNTING_BIAS, blockAt, blockOf, entryOf, ePresent, eRef, eSetRef, busyAdd, busyBlocks, hugeRefSet,
} from "./folio";
import { blockShift, pagesHeld } from "./inode";

// reference kinds of folioRef
export const REF_TRANSIENT: u32 = 0;
export const REF_HOSTMAP: u32 = 1;
export const REF_PIN: u32 = 2;
export const REF_IOMMU_PIN: u32 = 3;

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
      hugeRefSet(gi, blk, <u32>(<i32>ref + delta));
    } else {
      const at: usize = kind == REF_HOSTMAP ? FB_MAP : FB_PIN;
      const c = load<u32>(blk + at);
      if (delta < 0 && c == 0) return -EINVAL;
      store<u32>(blk + at, <u32>(<i32>c + delta));
      hugeRefSet(gi, blk, <u32>(<i32>ref + delta));
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
  if ((ref != 1) != (nref != 1)) busyAdd(gi, blk, nref != 1 ? 1 : -1);
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
  if (busyBlocks(gi) == 0) return 0xffffffff; // no block of the inode is busy
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

/** Is index mapped by a host PTE? */
export function folioHostMapped(gi: u32, index: u32): bool {
  const blk = blockOf(gi, index);
  if (<u32>load<u8>(blk, FB_STATE) != FB_SPLIT) return false;
  return (load<u16>(entryOf(gi, blk, index), FE_FLAGS) & FOLIO_HOSTMAP) != 0;
}

/** Set or clear the host PTE of a present 4 KiB folio, with its mapcount and refcount. */
export function folioSetHostMap(gi: u32, index: u32, on: bool): void {
  if (DEBUG) assert(pagesHeld(gi), "host map changed without the inode's page lock");
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
  if ((ref != 1) != (nref != 1)) busyAdd(gi, blk, nref != 1 ? 1 : -1);
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
