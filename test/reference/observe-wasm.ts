// The Wasm model as the differential fuzzer sees it: scenario action steps run through the public binding
// (bindings/sim.ts, the same calls bindings/scenario/run.ts makes), and the Observation of test/reference/index.ts
// read back through the public API only: Gmem.runs() / folio(i) / populated, Vm.spte() / leaves() / info(),
// Iommu.iopte() / info(). Only the small address spaces the fuzzer uses are walked, and the per-level leaf counts
// the binding keeps tell when a walk has seen everything (a leaf outside the walked space is reported, not missed).
import { createSimulatorSync, type Simulator, type Gmem, type Vm, type Iommu } from "../../bindings/sim";
import { GmemError } from "../../bindings/errors";
import type { ActionStep, ScenarioConfig } from "../../bindings/scenario/types";
import type { Observation, StepResult, GmemObs, VmObs, IommuObs, Leaves } from "./types";

/** Where the observers walk: gfn ranges of VMs and iova ranges of IOMMUs, in 4 KiB pages ([start, end)). */
export interface ObserveScope {
  gfnRanges: [number, number][];
  iovaRanges: [number, number][];
}

const LEVEL_PAGES: Record<string, number> = { "4K": 1, "2M": 512, "1G": 262144 };

/** One simulator per arch, reused across sequences (objects are created per sequence and torn down after). */
const sims = new Map<string, Simulator>();

export function simulatorFor(arch: ScenarioConfig["arch"], checks = false): Simulator {
  const key = `${arch}/${checks}`;
  let sim = sims.get(key);
  if (!sim) {
    sim = createSimulatorSync(undefined, { arch, protocol: "v2", checks });
    sims.set(key, sim);
  }
  return sim;
}

const FAULT_NAMES = ["enomem-split", "enomem-store", "transient-ref", "sept-remove-fail"];

export class WasmSubject {
  readonly sim: Simulator;
  readonly config: ScenarioConfig;
  readonly gmems = new Map<string, Gmem>();
  readonly vms = new Map<string, Vm>();
  readonly iommus = new Map<string, Iommu>();
  /** gmems whose fd was closed (their structures may be gone from the view) */
  private readonly closed = new Set<string>();

  constructor(config: ScenarioConfig, sim?: Simulator) {
    this.config = config;
    this.sim = sim ?? simulatorFor(config.arch);
    if (this.sim.arch !== config.arch) throw new Error(`simulator arch ${this.sim.arch} != ${config.arch}`);
    this.sim.protocol = config.protocol;
    this.sim.events.read(); // drop what earlier sequences left in the ring
  }

