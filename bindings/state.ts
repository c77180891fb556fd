// Lock-free state queries for views and visualizers: the change seqcount, the objects, and what a table, the folios
// or the shareability bitmap look like over a range (the core's view_* exports, assembly/api/view.ts). None of them
// takes the simulator lock, so a page can ask while a worker runs the model; readConsistent() keeps a read only
// when no step overlapped it (read_seqcount_begin / read_seqcount_retry over every instance's seqcount IN_SEQ).
import * as L from "../assembly/abi/layout";
import * as C from "../assembly/abi/consts";
import { check, einval, isErr } from "./errors";
import { OBJ_KIND_NAMES, LEVEL_NAMES } from "./abi";
import { u32, f64, optsOf, type SimContext } from "./context";

/** A run of leaves of one table: [start, end) of its index space, one level and state, frames continuing. */
export interface MappingRun {
  start: number;
  end: number;
  /** frame of `start` (the run's page i is pfn + i) */
  pfn: number;
  level: "4K" | "2M" | "1G";
  /** software state: the S-EPT state on a TDX private table (0 mapped, 1 blocked, 2 pending, 3 removed), else 0 */
  state: number;
}

/** A run of the folio layout: absent, one huge folio (or neighbours merged at a coarse grain), or 4 KiB folios. */
export interface FolioRun {
  start: number;
  end: number;
  state: "absent" | "huge" | "small";
  /** 9 or 18 for huge, 0 for small, -1 for absent */
  order: number;
  /** frame of `start` (0 when absent) */
  pfn: number;
  uptodate: boolean;
}

/** [start, end) of page indices with `shared` of them shared (0: private, end - start: shared, else mixed). */
export interface ShareRun { start: number; end: number; shared: number }

/** A memslot: gfns [gfn, gfn + pages) map guest_memfd pages [index, index + pages). */
export interface Memslot { slot: number; gfn: number; pages: number; index: number; gmem: string; gmemIndex: number }

/** An area userspace mapped into an IOMMU domain: iova pages [iova, iova + pages) -> pages [index, ...). */
export interface IommuArea { iova: number; pages: number; index: number; gmem: string; gmemIndex: number; secure: boolean }

/** A live object of the model, as a view lists them. `index` is how events name it ("#index" without a name). */
export type ModelObject =
  | { kind: "gmem"; handle: number; index: number; name: string; pages: number; hugeOrder: number; protocol: "v2" | "v4";
      mmap: boolean }
  | { kind: "vm"; handle: number; index: number; name: string; memslots: number; dead: boolean }
  | { kind: "iommu"; handle: number; index: number; name: string; mode: "pin" | "gmem"; gmemIndex: number | null }
  | { kind: "bitmap"; handle: number; index: number; name: string; pages: number }
  | { kind: "pagetable"; handle: number; index: number; name: string; tables: number };

/** Options of range queries: `grain` pages per bucket (default 1, exact); see assembly/api/view.ts. */
export interface RangeOptions { grain?: number }

const REC_WORDS = L.VIEW_RECORD_SIZE / 4;
const indexOf = (handle: number): number => handle & ((1 << L.OBJ_INDEX_BITS) - 1);

/**
 * The change count: twice the calls that finished (every instance's seqcount IN_SEQ, plus H_CALLS_DONE for
 * instances gone), plus one per call running now; a probe gives its count back. It moves by two with every call that may change state; a reader
 * keeps a read only when it saw the same count before and after it with no call running (each counter only grows,
 * so an equal sum means every counter was unchanged).
 */
export function changeCount(sim: SimContext): number {
  return callState(sim).count;
}

function callState(sim: SimContext): { count: number; busy: boolean } {
  const u = sim.u32;
  let count = 2 * Atomics.load(u, L.H_CALLS_DONE >>> 2), busy = false;
  for (let s = 0; s < L.MAX_INSTANCES; s++) {
    const b = (L.INSTANCE_BASE + s * L.INSTANCE_SIZE) >>> 2;
    if (Atomics.load(u, b + (L.IN_STATE >>> 2)) === 0) continue;
    const c = Atomics.load(u, b + (L.IN_SEQ >>> 2));
    count += c;
    if (c & 1) busy = true;
  }
  return { count, busy };
}

/** Spin at most this long (ms) for a running step to end, in a held read. */
const HOLD_SPIN_MS = 1;

/**
 * One read with writers asked to stay out (H_VIEW_HOLD): wait at most HOLD_SPIN_MS for the step that runs now to
 * end (a writer that may block then parks at its next call's start, VIEW_HOLD_WAIT_NS at most), read, let them go.
 */
