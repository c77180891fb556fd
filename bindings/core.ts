// Compile once, instantiate over one shared WebAssembly.Memory. No top-level await anywhere: the async path
// caches a promise of the compiled module, the sync path takes a module or bytes (hash-wasm's two-tier init).
// Only the release core is embedded here; the debug core lives in its own entry (bindings/debug.ts, the package's
// `gmemsim/debug`), which hands its bytes over with provideDebugCore(), so the default bundle never carries it.
import releaseBytes from "../build/release.wasm";
import { INITIAL_WASM_PAGES, MAX_WASM_PAGES, LAYOUT_VERSION, H_LOCKDEP } from "../assembly/abi/layout";
import * as C from "../assembly/abi/consts";
import { LOCK_CLASS_NAMES } from "./abi";
import { EnvironmentError } from "./errors";

/** The numeric ABI of assembly/api/*.ts (u32 results arrive as signed i32; callers apply >>> 0). */
export interface CoreExports {
  memory: WebAssembly.Memory;
  sim_attach(mayBlock: number): number;
  sim_detach(): void;
  sim_scratch(): number;
  sim_layout_version(): number;
  sim_event_layout(kind: number): number;
  sim_heap_base(): number;
  sim_fail_alloc(n: number): number;
  sim_set_checks(on: number): number;
  sim_set_safeguards_off(bits: number): number;
  sim_safeguards_off(): number;
  sim_last_violation(): number;
  sim_set_arch(a: number): number;
  sim_arch(): number;
  sim_inject(kind: number, count: number): number;
  sim_debug_hook(which: number): number;
  sim_debug_lock_order(vm: number, gmem: number, inverted: number): number;
  sim_check_all(): number;
  sim_leaked(): number;
  sim_freeze(): number;
  sim_thaw(): void;
  sim_reap(slot: number): number;
  sim_dead(): number;
  sim_trapped(): void;
  sim_used_bytes(): number;
  sim_image_check(): number;
  bitmap_create(npages: number, shared: number): number;
  bitmap_destroy(h: number): number;
  bitmap_ptr(h: number): number;
  bitmap_assign(h: number, start: number, end: number, shared: number): number;
  bitmap_test(h: number, i: number): number;
  bitmap_count(h: number, start: number, end: number): number;
  bitmap_next_diff(h: number, from: number, end: number, shared: number): number;
  bitmap_block_shared(h: number, index: number, order: number): number;
  bitmap_bytes(h: number): number;
  bitmap_check(h: number): number;
  pt_create(): number;
  pt_destroy(h: number): number;
  pt_map(h: number, gfn: number, pfn: number, level: number, state: number): number;
  pt_lookup(h: number, gfn: number): number;
  pt_zap(h: number, start: number, end: number, partial: number): number;
  pt_last_zap_start(): number;
  pt_last_zap_end(): number;
  pt_demote(h: number, gfn: number, level: number): number;
  pt_leaves(h: number, level: number): number;
  pt_tables(h: number): number;
  pt_count_range(h: number, start: number, end: number): number;
  pt_check(h: number): number;
  folio_alloc(h: number, index: number): number;
  folio_describe(h: number, index: number): number;
  folio_split(h: number, index: number): number;
  folio_merge(h: number, index: number): number;
  folio_free_block(h: number, index: number): number;
  folio_ref(h: number, index: number, kind: number, delta: number): number;
  folio_mark_uptodate(h: number, index: number): number;
  gmem_check(h: number): number;
  gmem_create(size: number, flags: number, stop: number): number;
  gmem_destroy(h: number): number;
  gmem_ptr(h: number): number;
  gmem_close(g: number, stop: number): number;
  gmem_mmap(g: number, stop: number): number;
  gmem_munmap(g: number, stop: number): number;
  host_access(g: number, offset: number, write: number, value: number, stop: number): number;
  host_pin(g: number, offset: number, size: number, unpin: number, stop: number): number;
  gmem_convert(g: number, offset: number, size: number, toShared: number, mode: number, stop: number): number;
  gmem_punch(g: number, offset: number, size: number, stop: number): number;
  vm_create(stop: number): number;
  vm_destroy(h: number, stop: number): number;
  vm_bind(h: number, slot: number, gpa: number, size: number, g: number, offset: number, stop: number): number;
  vm_unbind(h: number, slot: number, stop: number): number;
  guest_access(h: number, gpa: number, priv: number, write: number, value: number, stop: number): number;
  vm_info(h: number): number;
  vm_spte(h: number, gpa: number, priv: number): number;
  vm_leaves(h: number, priv: number): number;
  iommu_create(mode: number, stop: number): number;
  iommu_destroy(h: number): number;
  iommu_bind(h: number, g: number, stop: number): number;
  iommu_unbind(h: number, stop: number): number;
  iommu_map(h: number, iova: number, g: number, offset: number, size: number, secure: number, stop: number): number;
  iommu_unmap(h: number, iova: number, size: number, secure: number, stop: number): number;
  iommu_dma(h: number, iova: number, secure: number, write: number, value: number, stop: number): number;
  iommu_iopte(h: number, iova: number, secure: number): number;
  iommu_info(h: number): number;
  op_resume(h: number, stop: number): number;
  op_set_thread(h: number, thread: number): number;
  op_footprint(): number;
  sim_debug_corrupt(inv: number, h: number, index: number): number;
  view_objects(from: number): number;
  view_memslots(h: number): number;
  view_areas(h: number, from: number): number;
  view_leaves(table: number, h: number, start: number, end: number, grain: number): number;
  view_folios(h: number, start: number, end: number, grain: number): number;
  view_shareability(h: number, start: number, end: number, grain: number): number;
  bench_block(bytes: number): number;
  bench_fill(n: number, v: number): number;
  bench_noop(a: number): number;
}

