// The event rings: every mechanism reports what it does here, in the order it does it. Each instance slot has a ring
// of its own (abi/layout.ts RING_ENTRIES), so two threads never write the same cache lines (a shared ring had each
// thread fetch, line by line, what the other wrote a lap before). One global sequence orders the events of all
// rings: a call takes a batch of sequence numbers with one atomic add on RING_HEAD at its first event (and another
// per further batch), and gives up what it did not use when it ends, so a call's events come after those of every
// call that ended before it began. Readers (bindings/events.ts) merge the rings by sequence number, as the kernel's
// trace reader merges its per-cpu buffers by timestamp (__find_next_entry, with trace_clock_counter's global
// counter as the clock). What a reader needs to know how far it may merge is published per instance in IN_RING_RES:
// RING_RES_PENDING while the instance takes a batch, then the batch (start << 32 | end) until the call ends, then 0.
// An entry is written with plain stores and published by one atomic store of its ring's write position
// (RING_WPOS); only this instance writes its ring, and a reader re-reads the position after reading entries: one a
// lap behind it may have been overwritten meanwhile (lost).
// Counters per kind (and sums of the `count` field) are per instance, folded into the header when it detaches;
// check.stats reads the header plus every attached instance.
//   entry (RING_ENTRY_SIZE): +0 seq u32 (low word of its sequence number), +4 kind u8, +5 the low byte of the
//   sequence number's high word (an idle ring's entry 2^32 numbers old is not taken for a recent one), +6 flags u16,
//   +8 a, +12 b, +16 c, +20 d, +24 e, +28 step u32 (the emitting instance's step counter). What a..e hold per kind:
//   EVL_* of abi/events.ts.
import {
  RING_ENTRIES, RING_BYTES, RING_ENTRY_SIZE, RING_SIZE, RING_HEAD, RING_WPOS, CACHE_LINE, H_COUNTERS, H_COUNT_SUMS,
  H_COUNT_SLOT, MAX_COUNTERS, IN_RING_NEXT, IN_RING_END, IN_RING_HI, IN_RING_RES, RING_RES_PENDING, IN_COUNTERS,
  IN_COUNT_SUMS, IN_STEP, H_STEPS, IN_SEQ, H_CALLS_DONE,
} from "../abi/layout";
import * as EV from "../abi/events";
import { lockingOn } from "../mm/sync";
import { instBase, instSlot, instStep } from "../mm/instance";

const E_SEQ: usize = 0;
const E_KIND: usize = 4;
const E_A: usize = 8;
const E_B: usize = 12;
const E_C: usize = 16;
const E_D: usize = 20;
const E_E: usize = 24;
const E_STEP: usize = 28;
const BATCH: u32 = 16; //         sequence numbers one atomic add on RING_HEAD takes

/** Take a batch of sequence numbers (ring_buffer_lock_reserve's counter clock); the first. */
function reserve(): u32 {
  const ib = instBase();
  if (!lockingOn()) {
    // alone (readers may still be on other threads): publish the batch at the head as it is, then take it if the
    // head has not moved. A reader that read the head before the exchange read it as this batch's start (the head
    // only grows), one that read it after finds the batch published. One fence less than the general way.
    const h = atomic.load<u64>(RING_HEAD);
    const lo = <u32>h;
    atomic.store<u64>(ib + IN_RING_RES, (<u64>lo << 32) | <u64>(lo + BATCH));
    if (atomic.cmpxchg<u64>(RING_HEAD, h, h + BATCH) == h) return taken(ib, h);
  }
  // pending first: a reader that read RING_HEAD before this add must not merge past what it may hand out
  atomic.store<u64>(ib + IN_RING_RES, <u64>RING_RES_PENDING);
  const h = atomic.add<u64>(RING_HEAD, <u64>BATCH), head = taken(ib, h);
  atomic.store<u64>(ib + IN_RING_RES, (<u64>head << 32) | <u64>(head + BATCH));
  return head;
}

/** The batch from h on is this call's: its end and its high word, for emit (this instance's own); its first. */
// @ts-ignore: decorator
@inline function taken(ib: usize, h: u64): u32 {
  store<u32>(ib + IN_RING_END, <u32>h + BATCH);
  store<u32>(ib + IN_RING_HI, <u32>(h >> 32));
  return <u32>h;
}

