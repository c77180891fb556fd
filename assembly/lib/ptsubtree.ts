// Whole subtrees of a page table (lib/pagetable.ts ptZapRange, ptDestroy): dropped with every table in it, or
// cleared of their leaves with the tables kept.
import { pageFreeChain, pcpPrepare } from "../mm/alloc";
import { PAGE_SIZE } from "../abi/layout";
import { spteIsPresent, spteIsLeaf, spteChild } from "./ptentry";
import { occupancyAt, occAdd, leavesAdd, tablesAdd } from "./ptdesc";

// The tables of a subtree being dropped, chained for one pageFreeChain (per instance, empty between zaps).
let chainFirst: u32 = 0, chainLast: u32 = 0, chainN: u32 = 0;

// @ts-ignore: decorator
@inline function chainAdd(table: u32): void {
  if (chainN == 0) chainLast = table;
  chainFirst = pcpPrepare(table, chainFirst);
  chainN++;
}

/**
 * Drop the subtree of the table at `level` whole: every table in it goes to the allocator in one batch, the counters
 * change once (handle_removed_pt + tdp_mmu_free_sp, the pages freed together as the RCU callback does). Returns the
 * leaves it held.
 */
export function zapSubtreeFree(pt: usize, table: u32, level: u32): u32 {
  chainFirst = 0; chainLast = 0; chainN = 0;
  const n = zapSubtree(pt, table, level);
  tablesAdd(pt, -<i32>chainN);
  pageFreeChain(chainFirst, chainLast, chainN);
  return n;
}

/**
 * Clear every leaf under the table at `level`, keeping the tables (tdp_mmu_zap_leafs over a subtree wholly inside its
 * range). PTE tables are cleared whole, one fill per run of them lying next to each other in memory (tables stay
 * where the first faults put them, so a range populated in order is one run). Returns the leaves (counters adjusted).
 */
export function zapSubtreeLeaves(pt: usize, table: u32, level: u32): u32 {
  if (level == 1) return clearPteTable(pt, table);
  let huge: u32 = 0, below: u32 = 0, runStart: u32 = 0, runEnd: u32 = 0;
  for (let i: u32 = 0; i < 512; i++) {
    const p = table + (i << 3);
    const e = load<u64>(p);
    if (!spteIsPresent(e)) continue;
    if (spteIsLeaf(e)) { store<u64>(p, 0); huge++; continue; }
    const child = spteChild(e);
    if (level > 2) { below += zapSubtreeLeaves(pt, child, level - 1); continue; }
    const n = <u32>load<u16>(occupancyAt(child));
    if (n == 0) continue;
    store<u16>(occupancyAt(child), 0);
    below += n;
    if (child != runEnd) {
      if (runEnd != runStart) memory.fill(runStart, 0, runEnd - runStart);
      runStart = child;
    }
    runEnd = child + PAGE_SIZE;
  }
  if (runEnd != runStart) memory.fill(runStart, 0, runEnd - runStart);
  if (level == 2) leavesAdd(pt, 1, -<i32>below);
  if (huge != 0) { occAdd(table, -<i32>huge); leavesAdd(pt, level, -<i32>huge); }
  return huge + below;
}

/** One PTE table's leaves cleared (the table stays); how many there were. */
function clearPteTable(pt: usize, table: u32): u32 {
  const n = <u32>load<u16>(occupancyAt(table));
  if (n != 0) {
    memory.fill(table, 0, PAGE_SIZE);
    store<u16>(occupancyAt(table), 0);
    leavesAdd(pt, 1, -<i32>n);
  }
  return n;
}

/** Chain the table at `level` and everything below it; returns the leaves it held (leaf counters adjusted). */
function zapSubtree(pt: usize, table: u32, level: u32): u32 {
  if (level == 1) {
    const n = <u32>load<u16>(occupancyAt(table)); // a PTE table: its present entries are its leaves
    leavesAdd(pt, 1, -<i32>n);
    chainAdd(table);
    return n;
  }
  let huge: u32 = 0, below: u32 = 0;
  if (level == 2) {
    // the PTE tables under a PMD table: their leaves are their occupancy, counted once below; the chain is kept
    // in locals for the loop (up to 512 tables: this loop is most of a 1 GiB IOMMU unmap)
    let first = chainFirst, last = chainLast, n = chainN;
    for (let i: u32 = 0; i < 512; i++) {
      const e = load<u64>(table + (i << 3));
      if (!spteIsPresent(e)) continue;
      if (spteIsLeaf(e)) { huge++; continue; }
      const child = spteChild(e);
      below += <u32>load<u16>(occupancyAt(child));
      if (n == 0) last = child;
      first = pcpPrepare(child, first);
      n++;
    }
    chainFirst = first; chainLast = last; chainN = n;
    leavesAdd(pt, 1, -<i32>below);
  } else {
    for (let i: u32 = 0; i < 512; i++) {
      const e = load<u64>(table + (i << 3));
      if (!spteIsPresent(e)) continue;
      if (spteIsLeaf(e)) { huge++; continue; }
      below += zapSubtree(pt, spteChild(e), level - 1);
    }
  }
  leavesAdd(pt, level, -<i32>huge);
  chainAdd(table);
  return huge + below;
}
