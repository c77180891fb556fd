// The core's own heap: a buddy allocator of 4 KiB pages over the region above HEAP_BASE, growing the shared memory
// with memory.grow and reusing freed blocks (coalescing buddies). No managed allocation exists in the core: every
// structure (bitmaps, folio arrays, page tables, pfn stacks, op records) comes from here. (mirrors mm/page_alloc.c:
// __alloc_pages takes the smallest free block that fits and splits it; __free_one_page merges buddies.)
//
//   page map entry (u32 per 4 KiB page of memory, PAGEMAP_BASE):
//     bits 0-7    PAGEMAP_FREE | order  on the head page of a free block
//                 PAGEMAP_USED | order  on the head page of an allocated block
//                 PAGEMAP_PCP           on a free page held on the per-cpu list (order 0, not a buddy)
//     bits 8-31   on a PAGEMAP_PCP page: the next page of the per-cpu list (address >> 12, 0 = none)
//     bits 16-31  present entries, when the page is a page-table page (lib/pagetable.ts)
//   free block: +0 next u32, +4 prev u32 (the free list of its order, head in H_FREE_HEADS)
//   per-cpu list: singly linked through the page map (as through struct page), so freeing a page never touches it;
//   head in H_PCP_HEAD, length in H_PCP_COUNT
//
// Freed single pages go to the per-cpu list unmerged, and single-page allocations take them from it first; past
// PCP_HIGH pages a batch goes back to the buddy lists, and an allocation that would grow the heap merges them all
// first, so the per-cpu list never makes the heap larger. (mirrors free_unref_page / rmqueue_pcplist /
// free_pcppages_bulk; drain_all_pages before reclaim.)
//
// Threads share it through a leaf lock (H_ALLOC_LOCK, mm/sync.ts): held for the list operations only; zeroing a
// block happens outside it.
import {
  H_FREE_HEADS, H_HEAP_TOP, H_PAGES_USED, H_PAGES_PEAK, H_FAIL_ALLOC, HEAP_BASE, MAX_ORDER, PAGE_SHIFT, PAGE_SIZE,
  PAGEMAP_BASE, PAGEMAP_FREE, PAGEMAP_USED, PAGEMAP_PCP, WASM_PAGE_SHIFT, MAX_WASM_PAGES, H_ALLOC_LOCK, H_PCP_HEAD,
  H_PCP_COUNT,
} from "../abi/layout";
import { IMAGE_BAD_HEAP_TOP, IMAGE_BAD_PAGE_MAP, IMAGE_BAD_FREE_LIST, IMAGE_BAD_PAGES_USED } from "../abi/consts";
import { leafLock, leafUnlock } from "./sync";
import { DEBUG } from "../lib/debug";

// @ts-ignore: decorator
@inline export function pagemapEntry(addr: u32): usize {
  return <usize>PAGEMAP_BASE + ((<usize>addr >> PAGE_SHIFT) << 2);
}
// @ts-ignore: decorator
@inline function headOf(order: u32): usize { return <usize>H_FREE_HEADS + (<usize>order << 2); }
// @ts-ignore: decorator
@inline function freeNext(addr: u32): u32 { return load<u32>(addr); }
// @ts-ignore: decorator
@inline function freePrev(addr: u32): u32 { return load<u32>(addr, 4); }

function listPush(order: u32, addr: u32): void {
  const head = load<u32>(headOf(order));
  store<u32>(addr, head);
  store<u32>(addr, 0, 4);
  if (head != 0) store<u32>(head, addr, 4);
  store<u32>(headOf(order), addr);
  store<u8>(pagemapEntry(addr), <u8>(PAGEMAP_FREE | order));
}

function listRemove(order: u32, addr: u32): void {
  const next = freeNext(addr);
  const prev = freePrev(addr);
  if (prev != 0) store<u32>(prev, next);
  else store<u32>(headOf(order), next);
  if (next != 0) store<u32>(next, prev, 4);
  store<u8>(pagemapEntry(addr), 0);
}

/** Make sure linear memory reaches `end` (exclusive); false if 4 GiB would be exceeded or growth failed. */
function ensureMemory(end: u64): bool {
  const needed = (end + ((<u64>1 << WASM_PAGE_SHIFT) - 1)) >> WASM_PAGE_SHIFT;
  if (needed > <u64>MAX_WASM_PAGES) return false;
  const have = <u64>memory.size();
  if (needed <= have) return true;
  return memory.grow(<i32>(needed - have)) >= 0;
}

function account(order: u32, sign: i32): void {
  const n = <u32>1 << order;
  let used = load<u32>(H_PAGES_USED);
  used = sign > 0 ? used + n : used - n;
  store<u32>(H_PAGES_USED, used);
  if (used > load<u32>(H_PAGES_PEAK)) store<u32>(H_PAGES_PEAK, used);
}