  /** Run one action step; errors become their errno name (as bindings/scenario/run.ts reports them). */
  apply(s: ActionStep): StepResult {
    try {
      switch (s.op) {
        case "gmem.create":
          this.gmems.set(s.id, this.sim.createGmem(s.size, s.flags, this.config.protocol, { name: s.id }));
          return { result: 0 };
        case "gmem.close": this.g(s.gmem).close(); this.closed.add(s.gmem); return { result: 0 };
        case "vm.create": this.vms.set(s.id, this.sim.createVm({ name: s.id })); return { result: 0 };
        case "vm.destroy": this.v(s.vm).destroy(); this.vms.delete(s.vm); return { result: 0 };
        case "vm.bind": this.v(s.vm).bind(s.slot, s.gpa, s.size, this.g(s.gmem), s.offset); return { result: 0 };
        case "vm.unbind": this.v(s.vm).unbind(s.slot); return { result: 0 };
        case "guest.access": {
          const r = this.v(s.vm).access(s.gpa, { private: s.private, write: s.write });
          if ("handle" in r) throw new Error("paused guest access in the fuzzer");
          const out: StepResult = { result: r.result };
          if (r.level !== undefined) out.level = r.level;
          if (r.value !== undefined) out.value = r.value;
          return out;
        }
        case "host.mmap": this.g(s.gmem).mmap(); return { result: 0 };
        case "host.munmap": this.g(s.gmem).munmap(); return { result: 0 };
        case "host.access": {
          const r = this.g(s.gmem).hostAccess(s.offset, { write: s.write });
          return r.value !== undefined ? { result: r.result, value: r.value } : { result: r.result };
        }
        case "host.pin": this.g(s.gmem).pin(s.offset, s.size); return { result: 0 };
        case "host.unpin": this.g(s.gmem).unpin(s.offset, s.size); return { result: 0 };
        case "convert": {
          const p = this.g(s.gmem).convert(s.offset, s.size, s.to, { mode: s.mode });
          if (p) throw new Error("paused conversion in the fuzzer");
          return { result: 0 };
        }
        case "punch": this.g(s.gmem).punch(s.offset, s.size); return { result: 0 };
        case "inject": this.sim.inject(s.fault, s.count); return { result: 0 };
        case "iommu.create": this.iommus.set(s.id, this.sim.createIommu(s.mode, { name: s.id })); return { result: 0 };
        case "iommu.bind": this.io(s.iommu).bind(this.g(s.gmem)); return { result: 0 };
        case "iommu.unbind": this.io(s.iommu).unbind(); return { result: 0 };
        case "iommu.map":
          this.io(s.iommu).map(s.iova, this.g(s.gmem), s.offset, s.size, s.secure);
          return { result: 0 };
        case "iommu.unmap": this.io(s.iommu).unmap(s.iova, s.size, s.secure); return { result: 0 };
        case "dma": {
          const r = this.io(s.iommu).dma(s.iova, s.secure, { write: s.write });
          return r.value !== undefined ? { result: r.result, value: r.value } : { result: r.result };
        }
        case "resume": throw new Error("resume is not fuzzed");
      }
    } catch (e) {
      if (e instanceof GmemError) {
        const out: StepResult = { result: e.code };
        if (e.errorOffset !== undefined) out.errorOffset = e.errorOffset;
        return out;
      }
      throw e;
    }
    throw new Error(`unknown op ${(s as ActionStep).op}`);
  }

  private g(id: string): Gmem {
    const x = this.gmems.get(id);
    if (!x) throw new Error(`no gmem ${id}`);
    return x;
  }
  private v(id: string): Vm {
    const x = this.vms.get(id);
    if (!x) throw new Error(`no vm ${id}`);
    return x;
  }
  private io(id: string): Iommu {
    const x = this.iommus.get(id);
    if (!x) throw new Error(`no iommu ${id}`);
    return x;
  }

  /** Run the core's invariant checker over everything; the violation's name, or null. */
  checkInvariants(): string | null {
    try {
      this.sim.checkInvariants();
      return null;
    } catch (e) {
      const inv = (e as { invariant?: string }).invariant;
      if (inv !== undefined) return `${inv} at ${(e as { where?: number }).where} (${(e as Error).message})`;
      throw e;
    }
  }

  /** The observable state (see Observation), walking only `scope`. */
  observe(scope: ObserveScope): Observation {
    const obs: Observation = { gmems: {}, vms: {}, iommus: {} };
    for (const [id, g] of this.gmems) {
      const o = observeGmem(g);
      if (o) obs.gmems[id] = o;
    }
    for (const [id, v] of this.vms) obs.vms[id] = observeVm(v, scope);
    for (const [id, io] of this.iommus) obs.iommus[id] = observeIommu(io, scope);
    return obs;
  }

  /**
   * The observable state, verified against an expected one instead of walked: each expected leaf / folio is
   * looked up where it is said to be, and the binding's counts (leaves per level, populated pages) must match, so
   * nothing else can exist. Sound and cheap (O(leaves + populated pages)). Whatever does not verify is read by a
   * full walk of `scope`, so the result is always the Wasm model's own state.
   */
  observeVerified(scope: ObserveScope, want: Observation): Observation {
    const obs: Observation = { gmems: {}, vms: {}, iommus: {} };
    for (const [id, g] of this.gmems) {
      const w = want.gmems[id];
      const o = w && verifyGmem(g, w) ? w : observeGmem(g);
      if (o) obs.gmems[id] = o;
    }
    for (const [id, v] of this.vms) {
      const w = want.vms[id];
      obs.vms[id] = w && verifyVm(v, w) ? w : observeVm(v, scope);
    }
    for (const [id, io] of this.iommus) {
      const w = want.iommus[id];
      obs.iommus[id] = w && verifyIommu(io, w) ? w : observeIommu(io, scope);
    }
    return obs;
  }

