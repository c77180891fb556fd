// The walker: a pre-order iterator over one radix table, like struct tdp_iter (arch/x86/kvm/mmu/tdp_iter.c). Every
// table kind (KVM private / shared, IOMMU secure / non-secure) is walked by it; lib/pagetable.ts builds map, zap and
// count on top.
import { PT_LEVELS, levelPages, indexAt, spteIsPresent, spteIsLeaf, spteChild } from "./ptentry";


/**
 * A walk over [start, end) in pre-order, like struct tdp_iter:
 *   root, rootLevel      the table walked and its level
 *   minLevel             never step below this level
 *   level, gfn           the entry under the iterator: level and the first gfn it maps
 *   nextLastLevelGfn     where the walk resumes after a step up (the lowest gfn not yet visited)
 *   end                  exclusive end of the walk
 *   sptep, oldSpte       address of the entry and its value when the iterator reached it
 *   valid                0 once the walk is over
 *   pt1..pt4             pt_path: the table at each level on the way down
 */
// @ts-ignore: decorator
@unmanaged export class TdpIter {
  root: u32; rootLevel: u32; minLevel: u32; level: u32;
  gfn: u64; nextLastLevelGfn: u64; end: u64;
  sptep: u32; valid: u32; oldSpte: u64;
  pt1: u32; pt2: u32; pt3: u32; pt4: u32;
}

// @ts-ignore: decorator
@inline export function ptPathAt(it: TdpIter, level: u32): usize {
  return changetype<usize>(it) + offsetof<TdpIter>("pt1") + ((<usize>level - 1) << 2);
}

function tdpIterRefreshSptep(it: TdpIter): void {
  const table = load<u32>(ptPathAt(it, it.level));
  it.sptep = table + (indexAt(it.gfn, it.level) << 3);
  it.oldSpte = load<u64>(it.sptep);
}

/** tdp_iter_start: position on the root entry covering start. */
export function tdpIterStart(it: TdpIter, root: u32, minLevel: u32, start: u64, end: u64): void {
  it.root = root;
  it.rootLevel = PT_LEVELS;
  it.minLevel = minLevel;
  it.nextLastLevelGfn = start;
  it.end = end;
  it.level = PT_LEVELS;
  store<u32>(ptPathAt(it, PT_LEVELS), root);
  it.gfn = start & ~(levelPages(PT_LEVELS) - 1);
  it.valid = (root != 0 && start < end) ? 1 : 0;
  if (it.valid) tdpIterRefreshSptep(it);
}

/** Step into the child table of the current entry, if it has one and we may go lower. */
function tryStepDown(it: TdpIter): bool {
  if (it.level == it.minLevel) return false;
  const e = load<u64>(it.sptep); // re-read: the caller may have changed the entry
  if (!spteIsPresent(e) || spteIsLeaf(e)) return false;
  it.level--;
  store<u32>(ptPathAt(it, it.level), spteChild(e));
  it.gfn = it.nextLastLevelGfn & ~(levelPages(it.level) - 1);
  tdpIterRefreshSptep(it);
  return true;
}

/**
 * Step to the next present entry of the same table, or its last entry; false at the table's last entry. Every walk
 * here acts on present entries only, so the non-present ones are stepped over in one scan (as
 * for_each_shadow_present_tdp_pte does): KVM keeps emptied tables, and a walk must not pay 512 steps for each.
 */
function tryStepSide(it: TdpIter): bool {
  const idx = indexAt(it.gfn, it.level);
  if (idx == 511) return false;
  const shift = <u64>(9 * (it.level - 1)), lp = <u64>1 << shift;
  // scan no further than this table's last entry, nor past the last entry that starts before the walk's end
  let k = <u64>(511 - idx);
  const next = it.gfn + lp;
  const inRange = next < it.end ? (it.end - next + lp - 1) >> shift : 1;
  if (inRange < k) k = inRange;
  let p = it.sptep + 8, n: u64 = 1;
  const last = it.sptep + (<u32>k << 3);
  let e = load<u64>(p);
  while (!spteIsPresent(e) && p < last) { p += 8; n++; e = load<u64>(p); }
  it.gfn += lp * n;
  it.nextLastLevelGfn = it.gfn;
  it.sptep = p;
  it.oldSpte = e;
  return true;
}

/** Step up to the parent entry; false at the root. */
function tryStepUp(it: TdpIter): bool {
  if (it.level == it.rootLevel) return false;
  it.level++;
  it.gfn &= ~(levelPages(it.level) - 1);
  tdpIterRefreshSptep(it);
  return true;
}

/**
 * tdp_iter_next: 1. step down into a non-leaf entry; 2. else step to the next entry of this table; 3. else step up
 * and try the side step again; the walk ends at the root's last entry or once gfn >= end.
 */
export function tdpIterNext(it: TdpIter): void {
  if (tryStepDown(it)) { if (it.gfn >= it.end) it.valid = 0; return; }
  tdpIterSkip(it);
}

/** tdp_iter_next without the step down: past the current entry and whatever hangs below it. */
export function tdpIterSkip(it: TdpIter): void {
  do {
    if (tryStepSide(it)) { if (it.gfn >= it.end) it.valid = 0; return; }
  } while (tryStepUp(it));
  it.valid = 0;
}