// @ts-ignore: decorator
@inline function pcpNext(addr: u32): u32 { return (load<u32>(pagemapEntry(addr)) >> 8) << PAGE_SHIFT; }

/** pcp->high: past this many pages the per-cpu list gives PCP_BATCH back to the buddy lists. */
export const PCP_HIGH: u32 = 1024;
/** pcp->batch */
export const PCP_BATCH: u32 = 256;

/** Allocate 2^order zeroed pages; the address, or 0 when memory is exhausted (-ENOMEM for the caller). */
export function pageAlloc(order: u32): u32 {
  return pageAllocMaybeZero(order, true);
}

/** pageAlloc for a caller that overwrites every byte itself (the contents are undefined). */
export function pageAllocRaw(order: u32): u32 {
  return pageAllocMaybeZero(order, false);
}

// whether the block allocLocked just returned is known to be all zero (per instance: set and read in one call)
let allocZeroed = false;

function pageAllocMaybeZero(order: u32, zero: bool): u32 {
  if (order > <u32>MAX_ORDER) return 0;
  leafLock(H_ALLOC_LOCK);
  const addr = allocLocked(order);
  leafUnlock(H_ALLOC_LOCK);
  if (addr != 0 && zero && !allocZeroed) memory.fill(addr, 0, <usize>PAGE_SIZE << order);
  if (DEBUG && addr != 0 && zero) {
    for (let i: u32 = 0; i < (PAGE_SIZE << order); i += 8) assert(load<u64>(addr + i) == 0, "pageAlloc: not zero");
  }
  return addr;
}

/** The allocation itself, under the allocator lock; allocZeroed says whether the block is all zero already. */
function allocLocked(order: u32): u32 {
  allocZeroed = false;
  const fail = load<u32>(H_FAIL_ALLOC);
  if (fail != 0) {
    store<u32>(H_FAIL_ALLOC, fail - 1);
    if (fail == 1) return 0;
  }
  if (order == 0) {
    const p = load<u32>(H_PCP_HEAD);
    if (p != 0) { // rmqueue_pcplist
      store<u32>(H_PCP_HEAD, pcpNext(p));
      store<u32>(H_PCP_COUNT, load<u32>(H_PCP_COUNT) - 1);
      store<u32>(pagemapEntry(p), PAGEMAP_USED);
      account(0, 1);
      return p;
    }
  }
  let addr = takeFree(order);
  if (addr == 0 && load<u32>(H_PCP_COUNT) != 0) { // drain_all_pages: merge them before the heap grows
    pcpDrain(load<u32>(H_PCP_COUNT));
    addr = takeFree(order);
  }
  if (addr != 0) return addr;
  // extend the heap: align the top to the block size; the gap becomes free blocks
  const top = <u64>load<u32>(H_HEAP_TOP);
  const size = <u64>PAGE_SIZE << order;
  const rel = top - <u64>HEAP_BASE;
  const aligned = <u64>HEAP_BASE + ((rel + size - 1) & ~(size - 1));
  const end = aligned + size;
  if (!ensureMemory(end)) return 0;
  let t = top;
  while (t < aligned) {
    let k: u32 = 0;
    while (k + 1 < order && ((t - <u64>HEAP_BASE) & ((<u64>PAGE_SIZE << (k + 1)) - 1)) == 0 &&
           t + (<u64>PAGE_SIZE << (k + 1)) <= aligned) k++;
    listPush(k, <u32>t);
    t += <u64>PAGE_SIZE << k;
  }
  store<u32>(H_HEAP_TOP, <u32>end);
  const head = <u32>aligned;
  store<u8>(pagemapEntry(head), <u8>(PAGEMAP_USED | order));
  store<u16>(pagemapEntry(head), 0, 2);
  account(order, 1);
  allocZeroed = true; // memory past the heap top is always zero (an image restore zeroes what it gives back)
  return head;
}

/** The smallest free block of at least `order` from the buddy lists, split down to `order` (__rmqueue_smallest). */
function takeFree(order: u32): u32 {
  for (let j = order; j <= <u32>MAX_ORDER; j++) {
    const addr = load<u32>(headOf(j));
    if (addr == 0) continue;
    listRemove(j, addr);
    while (j > order) {
      j--;
      listPush(j, addr + (<u32>PAGE_SIZE << j));
    }
    store<u8>(pagemapEntry(addr), <u8>(PAGEMAP_USED | order));
    store<u16>(pagemapEntry(addr), 0, 2);
    account(order, 1);
    return addr;
  }
  return 0;
}

