// The state every object of the binding needs from its simulator: the core's exports, the memory and views over it,
// this instance's out-values, object names, and how a step's result and violations become thrown errors. The
// Simulator class (bindings/simulator.ts) adds the factories on top; the object classes (bindings/objects/) only
// know this.
import * as L from "../assembly/abi/layout";
import { OUT_VIOLATIONS, OUT_WHERE, OUT_NVIOL } from "../assembly/abi/consts";
import { onBrowserMainThread, type CoreExports, type CoreFlavor } from "./core";
import { InvariantError, EnvironmentError, ERRNO, check, einval, isErr, GmemError } from "./errors";
import { invariantName, ARCH, ERRNO_NAMES } from "./abi";
import { EventReader } from "./events";

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
export type ObjectKind = "gmem" | "vm" | "iommu";

/** A whole number in [0, 2^32) (page index, gfn, pfn, handle), or EINVAL. */
export function u32(op: string, name: string, x: unknown): number {
  if (typeof x === "bigint") {
    if (x < 0n || x > 0xffffffffn) throw einval(op, `${name} out of range`);
    return Number(x);
  }
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 0xffffffff) {
    throw einval(op, `${name} must be an integer in [0, 2^32), got ${typeof x === "symbol" ? "a symbol" : String(x)}`);
  }
  return x;
}

/** A byte quantity for the core's f64 parameters: the core rejects anything not a whole number (NaN included). */
export function f64(x: unknown): number {
  if (typeof x === "number") return x;
  if (typeof x === "bigint") return x >= -(2n ** 53n) && x <= 2n ** 53n ? Number(x) : Number.NaN;
  return Number.NaN;
}

/** An options argument: undefined -> {}, an object -> itself, anything else -> EINVAL. */
export function optsOf<T extends object>(op: string, x: T | undefined | null): Partial<T> {
  if (x === undefined) return {};
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw einval(op, "options must be an object");
  return x;
}

/** A page content value (u32), or EINVAL. */
export function u32value(op: string, x: unknown): number {
  if (typeof x === "bigint" && x >= 0n && x <= 0xffffffffn) return Number(x);
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 0xffffffff) {
    throw einval(op, `a page's content value is an integer in [0, 2^32), got ${typeof x === "symbol" ? "a symbol" : String(x)}`);
  }
  return x;
}

export class SimContext {
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly flavor: CoreFlavor;
  /** The instance slot the core gave this instance (instances attached to one memory get distinct ones). */
  readonly instanceId: number;
  /** @internal raw exports: the numeric ABI of assembly/api/*.ts */
  readonly core: CoreExports;
  /** Default generation for createGmem. */
  protocol: Protocol;
  /** Reader of the event rings, merged in sequence order (starts at the head when created). */
  readonly events: EventReader;
  private _u32: Uint32Array;
  private readonly outWord: number;
  private readonly names = new Map<string, string>();

  /** @internal use createSimulator / createSimulatorSync */
  constructor(core: CoreExports, module: WebAssembly.Module, memory: WebAssembly.Memory, flavor: CoreFlavor,
              opts: SimulatorOptions) {
    this.core = core;
    this.module = module;
    this.memory = memory;
    this.flavor = flavor;
    const mayBlock = opts.mayBlock ?? !onBrowserMainThread();
    if (mayBlock && onBrowserMainThread()) {
      throw new EnvironmentError("EINVAL", "options.mayBlock: a browser page's main thread cannot block (Atomics.wait)");
    }
    let id: number;
    try { id = core.sim_attach(mayBlock ? 1 : 0); }
    catch (e) { throw new EnvironmentError("EPERM", `attaching trapped: ${(e as Error).message}`); }
    if (isErr(id)) {
      const code = ERRNO_NAMES[-id] ?? "EINVAL";
      const why = id === -ERRNO.ENOSPC ? "every instance slot of this memory is taken (detach() the ones no longer used)"
        : id === -ERRNO.ETIMEDOUT ? "the memory's header was being initialised and never finished"
        : id === -ERRNO.ENOMEM ? "the core's static data overlaps the page map" : "this memory holds no gmemsim layout of this version";
      throw new EnvironmentError(code, why);
    }
    this.instanceId = id;
    this.outWord = ((core.sim_scratch() >>> 0) + L.IN_OUT) >>> 2;
    this._u32 = new Uint32Array(memory.buffer);
    const checks = opts.checks ?? flavor === "debug";
    if (opts.memory === undefined || opts.checks !== undefined) check(core.sim_set_checks(checks ? 1 : 0), "sim.setChecks");
    if (opts.arch !== undefined) {
      const a = ARCH[opts.arch as string];
      if (a === undefined) throw einval("sim.create", `unknown arch ${String(opts.arch)}`);
      check(core.sim_set_arch(a), "sim.setArch");
    }
    if (opts.protocol !== undefined && opts.protocol !== "v2" && opts.protocol !== "v4") {
      throw einval("sim.create", `unknown protocol ${String(opts.protocol)}`);
    }
    this.protocol = opts.protocol ?? "v2";
    this.events = new EventReader(memory, (kind, index) => this.nameOf(kind, index));
  }

