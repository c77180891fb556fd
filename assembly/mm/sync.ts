// Locks as futex words in linear memory, so every instance sharing the memory sees them.
//   mutex (0 free, 1 locked, 2 locked + waiters): the simulator lock that serialises mutating exports
//   rwsem (0 free, n > 0: n shared holders, RW_EXCL | owner: held exclusively): filemap invalidate_lock
// The rwsem is taken only with try-acquire here: an operation whose step cannot take a lock reports ST_BLOCKED
// and changes nothing, and whoever drives it (the explorer, a scenario run, a worker) decides what waiting means.
import { H_SIM_LOCK } from "../abi/layout";

// Per instance (Wasm globals are thread-local): whether this agent may block in atomic.wait.
let mayBlock: bool = true;
export function setMayBlock(v: bool): void { mayBlock = v; }
/** May this agent block in atomic.wait? */
export function agentMayBlock(): bool { return mayBlock; }

const SPIN_TRIES: i32 = 2000;

/** futex mutex lock; false when it would have to block and may not (a browser's main thread). */
export function mutexLock(m: usize): bool {
  let c = atomic.cmpxchg<i32>(m, 0, 1);
  if (c == 0) return true;
  if (!mayBlock) {
    for (let i = 0; i < SPIN_TRIES; i++) {
      if (atomic.load<i32>(m) == 0 && atomic.cmpxchg<i32>(m, 0, 1) == 0) return true;
    }
    return false;
  }
  if (c != 2) c = atomic.xchg<i32>(m, 2);
  while (c != 0) {
    atomic.wait<i32>(m, 2, -1);
    c = atomic.xchg<i32>(m, 2);
  }
  return true;
}

export function mutexUnlock(m: usize): void {
  if (atomic.sub<i32>(m, 1) != 1) {
    atomic.store<i32>(m, 0);
    atomic.notify(m, 1);
  }
}

// @ts-ignore: decorator
@inline export function simLock(): bool { return mutexLock(H_SIM_LOCK); }
// @ts-ignore: decorator
@inline export function simUnlock(): void { mutexUnlock(H_SIM_LOCK); }

// ---- rwsem ------------------------------------------------------------------------------------------------------
export const RW_EXCL: u32 = 0x80000000;

/** down_write_trylock: take the lock exclusively for `owner` (a 31-bit op id). */
export function rwTryWrite(w: usize, owner: u32): bool {
  return atomic.cmpxchg<u32>(w, 0, RW_EXCL | (owner & 0x7fffffff)) == 0;
}

/** down_read_trylock. */
export function rwTryRead(w: usize): bool {
  for (;;) {
    const v = atomic.load<u32>(w);
    if ((v & RW_EXCL) != 0 || v == 0x7fffffff) return false;
    if (atomic.cmpxchg<u32>(w, v, v + 1) == v) return true;
  }
  return false; // (not reached)
}

// No one sleeps on an rwsem word (every acquire is a try), so unlocking wakes no one: atomic.notify is a runtime
// call in every engine, far dearer than the store.
export function rwWriteUnlock(w: usize): void { atomic.store<u32>(w, 0); }

export function rwReadUnlock(w: usize): void { atomic.sub<u32>(w, 1); }

// @ts-ignore: decorator
@inline export function rwHeldWrite(w: usize): bool { return (atomic.load<u32>(w) & RW_EXCL) != 0; }
// @ts-ignore: decorator
@inline export function rwWriter(w: usize): u32 { const v = atomic.load<u32>(w); return (v & RW_EXCL) != 0 ? v & 0x7fffffff : 0; }
// @ts-ignore: decorator
@inline export function rwFree(w: usize): bool { return atomic.load<u32>(w) == 0; }
