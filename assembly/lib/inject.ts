// Fault injection (the scenario op `inject`): each kind fires on the next matching internal step, `count` times.
import { H_INJECT } from "../abi/layout";

export function injectArm(kind: u32, count: u32): void {
  store<u32>(<usize>H_INJECT + (<usize>kind << 2), count);
}

/** Consume one armed fault of `kind`: true when it fires now. */
export function injectTake(kind: u32): bool {
  const at = <usize>H_INJECT + (<usize>kind << 2);
  for (;;) { // threads may race for the last one
    const n = atomic.load<u32>(at);
    if (n == 0) return false;
    if (atomic.cmpxchg<u32>(at, n, n - 1) == n) return true;
  }
  return false; // (not reached)
}