/**
 * Return a block to the heap: a single page to the per-cpu list, a larger block to the buddy lists, merged with
 * its free buddy as long as possible (free_unref_page / __free_pages_ok).
 */
export function pageFree(addr: u32, order: u32): void {
  if (order == 0) {
    pageFreeChain(pcpPrepare(addr, 0), addr, 1);
    return;
  }
  leafLock(H_ALLOC_LOCK);
  if (DEBUG) assert(load<u8>(pagemapEntry(addr)) == <u8>(PAGEMAP_USED | order), "pageFree: not an allocated block");
  store<u32>(pagemapEntry(addr), 0);
  account(order, -1);
  mergeFree(addr, order);
  leafUnlock(H_ALLOC_LOCK);
}

/**
 * Free an allocated single page onto a chain in front of `next` (0 ends it), for pageFreeChain; returns the page,
 * the chain's new first. No lock: the chain is the caller's until pageFreeChain publishes it, and a page marked
 * PAGEMAP_PCP is no buddy any free can merge with (free_unref_page_prepare).
 */
// @ts-ignore: decorator
@inline export function pcpPrepare(addr: u32, next: u32): u32 {
  if (DEBUG) assert(load<u8>(pagemapEntry(addr)) == <u8>PAGEMAP_USED, "pcpPrepare: not an allocated page");
  store<u32>(pagemapEntry(addr), PAGEMAP_PCP | ((next >> PAGE_SHIFT) << 8)); // the occupancy goes with it
  return addr;
}

/**
 * Put a chain of n pages made by pcpPrepare (first .. last) on the per-cpu list in one step, one lock and one
 * count update for all (free_unref_page_list); past PCP_HIGH a batch goes back to the buddy lists.
 */
export function pageFreeChain(first: u32, last: u32, n: u32): void {
  if (n == 0) return;
  leafLock(H_ALLOC_LOCK);
  const e = pagemapEntry(last);
  store<u32>(e, load<u32>(e) | ((load<u32>(H_PCP_HEAD) >> PAGE_SHIFT) << 8));
  store<u32>(H_PCP_HEAD, first);
  const count = load<u32>(H_PCP_COUNT) + n;
  store<u32>(H_PCP_COUNT, count);
  store<u32>(H_PAGES_USED, load<u32>(H_PAGES_USED) - n);
  if (count > PCP_HIGH) pcpDrain(count - PCP_HIGH + PCP_BATCH);
  leafUnlock(H_ALLOC_LOCK);
}

/** Give n pages of the per-cpu list (from its front) back to the buddy lists, merging (free_pcppages_bulk). */
function pcpDrain(n: u32): void {
  let p = load<u32>(H_PCP_HEAD);
  let left = load<u32>(H_PCP_COUNT);
  for (let i: u32 = 0; i < n && p != 0; i++) {
    const next = pcpNext(p);
    store<u32>(pagemapEntry(p), 0);
    mergeFree(p, 0);
    left--;
    p = next;
  }
  store<u32>(H_PCP_HEAD, p);
  store<u32>(H_PCP_COUNT, left);
}

/** Put the free block (addr, order) on the buddy lists, merged with its free buddy as long as possible. */
function mergeFree(addr: u32, order: u32): void {
  const top = <u64>load<u32>(H_HEAP_TOP);
  let a = addr;
  let k = order;
  while (k < <u32>MAX_ORDER) {
    const buddy = <u32>HEAP_BASE + ((a - <u32>HEAP_BASE) ^ (<u32>PAGE_SIZE << k));
    if (<u64>buddy + (<u64>PAGE_SIZE << k) > top) break;
    if (load<u8>(pagemapEntry(buddy)) != <u8>(PAGEMAP_FREE | k)) break;
    listRemove(k, buddy);
    if (buddy < a) a = buddy;
    k++;
  }
  listPush(k, a);
}

/** Smallest order whose block holds `bytes` (bytes > 0); MAX_ORDER + 1 when it cannot. */
export function orderFor(bytes: u64): u32 {
  let k: u32 = 0;
  while (k <= <u32>MAX_ORDER && (<u64>PAGE_SIZE << k) < bytes) k++;
  return k;
}

// ---- a restored image, checked before any use --------------------------------------------------------------------

/** Is addr the head of an allocated block of the heap (below the heap top)? (The object table's pointers.) */
export function heapBlockUsed(addr: u32): bool {
  if (addr < <u32>HEAP_BASE || addr >= load<u32>(H_HEAP_TOP) || (addr & (PAGE_SIZE - 1)) != 0) return false;
  return (<u32>load<u8>(pagemapEntry(addr)) & (PAGEMAP_FREE | PAGEMAP_USED)) == PAGEMAP_USED;
}

