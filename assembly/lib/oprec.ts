// The operation record: the state of an operation that runs as a sequence of atomic steps (op/engine.ts), one 4 KiB
// page. An operation that runs to the end within one call uses its instance's own record (IN_OP); one that pauses
// or runs in an explorer thread gets a heap page and a handle. Each mechanism names the generic slots it uses.
//
//   +0 kind u32 (OPK_*)          +4 next step u32 (STEP_*)     +8 flags u32 (per kind)      +12 result i32
//   +16 error_index u32          +20 op id u32 (lock owner)    +24 handle u32 (0: none)     +28 last step u32
//   +32 obj u32 (main object)    +36 obj2 u32                  +40 start u32                +44 end u32
//   +48 a0 .. +60 a3 u32         +64 seq u32 (a snapshot)      +68 pfn u32                  +72 order u32
//   +76 retries u32              +80 nworks u32                +84 works ptr u32            +88 works heap order
//   +92 rollback stop u32        +96 f0 .. +120 f3 f64 (the arguments' byte quantities)
//   +128 h0 u32, +132 h1 u32: handles of the objects the op names (resolved again at every step into obj, obj2)
//   +136 thread u32 (who runs it: the explorer's thread number, for traces)
//   +160 inline list (work ranges of a conversion, chunks of an IOMMU map) up to OP_INLINE_MAX pairs of u32
//   +4064 post-condition bookkeeping (snapshot block, its order, "was a no-op")
import { PAGE_SIZE } from "../abi/layout";
import { pageAllocRaw, pageFree, orderFor } from "../mm/alloc";

export const OP_KIND: usize = 0;
export const OP_STEP: usize = 4;
export const OP_FLAGS: usize = 8;
export const OP_RESULT: usize = 12;
export const OP_ERR_INDEX: usize = 16;
export const OP_ID: usize = 20;
export const OP_HANDLE: usize = 24;
export const OP_LAST: usize = 28;
export const OP_OBJ: usize = 32;
export const OP_OBJ2: usize = 36;
export const OP_START: usize = 40;
export const OP_END: usize = 44;
export const OP_A0: usize = 48;
export const OP_A1: usize = 52;
export const OP_A2: usize = 56;
export const OP_A3: usize = 60;
export const OP_SEQ: usize = 64;
export const OP_PFN: usize = 68;
export const OP_ORDER: usize = 72;
export const OP_RETRIES: usize = 76;
export const OP_NLIST: usize = 80;
export const OP_LIST: usize = 84;
export const OP_LIST_ORDER: usize = 88;
export const OP_ROLLBACK_STOP: usize = 92;
export const OP_F0: usize = 96;
export const OP_F1: usize = 104;
export const OP_F2: usize = 112;
export const OP_F3: usize = 120;
export const OP_H0: usize = 128;
export const OP_H1: usize = 132;
export const OP_THREAD: usize = 136;
export const OP_INLINE: usize = 160;
export const OP_POST: usize = 4064;
export const OP_SNAP: usize = OP_POST + 0;
export const OP_SNAP_ORDER: usize = OP_POST + 4;
export const OP_WASNOOP: usize = OP_POST + 8;
export const OP_POST_SIZE: usize = 12;
export const OP_INLINE_MAX: u32 = <u32>((OP_POST - OP_INLINE) >> 3);
export const OP_LIST_INLINE: u32 = 0xff; //        OP_LIST_ORDER of a list that lives inline
export const OP_RECORD_SIZE: u32 = PAGE_SIZE;

