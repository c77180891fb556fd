// The simulator: one model machine over one shared memory, with factories for its objects, machine-wide settings,
// counters, snapshots and workers. Create one with createSimulator / createSimulatorSync, rebuild one from a
// snapshot with restoreSimulator.
import * as L from "../assembly/abi/layout";
import {
  compileCore, compileCoreSync, compileBytes, createMemory, instantiateCore, canShareMemory, coreBytes,
  type CoreExports, type CoreFlavor, type CoreBytes,
} from "./core";
import { GmemError, EnvironmentError, ERRNO, check, einval } from "./errors";
import { EVENT_NAMES, GMEM_FLAG, IOMMU_MODE, INJECT, DEBUG_HOOK, SAFEGUARD, REASON_NAMES } from "./abi";
import { SimContext, u32, optsOf, type SimulatorOptions, type Protocol } from "./context";
import { resumeOp, type GuestAccess, type PausedOp } from "./ops";
import { takeSnapshot, parseSnapshot, loadImage, checkImage } from "./snapshot";
import { Bitmap } from "./objects/bitmap";
import { PageTable } from "./objects/pagetable";
import { Gmem } from "./objects/gmem";
import { Vm } from "./objects/vm";
import { Iommu } from "./objects/iommu";
import * as C from "../assembly/abi/consts";
import { changeCount, readConsistent, listObjects, type ModelObject } from "./state";
import { GMEM_GEN_V4, GMEM_FLAG_HUGETLB_2M, GMEM_FLAG_HUGETLB_1G, CTR_REASON_BASE } from "../assembly/abi/consts";
import { STOP_NEVER } from "../assembly/abi/ops";

/** What a worker needs to attach to this simulator: all structured-cloneable. */
export interface SharedSimulator {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  flavor: CoreFlavor;
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

/** What one checkInvariants() visited: its cost, linear in the state's size (assembly/check/state.ts). */
export interface CheckCost {
  /** SPTEs of every VM and entries of every IOMMU, each checked once */
  leaves: number;
  /** IOMMU area records the entries' cursor moved past (each area of a domain once) */
  areas: number;
  /** lookups of an orphan (a pinned page a truncation took out of the file) by frame, for pin-mode entries */
  orphans: number;
}

export type GmemFlag = "mmap" | "init-shared" | "init-private" | "hugetlb-2M" | "hugetlb-1G";

export class Simulator extends SimContext {
  /** The machine's architecture. */
  get arch(): "sw" | "tdx" | "snp" {
    return (["sw", "tdx", "snp"] as const)[this.core.sim_arch()];
  }

  /** The whole model state as bytes; restoreSimulator(bytes) rebuilds it in a fresh memory, any runtime. */
  snapshot(): Uint8Array { return takeSnapshot(this); }

  /** Number of events of each kind since the memory was created (the counters check.stats reads). */
  counters(): Record<string, number> {
    const u = this.u32;
    // the header holds what detached instances counted; every attached instance counts in its own block
    const bases = [L.H_COUNTERS];
    for (let s = 0; s < L.MAX_INSTANCES; s++) {
      const b = L.INSTANCE_BASE + s * L.INSTANCE_SIZE;
      if (Atomics.load(u, (b + L.IN_STATE) >>> 2) !== 0) bases.push(b + L.IN_COUNTERS);
    }
    const sum = (index: number): number => {
      let n = 0;
      for (const b of bases) { const at = (b >>> 2) + index * 2; n += u[at] + u[at + 1] * 2 ** 32; }
      return n;
    };
    const outp: Record<string, number> = {};
    for (let k = 1; k < EVENT_NAMES.length; k++) {
      if (!EVENT_NAMES[k]) continue;
      outp[EVENT_NAMES[k]] = sum(k);
      outp[EVENT_NAMES[k] + ".count"] = sum(L.MAX_COUNTERS + k);
    }
    // the invalidation callback by reason: "iommu.invalidate.to-private", ".to-shared", ".truncate", ".unbind"
    REASON_NAMES.forEach((reason, i) => { outp[`iommu.invalidate.${reason}`] = sum(CTR_REASON_BASE + i); });
    return outp;
  }

  /**
   * The change seqcount (in the shared memory): it moves with every step that may change the model (even between
   * steps, odd while one runs), so a view redraws only when it moved. Lock-free; any thread.
   */
  get changeCount(): number { return changeCount(this); }

  /**
   * Run `read` (queries such as objects(), Vm.mappings(), Gmem.folios()) as a reader of a model another thread
   * may be changing: its result when no step overlapped it, else another try; after `tries` overlapped tries, one
   * more with writers asked to stay out (a worker parks at its next step, 10 ms at most; this thread spins at most
   * 1 ms for the step that runs now); undefined when that overlapped a step too. Never takes the simulator lock.
   */
  readConsistent<T>(read: () => T, tries = 3): T | undefined { return readConsistent(this, read, tries); }