  /**
   * Tear every object down so the next sequence starts on an empty machine; disarm injected faults. `pins` names
   * the host pins left per guest_memfd (page index -> count) so they can be dropped first (a pinned guest_memfd
   * cannot be destroyed). If anything is left over all the same, the simulator is dropped from the cache and the
   * next sequence gets a fresh one: sequences never see each other's state.
   */
  dispose(pins?: (id: string) => Map<number, number>): void {
    for (const f of FAULT_NAMES) this.sim.inject(f, 0);
    const quiet = (fn: () => void) => { try { fn(); } catch { /* not there (any more) */ } };
    for (const io of this.iommus.values()) quiet(() => io.destroy());
    for (const v of this.vms.values()) quiet(() => v.destroy());
    for (const [id, g] of this.gmems) {
      for (const [page, n] of pins?.(id) ?? []) for (let k = 0; k < n; k++) quiet(() => g.unpin(page * 4096, 4096));
      quiet(() => g.munmap());
      if (!this.closed.has(id)) quiet(() => g.close());
      quiet(() => g.dispose());
    }
    this.iommus.clear();
    this.vms.clear();
    this.gmems.clear();
    this.sim.events.read();
    if (this.sim.memoryStats().liveObjects !== 0) {
      for (const [k, v] of sims) if (v === this.sim) sims.delete(k);
    }
  }
}

/** Shareability runs, folio orders per page (run-length) and populated pages; null when the gmem is gone. */
export function observeGmem(g: Gmem): GmemObs | null {
  let npages: number;
  try { npages = g.npages; g.populated; } catch { return null; }
  let runs;
  let populated: number;
  let huge: number;
  try {
    runs = g.runs();
    populated = g.populated;
    huge = g.hugeOrder;
  } catch (e) {
    if (e instanceof GmemError && e.code === "EBADF") return null;
    throw e;
  }
  const shared: [number, number, boolean][] = runs.map((r) => [r.start, r.end, r.shared]);
  const orders: [number, number, number | "absent"][] = [];
  const push = (s: number, e: number, o: number | "absent") => {
    const last = orders[orders.length - 1];
    if (last && last[1] === s && last[2] === o) last[1] = e;
    else orders.push([s, e, o]);
  };
  const block = huge === 0 ? 1 : 1 << huge;
  if (populated === 0) push(0, npages, "absent");
  else {
    for (let i = 0; i < npages;) {
      const f = g.folio(i);
      if (f.state === "absent") { const e = Math.min(npages, i + block - (i % block)); push(i, e, "absent"); i = e; }
      else if (f.state === "huge") { const e = f.index + (1 << f.order); push(i, e, f.order); i = e; }
      else if (huge !== 0) {
        // a split HugeTLB block is 4 KiB folios throughout (I2: the checker verifies it every op)
        const e = Math.min(npages, i + block - (i % block));
        push(i, e, 0);
        i = e;
      } else { push(i, i + 1, f.order); i++; }
    }
  }
  return { shared, orders, populated };
}

function walkTable(total: number, ranges: [number, number][], lookup: (page: number) => string | null): Leaves {
  const found: [number, string][] = [];
  if (total === 0) return [];
  for (const [s, e] of ranges) {
    for (let p = s; p < e && found.length < total;) {
      const lvl = lookup(p);
      if (lvl === null) { p++; continue; }
      const n = LEVEL_PAGES[lvl];
      const base = p - (p % n);
      found.push([base, lvl]);
      p = base + n;
    }
  }
  found.sort((a, b) => a[0] - b[0]);
  const out: Leaves = [];
  for (const [base, lvl] of found) {
    const last = out[out.length - 1];
    if (last && last[1] === base && last[2] === lvl) last[1] = base + LEVEL_PAGES[lvl];
    else out.push([base, base + LEVEL_PAGES[lvl], lvl]);
  }
  if (found.length < total) out.push([-1, total - found.length, "leaves outside the walked space"]);
  return out;
}

