// The typed facade over the core: handles become objects, -errno becomes a thrown GmemError with a stable
// `.code`, and bulk state is read through typed views over the one shared memory (re-created after growth).
import * as L from "../assembly/layout";
import {
  compileCore, compileCoreSync, coreBytes, createMemory, instantiateCore, onBrowserMainThread, canShareMemory,
  type CoreExports, type CoreFlavor,
} from "./core";
import { GmemError, InvariantError, EnvironmentError, ERRNO, check, einval, isErr } from "./errors";
import { EventReader, EVENT_NAMES, type SimEvent } from "./events";

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
  /** The machine's architecture for a new memory: 'sw' (default), 'tdx' or 'snp'. */
  arch?: Arch;
  /** Default generation of guest_memfds created by this simulator: 'v2' (default) or 'v4'. */
  protocol?: Protocol;
}

export type Arch = "sw" | "tdx" | "snp";
export type Protocol = "v2" | "v4";
const ARCH_NUM: Record<string, number> = { sw: L.ARCH_SW, tdx: L.ARCH_TDX, snp: L.ARCH_SNP };

/** Result of a guest access (KVM_RUN until the access completes or exits). */
export interface GuestAccess {
  /** 'mapped' (the access went through), 'memory-fault' (KVM_EXIT_MEMORY_FAULT), 'retry' (an invalidation of
   *  this gfn is in flight, so the fault cannot make progress), 'hwpoison' */
  result: "mapped" | "memory-fault" | "retry" | "hwpoison";
  /** mapping level the access used ('mapped' only) */
  level?: "4K" | "2M" | "1G";
  /** the page's content value as read */
  value?: number;
}

export interface HostAccess { result: "ok" | "SIGBUS" | "retry"; value?: number }

/** An operation stopped at a pause point; `sim.resume(op)` continues it. */
export interface PausedOp { readonly handle: number; readonly kind: "convert" | "access"; readonly op: string }

const ACCESS_RESULTS = ["", "mapped", "memory-fault", "retry", "hwpoison"] as const;
const LEVEL_NAME = ["", "4K", "2M", "1G"] as const;
const RESULT_PAUSED = 0x7000;
/** pause points of a conversion -> the phase after which it stops (assembly/convert.ts PH_*) */
export const CONVERT_PAUSE_PHASE: Record<string, number> = {
  "after-invalidate-begin": 0, "after-should-proceed": 1, "after-execute": 2,
};
const CONVERT_PAUSE_PHASE_V4: Record<string, number> = {
  "after-should-proceed": 0, "after-invalidate-begin": 1, "after-execute": 2,
};
const FAULTS: Record<string, number> = {
  "enomem-split": L.INJ_ENOMEM_SPLIT, "enomem-store": L.INJ_ENOMEM_STORE, "transient-ref": L.INJ_TRANSIENT_REF,
  "sept-remove-fail": L.INJ_SEPT_REMOVE_FAIL,
};

/** An options argument: undefined -> {}, an object -> itself, anything else -> EINVAL. */
function optsOf<T extends object>(op: string, x: T | undefined | null): Partial<T> {
  if (x === undefined) return {};
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw einval(op, "options must be an object");
  return x;
}

/** A PausedOp handed back by this binding (shape-checked: anything else is EINVAL). */
function pausedOf(op: string, x: unknown): PausedOp {
  const p = x as PausedOp;
  if (typeof x !== "object" || x === null || typeof p.handle !== "number" || (p.kind !== "convert" && p.kind !== "access")) {
    throw einval(op, "not a paused operation");
  }
  return p;
}