export type CoreFlavor = "release" | "debug";

let debugBytes: Uint8Array<ArrayBuffer> | undefined;

/** @internal Called by the `gmemsim/debug` entry: the debug core's bytes, for `{ debug: true }`. */
export function provideDebugCore(bytes: Uint8Array<ArrayBuffer>): void {
  debugBytes = bytes;
}

/**
 * The embedded core bytes (release: -O3 --noAssert; debug: asserts kept). The debug core is there once the
 * `gmemsim/debug` entry has been imported; before that, asking for it is an EnvironmentError (ENOENT).
 */
export function coreBytes(flavor: CoreFlavor = "release"): Uint8Array<ArrayBuffer> {
  if (flavor !== "debug") return releaseBytes;
  if (debugBytes === undefined) {
    throw new EnvironmentError("ENOENT", "the debug core is not loaded: import from 'gmemsim/debug' to use { debug: true }");
  }
  return debugBytes;
}

const compiled: Partial<Record<CoreFlavor, Promise<WebAssembly.Module>>> = {};

/** Compile the embedded core once per flavor; later calls share the same promise. */
export function compileCore(flavor: CoreFlavor = "release"): Promise<WebAssembly.Module> {
  requireWasmThreads();
  let p = compiled[flavor];
  if (!p) {
    p = WebAssembly.compile(coreBytes(flavor));
    compiled[flavor] = p;
    p.catch(() => { delete compiled[flavor]; });
  }
  return p;
}

/** Compile synchronously (fine in Node and workers; browsers limit sync compiles on the main thread). */
export function compileCoreSync(flavor: CoreFlavor = "release"): WebAssembly.Module {
  requireWasmThreads();
  return new WebAssembly.Module(coreBytes(flavor));
}

/** Bytes of a core: an ArrayBuffer or a view of one (what the DOM calls a BufferSource). */
export type CoreBytes = ArrayBuffer | ArrayBufferView;

/** Compile bytes a caller gave: an EnvironmentError (EINVAL) when they are not a WebAssembly module. */
export function compileBytes(bytes: CoreBytes): WebAssembly.Module {
  requireWasmThreads();
  try { return new WebAssembly.Module(bytes as ArrayBuffer); }
  catch (e) { throw new EnvironmentError("EINVAL", `not a gmemsim core: ${(e as Error).message}`); }
}

/** A fresh shared memory for the core: INITIAL_WASM_PAGES to maximum (default 4 GiB). */
export function createMemory(maximumPages: number = MAX_WASM_PAGES): WebAssembly.Memory {
  requireWasmThreads();
  if (!Number.isInteger(maximumPages) || maximumPages < INITIAL_WASM_PAGES || maximumPages > MAX_WASM_PAGES) {
    throw new EnvironmentError("EINVAL", `maximumPages must be an integer in [${INITIAL_WASM_PAGES}, ${MAX_WASM_PAGES}]`);
  }
  return new WebAssembly.Memory({ initial: INITIAL_WASM_PAGES, maximum: maximumPages, shared: true });
}