/** Append one event: kind, EVF_* flags and the five fields its EVL_* layout names. */
// @ts-ignore: decorator
@inline export function emit(kind: u32, flags: u32, a: u32, b: u32, c: u32, d: u32, e: u32): void {
  const ib = instBase();
  let seq = load<u32>(ib + IN_RING_NEXT);
  if (seq == load<u32>(ib + IN_RING_END)) seq = reserve();
  store<u32>(ib + IN_RING_NEXT, seq + 1);
  const me = <usize>instSlot();
  const wpos = <usize>RING_WPOS + me * CACHE_LINE;
  const pos = load<u32>(wpos);
  const slot = <usize>RING_ENTRIES + me * RING_BYTES + <usize>(pos & (RING_SIZE - 1)) * RING_ENTRY_SIZE;
  store<u32>(slot, seq, E_SEQ);
  store<u32>(slot, kind | ((load<u32>(ib + IN_RING_HI) & 0xff) << 8) | (flags << 16), E_KIND);
  store<u32>(slot, a, E_A);
  store<u32>(slot, b, E_B);
  store<u32>(slot, c, E_C);
  store<u32>(slot, d, E_D);
  store<u32>(slot, e, E_E);
  store<u32>(slot, instStep(), E_STEP);
  atomic.store<u32>(wpos, pos + 1);
  counterBump(kind);
  const cf = load<u8>(<usize>H_COUNT_SLOT + (kind & (MAX_COUNTERS - 1)));
  if (cf != NO_COUNT) countAdd(kind, cf == 0 ? a : cf == 1 ? b : cf == 2 ? c : cf == 3 ? d : e);
}

/**
 * The call ends (or traps): the rest of its batch is given up, never written (readers merge past it once this
 * says so). The next call that writes an event takes a new batch, after everything reserved meanwhile.
 */
export function eventsEnd(): void {
  eventsClose(instBase());
}

/** Instance block b's batch ends: its own call's end or trap, its detach, or its reaping (its thread is gone). */
export function eventsClose(b: usize): void {
  if (load<u64>(b + IN_RING_RES) == 0) return; // (END alone cannot say: a batch may end at 2^32, low word 0)
  atomic.store<u64>(b + IN_RING_RES, 0);
  store<u32>(b + IN_RING_NEXT, 0);
  store<u32>(b + IN_RING_END, 0);
}

/** Add the counters of the instance block at `b` into the header's, and clear them (it detaches or was reaped). */
export function countersFold(b: usize): void {
  for (let k: u32 = 0; k < MAX_COUNTERS; k++) {
    const c = load<u64>(b + IN_COUNTERS + (<usize>k << 3)), s = load<u64>(b + IN_COUNT_SUMS + (<usize>k << 3));
    if (c != 0) atomic.add<u64>(<usize>H_COUNTERS + (<usize>k << 3), c);
    if (s != 0) atomic.add<u64>(<usize>H_COUNT_SUMS + (<usize>k << 3), s);
  }
  memory.fill(b + IN_COUNTERS, 0, <usize>MAX_COUNTERS * 16);
  atomic.add<u32>(H_CALLS_DONE, load<u32>(b + IN_SEQ) >> 1); // (views count calls: bindings/state.ts)
  const st = load<u32>(b + IN_STEP);
  for (;;) { const h = atomic.load<u32>(H_STEPS); if (h >= st || atomic.cmpxchg<u32>(H_STEPS, h, st) == h) break; }
}

const NO_COUNT: u32 = 5;

/** Fill the per-kind count-field table from the layouts (at the first attach; every build agrees on it). */
export function eventTablesInit(): void {
  for (let k: u32 = 0; k < MAX_COUNTERS; k++) {
    const l = eventLayout(k);
    let slot = NO_COUNT;
    for (let i: u32 = 0; i < 5; i++) if (((l >> (i * 5)) & 31) == EV.EF_COUNT) { slot = i; break; }
    store<u8>(<usize>H_COUNT_SLOT + k, <u8>slot);
  }
}