  /** A Uint32Array over the whole memory, re-created whenever the memory has grown. */
  get u32(): Uint32Array {
    if (this._u32.buffer.byteLength !== this.memory.buffer.byteLength) this._u32 = new Uint32Array(this.memory.buffer);
    return this._u32;
  }

  /**
   * @internal the i-th out-value of the last query. The header and instance blocks sit below the heap, so a view
   * taken before the memory grew still covers them: no need for the (costly) memory.buffer growth check.
   */
  out(i: number): number {
    return this._u32[this.outWord + i];
  }

  /** Is the after-every-step checker on? */
  get checks(): boolean {
    return (this._u32[L.H_DEBUG >>> 2] & 1) === 1;
  }

  /** Steps (mutating calls) this instance performed so far. */
  get step(): number {
    return this.u32[((this.core.sim_scratch() >>> 0) + L.IN_STEP) >>> 2];
  }

  /** @internal name objects in events: the name given at creation, else "#<index>" */
  nameOf(kind: string, index: number): string {
    return this.names.get(`${kind}:${index}`) ?? `#${index}`;
  }
  /** @internal */
  setName(kind: ObjectKind, handle: number, name: unknown): void {
    if (name === undefined) return;
    if (typeof name !== "string") throw einval(`${kind}.create`, "a name is a string");
    this.names.set(`${kind}:${handle & ((1 << L.OBJ_INDEX_BITS) - 1)}`, name);
  }
  /** @internal names travel with snapshots */
  nameEntries(): [string, string][] { return [...this.names]; }
  /** @internal */
  namesFrom(entries: [string, string][]): void {
    for (const [k, v] of entries) this.names.set(k, v);
  }

  /** @internal after a step: with the checker on, throw what it found (the error carries the op's own result) */
  afterStep(op: string, r: number): number {
    if (this.checks) {
      const code = this.core.sim_last_violation();
      if (code !== 0) throw Object.assign(this.violationError(`after ${op}`), { opResult: r });
    }
    return r;
  }

  /** @internal afterStep, then -errno -> GmemError */
  run(op: string, r: number): number {
    return check(this.afterStep(op, r), op);
  }

  /** @internal the violations the core just reported (sim_last_violation was called) as an InvariantError */
  violationError(what: string): InvariantError {
    const n = Math.max(1, this.out(OUT_NVIOL));
    const names: string[] = [];
    for (let i = 0; i < n; i++) names.push(invariantName(this.out(OUT_VIOLATIONS + i)));
    return new InvariantError(names, this.out(OUT_WHERE), this.step, what);
  }

  /** @internal throw the violation(s) a check returned */
  raiseViolation(what: string): never {
    this.core.sim_last_violation();
    throw this.violationError(what);
  }

  /** @internal an object handle a class may wrap: a u32 naming a live object (test: the core's query) */
  liveHandle(op: string, handle: unknown, alive: (h: number) => boolean): number {
    const h = u32(op, "handle", handle);
    if (!alive(h)) throw new GmemError(ERRNO.EBADF, op, "no live object of this kind has this handle");
    return h;
  }
}
