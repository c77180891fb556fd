// The event ring: every mechanism reports what it does here, in the order it does it. One writer at a time (the
// simulator lock is held), any number of lock-free readers: a reader takes RING_HEAD, reads an entry and accepts
// it only if the entry's seq still equals the sequence number it expected (a lapped entry shows a newer seq).
// Per-kind counters (and sums of the `count` field) live in the header; check.stats reads them.
import {
  RING_BASE, RING_ENTRY_SIZE, RING_SIZE, RING_HEAD, RING_HEAD_HI, H_COUNTERS, H_COUNT_SUMS, H_STEP,
} from "./layout";

// Flag bits of an entry (the boolean fields of SCENARIOS.md's event kinds).
export const EVF_SHARED: u32 = 1; //   gmem.lock shared / set_attr to shared / guest.* private=false
export const EVF_SECURE: u32 = 2; //   iommu.* secure
export const EVF_OK: u32 = 4; //       gmem.refcount_check ok
export const EVF_PRIVATE: u32 = 8; //  kvm.zap table private / arch.* private / guest.* private

/**
 * Append one event. a: object index (gmem / vm / iommu), b..e: kind-specific fields (start, end, count, level,
 * reason ...). The seq word is stored last with a release store, so a reader never sees a half-written entry as
 * valid.
 */
export function emit(kind: u32, flags: u32, a: u32, b: u32, c: u32, d: u32, e: u32): void {
  const head = atomic.load<u32>(RING_HEAD);
  const slot = <usize>RING_BASE + <usize>(head & (RING_SIZE - 1)) * RING_ENTRY_SIZE;
  atomic.store<u32>(slot, 0xffffffff); // invalidate while writing
  store<u32>(slot, kind | (flags << 16), 4);
  store<u32>(slot, a, 8);
  store<u32>(slot, b, 12);
  store<u32>(slot, c, 16);
  store<u32>(slot, d, 20);
  store<u32>(slot, e, 24);
  store<u32>(slot, load<u32>(H_STEP), 28);
  atomic.store<u32>(slot, head);
  if (head == 0xffffffff) store<u32>(RING_HEAD_HI, load<u32>(RING_HEAD_HI) + 1);
  atomic.store<u32>(RING_HEAD, head + 1);
  const ctr = <usize>H_COUNTERS + (<usize>kind << 3);
  store<u64>(ctr, load<u64>(ctr) + 1);
}

/** Count one more of an extra counter (H_COUNTERS index >= CTR_REASON_BASE). */
export function counterBump(index: u32): void {
  const at = <usize>H_COUNTERS + (<usize>index << 3);
  store<u64>(at, load<u64>(at) + 1);
}

/** Add to the per-kind sum of `count` fields (zaps, unmaps ...). */
export function countAdd(kind: u32, n: u32): void {
  const at = <usize>H_COUNT_SUMS + (<usize>kind << 3);
  store<u64>(at, load<u64>(at) + <u64>n);
}
