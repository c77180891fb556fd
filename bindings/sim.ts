// The typed facade over the core: handles become objects, -errno becomes a thrown GmemError with a stable
// `.code`, and bulk state is read through typed views over the one shared memory (re-created after growth).
import * as L from "../assembly/layout";
import {
  compileCore, compileCoreSync, coreBytes, createMemory, instantiateCore, onBrowserMainThread, canShareMemory,
  type CoreExports, type CoreFlavor,
} from "./core";
import { GmemError, InvariantError, EnvironmentError, ERRNO, check, einval, isErr } from "./errors";

export interface SimulatorOptions {
  /** Attach to the memory of an existing simulator (from `sim.share()`), e.g. inside a worker. */
  memory?: WebAssembly.Memory;
  /** Use the debug core (asserts kept). Default false. */
  debug?: boolean;
  /** Run the invariant checker after every step. Default: on with the debug core. */
  checks?: boolean;
  /** Maximum memory in 64 KiB Wasm pages for a new memory (default 65536 = 4 GiB). */
  maximumPages?: number;
  /** May this thread block on a contended lock? Default: false on a browser's main thread, else true. */
  mayBlock?: boolean;
}

/** What a worker needs to attach to this simulator: both are structured-cloneable. */
export interface SharedSimulator {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  flavor: CoreFlavor;
}

/** Folio states of `Gmem.folio()`. */
export type FolioState = "absent" | "huge" | "small";

export interface FolioInfo {
  state: FolioState;
  /** 0, 9 or 18 (absent: -1) */
  order: number;
  /** pfn backing the index asked about */
  pfn: number;
  refcount: number;
  pincount: number;
  mapcount: number;
  uptodate: boolean;
  /** first index of the folio */
  index: number;
}

export interface MemoryStats {
  /** bytes of Wasm memory (all of it, header and heap) */
  memoryBytes: number;
  /** heap pages (4 KiB) allocated now / at most so far */
  heapPages: number;
  heapPeakPages: number;
  liveObjects: number;
  /** modelled frames in use: 4 KiB pages, 2 MiB and 1 GiB HugeTLB pages */
  pfnSmall: number;
  pfn2M: number;
  pfn1G: number;
}

const INVARIANT_NAMES: Record<number, string> = { 101: "PT" };
function invariantName(code: number): string {
  return INVARIANT_NAMES[code] ?? `I${code}`;
}

/** Validate a u32 argument (page index, gfn, pfn): a whole number in [0, 2^32). */
function u32(op: string, name: string, x: unknown): number {
  if (typeof x === "bigint") {
    if (x < 0n || x > 0xffffffffn) throw einval(op, `${name} out of range`);
    return Number(x);
  }
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 0xffffffff) {
    throw einval(op, `${name} must be an integer in [0, 2^32), got ${String(x)}`);
  }
  return x;
}

/** A byte quantity or range end for the core's f64 parameters: the core rejects anything not a whole number. */
function f64(x: unknown): number {
  if (typeof x === "number") return x;
  if (typeof x === "bigint") return x >= -(2n ** 53n) && x <= 2n ** 53n ? Number(x) : Number.NaN;
  return Number.NaN;
}

export class Simulator {
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly flavor: CoreFlavor;
  /** The id the core gave this instance (instances attached to one memory get distinct ids). */
  readonly instanceId: number;
  /** @internal raw exports: the numeric ABI of assembly/index.ts */
  readonly core: CoreExports;
  private _u32: Uint32Array;
  private scratchWord: number;

