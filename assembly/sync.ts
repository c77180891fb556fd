// Futex words in linear memory. The simulator lock serialises every mutating export across all instances that
// share the memory; a caller that may not block (a browser's main thread) only spins briefly and gets -EBUSY.
import { H_SIM_LOCK } from "./layout";

// Per instance (Wasm globals are thread-local): whether this agent may block in atomic.wait.
let mayBlock: bool = true;

export function setMayBlock(v: bool): void {
  mayBlock = v;
}

const SPIN_TRIES: i32 = 2000;

/** futex mutex lock (0 free, 1 locked, 2 locked + waiters); false when it would have to block and may not. */
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
@inline export function simLock(): bool {
  return mutexLock(H_SIM_LOCK);
}

// @ts-ignore: decorator
@inline export function simUnlock(): void {
  mutexUnlock(H_SIM_LOCK);
}
