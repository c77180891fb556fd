// The footprint of an atomic step: the shared resources it read or wrote, for the explorer's independence test
// (two steps commute when neither writes a resource the other touches). Recorded by the lock helpers and by the
// mechanisms that touch state no lock covers (page content, the IO tables a DMA walks); kept in this instance's
// block, reset at the start of every step.
//   block: +0 count u32, then (resource u32, mode u32) pairs; resource = object index << 3 | RES_*
import { IN_FOOTPRINT, FOOTPRINT_MAX, OBJ_INDEX_BITS } from "../abi/layout";
import { instBase, inThreadMode } from "../mm/instance";

export const RES_LOCK: u32 = 0; //     an object's lock and the state it guards (inode: invalidate_lock; VM: mmu_lock;
//                                    IOMMU: domain lock)
export const RES_CONTENT: u32 = 1; //  page content of an inode
export const RES_HOST: u32 = 2; //     an inode's host side: PTEs, pins
export const RES_FILEMAP: u32 = 3; //  an inode's folios (allocation under the shared invalidate_lock)
export const RES_ALL: u32 = 0xffffffff; // everything (a step whose reach is not tracked)
export const FP_READ: u32 = 1;
export const FP_WRITE: u32 = 2;

/** Record that the current step touches `sub` of the object whose handle index is `obj`. */
// @ts-ignore: decorator
@inline export function fpTouch(obj: u32, sub: u32, mode: u32): void {
  if (inThreadMode()) fpRecord(obj, sub, mode); // only a thread's atomic step (STOP_ONE / STOP_PROBE) is asked for it
}

function fpRecord(obj: u32, sub: u32, mode: u32): void {
  const b = instBase() + IN_FOOTPRINT;
  const res = ((obj & ((1 << OBJ_INDEX_BITS) - 1)) << 3) | sub;
  const n = load<u32>(b);
  for (let i: u32 = 0; i < n; i++) {
    const p = b + 8 + (<usize>i << 3);
    if (load<u32>(p) == res) { store<u32>(p, load<u32>(p, 4) | mode, 4); return; }
  }
  if (n == 1 && load<u32>(b + 8) == RES_ALL) return; // already everything
  if (n >= <u32>FOOTPRINT_MAX) { fpTouchAll(); return; }
  store<u32>(b + 8 + (<usize>n << 3), res);
  store<u32>(b + 12 + (<usize>n << 3), mode);
  store<u32>(b, n + 1);
}

/** The step reaches everything (creating, binding or destroying objects). */
export function fpTouchAll(): void {
  if (!inThreadMode()) return;
  const b = instBase() + IN_FOOTPRINT;
  store<u32>(b + 8, RES_ALL);
  store<u32>(b + 12, FP_WRITE);
  store<u32>(b, 1);
}

export function fpReset(): void { store<u32>(instBase() + IN_FOOTPRINT, 0); }
// @ts-ignore: decorator
@inline export function fpAddress(): u32 { return <u32>(instBase() + IN_FOOTPRINT); }