// @ts-ignore: decorator
@inline export function opKind(op: u32): u32 { return load<u32>(op, OP_KIND); }
// @ts-ignore: decorator
@inline export function opStep(op: u32): u32 { return load<u32>(op, OP_STEP); }
// @ts-ignore: decorator
@inline export function opSetStep(op: u32, s: u32): void { store<u32>(op, s, OP_STEP); }
// @ts-ignore: decorator
@inline export function opFlags(op: u32): u32 { return load<u32>(op, OP_FLAGS); }
// @ts-ignore: decorator
@inline export function opSetFlag(op: u32, f: u32): void { store<u32>(op, load<u32>(op, OP_FLAGS) | f, OP_FLAGS); }
// @ts-ignore: decorator
@inline export function opResult(op: u32): i32 { return load<i32>(op, OP_RESULT); }
// @ts-ignore: decorator
@inline export function opSetResult(op: u32, r: i32): void { store<i32>(op, r, OP_RESULT); }
// @ts-ignore: decorator
@inline export function opId(op: u32): u32 { return load<u32>(op, OP_ID); }
// @ts-ignore: decorator
@inline export function opObj(op: u32): u32 { return load<u32>(op, OP_OBJ); }
// @ts-ignore: decorator
@inline export function opStart(op: u32): u32 { return load<u32>(op, OP_START); }
// @ts-ignore: decorator
@inline export function opEnd(op: u32): u32 { return load<u32>(op, OP_END); }
// @ts-ignore: decorator
@inline export function opA(op: u32, i: u32): u32 { return load<u32>(<usize>op + OP_A0 + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline export function opSetA(op: u32, i: u32, v: u32): void { store<u32>(<usize>op + OP_A0 + (<usize>i << 2), v); }
// @ts-ignore: decorator
@inline export function opF(op: u32, i: u32): f64 { return load<f64>(<usize>op + OP_F0 + (<usize>i << 3)); }
// @ts-ignore: decorator
@inline export function opSetF(op: u32, i: u32, v: f64): void { store<f64>(<usize>op + OP_F0 + (<usize>i << 3), v); }

/** Pair k of the op's list (work ranges, map chunks): its first and second u32. */
// @ts-ignore: decorator
@inline export function opListA(op: u32, k: u32): u32 { return load<u32>(<usize>load<u32>(op, OP_LIST) + (<usize>k << 3)); }
// @ts-ignore: decorator
@inline export function opListB(op: u32, k: u32): u32 { return load<u32>(<usize>load<u32>(op, OP_LIST) + (<usize>k << 3), 4); }
// @ts-ignore: decorator
@inline export function opListSet(op: u32, k: u32, a: u32, b: u32): void {
  const p = <usize>load<u32>(op, OP_LIST) + (<usize>k << 3);
  store<u32>(p, a);
  store<u32>(p, b, 4);
}
// @ts-ignore: decorator
@inline export function opNlist(op: u32): u32 { return load<u32>(op, OP_NLIST); }

/** Finish: record the result; the next step is none. */
// @ts-ignore: decorator
@inline export function opFinish(op: u32, result: i32): void {
  store<i32>(op, result, OP_RESULT);
  store<u32>(op, 0xffffffff, OP_STEP);
}
// @ts-ignore: decorator
@inline export function opDone(op: u32): bool { return load<u32>(op, OP_STEP) == 0xffffffff; }

/** Room for n pairs in the op's list: inline when they fit, else a heap block. false on -ENOMEM. */
export function opListReserve(op: u32, n: u32): bool {
  if (n <= OP_INLINE_MAX) {
    store<u32>(op, op + <u32>OP_INLINE, OP_LIST);
    store<u32>(op, OP_LIST_INLINE, OP_LIST_ORDER);
    return true;
  }
  const order = orderFor(<u64>n * 8);
  const list = pageAllocRaw(order);
  if (list == 0) return false;
  store<u32>(op, list, OP_LIST);
  store<u32>(op, order, OP_LIST_ORDER);
  return true;
}

/** Free an out-of-line list (the record itself belongs to whoever made it). */
export function opListRelease(op: u32): void {
  const o = load<u32>(op, OP_LIST_ORDER);
  if (o != OP_LIST_INLINE && load<u32>(op, OP_LIST) != 0) pageFree(load<u32>(op, OP_LIST), o);
  store<u32>(op, OP_LIST_INLINE, OP_LIST_ORDER);
  store<u32>(op, 0, OP_LIST);
  store<u32>(op, 0, OP_NLIST);
}