export function observeVm(v: Vm, scope: ObserveScope): VmObs {
  let info;
  try { info = v.info(); } catch { return { private: [], shared: [], seq: -1, dead: true }; }
  const tables = { private: [] as Leaves, shared: [] as Leaves };
  for (const t of ["private", "shared"] as const) {
    const c = v.leaves(t);
    const total = c["4K"] + c["2M"] + c["1G"];
    tables[t] = walkTable(total, scope.gfnRanges, (gfn) => {
      const sp = v.spte(gfn * 4096, t);
      return sp ? sp.level : null;
    });
  }
  return { private: tables.private, shared: tables.shared, seq: info.seq };
}

export function observeIommu(io: Iommu, scope: ObserveScope): IommuObs {
  const info = io.info();
  const secure = walkTable(info.secureLeaves, scope.iovaRanges, (p) => {
    const e = io.iopte(p * 4096, true);
    return e ? e.level : null;
  });
  const nonSecure = walkTable(info.nonSecureLeaves, scope.iovaRanges, (p) => {
    const e = io.iopte(p * 4096, false);
    return e ? e.level : null;
  });
  return { secure, nonSecure };
}

// ---- verification against an expected observation ----------------------------------------------------------------

function sameRuns<T>(a: T[][], b: T[][]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x.length !== y.length) return false;
    for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return false;
  }
  return true;
}

function verifyGmem(g: Gmem, want: GmemObs): boolean {
  let runs, populated: number, huge: number, npages: number;
  try { runs = g.runs(); populated = g.populated; huge = g.hugeOrder; npages = g.npages; } catch { return false; }
  if (populated !== want.populated) return false;
  if (!sameRuns(runs.map((r) => [r.start, r.end, r.shared]), want.shared)) return false;
  const block = huge === 0 ? 1 : 1 << huge;
  // every page the expectation says is present has a folio of that order; equal populated counts then mean the
  // absent pages are absent too
  for (const [s, e, o] of want.orders) {
    if (o === "absent") continue;
    if (e > npages) return false;
    for (let i = s; i < e;) {
      const f = g.folio(i);
      if (f.state === "absent" || f.order !== o) return false;
      if (o > 0) {
        if (f.index !== i - (i % (1 << o))) return false;
        i = f.index + (1 << o);
      } else if (huge !== 0) {
        // a split HugeTLB block is 4 KiB folios throughout (I2, checked every op)
        i = Math.min(e, i + block - (i % block));
      } else i++;
    }
  }
  return true;
}

function verifyTable(want: Leaves, total: number, lookup: (page: number) => string | null): boolean {
  let n = 0;
  for (const [s, e, lvl] of want) {
    const step = LEVEL_PAGES[lvl];
    if (s < 0 || step === undefined) return false;
    for (let p = s; p < e; p += step) {
      if (lookup(p) !== lvl) return false;
      n++;
    }
  }
  return n === total;
}

function verifyVm(v: Vm, want: VmObs): boolean {
  let info;
  try { info = v.info(); } catch { return false; }
  if (info.seq !== want.seq) return false;
  for (const t of ["private", "shared"] as const) {
    const c = v.leaves(t);
    const w = t === "private" ? want.private : want.shared;
    if (!verifyTable(w, c["4K"] + c["2M"] + c["1G"], (gfn) => { const sp = v.spte(gfn * 4096, t); return sp ? sp.level : null; })) return false;
  }
  return true;
}

function verifyIommu(io: Iommu, want: IommuObs): boolean {
  const info = io.info();
  return verifyTable(want.secure, info.secureLeaves, (p) => { const e = io.iopte(p * 4096, true); return e ? e.level : null; }) &&
    verifyTable(want.nonSecure, info.nonSecureLeaves, (p) => { const e = io.iopte(p * 4096, false); return e ? e.level : null; });
}
