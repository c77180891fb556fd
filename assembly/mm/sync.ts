// Locks as futex words in linear memory, so every instance (thread) sharing the memory sees them. The kernel's lock
// structure, in the order a thread may take them (a lock is only ever taken while holding locks of lower classes;
// debug builds check it and name both locks when the order is broken, like lockdep):
//   LC_INV    an inode's filemap invalidate_lock: rwsem (conversions and truncation exclusive, held across their
//             steps by the op; get_pfn and host faults shared, within a step)
//   LC_MMU    a VM's mmu_lock: rwlock (zaps and installs write, within a step)
//   LC_DOM    an IOMMU domain's lock (within a step)
//   LC_PAGES  an inode's folios, page content, host PTEs and pins, RMP / S-EPT accept state (within a step)
//   LC_ALLOC  the heap allocator and pfn pools, LC_OBJ the object table (leaves: held for a few stores)
// Word: 0 free; RW_EXCL | owner (31 bits) held exclusively; n > 0 held shared by n. A thread that must wait spins,
// then (if it may block) sleeps in atomic.wait with a short timeout, so unlock never needs a wake-up call; a thread
// that may not block (a page's main thread, the explorer) gets false and reports what the kernel returns to a caller
// that would have to wait. Every lock taken within a step is recorded in this instance's held list (IN_HELD), which
// the engine releases at the end of the step, and which lets a waiter find a holder that died.
import {
  IN_HELD, HELD_MAX, H_LOCK_WAITS, H_DEAD, INSTANCE_BASE, INSTANCE_SIZE, MAX_INSTANCES, IN_STATE, IN_CALL,
  IN_RUNNING_OP, H_FREEZE, H_LOCKDEP,
} from "../abi/layout";
import { instBase, instSlot } from "./instance";
import { clockMs } from "./clock";
import { DEBUG } from "../lib/debug";
import {
  LOCKDEP_WHO, LOCKDEP_HELD_CLASS, LOCKDEP_HELD_WORD, LOCKDEP_NEW_CLASS, LOCKDEP_NEW_WORD,
} from "../abi/consts";

import { LC_INV } from "../abi/consts";
export { LC_INV, LC_MMU, LC_DOM, LC_PAGES, LC_ALLOC, LC_OBJ } from "../abi/consts";

export const RW_EXCL: u32 = 0x80000000;
export const LM_READ: u32 = 1;
export const LM_WRITE: u32 = 2;

// Per instance (Wasm globals are thread-local): whether this agent may sleep in atomic.wait.
let mayBlock: bool = true;
// Whether this call takes step locks: only when another instance is attached (an instance alone has nobody to
// exclude; attaching a second one waits until no call is in flight, so no call runs unlocked beside another), and
// always in debug builds (the lock-order check runs there).
let locking: bool = true;
export function setLocking(on: bool): void { locking = on || DEBUG; }
// @ts-ignore: decorator
@inline export function lockingOn(): bool { return locking; }
/** This instance stopped the world (api/bracket.ts): nothing else runs, every lock is as good as held. */
// @ts-ignore: decorator
@inline export function worldStopped(): bool { return atomic.load<u32>(H_FREEZE) == instSlot() + 1; }
export function setMayBlock(v: bool): void { mayBlock = v; }
// @ts-ignore: decorator
@inline export function canBlock(): bool { return mayBlock; }
/** May this agent block in atomic.wait? (the view exports ask) */
export function agentMayBlock(): bool { return mayBlock; }

const SPIN: i32 = 4000; //                 tries before sleeping (or giving up, when this thread may not sleep)
const NAP_NS: i64 = 200000; //             one sleep: 0.2 ms (a timeout, so unlock needs no wake-up)
const WATCH_MS: f64 = 1000; //            a holder's call making no progress for this long, twice in a row: it died

