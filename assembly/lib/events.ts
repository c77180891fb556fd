// The event ring: every mechanism reports what it does here, in the order it does it. Writers reserve a slot by
// advancing RING_HEAD atomically, fill it, and publish it by storing the slot's sequence number last; readers take
// RING_HEAD, read an entry and accept it only if its seq still equals the number they expected (a lapped entry
// shows a newer seq). Per-kind counters (and sums of the `count` field) live in the header; check.stats reads them.
//   entry (RING_ENTRY_SIZE): +0 seq u32 (published last), +4 kind u16, +6 flags u16, +8 a, +12 b, +16 c, +20 d,
//   +24 e, +28 step u32 (H_STEP when emitted). What a..e hold per kind: EVL_* of abi/events.ts.
import {
  RING_BASE, RING_ENTRY_SIZE, RING_SIZE, RING_HEAD, RING_HEAD_HI, H_COUNTERS, H_COUNT_SUMS, H_STEP,
} from "../abi/layout";

const E_SEQ: usize = 0;
const E_KIND: usize = 4;
const E_A: usize = 8;
const E_B: usize = 12;
const E_C: usize = 16;
const E_D: usize = 20;
const E_E: usize = 24;
const E_STEP: usize = 28;

/** Append one event: kind, EVF_* flags and the five fields its EVL_* layout names. */
export function emit(kind: u32, flags: u32, a: u32, b: u32, c: u32, d: u32, e: u32): void {
  const head = atomic.add<u32>(RING_HEAD, 1);
  if (head == 0xffffffff) atomic.add<u32>(RING_HEAD_HI, 1);
  const slot = <usize>RING_BASE + <usize>(head & (RING_SIZE - 1)) * RING_ENTRY_SIZE;
  atomic.store<u32>(slot, head - 1, E_SEQ); // invalid while written (a reader expects exactly `head`)
  store<u32>(slot, kind | (flags << 16), E_KIND);
  store<u32>(slot, a, E_A);
  store<u32>(slot, b, E_B);
  store<u32>(slot, c, E_C);
  store<u32>(slot, d, E_D);
  store<u32>(slot, e, E_E);
  store<u32>(slot, load<u32>(H_STEP), E_STEP);
  atomic.store<u32>(slot, head, E_SEQ);
  counterBump(kind);
}

/** Count one more of a counter (an event kind, or CTR_REASON_BASE + reason). */
export function counterBump(index: u32): void {
  const at = <usize>H_COUNTERS + (<usize>index << 3);
  store<u64>(at, load<u64>(at) + 1);
}

/** Add to the per-kind sum of `count` fields (zaps, unmaps ...). */
export function countAdd(kind: u32, n: u32): void {
  const at = <usize>H_COUNT_SUMS + (<usize>kind << 3);
  store<u64>(at, load<u64>(at) + <u64>n);
}
