// Reading the model without the locks its writers take, for views: the way GUP-fast walks page tables with no
// mmap_lock (mm/gup.c, lockless_pages_from_mm) and KVM walks its TDP tables under RCU alone
// (kvm_tdp_mmu_walk_lockless_begin / kvm_tdp_mmu_get_walk). Another thread may change what is read meanwhile, so
// a result may be torn; the caller brackets the read with the instances' seqcounts (IN_SEQ; read_seqcount_begin /
// read_seqcount_retry in the binding) and throws a torn result away. This module makes sure a torn read stays
// harmless: every pointer taken from memory is checked against the memory before it is followed (the heap only
// grows, so an address below the end is always readable), and every loop is bounded by the range asked for.
//
// Results go to this instance's record buffer (IN_VIEW: VIEW_RECORDS records of four u32), never to shared state.
import { HEAP_BASE, PAGE_SIZE, IN_VIEW, VIEW_RECORDS, VIEW_RECORD_SIZE } from "../abi/layout";
import { instBase } from "../mm/instance";
import { PT_LEVELS, levelPages, indexAt, spteIsPresent, spteIsLeaf, spteChild } from "./ptentry";

/** Is [p, p + bytes) inside the heap as the memory is now? (memory.size is in 64 KiB pages.) */
export function llReadable(p: u64, bytes: u64): bool {
  return p >= <u64>HEAP_BASE && p + bytes <= (<u64>memory.size() << 16);
}

// ---- the record buffer ------------------------------------------------------------------------------------------
let nrec: u32 = 0;

// @ts-ignore: decorator
@inline export function recAt(i: u32): usize { return instBase() + IN_VIEW + <usize>i * VIEW_RECORD_SIZE; }
export function recReset(): void { nrec = 0; }
export function recCount(): u32 { return nrec; }
/** The last record written, or 0 when none. */
export function recLast(): usize { return nrec == 0 ? 0 : recAt(nrec - 1); }

/** Append a record; false when the buffer is full. */
export function recPut(a: u32, b: u32, c: u32, d: u32): bool {
  if (nrec >= <u32>VIEW_RECORDS) return false;
  const r = recAt(nrec++);
  store<u32>(r, a);
  store<u32>(r, b, 4);
  store<u32>(r, c, 8);
  store<u32>(r, d, 12);
  return true;
}

/**
 * Add the run [start, start + pages) of kind `d` whose first page is frame `pfn` (linear: pfn + i for page i), or
 * extend the last record with it when that record is of the same kind and its frames continue into this run.
 * `joinFrom`: the run may also join a last record that ends anywhere in [joinFrom, start] (the pages between were
 * skipped as finer than the caller's grain); joinFrom == start means only an exact continuation joins.
 * `linear` false: frames do not matter (absent runs, shareability). False when the buffer is full.
 */
export function recRun(start: u32, pages: u32, pfn: u32, d: u32, joinFrom: u32, linear: bool): bool {
  const last = recLast();
  if (last != 0 && load<u32>(last, 12) == d) {
    const ls = load<u32>(last), le = ls + load<u32>(last, 4);
    if (le >= joinFrom && le <= start && (!linear || load<u32>(last, 8) + (start - ls) == pfn)) {
      store<u32>(last, start + pages - ls, 4);
      return true;
    }
  }
  return recPut(start, pages, pfn, d);
}

// ---- page tables --------------------------------------------------------------------------------------------------
// The leaf llNextLeaf found: its first gfn, its entry, the level it sits at.
let leafGfn: u64 = 0;
let leafEntry: u64 = 0;
let leafLevel: u32 = 0;
export function llLeafGfn(): u64 { return leafGfn; }
export function llLeafEntry(): u64 { return leafEntry; }
export function llLeafLevel(): u32 { return leafLevel; }

/** Could `t` be a table page? (page aligned and readable) */
// @ts-ignore: decorator
@inline function tableOk(t: u32): bool { return (t & (PAGE_SIZE - 1)) == 0 && llReadable(<u64>t, PAGE_SIZE); }

/** First leaf under `table` (at `level`, covering gfns from `base`) that maps a gfn in [from, end). */
function nextIn(table: u32, level: u32, base: u64, from: u64, end: u64): bool {
  const span = levelPages(level);
  for (let i: u32 = from > base ? indexAt(from, level) : 0; i < 512; i++) {
    const gfn = base + <u64>i * span;
    if (gfn >= end) return false;
    const e = atomic.load<u64>(<usize>table + (<usize>i << 3)); // one read of the whole entry (READ_ONCE)
    if (!spteIsPresent(e)) continue;
    if (spteIsLeaf(e)) {
      if (level >= <u32>PT_LEVELS) continue; // no leaf sits in the root: a torn entry
      leafGfn = gfn;
      leafEntry = e;
      leafLevel = level;
      return true;
    }
    if (level == 1 || !tableOk(spteChild(e))) continue; // a table below 4 KiB, or one outside the heap: torn
    if (nextIn(spteChild(e), level - 1, gfn, from > gfn ? from : gfn, end)) return true;
  }
  return false;
}

/**
 * The first leaf of the table rooted at `root` that maps a gfn in [from, end) (a huge leaf may start before
 * from): true and llLeafGfn / llLeafEntry / llLeafLevel, or false when there is none. Tables a zap empties are
 * freed at once (lib/pagetable.ts), so a present non-leaf entry leads to a leaf and the search rarely backtracks.
 */
export function llNextLeaf(root: u32, from: u64, end: u64): bool {
  if (root == 0 || from >= end || !tableOk(root)) return false;
  return nextIn(root, PT_LEVELS, 0, from, end);
}