  /** @internal use createSimulator / createSimulatorSync */
  constructor(core: CoreExports, module: WebAssembly.Module, memory: WebAssembly.Memory, flavor: CoreFlavor,
              opts: SimulatorOptions) {
    this.core = core;
    this.module = module;
    this.memory = memory;
    this.flavor = flavor;
    const mayBlock = opts.mayBlock ?? !onBrowserMainThread();
    const id = core.sim_attach(mayBlock ? 1 : 0);
    if (isErr(id)) {
      throw new EnvironmentError(id === -ERRNO.EINVAL ? "EINVAL" : "ENOMEM",
        "this memory holds another gmemsim layout (or the core's static data overlaps the page map)");
    }
    this.instanceId = id;
    this.scratchWord = (core.sim_scratch() >>> 0) >>> 2;
    this._u32 = new Uint32Array(memory.buffer);
    const checks = opts.checks ?? flavor === "debug";
    if (opts.memory === undefined || opts.checks !== undefined) check(core.sim_set_checks(checks ? 1 : 0), "sim.setChecks");
  }

  /** A Uint32Array over the whole memory, re-created whenever the memory has grown. */
  get u32(): Uint32Array {
    if (this._u32.buffer.byteLength !== this.memory.buffer.byteLength) this._u32 = new Uint32Array(this.memory.buffer);
    return this._u32;
  }

  /** @internal the i-th out-value of the last query */
  out(i: number): number {
    return this.u32[this.scratchWord + i];
  }

  /** What a worker passes to createSimulatorSync(shared.module, { memory: shared.memory }) to attach. */
  share(): SharedSimulator {
    if (!canShareMemory()) {
      throw new EnvironmentError("EPERM",
        "this page is not cross-origin isolated, so its shared memory cannot be sent to workers: serve it with " +
        "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp' " +
        "(the simulator itself still works on this thread)");
    }
    return { module: this.module, memory: this.memory, flavor: this.flavor };
  }

  /** Turn the after-every-step invariant checker on or off (shared by every instance on this memory). */
  setChecks(on: boolean): void {
    check(this.core.sim_set_checks(on ? 1 : 0), "sim.setChecks");
  }

  /** Make the n-th next heap allocation fail (1 = the next one); 0 turns it off. For exhaustion tests. */
  failAllocation(n: number): void {
    check(this.core.sim_fail_alloc(u32("sim.failAllocation", "n", n)), "sim.failAllocation");
  }

  memoryStats(): MemoryStats {
    const m = this.u32;
    const w = (addr: number) => m[addr >>> 2];
    return {
      memoryBytes: this.memory.buffer.byteLength,
      heapPages: w(L.H_PAGES_USED),
      heapPeakPages: w(L.H_PAGES_PEAK),
      liveObjects: w(L.H_OBJ_LIVE),
      pfnSmall: w(L.PFN_USED_SMALL),
      pfn2M: w(L.PFN_USED_2M),
      pfn1G: w(L.PFN_USED_1G),
    };
  }

  /** @internal throw the violation the core just reported */
  raiseViolation(code: number, what: string): never {
    this.core.sim_last_violation();
    throw new InvariantError(invariantName(code), this.out(1), this.u32[L.H_STEP >>> 2], what);
  }

  /** A standalone shareability bitmap of npages indices (the structure each guest_memfd inode owns). */
  createBitmap(npages: number, init: { shared?: boolean } = {}): Bitmap {
    const n = u32("bitmap.create", "npages", npages);
    const h = check(this.core.bitmap_create(n, init.shared ? 1 : 0), "bitmap.create");
    return new Bitmap(this, h, n);
  }

  /** A standalone radix page table (the structure every KVM and IOMMU table uses). */
  createPageTable(): PageTable {
    return new PageTable(this, check(this.core.pt_create(), "pt.create"));
  }

  /** Wrap a bitmap handle created by another instance on this memory (e.g. received from the main thread). */
  openBitmap(handle: number): Bitmap {
    const h = u32("bitmap.open", "handle", handle);
    const hdr = this.core.bitmap_ptr(h) >>> 0;
    if (hdr === 0 || this.core.gmem_ptr(h) !== 0) throw new GmemError(ERRNO.EBADF, "bitmap.open");
    return new Bitmap(this, h, this.u32[(hdr + L.BM_NPAGES) >>> 2]);
  }

