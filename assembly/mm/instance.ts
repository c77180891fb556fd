// This instance's block of linear memory (INSTANCE_BASE + slot * INSTANCE_SIZE): out-values of the last query,
// iterator frames, the footprint of the last atomic step, and an op record for operations that run to the end in
// one call. Only the block's address is a Wasm global (globals are per instance, i.e. per thread).
import {
  INSTANCE_BASE, INSTANCE_SIZE, MAX_INSTANCES, IN_OUT, IN_STATE, IN_OP, IN_CALL, IN_RUNNING_OP, IN_STEP, IN_OP_SEQ, IN_SEQ,
  H_STEPS, H_LIVE, H_INSTANCES,
} from "../abi/layout";

let base: usize = 0;
let slotId: u32 = 0xffffffff;

/** Claim a free instance slot (IN_STATE of a free slot reads 0 .. 1 claims it); false when all are taken. */
export function instanceClaim(): bool {
  for (let s: u32 = 0; s < <u32>MAX_INSTANCES; s++) {
    const b = <usize>INSTANCE_BASE + <usize>s * INSTANCE_SIZE;
    if (atomic.cmpxchg<u32>(b + IN_STATE, 0, 1) == 0) {
      memory.fill(b, 0, IN_STATE); // (a previous occupant's counters were folded into the header when it left)
      memory.fill(b + IN_STATE + 4, 0, INSTANCE_SIZE - IN_STATE - 4);
      store<u32>(b + IN_STEP, atomic.load<u32>(H_STEPS));
      atomic.add<u32>(H_LIVE, 1);
      // before this slot can take a batch: a reader that sees the batch in RING_HEAD then sees the slot to scan
      for (;;) { const m = atomic.load<u32>(H_INSTANCES); if (m > s || atomic.cmpxchg<u32>(H_INSTANCES, m, s + 1) == m) break; }
      base = b;
      slotId = s;
      return true;
    }
  }
  return false;
}

/** Mark this instance inside (true) or outside a call: IN_CALL is odd inside. Others read it to wait for calls to end. */
// @ts-ignore: decorator
@inline export function callMark(inside: bool): void {
  const c = load<u32>(base + IN_CALL);
  if (((c & 1) != 0) != inside) atomic.store<u32>(base + IN_CALL, c + 1);
}
/** Views' seqcount (IN_SEQ): odd from a call's start until its changes are done. */
// @ts-ignore: decorator
@inline export function seqMark(inside: bool): void {
  const c = load<u32>(base + IN_SEQ);
  if (((c & 1) != 0) != inside) atomic.store<u32>(base + IN_SEQ, c + 1);
}
/**
 * callMark and seqMark together (enter: both odd; leave: both even), as one u64 store of the two adjacent words:
 * one full barrier where two were (on x86 each atomic store is an XCHG). Either count already there stays.
 */
// @ts-ignore: decorator
@inline export function callSeqMark(inside: bool): void {
  const v = load<u64>(base + IN_CALL);
  const c = <u32>v, q = <u32>(v >> 32);
  const want: u32 = inside ? 1 : 0;
  const nc = (c & 1) != want ? c + 1 : c, nq = (q & 1) != want ? q + 1 : q;
  atomic.store<u64>(base + IN_CALL, <u64>nc | (<u64>nq << 32));
}
/** A call that changed nothing (a probe): the count goes back to the even value it had, readers keep their reads. */
// @ts-ignore: decorator
@inline export function seqGiveBack(): void {
  const c = load<u32>(base + IN_SEQ);
  if ((c & 1) != 0) atomic.store<u32>(base + IN_SEQ, c - 1);
}
// @ts-ignore: decorator
@inline export function inCall(): bool { return (load<u32>(base + IN_CALL) & 1) != 0; }
/** The op this instance is running now (0: none): a waiter tells a running holder from a paused one by it. */
// @ts-ignore: decorator
@inline export function setRunningOp(id: u32): void { store<u32>(base + IN_RUNNING_OP, id); } // (read racily by waiters)
/** This instance's step counter (the mutating calls it performed): events carry it. */
// @ts-ignore: decorator
@inline export function instStep(): u32 { return load<u32>(base + IN_STEP); }
// @ts-ignore: decorator
@inline export function instStepAdd(d: i32): void { store<u32>(base + IN_STEP, load<u32>(base + IN_STEP) + <u32>d); }
/** A fresh op id, unique across instances: (slot + 1) << 24 | this instance's sequence (never 0). */
export function opIdNew(): u32 {
  let seq = (load<u32>(base + IN_OP_SEQ) + 1) & 0xffffff;
  if (seq == 0) seq = 1;
  store<u32>(base + IN_OP_SEQ, seq);
  return ((slotId + 1) << 24) | seq;
}

/** The block of the instance in `slot`. */
// @ts-ignore: decorator
@inline export function instBlock(slot: u32): usize { return <usize>INSTANCE_BASE + <usize>slot * INSTANCE_SIZE; }

/** Give the slot back (a detaching instance). */
export function instanceRelease(): void {
  if (base == 0) return;
  atomic.sub<u32>(H_LIVE, 1);
  atomic.store<u32>(base + IN_STATE, 0);
  base = 0;
  slotId = 0xffffffff;
}

// @ts-ignore: decorator
@inline export function instBase(): usize { return base; }
// @ts-ignore: decorator
@inline export function instSlot(): u32 { return slotId; }
// @ts-ignore: decorator
@inline export function instOpRecord(): u32 { return <u32>(base + IN_OP); }

/** Set out-value i (OUT_* of abi/consts.ts). */
// @ts-ignore: decorator
@inline export function out(i: u32, v: u32): void { store<u32>(base + IN_OUT + (<usize>i << 2), v); }
// @ts-ignore: decorator
@inline export function outGet(i: u32): u32 { return load<u32>(base + IN_OUT + (<usize>i << 2)); }
/** Address of out-value i, for functions that fill a block of them. */
// @ts-ignore: decorator
@inline export function outAt(i: u32): usize { return base + IN_OUT + (<usize>i << 2); }

// How this instance runs operations: false (a call: an op that cannot make progress reports what the kernel
// returns to a caller that would have to wait: EBUSY, "retry", EAGAIN ...), true (a thread of the explorer or a
// worker: such a step is ST_BLOCKED and changes nothing).
let threadMode: bool = false;
export function setThreadMode(on: bool): void { threadMode = on; }
// @ts-ignore: decorator
@inline export function inThreadMode(): bool { return threadMode; }