// ---- try operations (no waiting) --------------------------------------------------------------------------------
// Alone (locking off), no other instance runs model code until this call ends (an attach stops the world first),
// so a lock word needs no atomic read-modify-write: the same values, written plainly. Locks that outlive the call
// (a paused op's invalidate lock) are in the word either way, for a later call that has company.
/** down_write_trylock for `owner` (a 31-bit id). */
// @ts-ignore: decorator
@inline export function rwTryWrite(w: usize, owner: u32): bool {
  if (!locking) {
    if (load<u32>(w) != 0) return false;
    store<u32>(w, RW_EXCL | (owner & 0x7fffffff));
    return true;
  }
  return atomic.cmpxchg<u32>(w, 0, RW_EXCL | (owner & 0x7fffffff)) == 0;
}

/** down_read_trylock. */
export function rwTryRead(w: usize): bool {
  if (!locking) {
    const v = load<u32>(w);
    if ((v & RW_EXCL) != 0 || v == 0x7fffffff) return false;
    store<u32>(w, v + 1);
    return true;
  }
  for (let i = 0; i < 64; i++) {
    const v = atomic.load<u32>(w);
    if ((v & RW_EXCL) != 0 || v == 0x7fffffff) return false;
    if (atomic.cmpxchg<u32>(w, v, v + 1) == v) return true;
  }
  return false;
}

// @ts-ignore: decorator
@inline export function rwWriteUnlock(w: usize): void { if (locking) atomic.store<u32>(w, 0); else store<u32>(w, 0); }
// @ts-ignore: decorator
@inline export function rwReadUnlock(w: usize): void { if (locking) atomic.sub<u32>(w, 1); else store<u32>(w, load<u32>(w) - 1); }
// @ts-ignore: decorator
@inline export function rwHeldWrite(w: usize): bool { return (atomic.load<u32>(w) & RW_EXCL) != 0; }
// @ts-ignore: decorator
@inline export function rwWriter(w: usize): u32 { const v = atomic.load<u32>(w); return (v & RW_EXCL) != 0 ? v & 0x7fffffff : 0; }
// @ts-ignore: decorator
@inline export function rwFree(w: usize): bool { return atomic.load<u32>(w) == 0; }

/** Try the lock in `mode`; a writer records `owner` (an op id, or 1 + this instance's slot for a step's lock). */
function tryMode(w: usize, mode: u32, owner: u32): bool {
  return mode == LM_WRITE ? rwTryWrite(w, owner) : rwTryRead(w);
}

// ---- the held list ----------------------------------------------------------------------------------------------
//   IN_HELD: +0 count u32, then (word u32, class << 8 | mode u32) per lock taken within the current step
// @ts-ignore: decorator
@inline function heldAt(i: u32): usize { return instBase() + IN_HELD + 8 + (<usize>i << 3); }
// @ts-ignore: decorator
@inline export function heldCount(): u32 { return load<u32>(instBase() + IN_HELD); }

/** Does this instance hold w within the current step (in any mode)? */
export function holds(w: usize): bool {
  for (let i: u32 = 0, n = heldCount(); i < n; i++) if (<usize>load<u32>(heldAt(i)) == w) return true;
  return false;
}

/** Record a lock this step took by other means (waitFor), so the end of the step releases it. */
export function stepAdopt(w: usize, cls: u32, mode: u32): void { heldPush(w, cls, mode); }

function heldPush(w: usize, cls: u32, mode: u32): void {
  const n = heldCount();
  if (DEBUG) {
    // lockdep: a new lock must come after every lock held (class, then address within one class)
    for (let i: u32 = 0; i < n; i++) {
      const hc = load<u32>(heldAt(i), 4) >> 8, hw = <usize>load<u32>(heldAt(i));
      if (hc > cls || (hc == cls && hw > w)) lockdepReport(hc, hw, cls, w);
    }
  }
  if (n >= <u32>HELD_MAX) { if (DEBUG) assert(false, "held list full"); return; }
  store<u32>(heldAt(n), <u32>w);
  store<u32>(heldAt(n), (cls << 8) | mode, 4);
  store<u32>(instBase() + IN_HELD, n + 1);
}

