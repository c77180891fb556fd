// Page content: one value per 4 KiB page (what host, guest and device accesses read and write), kept per block in
// an array of u64 that exists only once a non-zero value was written: low 32 bits the value, bit 32 CONTENT_ENC
// (the value was written through a private, encrypted mapping; the arch decides what a read through the other kind
// of mapping sees).
import { FB_CONTENT, blockAt, blockOf, contentOrder, folioUptodate } from "./folio";
import { pageAlloc } from "../mm/alloc";
import { isSnp, isTdx } from "../lib/machine";
import { fpTouch, RES_CONTENT, FP_READ, FP_WRITE } from "../lib/footprint";
import { gmemIndex, blockShift } from "./inode";

export const CONTENT_ENC: u64 = <u64>1 << 32;
/** What a read through the other kind of mapping sees on an encrypting arch (ciphertext, modelled). */
export const SCRAMBLE: u32 = 0xa5a5a5a5;

// @ts-ignore: decorator
@inline function slotOf(gi: u32, arr: u32, index: u32): usize {
  return <usize>arr + (<usize>(index & ((<u32>1 << blockShift(gi)) - 1)) << 3);
}

/** The content word of index (0 when nothing was ever written). */
export function contentGet(gi: u32, index: u32): u64 {
  const arr = load<u32>(blockOf(gi, index), FB_CONTENT);
  return arr == 0 ? 0 : load<u64>(slotOf(gi, arr, index));
}

/** Store the content word of index; false on -ENOMEM (the first non-zero write of a block allocates its array). */
export function contentSet(gi: u32, index: u32, word: u64): bool {
  const blk = blockOf(gi, index);
  let arr = load<u32>(blk, FB_CONTENT);
  if (arr == 0) {
    if (word == 0) return true;
    arr = pageAlloc(contentOrder(gi));
    if (arr == 0) return false;
    store<u32>(blk, arr, FB_CONTENT);
  }
  store<u64>(slotOf(gi, arr, index), word);
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
    if (arr != 0) memory.fill(slotOf(gi, arr, i), 0, <usize>(e - i) << 3);
    i = e;
  }
}

/** Mark every page of [start, end) as last written through a shared mapping (v4 PRESERVE to shared). */
export function contentClearEnc(gi: u32, start: u32, end: u32): void {
  const shift = blockShift(gi);
  for (let i = start; i < end; i++) {
    const arr = load<u32>(blockAt(gi, i >> shift), FB_CONTENT);
    if (arr == 0) { i |= (<u32>1 << shift) - 1; continue; }
    const p = slotOf(gi, arr, i);
    store<u64>(p, load<u64>(p) & ~CONTENT_ENC);
  }
}

/** Mark every written page of [start, end) as last written through a private mapping (v4 PRESERVE to private). */
export function contentSetEnc(gi: u32, start: u32, end: u32): void {
  for (let i = start; i < end; i++) {
    const w = contentGet(gi, i);
    if (w != 0) contentSet(gi, i, w | CONTENT_ENC);
  }
}

/** What an access through a private or shared mapping reads from a frame holding content word w. */
export function contentRead(w: u64, viaPrivate: bool): u32 {
  const v = <u32>w;
  if (v == 0) return 0;
  const enc = (w & CONTENT_ENC) != 0;
  // sw: no memory encryption. SNP / TDX: a value written through the other kind of mapping reads as ciphertext.
  if (enc != viaPrivate && (isSnp() || isTdx())) return v ^ SCRAMBLE;
  return v;
}

/** The content word a write of value through a private or shared mapping leaves. */
export function contentWord(value: u32, viaPrivate: bool): u64 {
  return value == 0 ? 0 : (<u64>value | (viaPrivate ? CONTENT_ENC : 0));
}

/** What an access through a private (encrypted) or shared mapping reads from index. */
export function pageRead(gi: u32, index: u32, viaPrivate: bool): u32 {
  fpTouch(gmemIndex(gi), RES_CONTENT, FP_READ);
  if (!folioUptodate(gi, index)) return 0;
  return contentRead(contentGet(gi, index), viaPrivate);
}

/** A store of value through a private or shared mapping; false on -ENOMEM. */
export function pageWrite(gi: u32, index: u32, viaPrivate: bool, value: u32): bool {
  fpTouch(gmemIndex(gi), RES_CONTENT, FP_WRITE);
  return contentSet(gi, index, contentWord(value, viaPrivate));
}