  /** Every live guest_memfd, VM, IOMMU, bitmap and page table, with its name (lock-free). */
  objects(): ModelObject[] { return listObjects(this); }

  /** Run every invariant now; throws InvariantError naming the broken ones. Returns what the check visited. */
  checkInvariants(): CheckCost {
    const r = check(this.core.sim_check_all(), "check.invariants");
    if (r !== 0) this.raiseViolation("check.invariants");
    return { leaves: this.out(C.OUT_INFO + C.CHECK_INFO_LEAVES), areas: this.out(C.OUT_INFO + C.CHECK_INFO_AREAS),
      orphans: this.out(C.OUT_INFO + C.CHECK_INFO_ORPHANS) };
  }

  /** Arm a fault for the next matching internal step(s): 'enomem-split', 'enomem-store', 'transient-ref', 'sept-remove-fail'. */
  inject(fault: string, count = 1): void {
    const k = INJECT[fault];
    if (k === undefined) throw einval("inject", `unknown fault ${String(fault)}`);
    check(this.core.sim_inject(k, u32("inject", "count", count)), "inject");
  }

  /**
   * Switch safeguards of the protocol off (config.disable): 'kvm-retry', 'iommu-block', 'iommu-callback',
   * 'refcount-check', 'host-unmap', 'iommu-seq'. An empty list turns every one back on.
   */
  setSafeguardsOff(names: string[]): void {
    if (!Array.isArray(names)) throw einval("sim.disable", "a list of safeguard names");
    let bits = 0;
    for (const n of names) {
      const b = SAFEGUARD[n as string];
      if (b === undefined) throw einval("sim.disable", `unknown safeguard ${String(n)}`);
      bits |= b;
    }
    check(this.core.sim_set_safeguards_off(bits), "sim.disable");
  }

  /**
   * Debug core only: make one mechanism misbehave once, to see the checker name what it breaks:
   * 'skip-rollback' (I18), 'force-work' (I19), 'skip-shared-zap' (I9), 'bad-error-index' (I20), 'skip-retry' (I12).
   */
  debugHook(which: "skip-rollback" | "force-work" | "skip-shared-zap" | "bad-error-index" | "skip-retry"): void {
    const n = DEBUG_HOOK[which as string];
    if (n === undefined) throw einval("debugHook", `unknown hook ${String(which)}`);
    check(this.core.sim_debug_hook(n), "debugHook");
  }

  /**
   * Debug core only: corrupt the state so that invariant `inv` ('I1'...'I17') breaks, to show the checker at
   * work. target: the guest_memfd (I1-I6, I14, I17; index = page) or the VM (I7, I8, I10, I11, I13, I15, I16;
   * index = gfn). The runtime invariants I9, I12, I18-I20 are broken with debugHook() instead.
   */
  debugCorrupt(inv: string, target: Gmem | Vm, index = 0): void {
    const m = typeof inv === "string" ? /^I(\d+)$/.exec(inv) : null;
    if (!m) throw einval("debugCorrupt", `unknown invariant ${String(inv)}`);
    if (!(target instanceof Gmem || target instanceof Vm) || target.sim !== this) throw einval("debugCorrupt", "target must be a Gmem or Vm of this simulator");
    check(this.core.sim_debug_corrupt(+m[1], target.handle, u32("debugCorrupt", "index", index)), "debugCorrupt");
  }

  /**
   * Debug core only: lockdep's self-test on real locks (lib/locking-selftest.c). Takes `vm`'s mmu_lock and `gmem`'s
   * invalidate_lock in the documented order, or (inverted) the other way round, which the lock-order check refuses:
   * the core traps and this throws an Error with code ENOTRECOVERABLE naming both locks; the simulator is failed.
   */
  debugLockOrder(vm: Vm, gmem: Gmem, inverted = false): void {
    if (!(vm instanceof Vm) || vm.sim !== this || !(gmem instanceof Gmem) || gmem.sim !== this) {
      throw einval("debugLockOrder", "a Vm and a Gmem of this simulator");
    }
    check(this.core.sim_debug_lock_order(vm.handle, gmem.handle, inverted ? 1 : 0), "debugLockOrder");
  }

