// One radix page-table implementation for every table kind (KVM private / shared, IOMMU secure / non-secure):
// x86-64-style 4 levels of 512 x 8-byte entries, walked by a tdp_iter-style iterator (arch/x86/kvm/mmu/tdp_iter.c).
//
// Entries are encoded as lib/ptentry.ts says; the walk is lib/tdp_iter.ts.
// Levels: 1 = 4 KiB (PTE), 2 = 2 MiB (PMD), 3 = 1 GiB (PUD), 4 = root (covers 2^36 gfns; u32 gfns use 32 entries).
// The page map keeps, per table page, the number of present entries. A KVM zap (ZAP_KEEP_TABLES) clears leaves and
// keeps every table, emptied ones too, as tdp_mmu_zap_leafs does; an IOMMU unmap drops the tables wholly inside its
// range with their subtrees, and frees the tables it empties at once.
//
// Table descriptor (PT_OBJ_SIZE bytes, embedded wherever the owner wants):
//   +0 root u32, +4 present leaves u32[3] (4 KiB, 2 MiB, 1 GiB), +16 table pages in use u32 (lib/ptdesc.ts)
import { pageAlloc, pageFree } from "../mm/alloc";
import { ENOMEM, EEXIST, EINVAL, ENOENT } from "../abi/errno";
import { TdpIter, tdpIterStart, tdpIterNext, tdpIterSkip, ptPathAt } from "./tdp_iter";
import { PT_ROOT, PT_OBJ_SIZE, occupancyAt, occAdd, leavesAdd, tablesAdd } from "./ptdesc";
import { zapSubtreeFree, zapSubtreeLeaves } from "./ptsubtree";
import {
  PT_LEVELS, SPTE_STATE_MASK, SPTE_STATE_SHIFT, spteIsPresent, spteIsLeaf, spteLevel, sptePfn, spteState, spteChild,
  makeLeaf, makeNonLeaf, levelPages, indexAt,
} from "./ptentry";

export {
  TdpIter, tdpIterStart, tdpIterNext, PT_LEVELS, SPTE_STATE_MASK, SPTE_STATE_SHIFT, spteIsPresent, spteIsLeaf,
  spteLevel, sptePfn, spteState, spteChild, makeLeaf, levelPages,
};

export {
  PT_ROOT, PT_LEAVES, PT_TABLES, PT_OBJ_SIZE, ptRoot, ptInit, ptLeaves, ptTables,
} from "./ptdesc";

// ---- operations -------------------------------------------------------------------------------------------------

/** Address of the leaf entry mapping gfn, or 0 (a huge leaf maps every gfn it covers). */
export function ptWalkLeaf(pt: usize, gfn: u32): u32 {
  let table = load<u32>(pt, PT_ROOT);
  if (table == 0) return 0;
  for (let level: u32 = PT_LEVELS; level >= 1; level--) {
    const sptep = table + (indexAt(<u64>gfn, level) << 3);
    const e = load<u64>(sptep);
    if (!spteIsPresent(e)) return 0;
    if (spteIsLeaf(e)) return sptep;
    table = spteChild(e);
  }
  return 0;
}

/**
 * Remove the leaf mapping gfn (any level), tables as `partial`'s ZAP_KEEP_TABLES says; returns its level, 0 if
 * none. (A single-leaf zap without an iterator, for callers that find leaves one by one: zapOneGfn's walk.)
 */
export function ptZapLeaf(pt: usize, gfn: u32, partial: u32): u32 {
  const root = load<u32>(pt, PT_ROOT);
  if (root == 0 || zapOneGfn(pt, root, gfn, partial & ZAP_KEEP_TABLES) <= 0) return 0;
  const span = zapEnd - zapStart;
  return span == 1 ? 1 : span == 512 ? 2 : 3;
}

/** The entry mapping gfn (0 when none). */
export function ptLookup(pt: usize, gfn: u32): u64 {
  const p = ptWalkLeaf(pt, gfn);
  return p == 0 ? 0 : load<u64>(p);
}