  /** Wrap a page-table handle created by another instance on this memory. */
  openPageTable(handle: number): PageTable {
    const h = u32("pt.open", "handle", handle);
    check(this.core.pt_tables(h), "pt.open");
    return new PageTable(this, h);
  }

  /** Wrap a guest_memfd handle created by another instance on this memory. */
  openGmem(handle: number): Gmem {
    const h = u32("gmem.open", "handle", handle);
    if (this.core.gmem_ptr(h) === 0) throw new GmemError(ERRNO.EBADF, "gmem.open");
    return new Gmem(this, h);
  }

  /**
   * A guest_memfd inode with its bitmap and filemap (KVM_CREATE_GUEST_MEMFD). size in bytes (number or bigint);
   * flags as in SCENARIOS.md. The protocol generation decides the default initial state (v2 shared, v4 private).
   */
  createGmem(size: number | bigint, flags: GmemFlag[] = [], protocol: "v2" | "v4" = "v2"): Gmem {
    let bits = protocol === "v4" ? L.GMEM_FLAG_V4 : 0;
    for (const f of flags) {
      const b = GMEM_FLAG_BITS[f as string];
      if (b === undefined) throw einval("gmem.create", `unknown flag ${String(f)}`);
      bits |= b;
    }
    const h = check(this.core.gmem_create(f64(size), bits), "gmem.create");
    return new Gmem(this, h);
  }
}

export type GmemFlag = "mmap" | "init-shared" | "init-private" | "hugetlb-2M" | "hugetlb-1G";
const GMEM_FLAG_BITS: Record<string, number> = {
  "mmap": L.GMEM_FLAG_MMAP,
  "init-shared": L.GMEM_FLAG_INIT_SHARED,
  "init-private": L.GMEM_FLAG_INIT_PRIVATE,
  "hugetlb-2M": L.GMEM_FLAG_HUGETLB_2M,
  "hugetlb-1G": L.GMEM_FLAG_HUGETLB_1G,
};

/** A run of equal shareability: [start, end) page indices. */
export interface Run { start: number; end: number; shared: boolean }

/** Views and queries over one shareability bitmap (standalone, or a guest_memfd inode's). */
abstract class BitmapReader {
  protected abstract readonly sim: Simulator;
  abstract readonly handle: number;
  abstract readonly npages: number;

  protected headerAddr(): number {
    const p = this.sim.core.bitmap_ptr(this.handle) >>> 0;
    if (p === 0) throw new GmemError(ERRNO.EBADF, "bitmap", "disposed");
    return p;
  }

  /** The bitmap words as a live Uint32Array view (index i is bit i % 32 of word i / 32; 1 = shared). */
  words(): Uint32Array {
    const hdr = this.headerAddr();
    const m = this.sim.u32;
    const words = m[(hdr + L.BM_WORDS) >>> 2];
    return new Uint32Array(this.sim.memory.buffer, words, m[(hdr + L.BM_NWORDS) >>> 2] * 2);
  }

  /** Shared-page counts per 2 MiB block as a live Uint16Array view. */
  counts2M(): Uint16Array {
    const hdr = this.headerAddr();
    const m = this.sim.u32;
    return new Uint16Array(this.sim.memory.buffer, m[(hdr + L.BM_CNT2M) >>> 2], m[(hdr + L.BM_N2M) >>> 2]);
  }

  /** Shared-page counts per 1 GiB block as a live Uint32Array view. */
  counts1G(): Uint32Array {
    const hdr = this.headerAddr();
    const m = this.sim.u32;
    return new Uint32Array(this.sim.memory.buffer, m[(hdr + L.BM_CNT1G) >>> 2], m[(hdr + L.BM_N1G) >>> 2]);
  }

  /** Total shared pages (kept by the core, O(1)). */
  sharedTotal(): number {
    return this.sim.u32[(this.headerAddr() + L.BM_SHARED) >>> 2];
  }

