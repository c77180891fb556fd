// Modelled physical memory: page frame numbers, not bytes. Three pools, each a range of the pfn space with a
// never-used watermark and a stack of freed pfns (so freed frames are reused first, like a per-order free list):
//   4 KiB pages   pfn [0x100, 0x1000_0000)        the buddy allocator's order-0 pages (non-HugeTLB guest_memfd)
//   2 MiB HugeTLB pfn [0x1000_0000, 0x4000_0000)  naturally aligned (hugetlb pool of 2M pages)
//   1 GiB HugeTLB pfn [0x4000_0000, 0xFFFC_0000)  naturally aligned (hugetlb pool of 1G pages)
// Capacities (PFN_LIMIT_*) model the size of each pool; allocation past them is -ENOMEM.
//   stack page: +0 next page u32, +4 count u32, +8 u32[STACK_CAP] pfns
import {
  PFN_NEXT_SMALL, PFN_NEXT_2M, PFN_NEXT_1G, PFN_STACK_SMALL, PFN_STACK_2M, PFN_STACK_1G,
  PFN_USED_SMALL, PFN_USED_2M, PFN_USED_1G, PFN_LIMIT_SMALL, PFN_LIMIT_2M, PFN_LIMIT_1G, PFN_LEAKED, H_PFN_LOCK,
  H_PAGES_USED,
} from "../abi/layout";
import { pageAlloc, pageFree, heapBlockUsed, heapBlockOrder } from "./alloc";
import { IMAGE_BAD_PFN_POOL } from "../abi/consts";
import { leafLock, leafUnlock } from "./sync";

export const PFN_BASE_SMALL: u32 = 0x100;
export const PFN_BASE_2M: u32 = 0x10000000;
export const PFN_BASE_1G: u32 = 0x40000000;
export const PFN_END_SMALL: u32 = 0x10000000;
export const PFN_END_2M: u32 = 0x40000000;
export const PFN_END_1G: u32 = 0xfffc0000;

const STACK_NEXT: usize = 0;
const STACK_COUNT: usize = 4;
const STACK_PFNS: usize = 8;
const STACK_CAP: u32 = 1022;

export function pfnPoolInit(): void {
  store<u32>(PFN_NEXT_SMALL, PFN_BASE_SMALL);
  store<u32>(PFN_NEXT_2M, PFN_BASE_2M);
  store<u32>(PFN_NEXT_1G, PFN_BASE_1G);
  store<u32>(PFN_LIMIT_SMALL, PFN_END_SMALL - PFN_BASE_SMALL);
  store<u32>(PFN_LIMIT_2M, (PFN_END_2M - PFN_BASE_2M) >> 9);
  store<u32>(PFN_LIMIT_1G, (PFN_END_1G - PFN_BASE_1G) >> 18);
}

/** Count one frame that can never be returned (a TDX removal failure, or nowhere to remember a free one). */
export function pfnLeak(n: u32): void { atomic.add<u32>(PFN_LEAKED, n); }

function pushPfn(stackHead: usize, pfn: u32): void {
  let top = load<u32>(stackHead);
  if (top == 0 || load<u32>(top, STACK_COUNT) == STACK_CAP) {
    const page = pageAlloc(0);
    if (page == 0) { pfnLeak(1); return; }
    store<u32>(page, top, STACK_NEXT);
    store<u32>(page, 0, STACK_COUNT);
    store<u32>(stackHead, page);
    top = page;
  }
  const n = load<u32>(top, STACK_COUNT);
  store<u32>(<usize>top + STACK_PFNS + (<usize>n << 2), pfn);
  store<u32>(top, n + 1, STACK_COUNT);
}

function popPfn(stackHead: usize): u32 {
  const top = load<u32>(stackHead);
  if (top == 0) return 0;
  const n = load<u32>(top, STACK_COUNT);
  const pfn = load<u32>(<usize>top + STACK_PFNS + (<usize>(n - 1) << 2));
  if (n == 1) {
    store<u32>(stackHead, load<u32>(top, STACK_NEXT));
    pageFree(top, 0);
  } else store<u32>(top, n - 1, STACK_COUNT);
  return pfn;
}

/** Allocate one frame of `order` (0, 9 or 18); its pfn, or 0 when the pool is exhausted. */
export function pfnAlloc(order: u32): u32 {
  leafLock(H_PFN_LOCK);
  const pfn = pfnAllocLocked(order);
  leafUnlock(H_PFN_LOCK);
  return pfn;
}

