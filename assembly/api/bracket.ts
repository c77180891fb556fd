// The one bracket every mutating export uses. Two kinds of call:
//   data plane (enter(false)): conversions, punches, faults, maps, DMA, host accesses, resuming ops. They run beside
//     each other's, in any number of instances, serialised only by the per-object locks their steps take
//     (mm/sync.ts; the same locks the explorer schedules).
//   control plane (enter()): creating, binding, unbinding, destroying objects, settings, the raw data-structure
//     exports, whole-machine checks. They stop the world: no data-plane call is in flight while one runs, which is
//     what lets the data plane walk notifier lists, memslots and the object table without locks, and lets an object
//     be freed with nobody holding a pointer to it (as KVM's slots_lock + SRCU and the mmu_notifier's
//     synchronize do for memslot and VM lifetime).
// A call: [stop the world,] mark this instance inside a call, start a step (counter, footprint, violations);
// [validate, run]; release the step's locks, pad the event reservation, run the invariant checker (on a quiescent
// machine), leave. A machine marked dead (an instance died inside a call) answers every call with -EOWNERDEAD.
//
// Views read the model without any lock (api/view.ts, bindings/state.ts). Each instance has its own seqcount_t
// (IN_SEQ; include/linux/seqlock.h): odd inside a call, given back by a call that only looked (a probe); a reader
// keeps a read only when every attached instance's count was the same even value before and after it. A reader asleep until something changes
// (Atomics.waitAsync on H_CHANGES, H_CHANGE_WAITERS > 0) is woken at the end of a call. A reader that busy writers
// keep tearing asks them to stay out (H_VIEW_HOLD > 0) for one read: a writer that may block waits at the start of
// its next call, a bounded time (read_seqbegin_or_lock's locked pass, with the writer waiting, never the reader).
import {
  H_FREEZE, H_FREEZE_GEN, H_DEAD, H_LIVE, INSTANCE_SIZE, MAX_INSTANCES, IN_STATE, IN_CALL, INSTANCE_BASE, H_CHANGES,
  H_CHANGE_WAITERS, H_VIEW_HOLD, VIEW_HOLD_WAIT_NS,
} from "../abi/layout";
import { EBUSY, EOWNERDEAD, ENOTRECOVERABLE } from "../abi/errno";
import { DEAD_TRAP } from "../abi/consts";
import { canBlock, releaseHeld, setLocking } from "../mm/sync";
import { clockMs } from "../mm/clock";
import { instBase, instSlot, callMark, seqMark, callSeqMark, seqGiveBack, instStepAdd, setRunningOp } from "../mm/instance";
import { checksOn, violationsReset } from "../lib/machine";
import { fpReset } from "../lib/footprint";
import { iterReset } from "../lib/iter";
import { eventsEnd } from "../lib/events";
import { checkAll } from "../check/state";

const NAP_NS: i64 = 200000; //     0.2 ms
const SPIN_MS: f64 = 50; //        a thread that may not sleep gives up (EBUSY) after spinning this long
const DEAD_MS: f64 = 2500; //      another instance inside the same call for this long while we wait: it died in it

let world: bool = false; //        this call stopped the world (leave restarts it)

// when the current wait began (ms), read from the clock only once a call has to wait: the clock is a host call,
// and the uncontended path (every call of a lone instance) never needs it
let waitSince: f64 = -1;

/** Wait out one unit (a nap, or a spin when this thread may not sleep); false when it should give up. */
function backoff(w: usize, v: u32): bool {
  if (waitSince < 0) waitSince = clockMs();
  if (canBlock()) { atomic.wait<u32>(w, v, NAP_NS); return true; }
  for (let i = 0; i < 256; i++) if (atomic.load<u32>(w) != v) return true;
  return clockMs() - waitSince < SPIN_MS;
}

/** Stop the world: take H_FREEZE, then wait until no other instance is inside a call. 0, -EBUSY or -EOWNERDEAD. */
export function worldStop(): i32 {
  const me = instSlot() + 1;
  waitSince = -1;
  for (;;) {
    const f = atomic.cmpxchg<u32>(H_FREEZE, 0, me);
    if (f == 0) { atomic.add<u32>(H_FREEZE_GEN, 1); break; }
    if (f == me) break;
    if (atomic.load<u32>(H_DEAD) != 0) return deadCode();
    if (freezeHolderDied(f)) return -EOWNERDEAD;
    if (!backoff(H_FREEZE, f)) return -EBUSY;
  }
  for (let s: u32 = 0; s < <u32>MAX_INSTANCES; s++) {
    const b = <usize>INSTANCE_BASE + <usize>s * INSTANCE_SIZE;
    if (b == instBase() || atomic.load<u32>(b + IN_STATE) == 0) continue;
    const c = atomic.load<u32>(b + IN_CALL);
    if ((c & 1) == 0) continue;
    const since = clockMs();
    while (atomic.load<u32>(b + IN_CALL) == c) {
      if (!backoff(b + IN_CALL, c)) { worldStart(); return -EBUSY; }
      if (clockMs() - since > DEAD_MS) { // inside the same call all along: that instance died there
        atomic.cmpxchg<u32>(H_DEAD, 0, s + 1);
        worldStart();
        return -EOWNERDEAD;
      }
    }
  }
  return 0;
}

// the world stop a waiter watches: its holder and the H_FREEZE_GEN it had, since when (clock ms; -1: not yet)
let watchHolder: u32 = 0;
let watchGen: u32 = 0;
let watchSince: f64 = -1;