  /** Is index shared? */
  test(index: number): boolean {
    return check(this.sim.core.bitmap_test(this.handle, u32("bitmap.test", "index", index)), "bitmap.test") === 1;
  }
  /** Shared indices in [start, end). */
  countShared(start = 0, end = this.npages): number {
    const op = "bitmap.countShared";
    const r = this.sim.core.bitmap_count(this.handle, u32(op, "start", start), u32(op, "end", end));
    if (isErr(r)) check(r, op);
    return r;
  }
  /** First index in [from, end) that is not `shared`, or end (O(1) per uniform 2 MiB / 1 GiB block). */
  nextDiff(from: number, end: number, shared: boolean): number {
    const op = "bitmap.nextDiff";
    const r = this.sim.core.bitmap_next_diff(this.handle, u32(op, "from", from), u32(op, "end", end), shared ? 1 : 0);
    if (isErr(r)) check(r, op);
    return r;
  }
  /** The maximal runs of equal value in [start, end): the ranges the kernel's maple tree would hold. */
  runs(start = 0, end = this.npages): Run[] {
    const runs: Run[] = [];
    let i = start;
    while (i < end) {
      const shared = this.test(i);
      const e = this.nextDiff(i, end, shared);
      runs.push({ start: i, end: e, shared });
      i = e;
    }
    return runs;
  }
  /** Shared indices in the 2 MiB (order 9) or 1 GiB (order 18) block holding index, O(1). */
  blockShared(index: number, order: 9 | 18): number {
    const op = "bitmap.blockShared";
    return check(this.sim.core.bitmap_block_shared(this.handle, u32(op, "index", index), order), op);
  }
  /** Bytes of Wasm memory the bitmap occupies. */
  bitmapBytes(): number {
    const r = this.sim.core.bitmap_bytes(this.handle);
    if (isErr(r)) check(r, "bitmap.bytes");
    return r;
  }
}

export class Bitmap extends BitmapReader {
  protected readonly sim: Simulator;
  readonly handle: number;
  readonly npages: number;
  constructor(sim: Simulator, handle: number, npages: number) {
    super();
    this.sim = sim;
    this.handle = handle;
    this.npages = npages;
  }
  /** Mark [start, end) shared (true) or private (false). */
  assign(start: number, end: number, shared: boolean): void {
    const op = "bitmap.assign";
    check(this.sim.core.bitmap_assign(this.handle, u32(op, "start", start), u32(op, "end", end), shared ? 1 : 0), op);
  }
  /** Run the I1 check on this bitmap; throws InvariantError. */
  check(): void {
    const r = check(this.sim.core.bitmap_check(this.handle), "bitmap.check");
    if (r !== 0) this.sim.raiseViolation(r, "bitmap counts disagree with its bits");
  }
  dispose(): void {
    check(this.sim.core.bitmap_destroy(this.handle), "bitmap.dispose");
  }
}

export type PageLevel = 1 | 2 | 3;
export interface Leaf { pfn: number; level: PageLevel; state: number }