function pfnAllocLocked(order: u32): u32 {
  const isSmall = order == 0;
  const is2m = order == 9;
  const stack: usize = isSmall ? PFN_STACK_SMALL : is2m ? PFN_STACK_2M : PFN_STACK_1G;
  const usedAt: usize = isSmall ? PFN_USED_SMALL : is2m ? PFN_USED_2M : PFN_USED_1G;
  const limitAt: usize = isSmall ? PFN_LIMIT_SMALL : is2m ? PFN_LIMIT_2M : PFN_LIMIT_1G;
  const used = load<u32>(usedAt);
  if (used >= load<u32>(limitAt)) return 0;
  let pfn = popPfn(stack);
  if (pfn == 0) {
    const nextAt: usize = isSmall ? PFN_NEXT_SMALL : is2m ? PFN_NEXT_2M : PFN_NEXT_1G;
    const end = isSmall ? PFN_END_SMALL : is2m ? PFN_END_2M : PFN_END_1G;
    pfn = load<u32>(nextAt);
    const n = <u32>1 << order;
    if (<u64>pfn + <u64>n > <u64>end) return 0;
    store<u32>(nextAt, pfn + n);
  }
  store<u32>(usedAt, used + 1);
  return pfn;
}

export function pfnFree(pfn: u32, order: u32): void {
  const isSmall = order == 0;
  const is2m = order == 9;
  const usedAt: usize = isSmall ? PFN_USED_SMALL : is2m ? PFN_USED_2M : PFN_USED_1G;
  leafLock(H_PFN_LOCK);
  store<u32>(usedAt, load<u32>(usedAt) - 1);
  pushPfn(isSmall ? PFN_STACK_SMALL : is2m ? PFN_STACK_2M : PFN_STACK_1G, pfn);
  leafUnlock(H_PFN_LOCK);
}

/**
 * The pfn pools of an image a restore loaded (after heapCheck): 0, or IMAGE_BAD_PFN_POOL. Per pool the watermark lies
 * in its range, the frames in use do not pass the capacity nor the capacity the range, and the freed-pfn stack is a
 * chain of allocated heap pages, each holding 1 .. STACK_CAP pfns of the pool handed out before (below the
 * watermark, aligned to the pool's order), no more in all than were handed out and are not in use (so a loop in
 * the chain is found); the walk stops after as many pages as the heap has allocated.
 */
export function pfnPoolCheck(): u32 {
  for (let p: u32 = 0; p < 3; p++) {
    const order: u32 = p == 0 ? 0 : p == 1 ? 9 : 18;
    const base = p == 0 ? PFN_BASE_SMALL : p == 1 ? PFN_BASE_2M : PFN_BASE_1G;
    const end = p == 0 ? PFN_END_SMALL : p == 1 ? PFN_END_2M : PFN_END_1G;
    const next = load<u32>(p == 0 ? PFN_NEXT_SMALL : p == 1 ? PFN_NEXT_2M : PFN_NEXT_1G);
    const limit = load<u32>(p == 0 ? PFN_LIMIT_SMALL : p == 1 ? PFN_LIMIT_2M : PFN_LIMIT_1G);
    const used = load<u32>(p == 0 ? PFN_USED_SMALL : p == 1 ? PFN_USED_2M : PFN_USED_1G);
    if (next < base || next > end || ((next - base) & ((<u32>1 << order) - 1)) != 0) return IMAGE_BAD_PFN_POOL;
    if (limit > (end - base) >> order || used > limit || used > (next - base) >> order) return IMAGE_BAD_PFN_POOL;
    let pages: u32 = 0, stacked: u64 = 0;
    const freed = <u64>((next - base) >> order) - used;
    const heapPages = load<u32>(H_PAGES_USED);
    for (let page = load<u32>(p == 0 ? PFN_STACK_SMALL : p == 1 ? PFN_STACK_2M : PFN_STACK_1G); page != 0; page = load<u32>(page, STACK_NEXT)) {
      if (++pages > heapPages || !heapBlockUsed(page) || heapBlockOrder(page) != 0) return IMAGE_BAD_PFN_POOL;
      const n = load<u32>(page, STACK_COUNT);
      stacked += n;
      if (n == 0 || n > STACK_CAP || stacked > freed) return IMAGE_BAD_PFN_POOL;
      for (let i: u32 = 0; i < n; i++) {
        const pfn = load<u32>(<usize>page + STACK_PFNS + (<usize>i << 2));
        if (pfn < base || pfn >= next || ((pfn - base) & ((<u32>1 << order) - 1)) != 0) return IMAGE_BAD_PFN_POOL;
      }
    }
  }
  return 0;
}