function readHeld<T>(sim: SimContext, read: () => T): T | undefined {
  const i32 = new Int32Array(sim.memory.buffer, 0, (L.HEADER_BASE + L.HEADER_SIZE) >>> 2);
  const hold = L.H_VIEW_HOLD >>> 2;
  Atomics.add(i32, hold, 1);
  try {
    const t0 = Date.now();
    let c = callState(sim);
    while (c.busy && Date.now() - t0 <= HOLD_SPIN_MS) c = callState(sim);
    if (c.busy) return undefined;
    let r: T;
    try { r = read(); }
    catch (e) {
      if (changeCount(sim) !== c.count) return undefined;
      throw e;
    }
    return changeCount(sim) === c.count ? r : undefined;
  } finally {
    Atomics.sub(i32, hold, 1);
    Atomics.notify(i32, hold);
  }
}

/**
 * Run `read` as a lock-free reader: keep its result when the change count was the same even value before and
 * after it (no step overlapped), else try again, at most `tries` times, then once more with writers asked to stay
 * out (read_seqbegin_or_lock's second pass, with the writer waiting instead of the reader: this thread spins at
 * most a millisecond for a running step to end); undefined when that overlapped a step too. An error `read` throws
 * counts as torn too when a step overlapped it.
 */
export function readConsistent<T>(sim: SimContext, read: () => T, tries = 3): T | undefined {
  for (let i = 0; i < tries; i++) {
    const { count: c1, busy } = callState(sim);
    if (busy) continue;
    let r: T;
    try { r = read(); }
    catch (e) {
      if (changeCount(sim) !== c1) continue;
      throw e;
    }
    if (changeCount(sim) === c1) return r;
  }
  return readHeld(sim, read);
}

/**
 * Call a view_* export until its range is done, decoding each record; `join` may extend the last record with the
 * next (a run cut by the end of a batch). A batch that makes no progress (a torn read) ends the walk.
 */
function collect<T>(sim: SimContext, op: string, call: (from: number) => number, from: number,
                    decode: (w: Uint32Array, at: number) => T, join?: (last: T, next: T) => boolean): T[] {
  const out: T[] = [];
  let next = from;
  for (;;) {
    const n = call(next);
    if (isErr(n)) check(n, op);
    const w = sim.u32;
    const base = ((sim.core.sim_scratch() >>> 0) + L.IN_VIEW) >>> 2;
    for (let i = 0; i < n; i++) {
      const rec = decode(w, base + i * REC_WORDS);
      if (!(join && out.length > 0 && join(out[out.length - 1], rec))) out.push(rec);
    }
    if (sim.out(C.OUT_INFO + C.VIEW_INFO_MORE) === 0) return out;
    const nn = sim.out(C.OUT_INFO + C.VIEW_INFO_NEXT);
    if (nn <= next) return out;
    next = nn;
  }
}

/** Every live object (paused operations aside), with its name. */
export function listObjects(sim: SimContext): ModelObject[] {
  return collect(sim, "sim.objects", (from) => sim.core.view_objects(from), 1, (w, at) => {
    const handle = w[at], kind = OBJ_KIND_NAMES[w[at + 1]], a = w[at + 2], b = w[at + 3];
    const index = indexOf(handle);
    const name = kind === "gmem" || kind === "vm" || kind === "iommu" ? sim.nameOf(kind, index) : `#${index}`;
    switch (kind) {
      case "gmem": return { kind, handle, index, name, pages: a, hugeOrder: b & 0xff,
        protocol: ((b >>> 8) & C.GMEM_GEN_V4) !== 0 ? "v4" : "v2", mmap: ((b >>> 8) & C.GMEM_FLAG_MMAP) !== 0 } as ModelObject;
      case "vm": return { kind, handle, index, name, memslots: a, dead: (b & 1) !== 0 } as ModelObject;
      case "iommu": return { kind, handle, index, name, mode: a === C.IOMMU_MODE_GMEM ? "gmem" : "pin",
        gmemIndex: b === 0 ? null : b } as ModelObject;
      case "bitmap": return { kind, handle, index, name, pages: a } as ModelObject;
      default: return { kind: "pagetable", handle, index, name, tables: a } as ModelObject;
    }
  });
}