function u32value(op: string, x: unknown): number {
  if (typeof x === "bigint" && x >= 0n && x <= 0xffffffffn) return Number(x);
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 0xffffffff) {
    throw einval(op, `a page's content value is an integer in [0, 2^32), got ${String(x)}`);
  }
  return x;
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
  private readonly names = new Map<string, string>();
  /** Default generation for createGmem. */
  protocol: Protocol;
  /** Reader of the event ring from this instance's point of view (starts at the head when created). */
  readonly events: EventReader;

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
    if (opts.arch !== undefined) {
      const a = ARCH_NUM[opts.arch];
      if (a === undefined) throw einval("sim.create", `unknown arch ${String(opts.arch)}`);
      check(core.sim_set_arch(a), "sim.setArch");
    }
    if (opts.protocol !== undefined && opts.protocol !== "v2" && opts.protocol !== "v4") {
      throw einval("sim.create", `unknown protocol ${String(opts.protocol)}`);
    }
    this.protocol = opts.protocol ?? "v2";
    this.events = new EventReader(memory, (kind, index) => this.nameOf(kind, index));
  }

  /** The machine's architecture. */
  get arch(): Arch {
    return (["sw", "tdx", "snp"] as const)[this.core.sim_arch()];
  }

  /** Is the after-every-step checker on? */
  get checks(): boolean {
    return (this._u32[L.H_DEBUG >>> 2] & 1) === 1;
  }

  /** @internal name objects in events: the name given at creation, else "#<index>" */
  nameOf(kind: string, index: number): string {
    return this.names.get(`${kind}:${index}`) ?? `#${index}`;
  }
  /** @internal */
  setName(kind: string, handle: number, name: string | undefined): void {
    if (name !== undefined) this.names.set(`${kind}:${handle & ((1 << L.OBJ_INDEX_BITS) - 1)}`, name);
  }

  /**
   * The whole model state as bytes: a small header (format, layout version, object names) and the memory image
   * up to the heap top. restoreSimulator(bytes) rebuilds it in a fresh memory, in Node or a browser.
   */
  snapshot(): Uint8Array {
    check(this.core.sim_freeze(), "snapshot");
    try {
      const used = this.core.sim_used_bytes();
      const names = new TextEncoder().encode(JSON.stringify([...this.names], null, 0));
      const head = new Uint8Array(32);
      const dv = new DataView(head.buffer);
      head.set([0x47, 0x4d, 0x53, 0x4e, 0x41, 0x50, 0x30, 0x31]); // "GMSNAP01"
      dv.setUint32(8, L.LAYOUT_VERSION, true);
      dv.setUint32(12, used, true);
      dv.setUint32(16, names.length, true);
      dv.setUint32(20, this.protocol === "v4" ? 1 : 0, true);
      const outp = new Uint8Array(32 + names.length + used);
      outp.set(head, 0);
      outp.set(names, 32);
      outp.set(new Uint8Array(this.memory.buffer, 0, used), 32 + names.length);
      // the copy was taken under the lock: release it in the image
      new DataView(outp.buffer).setUint32(32 + names.length + L.H_SIM_LOCK, 0, true);
      return outp;
    } finally {
      this.core.sim_thaw();
    }
  }

  /** @internal names travel with snapshots */
  namesFrom(entries: [string, string][]): void {
    for (const [k, v] of entries) this.names.set(k, v);
  }

  /** Steps (ops) performed on this memory so far. */
  get step(): number {
    return this._u32[L.H_STEP >>> 2];
  }

  /** Number of events of each kind since the memory was created (the counters check.stats reads). */
  counters(): Record<string, number> {
    const u = this.u32;
    const outp: Record<string, number> = {};
    for (let k = 1; k < EVENT_NAMES.length; k++) {
      if (!EVENT_NAMES[k]) continue;
      const at = (L.H_COUNTERS >>> 2) + k * 2;
      outp[EVENT_NAMES[k]] = u[at] + u[at + 1] * 2 ** 32;
      const sat = (L.H_COUNT_SUMS >>> 2) + k * 2;
      outp[EVENT_NAMES[k] + ".count"] = u[sat] + u[sat + 1] * 2 ** 32;
    }
    // the invalidation callback by reason: "iommu.invalidate.to-private", ".to-shared", ".truncate", ".unbind"
    ["to-private", "to-shared", "truncate", "unbind"].forEach((reason, i) => {
      const at = (L.H_COUNTERS >>> 2) + (L.CTR_REASON_BASE + i) * 2;
      outp[`iommu.invalidate.${reason}`] = u[at] + u[at + 1] * 2 ** 32;
    });
    return outp;
  }

  /** @internal after a step: with the checker on, throw the violation it found (result = the op's own result) */
  afterStep(op: string, r: number): number {
    if (this.checks) {
      const code = this.core.sim_last_violation();
      if (code !== 0) {
        throw Object.assign(new InvariantError(invariantName(code), this.out(31), this.step, `after ${op}`), { opResult: r });
      }
    }
    return r;
  }

  /** Run every invariant now; throws InvariantError naming the first one broken. */
  checkInvariants(): void {
    const r = check(this.core.sim_check_all(), "check.invariants");
    if (r !== 0) this.raiseViolation(r, "check.invariants");
  }

  /** Arm a fault for the next matching internal step(s): 'enomem-split', 'enomem-store', 'transient-ref', 'sept-remove-fail'. */
  inject(fault: string, count = 1): void {
    const k = FAULTS[fault];
    if (k === undefined) throw einval("inject", `unknown fault ${String(fault)}`);
    check(this.core.sim_inject(k, u32("inject", "count", count)), "inject");
  }

  /**
   * Debug core only: make one mechanism misbehave once, to see the checker name what it breaks:
   * 'skip-rollback' (I18), 'force-work' (I19), 'skip-shared-zap' (I9), 'bad-error-index' (I20), 'skip-retry' (I12).
   */
  debugHook(which: "skip-rollback" | "force-work" | "skip-shared-zap" | "bad-error-index" | "skip-retry"): void {
    const n = ["", "skip-rollback", "force-work", "skip-shared-zap", "bad-error-index", "skip-retry"].indexOf(which);
    if (n <= 0) throw einval("debugHook", `unknown hook ${String(which)}`);
    check(this.core.sim_debug_hook(n), "debugHook");
  }

  /**
   * Debug core only: corrupt the state so that invariant `inv` ('I1'...'I17') breaks, to show the checker at
   * work. target: the guest_memfd (I1-I6, I14, I17; index = page) or the VM (I7, I8, I10, I11, I13, I15, I16;
   * index = gfn). The runtime invariants I9, I12, I18-I20 are broken with debugHook() instead.
   */
  debugCorrupt(inv: string, target: Gmem | Vm, index = 0): void {
    const m = /^I(\d+)$/.exec(inv);
    if (!m) throw einval("debugCorrupt", `unknown invariant ${String(inv)}`);
    check(this.core.sim_debug_corrupt(+m[1], target.handle, u32("debugCorrupt", "index", index), 0), "debugCorrupt");
  }

  /** A VM (KVM_CREATE_VM) with a private and a shared table. */
  createVm(opts?: { name?: string }): Vm {
    opts = optsOf("vm.create", opts);
    const h = check(this.afterStep("vm.create", this.core.vm_create()), "vm.create");
    this.setName("vm", h, opts.name);
    return new Vm(this, h);
  }

  /**
   * An IOMMU (iommufd-like domain with a secure and a non-secure IO page table): 'pin' maps through the host
   * mapping with long-term pins (today's VFIO type1 / IOAS map); 'gmem' binds to a guest_memfd, takes no page
   * references and gets the invalidation callback (the seed's proposal).
   */
  createIommu(mode: "pin" | "gmem", opts?: { name?: string }): Iommu {
    opts = optsOf("iommu.create", opts);
    if (mode !== "pin" && mode !== "gmem") throw einval("iommu.create", `mode must be 'pin' or 'gmem'`);
    const h = check(this.afterStep("iommu.create", this.core.iommu_create(mode === "gmem" ? 1 : 0)), "iommu.create");
    this.setName("iommu", h, opts.name);
    return new Iommu(this, h);
  }

  /** Frames the model had to leak (a TDX S-EPT removal failure leaks the page). */
  leakedPages(): number {
    return this.core.sim_leaked() >>> 0;
  }

  /** Wrap a VM handle created by another instance on this memory. */
  openVm(handle: number): Vm {
    const h = u32("vm.open", "handle", handle);
    check(this.core.vm_info(h), "vm.open");
    return new Vm(this, h);
  }

  /** Continue a paused conversion or guest access. A conversion returns undefined or throws like convert(). */
  resume(op: PausedOp, opts?: { pause?: string }): GuestAccess | PausedOp | undefined {
    op = pausedOf("resume", op);
    opts = optsOf("resume", opts);
    let stop = 4;
    if (opts.pause !== undefined) {
      stop = CONVERT_PAUSE_PHASE[opts.pause] ?? -1;
      if (stop < 0 || op.kind !== "convert") throw einval("resume", `bad pause ${String(opts.pause)}`);
    }
    const r = this.afterStep("resume", this.core.op_resume(u32("resume", "handle", op.handle), stop));
    if (op.kind === "convert") {
      if (r === RESULT_PAUSED) return op;
      if (isErr(r)) throw convertError(this, op.op, r);
      return undefined;
    }
    return accessResult(this, "resume", r);
  }

  /** A Uint32Array over the whole memory, re-created whenever the memory has grown. */
  get u32(): Uint32Array {
    if (this._u32.buffer.byteLength !== this.memory.buffer.byteLength) this._u32 = new Uint32Array(this.memory.buffer);
    return this._u32;
  }

  /**
   * @internal the i-th out-value of the last query. The header, scratch and ring sit below the heap, so a view
   * taken before the memory grew still covers them: no need for the (costly) memory.buffer growth check.
   */
  out(i: number): number {
    return this._u32[this.scratchWord + i];
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
    throw new InvariantError(invariantName(code), this.out(31), this.u32[L.H_STEP >>> 2], what);
  }

  /** A standalone shareability bitmap of npages indices (the structure each guest_memfd inode owns). */
  createBitmap(npages: number, init?: { shared?: boolean }): Bitmap {
    init = optsOf("bitmap.create", init);
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
  createGmem(size: number | bigint, flags: GmemFlag[] = [], protocol: Protocol = this.protocol,
             opts?: { name?: string }): Gmem {
    opts = optsOf("gmem.create", opts);
    if (protocol !== "v2" && protocol !== "v4") throw einval("gmem.create", `unknown protocol ${String(protocol)}`);
    if (!Array.isArray(flags)) throw einval("gmem.create", "flags must be an array");
    let bits = protocol === "v4" ? L.GMEM_FLAG_V4 : 0;
    for (const f of flags) {
      const b = GMEM_FLAG_BITS[f as string];
      if (b === undefined) throw einval("gmem.create", `unknown flag ${String(f)}`);
      bits |= b;
    }
    if (protocol === "v4" && (bits & (L.GMEM_FLAG_HUGETLB_2M | L.GMEM_FLAG_HUGETLB_1G)) !== 0) {
      throw einval("gmem.create", "the v4 generation has no HugeTLB support (order-0 folios only)");
    }
    const h = check(this.afterStep("gmem.create", this.core.gmem_create(f64(size), bits)), "gmem.create");
    this.setName("gmem", h, opts.name);
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
    if (order !== 9 && order !== 18) throw einval(op, "order must be 9 or 18");
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
    if (level !== 2 && level !== 3) throw einval("pt.demote", "level must be 2 or 3");
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
  readonly sim: Simulator;
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
  /**
   * Take or drop a transient reference (an LRU batch, a speculative lookup): while held, the folio cannot be
   * split, merged or converted to private. Host PTEs and pins come from hostAccess()/pin() and IOMMU maps only, so
   * the references the protocol tracks can never be dropped behind its back.
   */
  ref(index: number, kind: "transient", delta: 1 | -1): void {
    const k = kind === "transient" ? 0 : -1;
    if (k < 0) throw einval("folio.ref", `only transient references can be taken directly, not ${String(kind)}`);
    if (delta !== 1 && delta !== -1) throw einval("folio.ref", "delta must be 1 or -1");
    check(this.sim.core.folio_ref(this.handle, u32("folio.ref", "index", index), k, delta), "folio.ref");
  }
  markUptodate(index: number): void {
    check(this.sim.core.folio_mark_uptodate(this.handle, u32("folio.markUptodate", "index", index)), "folio.markUptodate");
  }
  /** mmap the guest_memfd into the host (ENODEV without the 'mmap' flag). */
  mmap(): void {
    check(this.sim.afterStep("host.mmap", this.sim.core.gmem_mmap(this.handle)), "host.mmap");
  }
  munmap(): void {
    check(this.sim.afterStep("host.munmap", this.sim.core.gmem_munmap(this.handle)), "host.munmap");
  }
  /** A host load (and store of `write`) at byte offset through the mmap: 'ok' or 'SIGBUS'. */
  hostAccess(offset: number | bigint, opts?: { write?: number }): HostAccess {
    opts = optsOf("host.access", opts);
    const w = opts.write === undefined ? undefined : u32value("host.access", opts.write);
    const r = check(this.sim.afterStep("host.access",
      this.sim.core.host_access(this.handle, f64(offset), w === undefined ? 0 : 1, w ?? 0)), "host.access");
    if (r === 1) return { result: "SIGBUS" };
    if (r === 3) return { result: "retry" };
    return { result: "ok", value: this.sim.out(2) };
  }
  /** Long-term GUP pin of the host mapping of [offset, offset + size) (as VFIO type1 does for DMA). */
  pin(offset: number | bigint, size: number | bigint): void {
    check(this.sim.afterStep("host.pin", this.sim.core.host_pin(this.handle, f64(offset), f64(size), 0)), "host.pin");
  }
  unpin(offset: number | bigint, size: number | bigint): void {
    check(this.sim.afterStep("host.unpin", this.sim.core.host_pin(this.handle, f64(offset), f64(size), 1)), "host.unpin");
  }
  /**
   * Convert [offset, offset + size) to 'shared' or 'private': KVM_GMEM_CONVERT_SHARED/PRIVATE (v2) or
   * KVM_SET_MEMORY_ATTRIBUTES2 (v4, with mode 'zero' / 'preserve'). Throws GmemError (EAGAIN carries
   * errorOffset). With `pause` it stops at that point holding its locks and returns a PausedOp.
   */
  convert(offset: number | bigint, size: number | bigint, to: "shared" | "private",
          opts?: { mode?: "zero" | "preserve"; pause?: string }): PausedOp | undefined {
    opts = optsOf("convert", opts);
    if (to !== "shared" && to !== "private") throw einval("convert", `to must be 'shared' or 'private'`);
    const mode = opts.mode === undefined ? 0 : opts.mode === "zero" ? 1 : opts.mode === "preserve" ? 2 : -1;
    if (mode < 0) throw einval("convert", `unknown mode ${String(opts.mode)}`);
    let stop = 4;
    if (opts.pause !== undefined) {
      const table = this.protocol === "v4" ? CONVERT_PAUSE_PHASE_V4 : CONVERT_PAUSE_PHASE;
      stop = table[opts.pause] ?? -1;
      if (stop < 0) throw einval("convert", `unknown pause point ${String(opts.pause)}`);
    }
    const r = this.sim.afterStep("convert",
      this.sim.core.gmem_convert(this.handle, f64(offset), f64(size), to === "shared" ? 1 : 0, mode, stop));
    if (r === RESULT_PAUSED) return { handle: this.sim.out(0), kind: "convert", op: "convert" };
    if (isErr(r)) throw convertError(this.sim, "convert", r);
    return undefined;
  }
  /** The generation this guest_memfd was created with. */
  get protocol(): Protocol {
    return (this.sim.u32[(this.inodeAddr() + L.GI_FLAGS) >>> 2] & L.GMEM_FLAG_V4) !== 0 ? "v4" : "v2";
  }
  /** fallocate(PUNCH_HOLE | KEEP_SIZE) of [offset, offset + size). */
  punch(offset: number | bigint, size: number | bigint): void {
    check(this.sim.afterStep("punch", this.sim.core.gmem_punch(this.handle, f64(offset), f64(size))), "punch");
  }
  /** Close the fd (the memory lives on while a memslot binds it). */
  close(): void {
    check(this.sim.afterStep("gmem.close", this.sim.core.gmem_close(this.handle)), "gmem.close");
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

/**
 * Rebuild a simulator from sim.snapshot() bytes (in a fresh memory; any runtime). options.debug picks the core;
 * arch and checks come from the image.
 */
export function restoreSimulator(bytes: Uint8Array, options?: Omit<SimulatorOptions, "memory" | "arch">): Simulator {
  const op = "restore";
  options = optsOf(op, options);
  if (!(bytes instanceof Uint8Array) || bytes.length < 32) throw einval(op, "not a snapshot");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== "GMSNAP01") throw einval(op, "not a gmemsim snapshot");
  if (dv.getUint32(8, true) !== L.LAYOUT_VERSION) throw einval(op, "snapshot of another layout version");
  const used = dv.getUint32(12, true), nlen = dv.getUint32(16, true);
  if (32 + nlen + used !== bytes.length || used < L.HEAP_BASE) throw einval(op, "truncated snapshot");
  let names: [string, string][];
  try {
    names = JSON.parse(new TextDecoder().decode(bytes.subarray(32, 32 + nlen))) as [string, string][];
  } catch { throw einval(op, "the snapshot's names are not JSON"); }
  if (!Array.isArray(names) || !names.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && typeof e[1] === "string")) {
    throw einval(op, "the snapshot's names are malformed");
  }
  const memory = createMemory(options.maximumPages);
  const pages = Math.ceil(used / 65536);
  if (pages > memory.buffer.byteLength / 65536) memory.grow(pages - memory.buffer.byteLength / 65536);
  new Uint8Array(memory.buffer).set(bytes.subarray(32 + nlen));
  const flavor: CoreFlavor = options.debug ? "debug" : "release";
  const module = compileCoreSync(flavor);
  const sim = new Simulator(instantiateCore(module, memory), module, memory, flavor,
    { ...options, memory, protocol: options.protocol ?? (dv.getUint32(20, true) === 1 ? "v4" : "v2") });
  sim.namesFrom(names);
  return sim;
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

function convertError(sim: Simulator, op: string, r: number): GmemError {
  const e = new GmemError(-r, op);
  if (r === -ERRNO.EAGAIN || (r === -ERRNO.ENOMEM && sim.out(1) !== 0xffffffff)) {
    const idx = sim.out(1);
    if (idx !== 0xffffffff) e.errorOffset = idx * L.PAGE_SIZE;
  }
  return e;
}

function accessResult(sim: Simulator, op: string, r: number): GuestAccess {
  check(r, op);
  const result = ACCESS_RESULTS[r];
  if (!result) throw new GmemError(ERRNO.EIO, op, `unexpected result ${r}`);
  const outp: GuestAccess = { result };
  if (result === "mapped") {
    outp.level = LEVEL_NAME[sim.out(1)] as GuestAccess["level"];
    outp.value = sim.out(2);
  }
  return outp;
}

/** A VM: memslots bound to guest_memfds, KVM's private and shared tables, guest accesses. */
export class Vm {
  readonly sim: Simulator;
  readonly handle: number;
  constructor(sim: Simulator, handle: number) {
    this.sim = sim;
    this.handle = handle;
  }
  /** KVM_SET_USER_MEMORY_REGION2: slot of `size` bytes at `gpa`, backed by gmem from `offset`. */
  bind(slot: number, gpa: number | bigint, size: number | bigint, gmem: Gmem, offset: number | bigint): void {
    const op = "vm.bind";
    if (!(gmem instanceof Gmem) || gmem.sim !== this.sim) throw einval(op, "gmem must be a Gmem of this simulator");
    check(this.sim.afterStep(op, this.sim.core.vm_bind(this.handle, u32(op, "slot", slot), f64(gpa), f64(size),
      gmem.handle, f64(offset))), op);
  }
  unbind(slot: number): void {
    check(this.sim.afterStep("vm.unbind", this.sim.core.vm_unbind(this.handle, u32("vm.unbind", "slot", slot))), "vm.unbind");
  }
  /**
   * A guest access to gpa, private or shared (the GPA's private bit), optionally storing `write`. With
   * pause: 'after-faultin' it stops after kvm_gmem_get_pfn, before mmu_lock, and returns a PausedOp.
   */
  access(gpa: number | bigint, opts: { private: boolean; write?: number; pause?: "after-faultin" }): GuestAccess | PausedOp {
    const op = "guest.access";
    if (typeof opts !== "object" || opts === null || typeof opts.private !== "boolean") {
      throw einval(op, "opts.private must be a boolean");
    }
    if (opts.pause !== undefined && opts.pause !== "after-faultin") throw einval(op, `unknown pause ${String(opts.pause)}`);
    const w = opts.write === undefined ? undefined : u32value(op, opts.write);
    const r = this.sim.afterStep(op, this.sim.core.guest_access(this.handle, f64(gpa), opts.private ? 1 : 0,
      w === undefined ? 0 : 1, w ?? 0, opts.pause ? 1 : 0));
    if (r === RESULT_PAUSED) return { handle: this.sim.out(0), kind: "access", op };
    return accessResult(this.sim, op, r);
  }
  /**
   * The SPTE mapping gpa in the 'private' or 'shared' table, or null. On TDX a private leaf carries its S-EPT
   * state: 'mapped' (accepted), 'pending' (AUG'd, not accepted), 'blocked', 'removed'.
   */
  spte(gpa: number | bigint, table: "private" | "shared"):
    { level: "4K" | "2M" | "1G"; pfn: number; state: "mapped" | "blocked" | "pending" | "removed" } | null {
    if (table !== "private" && table !== "shared") throw einval("vm.spte", "table must be 'private' or 'shared'");
    const level = check(this.sim.core.vm_spte(this.handle, f64(gpa), table === "private" ? 1 : 0), "vm.spte");
    if (level === 0) return null;
    const state = (["mapped", "blocked", "pending", "removed"] as const)[this.sim.out(1) & 3];
    return { level: LEVEL_NAME[level] as "4K", pfn: this.sim.out(0), state };
  }
  /** mmu_invalidate_seq, in_progress, remote TLB flushes, and present leaves of both tables. */
  info(): { seq: number; inProgress: number; tlbFlushes: number; privateLeaves: number; sharedLeaves: number } {
    check(this.sim.core.vm_info(this.handle), "vm.info");
    const o = (i: number) => this.sim.out(i);
    return { seq: o(0), inProgress: o(1) | 0, tlbFlushes: o(2), privateLeaves: o(3), sharedLeaves: o(4) };
  }
  /** Present leaves per level of the 'private' or 'shared' table. */
  leaves(table: "private" | "shared"): { "4K": number; "2M": number; "1G": number } {
    check(this.sim.core.vm_leaves(this.handle, table === "private" ? 1 : 0), "vm.leaves");
    return { "4K": this.sim.out(0), "2M": this.sim.out(1), "1G": this.sim.out(2) };
  }
  /** Destroy the VM: every memslot is deleted (its SPTEs zapped) first. */
  destroy(): void {
    check(this.sim.afterStep("vm.destroy", this.sim.core.vm_destroy(this.handle)), "vm.destroy");
  }
}

export type { SimEvent };

export type DmaResult = { result: "ok" | "io-fault" | "machine-check"; value?: number };

/** An IOMMU domain: secure (T=1) and non-secure (T=0) IO page tables, areas mapped by userspace, the IOTLB. */
export class Iommu {
  readonly sim: Simulator;
  readonly handle: number;
  constructor(sim: Simulator, handle: number) {
    this.sim = sim;
    this.handle = handle;
  }
  /** gmem mode: bind to the guest_memfd (one registration, global to the fd). */
  bind(gmem: Gmem): void {
    if (!(gmem instanceof Gmem) || gmem.sim !== this.sim) throw einval("iommu.bind", "gmem must be a Gmem of this simulator");
    check(this.sim.afterStep("iommu.bind", this.sim.core.iommu_bind(this.handle, gmem.handle)), "iommu.bind");
  }
  unbind(): void {
    check(this.sim.afterStep("iommu.unbind", this.sim.core.iommu_unbind(this.handle)), "iommu.unbind");
  }
  /** Map [offset, offset + size) of gmem at iova in the secure or non-secure table. */
  map(iova: number | bigint, gmem: Gmem, offset: number | bigint, size: number | bigint, secure: boolean): void {
    const op = "iommu.map";
    if (!(gmem instanceof Gmem) || gmem.sim !== this.sim) throw einval(op, "gmem must be a Gmem of this simulator");
    if (typeof secure !== "boolean") throw einval(op, "secure must be a boolean");
    check(this.sim.afterStep(op, this.sim.core.iommu_map(this.handle, f64(iova), gmem.handle, f64(offset), f64(size),
      secure ? 1 : 0)), op);
  }
  /** Unmap whole areas inside [iova, iova + size) of one table (ENOENT if it cuts through one). */
  unmap(iova: number | bigint, size: number | bigint, secure: boolean): void {
    const op = "iommu.unmap";
    if (typeof secure !== "boolean") throw einval(op, "secure must be a boolean");
    check(this.sim.afterStep(op, this.sim.core.iommu_unmap(this.handle, f64(iova), f64(size), secure ? 1 : 0)), op);
  }
  /** A device access through the secure or non-secure table: 'ok', 'io-fault' or 'machine-check' (TDX). */
  dma(iova: number | bigint, secure: boolean, opts?: { write?: number }): DmaResult {
    const op = "dma";
    opts = optsOf(op, opts);
    if (typeof secure !== "boolean") throw einval(op, "secure must be a boolean");
    const w = opts.write === undefined ? undefined : u32value(op, opts.write);
    const r = check(this.sim.afterStep(op, this.sim.core.iommu_dma(this.handle, f64(iova), secure ? 1 : 0,
      w === undefined ? 0 : 1, w ?? 0)), op);
    const result = (["", "ok", "io-fault", "machine-check"] as const)[r];
    if (!result) throw new GmemError(ERRNO.EIO, op, `unexpected result ${r}`);
    return result === "ok" ? { result, value: this.sim.out(2) } : { result };
  }
  /** The IO page-table entry for iova in one table, or null. */
  iopte(iova: number | bigint, secure: boolean): { level: "4K" | "2M" | "1G"; pfn: number } | null {
    const level = check(this.sim.core.iommu_iopte(this.handle, f64(iova), secure ? 1 : 0), "iommu.iopte");
    if (level === 0) return null;
    return { level: LEVEL_NAME[level] as "4K", pfn: this.sim.out(0) };
  }
  info(): { mode: "pin" | "gmem"; iotlbFlushes: number; areas: number; machineChecks: number; seq: number;
            inProgress: number; secureLeaves: number; nonSecureLeaves: number } {
    const m = check(this.sim.core.iommu_info(this.handle), "iommu.info");
    const o = (i: number) => this.sim.out(i);
    return { mode: m === 1 ? "gmem" : "pin", iotlbFlushes: o(0), areas: o(1), machineChecks: o(2), seq: o(3),
      inProgress: o(4) | 0, secureLeaves: o(5), nonSecureLeaves: o(6) };
  }
  destroy(): void {
    check(this.sim.afterStep("iommu.destroy", this.sim.core.iommu_destroy(this.handle)), "iommu.destroy");
  }
}