  /** A VM (KVM_CREATE_VM) with a private and a shared table. */
  createVm(opts?: { name?: string }): Vm {
    opts = optsOf("vm.create", opts);
    if (opts.name !== undefined && typeof opts.name !== "string") throw einval("vm.create", "a name is a string");
    const h = this.run("vm.create", this.core.vm_create(STOP_NEVER));
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
    const m = IOMMU_MODE[mode as string];
    if (m === undefined) throw einval("iommu.create", "mode must be 'pin' or 'gmem'");
    if (opts.name !== undefined && typeof opts.name !== "string") throw einval("iommu.create", "a name is a string");
    const h = this.run("iommu.create", this.core.iommu_create(m, STOP_NEVER));
    this.setName("iommu", h, opts.name);
    return new Iommu(this, h);
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
    if (opts.name !== undefined && typeof opts.name !== "string") throw einval("gmem.create", "a name is a string");
    let bits = protocol === "v4" ? GMEM_GEN_V4 : 0;
    for (const f of flags) {
      const b = GMEM_FLAG[f as string];
      if (b === undefined) throw einval("gmem.create", `unknown flag ${String(f)}`);
      bits |= b;
    }
    if (protocol === "v4" && (bits & (GMEM_FLAG_HUGETLB_2M | GMEM_FLAG_HUGETLB_1G)) !== 0) {
      throw einval("gmem.create", "the v4 generation has no HugeTLB support (order-0 folios only)");
    }
    const sz = typeof size === "bigint" ? (size >= 0n && size <= 2n ** 53n ? Number(size) : Number.NaN) : size;
    const h = this.run("gmem.create", this.core.gmem_create(typeof sz === "number" ? sz : Number.NaN, bits, STOP_NEVER));
    this.setName("gmem", h, opts.name);
    return new Gmem(this, h);
  }

  /** Frames the model had to leak (a TDX S-EPT removal failure leaks the page). */
  leakedPages(): number { return this.core.sim_leaked() >>> 0; }

  /** Wrap a handle created by another instance on this memory. */
  openVm(handle: number): Vm { return new Vm(this, this.liveHandle("vm.open", handle, (h) => this.core.vm_info(h) >= 0)); }
  openGmem(handle: number): Gmem { return new Gmem(this, this.liveHandle("gmem.open", handle, (h) => this.core.gmem_ptr(h) !== 0)); }
  openBitmap(handle: number): Bitmap {
    return new Bitmap(this, this.liveHandle("bitmap.open", handle, (h) => this.core.bitmap_ptr(h) !== 0 && this.core.gmem_ptr(h) === 0));
  }
  openPageTable(handle: number): PageTable { return new PageTable(this, this.liveHandle("pt.open", handle, (h) => this.core.pt_tables(h) >= 0)); }
  openIommu(handle: number): Iommu { return new Iommu(this, this.liveHandle("iommu.open", handle, (h) => this.core.iommu_info(h) >= 0)); }