/** A VM's memslots in use. */
export function listMemslots(sim: SimContext, vm: number): Memslot[] {
  return collect(sim, "vm.memslots", () => sim.core.view_memslots(vm), 0, (w, at) => {
    const gmemIndex = w[at] & 0xffff;
    return { slot: w[at] >>> C.VIEW_ID_SHIFT, gfn: w[at + 1], pages: w[at + 2], index: w[at + 3],
      gmem: sim.nameOf("gmem", gmemIndex), gmemIndex };
  });
}

/** An IOMMU domain's areas (non-secure table first, each in iova order). */
export function listAreas(sim: SimContext, io: number): IommuArea[] {
  return collect(sim, "iommu.areas", (from) => sim.core.view_areas(io, from), 0, (w, at) => {
    const gmemIndex = w[at] & 0xffff;
    return { iova: w[at + 1], pages: w[at + 2], index: w[at + 3], gmem: sim.nameOf("gmem", gmemIndex), gmemIndex,
      secure: (w[at] >>> C.VIEW_ID_SHIFT) !== 0 };
  });
}

/** The grain of a range query: a whole number >= 1 (EINVAL otherwise). */
function grainOf(op: string, opts: RangeOptions | undefined): number {
  const o = optsOf(op, opts);
  const g = o.grain ?? 1;
  if (typeof g !== "number" || !Number.isInteger(g) || g < 1 || g > 0xffffffff) {
    throw einval(op, `grain must be a whole number of pages >= 1, got ${String(g)}`);
  }
  return g;
}

/** Join b onto a when it continues it: adjacent, of the same kind, frames continuing (when a has frames). */
function joinRuns<T extends { start: number; end: number; pfn: number }>(same: (a: T, b: T) => boolean, linear: (a: T) => boolean) {
  return (a: T, b: T): boolean => {
    if (a.end !== b.start || !same(a, b) || (linear(a) && a.pfn + (b.start - a.start) !== b.pfn)) return false;
    a.end = b.end;
    return true;
  };
}

/** The leaves of one table (a VIEW_TABLE_* selector) over [start, end) of its index space, as runs. */
export function mappingRuns(sim: SimContext, op: string, table: number, handle: number, start: number, end: number,
                            opts?: RangeOptions): MappingRun[] {
  const grain = grainOf(op, opts);
  return collect(sim, op, (from) => sim.core.view_leaves(table, handle, f64(from), f64(end), grain), start,
    (w, at) => ({ start: w[at], end: w[at] + w[at + 1], pfn: w[at + 2],
      level: LEVEL_NAMES[w[at + 3] & 0xff] as MappingRun["level"], state: (w[at + 3] >>> 8) & 0xff }),
    joinRuns<MappingRun>((a, b) => a.level === b.level && a.state === b.state, () => true));
}

const FOLIO_STATE = ["absent", "huge", "small"] as const;

/** The folio layout of a guest_memfd over [start, end) of its page indices. */
export function folioRuns(sim: SimContext, handle: number, start: number, end: number, opts?: RangeOptions): FolioRun[] {
  const op = "gmem.folios";
  const grain = grainOf(op, opts);
  const e = u32(op, "end", end);
  return collect(sim, op, (from) => sim.core.view_folios(handle, from, e, grain), u32(op, "start", start),
    (w, at) => {
      const state = FOLIO_STATE[w[at + 3] & 0xff] ?? "absent";
      return { start: w[at], end: w[at] + w[at + 1], state, order: state === "absent" ? -1 : (w[at + 3] >>> 8) & 0xff,
        pfn: w[at + 2], uptodate: (w[at + 3] & C.VIEW_FOLIO_UPTODATE) !== 0 };
    },
    joinRuns<FolioRun>((a, b) => a.state === b.state && a.state !== "huge" && a.uptodate === b.uptodate,
      (a) => a.state !== "absent"));
}

/** Shareability over [start, end) of a guest_memfd's or a bitmap's indices. */
export function shareRuns(sim: SimContext, handle: number, start: number, end: number, opts?: RangeOptions): ShareRun[] {
  const op = "bitmap.shareability";
  const grain = grainOf(op, opts);
  const e = u32(op, "end", end);
  const uniform = (r: ShareRun) => (r.shared === 0 ? 0 : r.shared === r.end - r.start ? 1 : -1);
  return collect(sim, op, (from) => sim.core.view_shareability(handle, from, e, grain), u32(op, "start", start),
    (w, at) => ({ start: w[at], end: w[at] + w[at + 1], shared: w[at + 2] }),
    (a, b) => {
      const k = uniform(a);
      if (a.end !== b.start || k < 0 || k !== uniform(b)) return false;
      a.shared += b.shared;
      a.end = b.end;
      return true;
    });
}
