// The footprint of the atomic step that just ran (assembly/lib/footprint.ts, declared by assembly/op/reach.ts): the
// resources it read or wrote. Two steps are independent (they commute, and neither enables or disables the other)
// when neither writes a resource the other touches; the explorer's sleep sets rest on exactly that test.
import type { SimContext } from "../context";

/** (resource, mode) pairs: resource = object index << 3 | RES_*, mode = 1 read | 2 write; `all`: everything. */
export interface Footprint { readonly res: Uint32Array; readonly mode: Uint8Array; readonly all: boolean }

const RES_ALL = 0xffffffff;
const FP_WRITE = 2;
const addressOf = new WeakMap<SimContext, number>();

/** The footprint of the last step this simulator's instance ran in thread mode. */
export function readFootprint(sim: SimContext): Footprint {
  let a = addressOf.get(sim);
  if (a === undefined) { a = sim.core.op_footprint() >>> 0; addressOf.set(sim, a); }
  const u = sim.u32;
  const n = u[a >>> 2];
  const res = new Uint32Array(n), mode = new Uint8Array(n);
  let all = false;
  for (let i = 0; i < n; i++) {
    res[i] = u[(a + 8 + i * 8) >>> 2];
    mode[i] = u[(a + 12 + i * 8) >>> 2];
    if (res[i] === RES_ALL) all = true;
  }
  return { res, mode, all };
}

/** Do the two steps conflict (a shared resource that one of them writes)? */
export function dependent(a: Footprint, b: Footprint): boolean {
  if (a.all || b.all) return true;
  for (let i = 0; i < a.res.length; i++) {
    for (let j = 0; j < b.res.length; j++) {
      if (a.res[i] === b.res[j] && ((a.mode[i] | b.mode[j]) & FP_WRITE) !== 0) return true;
    }
  }
  return false;
}

/** "gmem#3.lock:w ..." for traces and debugging. */
export function describeFootprint(f: Footprint, name: (index: number) => string): string {
  if (f.all) return "everything";
  const sub = ["lock", "content", "host", "filemap"];
  return [...f.res].map((r, i) => `${name(r >>> 3)}.${sub[r & 7] ?? r & 7}:${f.mode[i] & FP_WRITE ? "w" : "r"}`).join(" ");
}
