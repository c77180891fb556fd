// The event ring: every mechanism reports what it does here, in the order it does it. An instance reserves a batch
// of slots with one atomic add on RING_HEAD (so threads do not fight over one cache line per event), fills them in
// order with plain stores and publishes each by storing its sequence number last (its one atomic store). When its
// call ends, a lone instance gives back what it did not use (RING_HEAD moved back); with others attached it keeps it
// for its next call (IN_RING_OPEN), which uses it only if nobody reserved after it (so a call never puts events
// before those of a call that ended before it began) and pads it otherwise. Readers take RING_HEAD and stop at the
// first slot not yet published, unless an instance keeps it between calls: then the reader takes the reservation
// over (a compare-exchange of IN_RING_OPEN, which holds the kept range's start and end in one word, against the
// owner's exchange at its next call) and pads exactly the range it won. A reader reads an entry whose seq is the
// one it expects, then takes RING_HEAD again: only the writer of seq + RING_SIZE rewrites the slot, and it reserves
// it first, so while the head has not passed seq + RING_SIZE what it read is whole (past it, the entry counts as
// lost). Empty entries are skipped. Events of one instance are in its order; across instances, in reservation order
// (a global sequence).
// Counters per kind (and sums of the `count` field) are per instance, folded into the header when it detaches;
// check.stats reads the header plus every attached instance.
//   entry (RING_ENTRY_SIZE): +0 seq u32 (published last), +4 kind u16, +6 flags u16, +8 a, +12 b, +16 c, +20 d,
//   +24 e, +28 step u32 (the emitting instance's step counter). What a..e hold per kind: EVL_* of abi/events.ts.
import { lockingOn } from "../mm/sync";
import {
  RING_BASE, RING_ENTRY_SIZE, RING_SIZE, RING_HEAD, H_COUNTERS, H_COUNT_SUMS, H_COUNT_SLOT, MAX_COUNTERS, IN_RING_NEXT,
  IN_RING_END, IN_RING_OPEN, IN_COUNTERS, IN_COUNT_SUMS, IN_STEP, H_STEPS, IN_SEQ, H_CALLS_DONE,
} from "../abi/layout";
import * as EV from "../abi/events";
import { instBase, instStep } from "../mm/instance";

const E_SEQ: usize = 0;
const E_KIND: usize = 4;
const E_A: usize = 8;
const E_B: usize = 12;
const E_C: usize = 16;
const E_D: usize = 20;
const E_E: usize = 24;
const E_STEP: usize = 28;
const BATCH: u32 = 16; //         slots one reservation takes

/** Reserve a batch of slots for this instance (one atomic add per batch instead of per event); the first seq. */
function reserve(): u32 {
  const head = <u32>atomic.add<u64>(RING_HEAD, <u64>BATCH);
  store<u32>(instBase() + IN_RING_END, head + BATCH);
  return head;
}

/** Append one event: kind, EVF_* flags and the five fields its EVL_* layout names. */
// @ts-ignore: decorator
@inline export function emit(kind: u32, flags: u32, a: u32, b: u32, c: u32, d: u32, e: u32): void {
  const ib = instBase();
  let seq = load<u32>(ib + IN_RING_NEXT);
  if (seq == load<u32>(ib + IN_RING_END)) seq = reserve();
  store<u32>(ib + IN_RING_NEXT, seq + 1);
  const slot = <usize>RING_BASE + <usize>(seq & (RING_SIZE - 1)) * RING_ENTRY_SIZE;
  store<u32>(slot, kind | (flags << 16), E_KIND);
  store<u32>(slot, a, E_A);
  store<u32>(slot, b, E_B);
  store<u32>(slot, c, E_C);
  store<u32>(slot, d, E_D);
  store<u32>(slot, e, E_E);
  store<u32>(slot, instStep(), E_STEP);
  atomic.store<u32>(slot, seq, E_SEQ);
  counterBump(kind);
  const cf = load<u8>(<usize>H_COUNT_SLOT + (kind & (MAX_COUNTERS - 1)));
  if (cf != NO_COUNT) countAdd(kind, cf == 0 ? a : cf == 1 ? b : cf == 2 ? c : cf == 3 ? d : e);
}

/**
 * The call ends. Alone, the rest of the reservation goes back to RING_HEAD (the head is still its end). With others
 * attached and `keep`, it is kept for the next call (IN_RING_OPEN = start << 32 | end; eventsResume decides whether
 * that call may use it): an instance that is the only one writing, beside attached ones that are idle (a page and
 * its one worker), then reserves once per batch instead of once per call. A reader that reaches a kept slot takes
 * the range over and pads it (bindings/events.ts), as eventsClose does. Otherwise the rest is published as empty
 * entries.
 */
export function eventsPad(keep: bool = false): void {
  const ib = instBase();
  const end = load<u32>(ib + IN_RING_END);
  const next = load<u32>(ib + IN_RING_NEXT);
  if (next >= end) { store<u32>(ib + IN_RING_NEXT, 0); store<u32>(ib + IN_RING_END, 0); return; }
  if (!lockingOn()) {
    const h = atomic.load<u64>(RING_HEAD);
    // (next < end: the reservation does not straddle a 2^32 boundary of the 64-bit head)
    if (<u32>h == end && atomic.cmpxchg<u64>(RING_HEAD, h, (h & 0xffffffff00000000) | <u64>next) == h) {
      store<u32>(ib + IN_RING_NEXT, 0);
      store<u32>(ib + IN_RING_END, 0);
      return;
    }
  } else if (keep && end != 0) {
    atomic.store<u64>(ib + IN_RING_OPEN, (<u64>next << 32) | <u64>end);
    return;
  }
  padRange(next, end);
  store<u32>(ib + IN_RING_NEXT, 0);
  store<u32>(ib + IN_RING_END, 0);
}

/** Publish slots [next, end) as empty entries. */
function padRange(next: u32, end: u32): void {
  for (let seq = next; seq != end; seq++) {
    const slot = <usize>RING_BASE + <usize>(seq & (RING_SIZE - 1)) * RING_ENTRY_SIZE;
    store<u32>(slot, 0, E_KIND);
    atomic.store<u32>(slot, seq, E_SEQ);
  }
}

/**
 * A call starts: take back the reservation kept since this instance's last call, if nobody reserved after it and
 * no reader closed it (then it is padded already and gone); else pad it and drop it.
 */
export function eventsResume(): void {
  const ib = instBase();
  if (load<u32>(ib + IN_RING_END) == 0) return;
  const kept = atomic.xchg<u64>(ib + IN_RING_OPEN, 0) != 0;
  // only while nobody reserved after it: events of a call that began after another instance's call ended must not
  // come before that call's events (the kept slots precede anything reserved since)
  if (kept && <u32>atomic.load<u64>(RING_HEAD) == load<u32>(ib + IN_RING_END)) return;
  if (kept) closeRange(ib);
  store<u32>(ib + IN_RING_NEXT, 0);
  store<u32>(ib + IN_RING_END, 0);
}

/** Pad what is left of instance block b's reservation, if the ring has not lapped it. */
function closeRange(b: usize): void {
  const next = load<u32>(b + IN_RING_NEXT), end = load<u32>(b + IN_RING_END);
  if (next < end && <u32>atomic.load<u64>(RING_HEAD) - next < RING_SIZE) padRange(next, end);
}

/** Instance block b goes away (detach, reap): close a reservation it kept (unless a reader closed it first). */
export function eventsClose(b: usize): void {
  if (atomic.xchg<u64>(b + IN_RING_OPEN, 0) != 0) closeRange(b);
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
