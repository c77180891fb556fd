// Benchmark support: a block of the heap to measure the memory floor against (the cost of touching as many bytes as
// a conversion changes), and a do-nothing export (the raw cost of a call across the boundary).
import { EINVAL, ENOMEM } from "../abi/errno";
import { pageAlloc, orderFor } from "../mm/alloc";
import { worldStop, worldStart } from "./bracket";

let benchBlock: u32 = 0;
let benchBytes: u32 = 0;

// @ts-ignore: decorator
@inline function isByteCountF(x: f64): bool { return x >= 0 && x <= 4294967296.0 && x == Math.floor(x); }

/** A heap block of at least `bytes` for this instance's floor measurements; its address or -errno. */
export function bench_block(bytes: f64): i32 {
  if (!isByteCountF(bytes) || bytes <= 0) return -EINVAL;
  { const e = worldStop(); if (e != 0) return e; }
  const order = orderFor(<u64>bytes);
  const r = pageAlloc(order);
  worldStart();
  if (r == 0) return -ENOMEM;
  benchBlock = r;
  benchBytes = <u32>(<u64>4096 << order);
  return <i32>r;
}

/** memory.fill of n bytes of this instance's bench block with v: the floor a conversion of n changed bytes costs. */
export function bench_fill(n: u32, v: u32): i32 {
  if (benchBlock == 0 || n > benchBytes) return -EINVAL;
  memory.fill(benchBlock, <u8>v, n);
  return 0;
}

export function bench_noop(a: u32): u32 { return a + 1; }