/**
 * Install a leaf for gfn at level 1..3 (tdp_mmu_map's walk + set). gfn and pfn must be aligned to the level.
 * -EEXIST if anything is mapped in the range already (a present leaf or, for a huge level, a child table),
 * -ENOMEM if a table page cannot be allocated (tables allocated by this call are freed again).
 */
export function ptMap(pt: usize, gfn: u32, pfn: u32, level: u32, state: u32): i32 {
  if (level < 1 || level > 3) return -EINVAL;
  const mask = <u32>(levelPages(level) - 1);
  if ((gfn & mask) != 0 || (pfn & mask) != 0) return -EINVAL;
  let root = load<u32>(pt, PT_ROOT);
  let fresh: u32 = 0; // bit L set: the table at level L was allocated by this call
  if (root == 0) {
    root = pageAlloc(0);
    if (root == 0) return -ENOMEM;
    store<u32>(pt, root, PT_ROOT);
    tablesAdd(pt, 1);
    fresh |= 1 << PT_LEVELS;
  }
  let table = root;
  for (let l: u32 = PT_LEVELS; l > level; l--) {
    const sptep = table + (indexAt(<u64>gfn, l) << 3);
    const e = load<u64>(sptep);
    if (spteIsPresent(e)) {
      if (spteIsLeaf(e)) { unwindFresh(pt, gfn, fresh); return -EEXIST; }
      table = spteChild(e);
      continue;
    }
    const child = pageAlloc(0);
    if (child == 0) { unwindFresh(pt, gfn, fresh); return -ENOMEM; }
    store<u64>(sptep, makeNonLeaf(child));
    occAdd(table, 1);
    tablesAdd(pt, 1);
    fresh |= 1 << (l - 1);
    table = child;
  }
  const sptep = table + (indexAt(<u64>gfn, level) << 3);
  if (spteIsPresent(load<u64>(sptep))) { unwindFresh(pt, gfn, fresh); return -EEXIST; }
  store<u64>(sptep, makeLeaf(pfn, level, state));
  occAdd(table, 1);
  leavesAdd(pt, level, 1);
  return 0;
}

/** Free the tables ptMap allocated before it failed (they are empty), deepest first. */
function unwindFresh(pt: usize, gfn: u32, fresh: u32): void {
  if (fresh == 0) return;
  for (let l: u32 = 1; l <= <u32>PT_LEVELS; l++) {
    if (!(fresh & (1 << l))) continue;
    // the table at level l hangs off the entry at level l + 1 (or is the root)
    if (l == PT_LEVELS) {
      pageFree(load<u32>(pt, PT_ROOT), 0);
      store<u32>(pt, 0, PT_ROOT);
    } else {
      const parentp = entryAbove(pt, gfn, l + 1);
      const table = spteChild(load<u64>(parentp));
      pageFree(table, 0);
      store<u64>(parentp, 0);
      occAdd(<u32>(parentp & ~4095), -1);
    }
    tablesAdd(pt, -1);
  }
}

/** Address of the entry at `level` on the path to gfn (the path must exist down to that level). */
function entryAbove(pt: usize, gfn: u32, level: u32): u32 {
  let table = load<u32>(pt, PT_ROOT);
  for (let l: u32 = PT_LEVELS; l > level; l--) table = spteChild(load<u64>(table + (indexAt(<u64>gfn, l) << 3)));
  return table + (indexAt(<u64>gfn, level) << 3);
}

/**
 * Split the huge leaf at *sptep (level 2 or 3) into a child table of 512 leaves one level down, same pfns and
 * state (tdp_mmu_split_huge_page / TDX DEMOTE). -ENOMEM if no table page; -EINVAL if not a huge leaf.
 */
