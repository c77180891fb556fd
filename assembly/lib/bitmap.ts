// The shareability bitmap of one guest_memfd inode: 1 bit per 4 KiB index (1 = shared, 0 = private), plus the
// number of shared indices per 2 MiB block (u16) and per 1 GiB block (u32), so "is this huge block uniform?" and
// "does it hold any shared index?" are O(1) (the questions kvm_gmem_has_some_shared / kvm_gmem_mapping_order ask).
// The kernel keeps the same information as ranges in a maple tree (kvm_gmem_shareability_store); runs() gives
// exactly those ranges.
//
//   header block: [ BM header 64 B | cnt2m: u16 x n2m | cnt1g: u32 x n1g ]     (one heap block)
//   words block:  [ u64 x nwords ]                                          (one heap block, bits past npages = 0)
import {
  BM_NPAGES, BM_WORDS, BM_CNT2M, BM_CNT1G, BM_N2M, BM_N1G, BM_NWORDS, BM_ORDER, BM_SHARED, BM_HEADER_SIZE,
} from "../abi/records";
import { pageAlloc, pageFree, orderFor } from "../mm/alloc";

const HP2M_SHIFT: u32 = 9;
const HP1G_SHIFT: u32 = 18;

// @ts-ignore: decorator
@inline export function bmNpages(bm: u32): u32 { return load<u32>(bm, BM_NPAGES); }
// @ts-ignore: decorator
@inline function words(bm: u32): usize { return <usize>load<u32>(bm, BM_WORDS); }
// @ts-ignore: decorator
@inline function cnt2mAt(bm: u32, b: u32): usize { return <usize>load<u32>(bm, BM_CNT2M) + (<usize>b << 1); }
// @ts-ignore: decorator
@inline function cnt1gAt(bm: u32, b: u32): usize { return <usize>load<u32>(bm, BM_CNT1G) + (<usize>b << 2); }
// @ts-ignore: decorator
@inline function blockLen(npages: u32, b: u32, shift: u32): u32 {
  const s = b << shift;
  const n = npages - s;
  return n < (<u32>1 << shift) ? n : (<u32>1 << shift);
}

/** The u64 word holding index i's bit (a read, for prefetching). */
// @ts-ignore: decorator
@inline export function bitmapWordOf(bm: u32, i: u32): u64 { return load<u64>(words(bm) + ((<usize>i >> 6) << 3)); }

/** Create a bitmap of `npages` bits, all shared or all private. Returns its address, or 0 (-ENOMEM). */
export function bitmapCreate(npages: u32, shared: bool): u32 {
  const n2m = (npages + 511) >> HP2M_SHIFT;
  const n1g = (<u32>((<u64>npages + 262143) >> HP1G_SHIFT));
  const nwords = (<u32>((<u64>npages + 63) >> 6));
  const hdrBytes = <u64>BM_HEADER_SIZE + ((<u64>n2m * 2 + 3) & ~3) + <u64>n1g * 4;
  const hdrOrder = orderFor(hdrBytes);
  const wOrder = orderFor(<u64>nwords * 8);
  const hdr = pageAlloc(hdrOrder);
  if (hdr == 0) return 0;
  const w = pageAlloc(wOrder);
  if (w == 0) { pageFree(hdr, hdrOrder); return 0; }
  store<u32>(hdr, npages, BM_NPAGES);
  store<u32>(hdr, w, BM_WORDS);
  store<u32>(hdr, hdr + BM_HEADER_SIZE, BM_CNT2M);
  store<u32>(hdr, hdr + BM_HEADER_SIZE + ((n2m * 2 + 3) & ~3), BM_CNT1G);
  store<u32>(hdr, n2m, BM_N2M);
  store<u32>(hdr, n1g, BM_N1G);
  store<u32>(hdr, nwords, BM_NWORDS);
  store<u32>(hdr, hdrOrder | (wOrder << 8), BM_ORDER);
  store<u32>(hdr, 0, BM_SHARED);
  if (shared) bitmapAssign(hdr, 0, npages, true);
  return hdr;
}

export function bitmapDestroy(bm: u32): void {
  const orders = load<u32>(bm, BM_ORDER);
  pageFree(<u32>words(bm), orders >> 8);
  pageFree(bm, orders & 0xff);
}

/** Bytes of linear memory this bitmap occupies (both blocks, at their buddy sizes). */
export function bitmapBytes(bm: u32): u64 {
  const orders = load<u32>(bm, BM_ORDER);
  return (<u64>4096 << (orders & 0xff)) + (<u64>4096 << (orders >> 8));
}

// @ts-ignore: decorator
@inline export function bitmapTest(bm: u32, i: u32): bool {
  return ((load<u64>(words(bm) + (<usize>(i >> 6) << 3)) >> (<u64>(i & 63))) & 1) != 0;
}

