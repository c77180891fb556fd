// Read-only walks of a radix table (lib/pagetable.ts): counting the leaves of a range for the checks, and reading
// what a zap of one gfn will write (the prefetch a small conversion does before it zaps: gmem/notifier.ts).
import { pagemapEntry } from "../mm/alloc";
import { TdpIter, tdpIterStart, tdpIterNext } from "./tdp_iter";
import { spteIsPresent, spteIsLeaf } from "./ptentry";
import { PT_ROOT, ptWalkLeaf } from "./pagetable";

/**
 * Read what zapping gfn's leaf writes: the leaf and its table's occupancy count (a prefetch: the value only keeps
 * the loads; 0 when nothing maps gfn).
 */
export function ptTouch(pt: usize, gfn: u32): u64 {
  const p = ptWalkLeaf(pt, gfn);
  return p == 0 ? 0 : load<u64>(p) + <u64>load<u16>(pagemapEntry(p & ~4095) + 2);
}

/** Count present leaves in [start, end) at each level by walking (not the counters); for checks. */
export function ptCountRange(pt: usize, it: TdpIter, start: u64, end: u64): u32 {
  let n: u32 = 0;
  tdpIterStart(it, load<u32>(pt, PT_ROOT), 1, start, end);
  while (it.valid) {
    if (spteIsPresent(it.oldSpte) && spteIsLeaf(it.oldSpte)) n++;
    tdpIterNext(it);
  }
  return n;
}