export function ptDemoteAt(pt: usize, sptep: u32): i32 {
  const e = load<u64>(sptep);
  if (!spteIsPresent(e) || !spteIsLeaf(e)) return -EINVAL;
  const level = spteLevel(e);
  if (level < 2) return -EINVAL;
  const child = pageAlloc(0);
  if (child == 0) return -ENOMEM;
  const pfn = sptePfn(e);
  const step = <u32>levelPages(level - 1);
  const state = spteState(e);
  for (let i: u32 = 0; i < 512; i++) store<u64>(child + (i << 3), makeLeaf(pfn + i * step, level - 1, state));
  store<u16>(occupancyAt(child), 512);
  store<u64>(sptep, makeNonLeaf(child));
  tablesAdd(pt, 1);
  leavesAdd(pt, level, -1);
  leavesAdd(pt, level - 1, 512);
  return 0;
}

/** Demote the leaf of `level` that maps gfn. -ENOENT if gfn is not mapped by a leaf of that level. */
export function ptDemote(pt: usize, gfn: u32, level: u32): i32 {
  const p = ptWalkLeaf(pt, gfn);
  if (p == 0 || spteLevel(load<u64>(p)) != level) return -ENOENT;
  return ptDemoteAt(pt, p);
}

// Result of the last zap, per instance: leaves removed, and the gfn span they covered.
let zapCount: u32 = 0;
let zapStart: u64 = 0;
let zapEnd: u64 = 0;
export function ptLastZapCount(): u32 { return zapCount; }
export function ptLastZapStart(): u64 { return zapStart; }
export function ptLastZapEnd(): u64 { return zapEnd; }

export const ZAP_WHOLE: u32 = 0; //   a huge leaf partly inside the range is zapped whole (non-TDX KVM)
export const ZAP_DEMOTE: u32 = 1; //  ... is demoted first, so exactly the range goes (TDX "precise zapping")
export const ZAP_KEEP_TABLES: u32 = 2; // | either: every table stays, only leaves go (KVM: tdp_mmu_zap_leafs)
export const ZAP_KEEP_EMPTIED: u32 = 4; // | either: subtrees inside the range go, tables the zap empties stay

/**
 * Remove every leaf mapping a gfn in [start, end) (tdp_mmu_zap_leafs). A huge leaf that sticks out of the range is
 * zapped whole or demoted first, as `partial` says; a table wholly inside the range has its leaves cleared, or with
 * `partial` lacking ZAP_KEEP_TABLES goes with its subtree. Tables a zap empties stay. Returns the number of leaves
 * removed (ptLastZapStart/End give the span), or -ENOMEM when a demotion needed a table page (leaves zapped before
 * that point stay zapped, as in the kernel).
 */
export function ptZapRange(pt: usize, it: TdpIter, start: u64, end: u64, partial: u32): i32 {
  zapCount = 0;
  zapStart = end;
  zapEnd = start;
  const root = load<u32>(pt, PT_ROOT);
  if (end == start + 1 && root != 0) { const r = zapOneGfn(pt, root, start, partial); if (r >= 0) return r; }
  tdpIterStart(it, root, 1, start, end);
  while (it.valid) {
    const e = it.oldSpte;
    if (spteIsPresent(e) && !spteIsLeaf(e) && it.gfn >= start && it.gfn + levelPages(it.level) <= end) {
      // a whole subtree inside the range: its leaves cleared table by table, or the subtree dropped in one go
      const level = it.level;
      const keep = (partial & ZAP_KEEP_TABLES) != 0;
      const n = keep ? zapSubtreeLeaves(pt, spteChild(e), level - 1) : zapSubtreeFree(pt, spteChild(e), level - 1);
      if (n != 0 || !keep) {
        zapCount += n;
        if (it.gfn < zapStart) zapStart = it.gfn;
        if (it.gfn + levelPages(level) > zapEnd) zapEnd = it.gfn + levelPages(level);
      }
      if (!keep) {
        store<u64>(it.sptep, 0);
        it.oldSpte = 0;
        if (occAdd(load<u32>(ptPathAt(it, level)), -1) == 0 && (partial & ZAP_KEEP_EMPTIED) == 0) freeEmptyUpwards(pt, it);
      }
      tdpIterSkip(it); // past the subtree
      continue;
    }
    if (spteIsPresent(e) && spteIsLeaf(e)) {
      const level = it.level;
      const size = levelPages(level);
      if (it.gfn < start || it.gfn + size > end) {
        if ((partial & ZAP_DEMOTE) != 0 && level > 1) {
          const r = ptDemoteAt(pt, it.sptep);
          if (r < 0) return r;
          it.oldSpte = load<u64>(it.sptep);
          tdpIterNext(it); // steps down into the new table
          continue;
        }
      }
      store<u64>(it.sptep, 0);
      leavesAdd(pt, level, -1);
      zapCount++;
      if (it.gfn < zapStart) zapStart = it.gfn;
      if (it.gfn + size > zapEnd) zapEnd = it.gfn + size;
      if (occAdd(load<u32>(ptPathAt(it, level)), -1) == 0 && (partial & (ZAP_KEEP_TABLES | ZAP_KEEP_EMPTIED)) == 0) {
        freeEmptyUpwards(pt, it);
      }
    }
    tdpIterNext(it);
  }
  return <i32>zapCount;
}