/** Shared indices in the 2 MiB block b (O(1)). */
// @ts-ignore: decorator
@inline export function bitmapShared2M(bm: u32, b: u32): u32 { return load<u16>(cnt2mAt(bm, b)); }
/** Shared indices in the 1 GiB block b (O(1)). */
// @ts-ignore: decorator
@inline export function bitmapShared1G(bm: u32, b: u32): u32 { return load<u32>(cnt1gAt(bm, b)); }
export function bitmapSharedTotal(bm: u32): u32 { return load<u32>(bm, BM_SHARED); }

/** Shared indices in the huge block of `index` for order 9 or 18; any other order: just that index. */
export function bitmapSharedInBlock(bm: u32, index: u32, order: u32): u32 {
  if (order == HP2M_SHIFT) return bitmapShared2M(bm, index >> HP2M_SHIFT);
  if (order == HP1G_SHIFT) return bitmapShared1G(bm, index >> HP1G_SHIFT);
  return bitmapTest(bm, index) ? 1 : 0;
}

/** popcount of bits [s, e) where s and e lie in the same 2 MiB block or at most 512 bits apart. */
function popRange(bm: u32, s: u32, e: u32): u32 {
  if (s >= e) return 0;
  const base = words(bm);
  let n: u32 = 0;
  let w = s >> 6;
  const we = (e - 1) >> 6;
  for (; w <= we; w++) {
    let x = load<u64>(base + (<usize>w << 3));
    const lo = w << 6;
    if (s > lo) x &= ~(<u64>0) << (<u64>(s - lo));
    if (e < lo + 64) x &= (<u64>1 << (<u64>(e - lo))) - 1;
    n += <u32>popcnt<u64>(x);
  }
  return n;
}

/** Number of shared indices in [start, end) (uses the per-block counts for whole blocks). */
export function bitmapCountShared(bm: u32, start: u32, end: u32): u64 {
  let n: u64 = 0;
  let i = start;
  while (i < end) {
    if ((i & 262143) == 0 && end - i >= 262144) { n += bitmapShared1G(bm, i >> 18); i += 262144; continue; }
    if ((i & 511) == 0 && end - i >= 512) { n += bitmapShared2M(bm, i >> 9); i += 512; continue; }
    const blockEnd = (i | 511) + 1;
    const e = blockEnd < end ? blockEnd : end;
    n += popRange(bm, i, e);
    i = e;
  }
  return n;
}

/** The 512 u16 counts of one 1 GiB block's 2 MiB blocks, all 512 (shared) or 0: u64 stores of four counts each. */
function fillCounts2m(p: usize, shared: bool): void {
  if (!shared) { memory.fill(p, 0, 512 << 1); return; }
  const four: u64 = 0x0200020002000200; // 512 in each u16 lane
  for (let q = p, e = p + (512 << 1); q < e; q += 8) store<u64>(q, four);
}

/**
 * Set [start, end) to shared (true) or private (false), keeping the 2 MiB and 1 GiB counts exact. The bulk middle
 * is one memory.fill; counts are adjusted per 2 MiB block by delta (mirrors kvm_gmem_shareability_store).
 */