/**
 * Has the instance holding the world stop (f = its slot + 1) died holding it? Yes when the same holder has held the
 * same stop (H_FREEZE_GEN unchanged) for DEAD_MS: a terminated worker never lets go, and nobody else can (its slot
 * may be reaped, which lets go for it). Marks the machine dead (EOWNERDEAD), as a holder dead inside a call does.
 */
function freezeHolderDied(f: u32): bool {
  const gen = atomic.load<u32>(H_FREEZE_GEN);
  if (f != watchHolder || gen != watchGen || watchSince < 0) {
    watchHolder = f; watchGen = gen; watchSince = clockMs();
    return false;
  }
  if (clockMs() - watchSince <= DEAD_MS) return false;
  if (atomic.load<u32>(H_FREEZE) != f || atomic.load<u32>(H_FREEZE_GEN) != gen) return false;
  atomic.cmpxchg<u32>(H_DEAD, 0, f);
  watchSince = -1;
  return true;
}

export function worldStart(): void {
  if (atomic.load<u32>(H_FREEZE) != instSlot() + 1) return;
  atomic.store<u32>(H_FREEZE, 0);
  atomic.notify(H_FREEZE);
}

/**
 * Begin a call. stopWorld: a control-plane call (the default); false: a data-plane call. 0, or -EBUSY (a thread that
 * may not sleep would have to wait for a world stop) or -EOWNERDEAD.
 */
/** -EOWNERDEAD (an instance died inside a call) or -ENOTRECOVERABLE (a call trapped) once the machine is marked. */
// @ts-ignore: decorator
@inline export function deadCode(): i32 { return (atomic.load<u32>(H_DEAD) & DEAD_TRAP) != 0 ? -ENOTRECOVERABLE : -EOWNERDEAD; }

export function enter(stopWorld: bool = true): i32 {
  if (atomic.load<u32>(H_DEAD) != 0) return deadCode();
  const hold = atomic.load<i32>(H_VIEW_HOLD);
  if (hold != 0 && canBlock()) atomic.wait<i32>(H_VIEW_HOLD, hold, <i64>VIEW_HOLD_WAIT_NS);
  if (atomic.load<u32>(instBase() + IN_STATE) != 1) return -EOWNERDEAD; // this instance was reaped: a zombie
  if (stopWorld) {
    const r = worldStop();
    if (r != 0) return r;
    callSeqMark(true);
  } else {
    waitSince = -1;
    callSeqMark(true); // the common case: the call mark and the odd seqcount in one store
    let f = atomic.load<u32>(H_FREEZE);
    if (f != 0 && f != instSlot() + 1) {
      // the world is stopped: waiting is not a call, so the seqcount goes back to the value it had (as a probe's
      // does: readers see no change) and only the call mark moves while this waits
      seqGiveBack();
      for (;;) {
        callMark(false); // not in a call while waiting: the world stopper is waiting for exactly that
        if (atomic.load<u32>(H_DEAD) != 0) return deadCode();
        if (freezeHolderDied(f)) return -EOWNERDEAD;
        if (!backoff(H_FREEZE, f)) return -EBUSY;
        callMark(true);
        f = atomic.load<u32>(H_FREEZE);
        if (f == 0 || f == instSlot() + 1) break;
      }
      seqMark(true);
    }
  }
  world = stopWorld;
  setLocking(atomic.load<u32>(H_LIVE) > 1);
  violationsReset();
  fpReset();
  iterReset();
  instStepAdd(1);
  return 0;
}

/** The end of every call: the step's locks go, the event reservation is padded, this instance leaves its call. */
function finish(): void {
  releaseHeld();
  eventsEnd();
  setRunningOp(0);
}

/** After leaving a call: wake the readers asleep until something changes (a view), if any. */
function wakeReaders(): void {
  if (atomic.load<u32>(H_CHANGE_WAITERS) == 0) return;
  atomic.add<u32>(H_CHANGES, 1);
  atomic.notify(H_CHANGES);
}

/**
 * End a call: with the checker on, every invariant, on a quiescent machine (a data-plane call stops the world for
 * it once its own step is over); pass r through. `protocol` false: an export on the data structures alone (a
 * bitmap, a page table, a folio below the protocol), after which the protocol's invariants are not checked (they
 * may not hold between such low-level steps, and a whole-model check per folio is O(model)).
 */
export function leave(r: i32, protocol: bool = true): i32 {
  finish();
  if (world) {
    if (protocol && checksOn()) checkAll();
    callSeqMark(false);
    world = false;
    worldStart();
    wakeReaders();
    return r;
  }
  callSeqMark(false);
  wakeReaders();
  if (protocol && checksOn() && worldStop() == 0) {
    checkAll();
    worldStart();
  }
  return r;
}

/** A call that only looked (a probe): no checks, and the step counter is given back. */
export function leaveQuiet(r: i32): i32 {
  instStepAdd(-1);
  finish();
  seqGiveBack();
  callMark(false);
  if (world) { world = false; worldStart(); }
  return r;
}


/**
 * This instance's call trapped (the binding saw a RuntimeError): whatever it was doing is half done. Release what it
 * held (its step's locks, its world stop, its event reservation, its call mark) so nobody waits on them, and mark
 * the machine failed: every later call answers -ENOTRECOVERABLE.
 */
export function trapped(): void {
  atomic.cmpxchg<u32>(H_DEAD, 0, (instSlot() + 1) | DEAD_TRAP);
  releaseHeld();
  eventsEnd();
  setRunningOp(0);
  seqMark(false);
  callMark(false);
  world = false;
  worldStart();
}