/** Instantiate over `memory`: an EnvironmentError (EINVAL) when the memory does not fit the core. */
export function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): CoreExports {
  if (!(memory instanceof WebAssembly.Memory)) throw new EnvironmentError("EINVAL", "options.memory is not a WebAssembly.Memory");
  let instance: WebAssembly.Instance;
  try { instance = new WebAssembly.Instance(module, { env: { memory, clock_ms: clockMs } }); }
  catch (e) {
    throw new EnvironmentError("EINVAL", `this memory cannot hold the core (it must be shared, with at least ` +
      `${INITIAL_WASM_PAGES} pages and a maximum of ${MAX_WASM_PAGES}): ${(e as Error).message}`);
  }
  const x = guardTraps(instance.exports, memory) as unknown as Partial<CoreExports>;
  if (typeof x.sim_attach !== "function" || typeof x.sim_layout_version !== "function" || typeof x.sim_scratch !== "function") {
    throw new EnvironmentError("EINVAL", "not a gmemsim core: the module lacks sim_attach / sim_layout_version");
  }
  if (x.sim_layout_version() >>> 0 !== LAYOUT_VERSION) {
    throw new EnvironmentError("EINVAL", `gmemsim core of layout version ${x.sim_layout_version() >>> 0}; this binding reads version ${LAYOUT_VERSION}`);
  }
  return x as CoreExports;
}

/**
 * Every export, wrapped so that a trap (a RuntimeError: a bug in the model, or an assertion of the debug core) never
 * leaves a lock held or the world stopped: the core releases what the trapping call held and marks the machine
 * failed (every later call: ENOTRECOVERABLE), and the caller gets an EnvironmentError with that code.
 */
function guardTraps(exports: WebAssembly.Exports, memory: WebAssembly.Memory): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const trapped = exports.sim_trapped as (() => void) | undefined;
  const fail = (name: string, e: unknown): never => {
    if (!(e instanceof WebAssembly.RuntimeError)) throw e;
    try { trapped?.(); } catch { /* the cleanup itself trapped: the mark may be missing, the error still stands */ }
    throw new EnvironmentError("ENOTRECOVERABLE", `the model trapped in ${name} (${e.message})${lockdepReport(memory)}; ` +
      "this simulator is marked failed");
  };
  for (const [name, v] of Object.entries(exports)) {
    if (typeof v !== "function" || name === "sim_trapped") { out[name] = v; continue; }
    const f = v as (...a: number[]) => number;
    // fixed-arity wrappers: a rest parameter would allocate on every call of the hottest exports
    switch (f.length) {
      case 0: out[name] = () => { try { return f(); } catch (e) { return fail(name, e); } }; break;
      case 1: out[name] = (a: number) => { try { return f(a); } catch (e) { return fail(name, e); } }; break;
      case 2: out[name] = (a: number, b: number) => { try { return f(a, b); } catch (e) { return fail(name, e); } }; break;
      case 3: out[name] = (a: number, b: number, c: number) => { try { return f(a, b, c); } catch (e) { return fail(name, e); } }; break;
      default: out[name] = (...a: number[]) => { try { return f(...a); } catch (e) { return fail(name, e); } };
    }
  }
  return out;
}

/** What the debug core's lock-order check reported before it trapped (H_LOCKDEP), as text; "" when nothing. */
function lockdepReport(memory: WebAssembly.Memory): string {
  const u = new Uint32Array(memory.buffer, H_LOCKDEP, C.LOCKDEP_WORDS);
  const who = Atomics.load(u, C.LOCKDEP_WHO);
  if (who === 0) return "";
  const lock = (cls: number, word: number) => `${LOCK_CLASS_NAMES[cls] ?? `lock class ${cls}`} @0x${word.toString(16)}`;
  return `: lockdep: instance ${who - 1} acquires ${lock(u[C.LOCKDEP_NEW_CLASS], u[C.LOCKDEP_NEW_WORD])} while ` +
    `holding ${lock(u[C.LOCKDEP_HELD_CLASS], u[C.LOCKDEP_HELD_WORD])}, against the lock order (` +
    `${Object.keys(LOCK_CLASS_NAMES).map(Number).sort((a, b) => a - b).map((c) => LOCK_CLASS_NAMES[c]).join(" < ")}; ` +
    "within a class by address)";
}

/** The core's clock (assembly/mm/clock.ts): milliseconds, monotonic, in every runtime. */
function clockMs(): number { return performance.now(); }

function requireWasmThreads(): void {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.Memory !== "function") {
    throw new EnvironmentError("ENOSYS", "WebAssembly is not available in this environment");
  }
}

/** True on a browser page's main thread, where Atomics.wait (and so a contended lock) may not block. */
export function onBrowserMainThread(): boolean {
  const g = globalThis as { document?: unknown; window?: unknown };
  return typeof g.window !== "undefined" && typeof g.document !== "undefined";
}

/**
 * Whether this realm can hand a shared memory to workers. In a browser that needs cross-origin isolation: serve
 * the page with `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`.
 * Without it a simulator still runs on one thread, but share() throws.
 */
export function canShareMemory(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean };
  return typeof g.crossOriginIsolated === "boolean" ? g.crossOriginIsolated : true;
}