  /** Continue a paused op: a conversion / punch / map returns undefined or throws; an access its GuestAccess. */
  resume(op: PausedOp, opts?: { pause?: string }): GuestAccess | PausedOp | undefined {
    return resumeOp(this, op, opts);
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

  /** Give this instance's slot of the memory back (the simulator is unusable afterwards). */
  detach(): void { this.core.sim_detach(); }

  /**
   * Another instance on this memory is gone: its worker was terminated (pass the `instanceId` that worker's simulator
   * had). A worker killed between calls holds nothing: its slot is reclaimed and its counters kept. One killed inside
   * a call leaves its operation half done: the machine is marked dead and every call after that, here and in every
   * other worker, throws an Error with code EOWNERDEAD (this call too). Threads waiting on a lock a dead instance held
   * find out by themselves after about two seconds.
   */
  reap(instanceId: number): void {
    if (!Number.isInteger(instanceId) || instanceId < 0 || instanceId >= L.MAX_INSTANCES) throw einval("sim.reap", "not an instance id");
    check(this.core.sim_reap(instanceId), "sim.reap");
  }

  /** null while the machine is sound; else why it is not (an instance died in a call, or a call trapped). */
  get failure(): { code: "EOWNERDEAD" | "ENOTRECOVERABLE"; instanceId: number } | null {
    const d = this.core.sim_dead() >>> 0;
    if (d === 0) return null;
    return { code: (d & C.DEAD_TRAP) !== 0 ? "ENOTRECOVERABLE" : "EOWNERDEAD", instanceId: (d & 0xff) - 1 };
  }

  /** Turn the after-every-step invariant checker on or off (shared by every instance on this memory). */
  setChecks(on: boolean): void { check(this.core.sim_set_checks(on ? 1 : 0), "sim.setChecks"); }

  /** Make the n-th next heap allocation fail (1 = the next one); 0 turns it off. For exhaustion tests. */
  failAllocation(n: number): void {
    check(this.core.sim_fail_alloc(u32("sim.failAllocation", "n", n)), "sim.failAllocation");
  }

  memoryStats(): MemoryStats {
    const m = this.u32;
    const w = (addr: number) => m[addr >>> 2];
    return {
      memoryBytes: this.memory.buffer.byteLength, heapPages: w(L.H_PAGES_USED), heapPeakPages: w(L.H_PAGES_PEAK),
      liveObjects: w(L.H_OBJ_LIVE), pfnSmall: w(L.PFN_USED_SMALL), pfn2M: w(L.PFN_USED_2M), pfn1G: w(L.PFN_USED_1G),
    };
  }

  /** A standalone shareability bitmap of npages indices (the structure each guest_memfd inode owns). */
  createBitmap(npages: number, init?: { shared?: boolean }): Bitmap {
    init = optsOf("bitmap.create", init);
    const n = u32("bitmap.create", "npages", npages);
    return new Bitmap(this, check(this.core.bitmap_create(n, init.shared ? 1 : 0), "bitmap.create"));
  }

  /** A standalone radix page table (the structure every KVM and IOMMU table uses). */
  createPageTable(): PageTable {
    return new PageTable(this, check(this.core.pt_create(), "pt.create"));
  }
}

function makeSimulator(core: CoreExports, module: WebAssembly.Module, memory: WebAssembly.Memory, flavor: CoreFlavor,
                       options: SimulatorOptions): Simulator {
  return new Simulator(core, module, memory, flavor, options);
}

/** Create a simulator with a fresh memory (or attach to `options.memory`); compiles the core once and caches it. */
export async function createSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  options = optsOf("sim.create", options);
  const flavor: CoreFlavor = options.debug ? "debug" : "release";
  const module = await compileCore(flavor);
  const memory = options.memory ?? createMemory(options.maximumPages);
  return makeSimulator(instantiateCore(module, memory), module, memory, flavor, options);
}

/** Bytes or a compiled module, as opposed to an options object. */
function isCoreSource(x: unknown): x is WebAssembly.Module | CoreBytes {
  return x instanceof WebAssembly.Module || x instanceof ArrayBuffer || ArrayBuffer.isView(x) ||
    (typeof SharedArrayBuffer !== "undefined" && x instanceof SharedArrayBuffer);
}

/**
 * Create a simulator synchronously from a compiled module or the core's bytes (default: the embedded release
 * core); `createSimulatorSync(options)` is the embedded core with options. With `options.memory` it attaches to
 * that memory: the way a worker joins a simulator.
 */
export function createSimulatorSync(options?: SimulatorOptions): Simulator;
export function createSimulatorSync(moduleOrBytes: WebAssembly.Module | CoreBytes | undefined,
                                    options?: SimulatorOptions): Simulator;
export function createSimulatorSync(first?: WebAssembly.Module | CoreBytes | SimulatorOptions,
                                    options: SimulatorOptions = {}): Simulator {
  let moduleOrBytes: WebAssembly.Module | CoreBytes | undefined;
  if (first === undefined || isCoreSource(first)) moduleOrBytes = first;
  else if (arguments.length < 2) options = first as SimulatorOptions;
  else moduleOrBytes = first as CoreBytes; // options given too: `first` must be a core, compileBytes says EINVAL
  options = optsOf("sim.create", options);
  const flavor: CoreFlavor = options.debug ? "debug" : "release";
  const module = moduleOrBytes instanceof WebAssembly.Module ? moduleOrBytes
    : moduleOrBytes === undefined ? compileCoreSync(flavor) : compileBytes(moduleOrBytes);
  const memory = options.memory ?? createMemory(options.maximumPages);
  return makeSimulator(instantiateCore(module, memory), module, memory, flavor, options);
}

/**
 * Rebuild a simulator from sim.snapshot() bytes (in a fresh memory; any runtime). options.debug picks the core;
 * arch and checks come from the image. Bytes that are not an intact snapshot: an Error with code EINVAL.
 */
export function restoreSimulator(bytes: Uint8Array, options?: Omit<SimulatorOptions, "memory" | "arch">): Simulator {
  options = optsOf("restore", options);
  const snap = parseSnapshot(bytes);
  const memory = createMemory(options.maximumPages);
  loadImage(memory, snap.image);
  const flavor: CoreFlavor = options.debug ? "debug" : "release";
  const module = compileCoreSync(flavor);
  const core = instantiateCore(module, memory);
  checkImage(core);
  const sim = makeSimulator(core, module, memory, flavor,
    { ...options, memory, protocol: options.protocol ?? snap.protocol });
  sim.namesFrom(snap.names);
  return sim;
}

export { coreBytes, compileCore, GmemError, ERRNO };