export class PageTable {
  readonly sim: Simulator;
  readonly handle: number;
  constructor(sim: Simulator, handle: number) {
    this.sim = sim;
    this.handle = handle;
  }
  /** Map gfn -> pfn with a leaf of level 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB); both aligned to the level. */
  map(gfn: number, pfn: number, level: PageLevel = 1, state = 0): void {
    const op = "pt.map";
    check(this.sim.core.pt_map(this.handle, u32(op, "gfn", gfn), u32(op, "pfn", pfn), u32(op, "level", level),
      u32(op, "state", state)), op);
  }
  /** The leaf mapping gfn (pfn is gfn's own frame inside a huge leaf), or null. */
  lookup(gfn: number): Leaf | null {
    const level = check(this.sim.core.pt_lookup(this.handle, u32("pt.lookup", "gfn", gfn)), "pt.lookup");
    if (level === 0) return null;
    return { pfn: this.sim.out(0), level: level as PageLevel, state: this.sim.out(1) };
  }
  /**
   * Remove every leaf mapping a gfn in [start, end). A huge leaf that sticks out of the range is zapped whole
   * ('zap', as KVM does outside TDX) or demoted first so exactly the range goes ('demote', TDX's precise zap).
   * Returns the leaves removed and the gfn span they covered.
   */
  zap(start: number, end: number, partial: "zap" | "demote" = "zap"): { count: number; start: number; end: number } {
    const count = check(this.sim.core.pt_zap(this.handle, f64(start), f64(end), partial === "demote" ? 1 : 0), "pt.zap");
    return count === 0 ? { count, start, end: start }
      : { count, start: this.sim.core.pt_last_zap_start(), end: this.sim.core.pt_last_zap_end() };
  }
  /** Split the huge leaf of `level` (2 or 3) mapping gfn into 512 leaves one level down. */
  demote(gfn: number, level: 2 | 3): void {
    check(this.sim.core.pt_demote(this.handle, u32("pt.demote", "gfn", gfn), level), "pt.demote");
  }
  /** Present leaves per level (from the counters). */
  leaves(): { "4K": number; "2M": number; "1G": number } {
    const c = this.sim.core;
    return { "4K": check(c.pt_leaves(this.handle, 1), "pt.leaves"), "2M": c.pt_leaves(this.handle, 2),
      "1G": c.pt_leaves(this.handle, 3) };
  }
  /** Table pages in use, root included. */
  tables(): number {
    return check(this.sim.core.pt_tables(this.handle), "pt.tables");
  }
  /** Present leaves in [start, end), counted by a walk with the tdp_iter-style iterator. */
  countRange(start: number, end: number): number {
    return check(this.sim.core.pt_count_range(this.handle, f64(start), f64(end)), "pt.countRange");
  }
  check(): void {
    const r = check(this.sim.core.pt_check(this.handle), "pt.check");
    if (r !== 0) this.sim.raiseViolation(r, "page-table counters, occupancy or alignment are wrong");
  }
  dispose(): void {
    check(this.sim.core.pt_destroy(this.handle), "pt.dispose");
  }
}

const FOLIO_STATES: FolioState[] = ["absent", "huge", "small"];