/**
 * A lock asked for out of order (print_circular_bug, kernel/locking/lockdep.c): say which two locks (H_LOCKDEP, the
 * first report wins) and trap; the binding reads the report and names both locks in the error it throws.
 */
function lockdepReport(heldClass: u32, heldWord: usize, cls: u32, w: usize): void {
  if (atomic.cmpxchg<u32>(H_LOCKDEP + (LOCKDEP_WHO << 2), 0, instSlot() + 1) == 0) {
    store<u32>(H_LOCKDEP + (LOCKDEP_HELD_CLASS << 2), heldClass);
    store<u32>(H_LOCKDEP + (LOCKDEP_HELD_WORD << 2), <u32>heldWord);
    store<u32>(H_LOCKDEP + (LOCKDEP_NEW_CLASS << 2), cls);
    store<u32>(H_LOCKDEP + (LOCKDEP_NEW_WORD << 2), <u32>w);
  }
  unreachable();
}

/** Release every lock taken within the step (the engine, at the end of each step, and the bracket on exit). */
export function releaseHeld(): void {
  const n = heldCount();
  for (let i = n; i > 0; i--) {
    const w = <usize>load<u32>(heldAt(i - 1));
    if ((load<u32>(heldAt(i - 1), 4) & 0xff) == LM_WRITE) rwWriteUnlock(w);
    else rwReadUnlock(w);
  }
  store<u32>(instBase() + IN_HELD, 0);
}

/** Release one held lock early (a step that drops a lock before its end: get_pfn's shared invalidate lock). */
export function releaseOne(w: usize): void {
  const n = heldCount();
  for (let i: u32 = 0; i < n; i++) {
    if (<usize>load<u32>(heldAt(i)) != w) continue;
    if ((load<u32>(heldAt(i), 4) & 0xff) == LM_WRITE) rwWriteUnlock(w); else rwReadUnlock(w);
    if (i + 1 < n) memory.copy(heldAt(i), heldAt(i + 1), <usize>(n - i - 1) << 3);
    store<u32>(instBase() + IN_HELD, n - 1);
    return;
  }
}

// ---- acquiring within a step ------------------------------------------------------------------------------------
/** A waiter's verdict on a lock that never came free: the machine is marked dead (EOWNERDEAD) if a holder died. */
let lastWaitDead: bool = false;
// @ts-ignore: decorator
@inline export function waitFoundDead(): bool { return lastWaitDead; }

export const LW_TRY: u32 = 0; //   never wait (the explorer's steps: a lock held is a blocked step)
export const LW_MAY: u32 = 1; //   wait if this thread may sleep, else give up after a spin (a step that has changed nothing)
export const LW_MUST: u32 = 2; //  wait however long it takes, spinning where sleeping is not allowed (a step half done);
//                                 false only when the holder died

/**
 * Take w (class cls) in `mode` for the rest of the step: at once when free or already held by this step; else wait
 * as `how` says (LW_*). false: not taken (the caller's step is blocked, or reports the kernel's result for a caller
 * that cannot wait; waitFoundDead() says whether the holder died).
 */
// @ts-ignore: decorator
@inline export function stepLock(w: usize, cls: u32, mode: u32, how: u32): bool {
  lastWaitDead = false;
  // alone, the locks within a step exclude nobody; the invalidate lock is the protocol's own, so it is always real
  // (this test inlined into every lock site: a conversion takes half a dozen of them)
  return (!locking && cls != LC_INV) || stepLockSlow(w, cls, mode, how);
}

function stepLockSlow(w: usize, cls: u32, mode: u32, how: u32): bool {
  if (holds(w)) return true;
  const owner = instSlot() + 1;
  if (!tryMode(w, mode, owner)) {
    if (how == LW_TRY) return false;
    if (!waitFor(w, mode, owner, always, how == LW_MUST)) return false;
  }
  heldPush(w, cls, mode);
  return true;
}