export function bitmapAssign(bm: u32, start: u32, end: u32, shared: bool): void {
  if (start >= end) return;
  const npages = bmNpages(bm);
  // 1. counts, computed before the bits change (partial blocks need their old popcount)
  const b0 = start >> HP2M_SHIFT;
  const b1 = (end - 1) >> HP2M_SHIFT;
  let total = <i64>load<u32>(bm, BM_SHARED);
  let g = b0 >> 9; // 1 GiB block of the current 2 MiB block (512 x 2 MiB per 1 GiB)
  let gDelta: i32 = 0;
  for (let b = b0; b <= b1; b++) {
    const gb = b >> 9;
    if (gb != g) {
      store<u32>(cnt1gAt(bm, g), <u32>(<i32>load<u32>(cnt1gAt(bm, g)) + gDelta));
      g = gb; gDelta = 0;
    }
    if ((b & 511) == 0 && (b << HP2M_SHIFT) >= start && <u64>(b << HP2M_SHIFT) + (<u64>1 << HP1G_SHIFT) <= <u64>end &&
        blockLen(npages, gb, HP1G_SHIFT) == <u32>1 << HP1G_SHIFT) {
      // a whole 1 GiB block: its 512 counts all become 512 (or 0) and its own count follows, from the old one
      const nw: i32 = shared ? <i32>1 << HP1G_SHIFT : 0;
      const old = <i32>load<u32>(cnt1gAt(bm, gb));
      fillCounts2m(cnt2mAt(bm, b), shared);
      gDelta += nw - old;
      total += <i64>(nw - old);
      b += 511;
      continue;
    }
    const bs = b << HP2M_SHIFT;
    const len = blockLen(npages, b, HP2M_SHIFT);
    const s = start > bs ? start : bs;
    const e = end < bs + len ? end : bs + len;
    const old = <i32>load<u16>(cnt2mAt(bm, b));
    let nw: i32;
    if (s == bs && e == bs + len) nw = shared ? <i32>len : 0;
    else {
      const before = <i32>popRange(bm, s, e);
      nw = old - before + (shared ? <i32>(e - s) : 0);
    }
    store<u16>(cnt2mAt(bm, b), <u16>nw);
    gDelta += nw - old;
    total += <i64>(nw - old);
  }
  store<u32>(cnt1gAt(bm, g), <u32>(<i32>load<u32>(cnt1gAt(bm, g)) + gDelta));
  store<u32>(bm, <u32>total, BM_SHARED);
  // 2. bits: edge words with masks, whole words in between with memory.fill
  const base = words(bm);
  const w0 = start >> 6;
  const w1 = (end - 1) >> 6;
  const loMask = ~(<u64>0) << (<u64>(start & 63));
  const hiMask = (end & 63) == 0 ? ~(<u64>0) : ((<u64>1 << (<u64>(end & 63))) - 1);
  if (w0 == w1) {
    const m = loMask & hiMask;
    const p = base + (<usize>w0 << 3);
    store<u64>(p, shared ? (load<u64>(p) | m) : (load<u64>(p) & ~m));
    return;
  }
  const p0 = base + (<usize>w0 << 3);
  store<u64>(p0, shared ? (load<u64>(p0) | loMask) : (load<u64>(p0) & ~loMask));
  const p1 = base + (<usize>w1 << 3);
  store<u64>(p1, shared ? (load<u64>(p1) | hiMask) : (load<u64>(p1) & ~hiMask));
  if (w1 > w0 + 1) memory.fill(p0 + 8, shared ? 0xff : 0, <usize>(w1 - w0 - 1) << 3);
}

/**
 * First index in [from, end) whose value differs from `shared`, or `end`. Whole 1 GiB / 2 MiB blocks whose count
 * says they are uniform with `shared` are skipped in O(1); the end of a run of equal values is nextDiff(start).
 */
export function bitmapNextDiff(bm: u32, from: u32, end: u32, shared: bool): u32 {
  const npages = bmNpages(bm);
  const base = words(bm);
  let i = from;
  while (i < end) {
    if ((i & 262143) == 0) {
      const len = blockLen(npages, i >> 18, HP1G_SHIFT);
      const c = bitmapShared1G(bm, i >> 18);
      if (c == (shared ? len : 0)) { i += len; continue; }
    }
    if ((i & 511) == 0) {
      const len = blockLen(npages, i >> 9, HP2M_SHIFT);
      const c = <u32>bitmapShared2M(bm, i >> 9);
      if (c == (shared ? len : 0)) { i += len; continue; }
    }
    // scan words up to the end of this 2 MiB block
    const blockEnd = (i | 511) + 1;
    const stop = blockEnd < end ? blockEnd : end;
    while (i < stop) {
      const w = i >> 6;
      let x = load<u64>(base + (<usize>w << 3));
      if (shared) x = ~x;
      x &= ~(<u64>0) << (<u64>(i & 63));
      if (x != 0) {
        const hit = (w << 6) + <u32>ctz<u64>(x);
        return hit < end ? hit : end;
      }
      i = (w + 1) << 6;
    }
  }
  return end;
}

/**
 * Copy the bits of [start, start + n) to dst, word by word: bit i of dst's u64 words is index start + i (dst holds
 * (n + 63) >> 6 words; bits past n are 0). A conversion's before-image for the I18 check (check/post.ts).
 */
export function bitmapCopyOut(bm: u32, start: u32, n: u32, dst: usize): void {
  const base = words(bm);
  const nwords = <usize>load<u32>(bm, BM_NWORDS);
  const sh = <u64>(start & 63);
  const out = (<usize>n + 63) >> 6;
  let w = <usize>start >> 6;
  for (let j: usize = 0; j < out; j++, w++) {
    let x = load<u64>(base + (w << 3)) >> sh;
    if (sh != 0 && w + 1 < nwords) x |= load<u64>(base + ((w + 1) << 3)) << (64 - sh);
    store<u64>(dst + (j << 3), x);
  }
  if ((n & 63) != 0) {
    const last = dst + ((out - 1) << 3);
    store<u64>(last, load<u64>(last) & ((<u64>1 << <u64>(n & 63)) - 1));
  }
}