/** A guest_memfd inode's structures: its bitmap and its filemap of folios. */
export class Gmem extends BitmapReader {
  protected readonly sim: Simulator;
  readonly handle: number;
  readonly npages: number;
  constructor(sim: Simulator, handle: number) {
    super();
    this.sim = sim;
    this.handle = handle;
    this.npages = sim.u32[(this.inodeAddr() + L.GI_NPAGES) >>> 2];
  }
  private inodeAddr(): number {
    const p = this.sim.core.gmem_ptr(this.handle) >>> 0;
    if (p === 0) throw new GmemError(ERRNO.EBADF, "gmem", "closed");
    return p;
  }
  /** Size in bytes. */
  get size(): number {
    return this.npages * L.PAGE_SIZE;
  }
  /** HugeTLB order of the inode's folios: 0 (4 KiB pages), 9 (2 MiB) or 18 (1 GiB). */
  get hugeOrder(): number {
    return this.sim.u32[(this.inodeAddr() + L.GI_HUGE_ORDER) >>> 2];
  }
  /** 4 KiB pages that have a folio. */
  get populated(): number {
    return this.sim.u32[(this.inodeAddr() + L.GI_POPULATED) >>> 2];
  }
  /** The folio holding index. */
  folio(index: number): FolioInfo {
    const state = check(this.sim.core.folio_describe(this.handle, u32("folio.describe", "index", index)), "folio.describe");
    const o = (i: number) => this.sim.out(i);
    return {
      state: FOLIO_STATES[state], order: state === 0 ? -1 : o(1), pfn: o(2), refcount: o(3), pincount: o(4),
      mapcount: o(5), uptodate: (o(6) & L.FOLIO_UPTODATE) !== 0, index: o(7),
    };
  }
  /** Allocate the folio for index if there is none (the whole huge block with HugeTLB). */
  allocFolio(index: number): void {
    check(this.sim.core.folio_alloc(this.handle, u32("folio.alloc", "index", index)), "folio.alloc");
  }
  /** Split the huge folio holding index into 4 KiB folios (pfns stay contiguous). EAGAIN if referenced. */
  splitFolio(index: number): void {
    this.busyCheck(this.sim.core.folio_split(this.handle, u32("folio.split", "index", index)), "folio.split");
  }
  /** Merge the split HugeTLB block holding index back into one folio. EAGAIN if a 4 KiB folio is referenced. */
  mergeFolio(index: number): void {
    this.busyCheck(this.sim.core.folio_merge(this.handle, u32("folio.merge", "index", index)), "folio.merge");
  }
  /** Truncate every folio of the block holding index. EAGAIN if referenced. */
  freeBlock(index: number): void {
    this.busyCheck(this.sim.core.folio_free_block(this.handle, u32("folio.freeBlock", "index", index)), "folio.freeBlock");
  }
  /** Take or drop a reference: 'transient', 'map' (host PTE) or 'pin' (long-term GUP pin). */
  ref(index: number, kind: "transient" | "map" | "pin", delta: 1 | -1): void {
    const k = kind === "transient" ? 0 : kind === "map" ? 1 : kind === "pin" ? 2 : -1;
    if (k < 0) throw einval("folio.ref", `unknown kind ${String(kind)}`);
    if (delta !== 1 && delta !== -1) throw einval("folio.ref", "delta must be 1 or -1");
    check(this.sim.core.folio_ref(this.handle, u32("folio.ref", "index", index), k, delta), "folio.ref");
  }
  markUptodate(index: number): void {
    check(this.sim.core.folio_mark_uptodate(this.handle, u32("folio.markUptodate", "index", index)), "folio.markUptodate");
  }
  /** I1 on the bitmap, I2 and I4 on the folios; throws InvariantError. */
  check(): void {
    const r = check(this.sim.core.gmem_check(this.handle), "gmem.check");
    if (r !== 0) this.sim.raiseViolation(r, r === 1 ? "bitmap counts disagree with its bits" : "folio structure or refcounts");
  }
  dispose(): void {
    check(this.sim.core.gmem_destroy(this.handle), "gmem.dispose");
  }
  private busyCheck(r: number, op: string): void {
    if (isErr(r)) {
      const e = new GmemError(-r, op);
      if (r === -ERRNO.EAGAIN) e.errorOffset = this.sim.out(0) * L.PAGE_SIZE;
      throw e;
    }
  }
}

/** Create a simulator with a fresh memory (or attach to `options.memory`); compiles the core once and caches it. */
export async function createSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const flavor: CoreFlavor = options.debug ? "debug" : "release";
  const module = await compileCore(flavor);
  const memory = options.memory ?? createMemory(options.maximumPages);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  return new Simulator(instance.exports as unknown as CoreExports, module, memory, flavor, options);
}

/**
 * Create a simulator synchronously from a compiled module or the core's bytes (default: the embedded release
 * core). With `options.memory` it attaches to that memory: the way a worker joins a simulator.
 */
export function createSimulatorSync(moduleOrBytes?: WebAssembly.Module | BufferSource,
                                    options: SimulatorOptions = {}): Simulator {
  const flavor: CoreFlavor = options.debug ? "debug" : "release";
  const module = moduleOrBytes instanceof WebAssembly.Module ? moduleOrBytes
    : moduleOrBytes === undefined ? compileCoreSync(flavor) : new WebAssembly.Module(moduleOrBytes);
  const memory = options.memory ?? createMemory(options.maximumPages);
  return new Simulator(instantiateCore(module, memory), module, memory, flavor, options);
}

export { coreBytes, compileCore };