function always(w: usize): bool { return true; }

/**
 * Spin, then sleep in short naps until the lock is ours (for `owner` when taken for writing); false when this thread
 * may not sleep, when worthIt(w) says the holder will not let go by itself (a paused op), or when a holder died.
 */
export function waitFor(w: usize, mode: u32, owner: u32, worthIt: (w: usize) => bool, must: bool = false): bool {
  lastWaitDead = false;
  for (let i = 0; i < SPIN; i++) if (tryMode(w, mode, owner)) return true;
  if (!mayBlock && !must) return false;
  atomic.add<u32>(H_LOCK_WAITS, 1);
  let watched: i32 = -1, seen: u32 = 0, since = clockMs();
  for (;;) {
    const v = atomic.load<u32>(w);
    if (mayBlock) { if (v != 0) atomic.wait<u32>(w, v, NAP_NS); }
    else for (let i = 0; i < 200; i++) if (atomic.load<u32>(w) != v) break; // a page's main thread only spins
    if (tryMode(w, mode, owner)) return true;
    if (!worthIt(w)) return false;
    if (atomic.load<u32>(H_DEAD) != 0) { lastWaitDead = true; return false; }
    if (clockMs() - since < WATCH_MS) continue;
    since = clockMs();
    // a holder inside a call that made no progress over a whole watch period died there (a terminated worker):
    // its step is half done, so the machine is marked dead rather than guessed back into shape
    if (watched >= 0 && atomic.load<u32>(instAt(<u32>watched) + IN_CALL) == seen) {
      atomic.cmpxchg<u32>(H_DEAD, 0, <u32>watched + 1);
      lastWaitDead = true;
      return false;
    }
    watched = holderOf(w);
    if (watched >= 0) seen = atomic.load<u32>(instAt(<u32>watched) + IN_CALL);
  }
  return false; // (not reached)
}

// @ts-ignore: decorator
@inline function instAt(slot: u32): usize { return <usize>INSTANCE_BASE + <usize>slot * INSTANCE_SIZE; }

/** The slot of another instance inside a call that holds w in its step (or runs the op that owns it), or -1. */
function holderOf(w: usize): i32 {
  const writer = rwWriter(w);
  for (let s: u32 = 0; s < <u32>MAX_INSTANCES; s++) {
    const b = instAt(s);
    if (b == instBase() || atomic.load<u32>(b + IN_STATE) == 0 || (atomic.load<u32>(b + IN_CALL) & 1) == 0) continue;
    if (writer != 0 && atomic.load<u32>(b + IN_RUNNING_OP) == writer) return <i32>s;
    const n = atomic.load<u32>(b + IN_HELD);
    for (let i: u32 = 0; i < n && i < <u32>HELD_MAX; i++) if (<usize>atomic.load<u32>(b + IN_HELD + 8 + (<usize>i << 3)) == w) return <i32>s;
  }
  return -1;
}

/** Is an op with this id being run by some instance right now (as opposed to paused, holding its locks)? */
export function opRunningAnywhere(id: u32): bool {
  if (id == 0) return false;
  for (let s: u32 = 0; s < <u32>MAX_INSTANCES; s++) {
    const b = instAt(s);
    if (atomic.load<u32>(b + IN_STATE) != 0 && atomic.load<u32>(b + IN_RUNNING_OP) == id) return true;
  }
  return false;
}

// ---- leaf mutexes (allocator, object table): a few stores inside, so spinning is all a waiter ever does -------
export function leafLock(m: usize): void {
  if (!locking) return; // alone on the memory (see setLocking)
  for (;;) {
    if (atomic.cmpxchg<u32>(m, 0, 1) == 0) return;
    for (let i = 0; i < 64; i++) if (atomic.load<u32>(m) == 0) break;
  }
}
// @ts-ignore: decorator
@inline export function leafUnlock(m: usize): void { if (locking) atomic.store<u32>(m, 0); }