/**
 * ptZapRange of the single gfn g without the iterator: the same walk tdp_iter makes for a one-gfn range (root to the
 * leaf, one entry per level, no side steps), so the same leaf goes and the same counters change. -1 (nothing
 * changed) when a huge leaf must be demoted first: the iterator path does that.
 */
function zapOneGfn(pt: usize, root: u32, g: u64, partial: u32): i32 {
  let t4: u32 = root, t3: u32 = 0, t2: u32 = 0, t1: u32 = 0;
  for (let level: u32 = PT_LEVELS; level >= 1; level--) {
    const table = level == 4 ? t4 : level == 3 ? t3 : level == 2 ? t2 : t1;
    const sptep = table + (indexAt(g, level) << 3);
    const e = load<u64>(sptep);
    if (!spteIsPresent(e)) return 0;
    if (!spteIsLeaf(e)) {
      if (level == 4) t3 = spteChild(e); else if (level == 3) t2 = spteChild(e); else t1 = spteChild(e);
      continue;
    }
    if (level > 1 && (partial & ZAP_DEMOTE) != 0) return -1;
    store<u64>(sptep, 0);
    leavesAdd(pt, level, -1);
    zapCount = 1;
    zapStart = g & ~(levelPages(level) - 1);
    zapEnd = zapStart + levelPages(level);
    if ((partial & (ZAP_KEEP_TABLES | ZAP_KEEP_EMPTIED)) != 0) { occAdd(table, -1); return 1; }
    // freeEmptyUpwards: the emptied table goes, then each ancestor it empties (never the root)
    let l = level, t = table;
    while (occAdd(t, -1) == 0 && l < <u32>PT_LEVELS) {
      pageFree(t, 0);
      tablesAdd(pt, -1);
      l++;
      t = l == 4 ? t4 : l == 3 ? t3 : t2;
      store<u64>(t + (indexAt(g, l) << 3), 0);
    }
    return 1;
  }
  return 0;
}

/**
 * The table under the iterator became empty: free it and every ancestor that empties with it (never the root),
 * leaving the iterator on the now non-present parent entry so the walk continues sideways.
 */
function freeEmptyUpwards(pt: usize, it: TdpIter): void {
  while (it.level < it.rootLevel) {
    const table = load<u32>(ptPathAt(it, it.level));
    if (load<u16>(occupancyAt(table)) != 0) break;
    pageFree(table, 0);
    tablesAdd(pt, -1);
    it.level++;
    it.gfn &= ~(levelPages(it.level) - 1);
    const parent = load<u32>(ptPathAt(it, it.level));
    it.sptep = parent + (indexAt(it.gfn, it.level) << 3);
    store<u64>(it.sptep, 0);
    it.oldSpte = 0;
    occAdd(parent, -1);
  }
}

/** Free every table (the owner is going away). */
export function ptDestroy(pt: usize): void {
  const root = load<u32>(pt, PT_ROOT);
  if (root != 0) zapSubtreeFree(pt, root, PT_LEVELS);
  memory.fill(pt, 0, PT_OBJ_SIZE);
}