/** A kind's field layout (EVL_* of abi/events.ts); test/abi.test.ts checks it against the binding's table. */
export function eventLayout(kind: u32): u32 {
  switch (kind) {
    case EV.EV_GMEM_LOCK: return EV.EVL_GMEM_LOCK;
    case EV.EV_GMEM_UNLOCK: return EV.EVL_GMEM_UNLOCK;
    case EV.EV_KVM_INVALIDATE_BEGIN: return EV.EVL_KVM_INVALIDATE_BEGIN;
    case EV.EV_KVM_INVALIDATE_END: return EV.EVL_KVM_INVALIDATE_END;
    case EV.EV_KVM_ZAP: return EV.EVL_KVM_ZAP;
    case EV.EV_KVM_TLB_FLUSH: return EV.EVL_KVM_TLB_FLUSH;
    case EV.EV_HOST_UNMAP: return EV.EVL_HOST_UNMAP;
    case EV.EV_GMEM_REFCOUNT_CHECK: return EV.EVL_GMEM_REFCOUNT_CHECK;
    case EV.EV_IOMMU_INVALIDATE_BEGIN: return EV.EVL_IOMMU_INVALIDATE_BEGIN;
    case EV.EV_IOMMU_INVALIDATE_END: return EV.EVL_IOMMU_INVALIDATE_END;
    case EV.EV_IOMMU_INVALIDATE: return EV.EVL_IOMMU_INVALIDATE;
    case EV.EV_IOMMU_IOTLB_FLUSH: return EV.EVL_IOMMU_IOTLB_FLUSH;
    case EV.EV_IOMMU_MAP: return EV.EVL_IOMMU_MAP;
    case EV.EV_IOMMU_UNMAP: return EV.EVL_IOMMU_UNMAP;
    case EV.EV_GMEM_SET_ATTR: return EV.EVL_GMEM_SET_ATTR;
    case EV.EV_FOLIO_SPLIT: return EV.EVL_FOLIO_SPLIT;
    case EV.EV_FOLIO_MERGE: return EV.EVL_FOLIO_MERGE;
    case EV.EV_CONVERT_ROLLBACK: return EV.EVL_CONVERT_ROLLBACK;
    case EV.EV_ARCH_RMPUPDATE: return EV.EVL_ARCH_RMPUPDATE;
    case EV.EV_ARCH_PSMASH: return EV.EVL_ARCH_PSMASH;
    case EV.EV_ARCH_SEPT_REMOVE: return EV.EVL_ARCH_SEPT_REMOVE;
    case EV.EV_ARCH_SEPT_DEMOTE: return EV.EVL_ARCH_SEPT_DEMOTE;
    case EV.EV_GUEST_FAULT: return EV.EVL_GUEST_FAULT;
    case EV.EV_GUEST_RETRY: return EV.EVL_GUEST_RETRY;
    case EV.EV_GUEST_MEMORY_FAULT_EXIT: return EV.EVL_GUEST_MEMORY_FAULT_EXIT;
    case EV.EV_FOLIO_ALLOC: return EV.EVL_FOLIO_ALLOC;
    case EV.EV_FOLIO_FREE: return EV.EVL_FOLIO_FREE;
    case EV.EV_KVM_MAP: return EV.EVL_KVM_MAP;
    case EV.EV_HOST_MAP: return EV.EVL_HOST_MAP;
    case EV.EV_HOST_PIN: return EV.EVL_HOST_PIN;
    case EV.EV_HOST_UNPIN: return EV.EVL_HOST_UNPIN;
    case EV.EV_GMEM_ZERO: return EV.EVL_GMEM_ZERO;
    case EV.EV_ARCH_SEPT_AUG: return EV.EVL_ARCH_SEPT_AUG;
    case EV.EV_ARCH_SEPT_ACCEPT: return EV.EVL_ARCH_SEPT_ACCEPT;
    case EV.EV_ARCH_SEPT_BLOCK: return EV.EVL_ARCH_SEPT_BLOCK;
    case EV.EV_ARCH_SEPT_TRACK: return EV.EVL_ARCH_SEPT_TRACK;
    case EV.EV_KVM_RANGE_ADD: return EV.EVL_KVM_RANGE_ADD;
    case EV.EV_OP_STEP: return EV.EVL_OP_STEP;
  }
  return 0;
}

/** Count one more of a counter (an event kind, or CTR_REASON_BASE + reason): this instance's. */
export function counterBump(index: u32): void {
  const at = instBase() + IN_COUNTERS + (<usize>(index & (MAX_COUNTERS - 1)) << 3);
  store<u64>(at, load<u64>(at) + 1);
}

/** Add to a kind's sum (emit adds every `count` field itself; folio.split/merge add the pages restructured). */
export function countAdd(kind: u32, n: u32): void {
  const at = instBase() + IN_COUNT_SUMS + (<usize>(kind & (MAX_COUNTERS - 1)) << 3);
  store<u64>(at, load<u64>(at) + <u64>n);
}