/** The order of the allocated block at addr (heapBlockUsed(addr) holds). */
export function heapBlockOrder(addr: u32): u32 { return <u32>load<u8>(pagemapEntry(addr)) & 0x3f; }

/**
 * The heap of an image a restore loaded (a corrupted snapshot may carry a recomputed hash): 0, or the IMAGE_BAD_*
 * found. The heap top is a page inside memory; the page map tiles [HEAP_BASE, top) with naturally aligned blocks,
 * each head FREE|order, USED|order or PCP (one page) and every other page's allocator byte 0, above the top too (so
 * a free can only merge with a real free buddy); the free lists, linked both ways, hold exactly the free blocks (a
 * node is a free head of its list's order; no list repeats a node: each one's prev is the node before it); the
 * per-cpu list holds exactly the PCP pages, H_PCP_COUNT of them; H_PAGES_USED is the sum of the allocated blocks. Bounded: one pass over the page map, list walks stop after as many nodes as there
 * are free blocks. Reads only below the heap top and the page map (a trap-free check of any bytes).
 */
export function heapCheck(): u32 {
  const top = <u64>load<u32>(H_HEAP_TOP);
  if (top < <u64>HEAP_BASE || top > (<u64>memory.size() << WASM_PAGE_SHIFT) || ((top - <u64>HEAP_BASE) & (PAGE_SIZE - 1)) != 0) {
    return IMAGE_BAD_HEAP_TOP;
  }
  let freeBlocks: u32 = 0, usedPages: u32 = 0, pcpPages: u32 = 0;
  let a = <u64>HEAP_BASE;
  while (a < top) {
    const e = <u32>load<u8>(pagemapEntry(<u32>a));
    if (e == PAGEMAP_PCP) { pcpPages++; a += PAGE_SIZE; continue; }
    const k = e & 0x3f;
    if ((e & (PAGEMAP_FREE | PAGEMAP_USED)) == 0 || (e & PAGEMAP_FREE) != 0 && (e & PAGEMAP_USED) != 0 || k > <u32>MAX_ORDER) {
      return IMAGE_BAD_PAGE_MAP;
    }
    const size = <u64>PAGE_SIZE << k;
    if (((a - <u64>HEAP_BASE) & (size - 1)) != 0 || a + size > top) return IMAGE_BAD_PAGE_MAP;
    for (let p = a + PAGE_SIZE; p < a + size; p += PAGE_SIZE) if (load<u8>(pagemapEntry(<u32>p)) != 0) return IMAGE_BAD_PAGE_MAP;
    if ((e & PAGEMAP_FREE) != 0) freeBlocks++; else usedPages += <u32>1 << k;
    a += size;
  }
  for (let p = top; p < (<u64>MAX_WASM_PAGES << WASM_PAGE_SHIFT); p += PAGE_SIZE) {
    if (load<u8>(pagemapEntry(<u32>p)) != 0) return IMAGE_BAD_PAGE_MAP;
  }
  let listed: u32 = 0;
  for (let k: u32 = 0; k <= <u32>MAX_ORDER; k++) {
    let prev: u32 = 0;
    for (let n = load<u32>(headOf(k)); n != 0; n = freeNext(n)) {
      if (++listed > freeBlocks || <u64>n < <u64>HEAP_BASE || <u64>n >= top || (n & (PAGE_SIZE - 1)) != 0) return IMAGE_BAD_FREE_LIST;
      if (<u32>load<u8>(pagemapEntry(n)) != (PAGEMAP_FREE | k) || freePrev(n) != prev) return IMAGE_BAD_FREE_LIST;
      prev = n;
    }
  }
  if (listed != freeBlocks) return IMAGE_BAD_FREE_LIST;
  // the per-cpu list: exactly the PAGEMAP_PCP pages, as many as its count (a cycle runs past pcpPages)
  let pcpListed: u32 = 0;
  for (let n = load<u32>(H_PCP_HEAD); n != 0; n = pcpNext(n)) {
    if (++pcpListed > pcpPages || <u64>n < <u64>HEAP_BASE || <u64>n >= top || (n & (PAGE_SIZE - 1)) != 0) return IMAGE_BAD_FREE_LIST;
    if (<u32>load<u8>(pagemapEntry(n)) != PAGEMAP_PCP) return IMAGE_BAD_FREE_LIST;
  }
  if (pcpListed != pcpPages || load<u32>(H_PCP_COUNT) != pcpPages) return IMAGE_BAD_FREE_LIST;
  if (load<u32>(H_PAGES_USED) != usedPages) return IMAGE_BAD_PAGES_USED;
  return 0;
}
