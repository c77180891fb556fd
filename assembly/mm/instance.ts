// This instance's block of linear memory (INSTANCE_BASE + slot * INSTANCE_SIZE): out-values of the last query,
// iterator frames, the footprint of the last atomic step, and an op record for operations that run to the end in
// one call. Only the block's address is a Wasm global (globals are per instance, i.e. per thread).
import { INSTANCE_BASE, INSTANCE_SIZE, MAX_INSTANCES, IN_OUT, IN_STATE, IN_OP } from "../abi/layout";

let base: usize = 0;
let slotId: u32 = 0xffffffff;

/** Claim a free instance slot (IN_STATE of a free slot reads 0 .. 1 claims it); false when all are taken. */
export function instanceClaim(): bool {
  for (let s: u32 = 0; s < <u32>MAX_INSTANCES; s++) {
    const b = <usize>INSTANCE_BASE + <usize>s * INSTANCE_SIZE;
    if (atomic.cmpxchg<u32>(b + IN_STATE, 0, 1) == 0) {
      memory.fill(b, 0, IN_STATE);
      base = b;
      slotId = s;
      return true;
    }
  }
  return false;
}

/** Give the slot back (a detaching instance). */
export function instanceRelease(): void {
  if (base == 0) return;
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
