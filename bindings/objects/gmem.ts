// A guest_memfd: its inode's bitmap and folios (views and queries), the host side (mmap, accesses, pins), and the
// conversion and punch ioctls, each of which may pause at a named point (a PausedOp) to race something against it.
import * as R from "../../assembly/abi/records";
import * as C from "../../assembly/abi/consts";
import { STOP_NEVER, RESULT_PAUSED, HOST_OK, HOST_SIGBUS, HOST_RETRY } from "../../assembly/abi/ops";
import { PAGE_SIZE } from "../../assembly/abi/layout";
import { GmemError, ERRNO, check, einval, isErr } from "../errors";
import { CONTENT_MODE } from "../abi";
import { u32, f64, optsOf, u32value, type SimContext, type Protocol } from "../context";
import { convertError, pausedOp, stopFor, type PausedOp } from "../ops";
import { BitmapReader } from "./bitmap";
import { folioRuns, mappingRuns, type FolioRun, type MappingRun, type RangeOptions } from "../state";

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

export interface HostAccess { result: "ok" | "SIGBUS" | "retry"; value?: number }

const FOLIO_STATES: FolioState[] = ["absent", "huge", "small"];

/** A guest_memfd inode's structures: its bitmap and its filemap of folios. */
export class Gmem extends BitmapReader {
  readonly sim: SimContext;
  readonly handle: number;
  readonly npages: number;
  /** Wrap a guest_memfd handle of `sim` (a whole number in [0, 2^32): a stale one is EBADF at its first use). */
  constructor(sim: SimContext, handle: number) {
    super();
    this.sim = sim;
    this.handle = u32("gmem", "handle", handle); // a forged or stale handle is EBADF at its first use
    this.npages = sim.u32[(this.inodeAddr() + R.GI_NPAGES) >>> 2];
  }
  private inodeAddr(): number {
    const p = this.sim.core.gmem_ptr(this.handle) >>> 0;
    if (p === 0) throw new GmemError(ERRNO.EBADF, "gmem", "closed");
    return p;
  }
  /** Size in bytes. */
  get size(): number { return this.npages * PAGE_SIZE; }
  /** HugeTLB order of the inode's folios: 0 (4 KiB pages), 9 (2 MiB) or 18 (1 GiB). */
  get hugeOrder(): number { return this.sim.u32[(this.inodeAddr() + R.GI_HUGE_ORDER) >>> 2]; }
  /** 4 KiB pages that have a folio. */
  get populated(): number { return this.sim.u32[(this.inodeAddr() + R.GI_POPULATED) >>> 2]; }
  /** The generation this guest_memfd was created with. */
  get protocol(): Protocol {
    return (this.sim.u32[(this.inodeAddr() + R.GI_FLAGS) >>> 2] & C.GMEM_GEN_V4) !== 0 ? "v4" : "v2";
  }
  /** The folio holding index. */
  folio(index: number): FolioInfo {
    const state = check(this.sim.core.folio_describe(this.handle, u32("folio.describe", "index", index)), "folio.describe");
    const o = (i: number) => this.sim.out(C.OUT_INFO + i);
    return {
      state: FOLIO_STATES[state], order: state === 0 ? -1 : o(C.FOLIO_INFO_ORDER), pfn: o(C.FOLIO_INFO_PFN),
      refcount: o(C.FOLIO_INFO_REF), pincount: o(C.FOLIO_INFO_PIN), mapcount: o(C.FOLIO_INFO_MAP),
      uptodate: (o(C.FOLIO_INFO_FLAGS) & C.FOLIO_UPTODATE) !== 0, index: o(C.FOLIO_INFO_INDEX),
    };
  }
  /** The folio layout over page indices [start, end) as runs (lock-free). */
  folios(start = 0, end = this.npages, opts?: RangeOptions): FolioRun[] {
    return folioRuns(this.sim, this.handle, start, end, opts);
  }
  /** The host PTEs of the guest_memfd's mmap over page indices [start, end) as runs (4 KiB leaves; lock-free). */
  hostMappings(start = 0, end = this.npages, opts?: RangeOptions): MappingRun[] {
    return mappingRuns(this.sim, "gmem.hostMappings", C.VIEW_TABLE_HOST, this.handle, start, end, opts);
  }
  /** Allocate the folio for index if there is none (the whole huge block with HugeTLB). */
  allocFolio(index: number): void {
    check(this.sim.core.folio_alloc(this.handle, u32("folio.alloc", "index", index)), "folio.alloc");
  }
  /** Split the huge folio holding index into 4 KiB folios (pfns stay contiguous). EAGAIN if referenced. */
  splitFolio(index: number): void {
    this.busyCheck(this.sim.afterStep("folio.split", this.sim.core.folio_split(this.handle, u32("folio.split", "index", index))), "folio.split");
  }
  /** Merge the split HugeTLB block holding index back into one folio. EAGAIN if a 4 KiB folio is referenced. */
  mergeFolio(index: number): void {
    this.busyCheck(this.sim.afterStep("folio.merge", this.sim.core.folio_merge(this.handle, u32("folio.merge", "index", index))), "folio.merge");
  }
  /** Truncate every folio of the block holding index. EAGAIN if referenced. */
  freeBlock(index: number): void {
    this.busyCheck(this.sim.afterStep("folio.freeBlock", this.sim.core.folio_free_block(this.handle, u32("folio.freeBlock", "index", index))), "folio.freeBlock");
  }
  /**
   * Take or drop a transient reference (an LRU batch, a speculative lookup): while held, the folio cannot be
   * split, merged or converted to private. Host PTEs and pins come from hostAccess()/pin() and IOMMU maps only.
   */
  ref(index: number, kind: "transient", delta: 1 | -1): void {
    if (kind !== "transient") throw einval("folio.ref", `only transient references can be taken directly, not ${String(kind)}`);
    if (delta !== 1 && delta !== -1) throw einval("folio.ref", "delta must be 1 or -1");
    check(this.sim.core.folio_ref(this.handle, u32("folio.ref", "index", index), 0, delta), "folio.ref");
  }
  markUptodate(index: number): void {
    check(this.sim.core.folio_mark_uptodate(this.handle, u32("folio.markUptodate", "index", index)), "folio.markUptodate");
  }
  /** mmap the guest_memfd into the host (ENODEV without the 'mmap' flag). */
  mmap(): void { this.sim.run("host.mmap", this.sim.core.gmem_mmap(this.handle, STOP_NEVER)); }
  munmap(): void { this.sim.run("host.munmap", this.sim.core.gmem_munmap(this.handle, STOP_NEVER)); }
  /** A host load (and store of `write`) at byte offset through the mmap: 'ok', 'SIGBUS' or 'retry'. */
  hostAccess(offset: number | bigint, opts?: { write?: number }): HostAccess {
    opts = optsOf("host.access", opts);
    const w = opts.write === undefined ? undefined : u32value("host.access", opts.write);
    const r = this.sim.run("host.access", this.sim.core.host_access(this.handle, f64(offset), w === undefined ? 0 : 1, w ?? 0, STOP_NEVER));
    return hostResult(this.sim, r);
  }
  /** Long-term GUP pin of the host mapping of [offset, offset + size) (as VFIO type1 does for DMA). */
  pin(offset: number | bigint, size: number | bigint): void {
    this.sim.run("host.pin", this.sim.core.host_pin(this.handle, f64(offset), f64(size), 0, STOP_NEVER));
  }
  unpin(offset: number | bigint, size: number | bigint): void {
    this.sim.run("host.unpin", this.sim.core.host_pin(this.handle, f64(offset), f64(size), 1, STOP_NEVER));
  }
  /**
   * Convert [offset, offset + size) to 'shared' or 'private': KVM_GMEM_CONVERT_SHARED/PRIVATE (v2) or
   * KVM_SET_MEMORY_ATTRIBUTES2 (v4, with mode 'zero' / 'preserve'). Throws GmemError (EAGAIN, v4 ENOMEM and
   * EOPNOTSUPP carry errorOffset). With `pause` it stops after that step holding its locks: a PausedOp.
   */
  convert(offset: number | bigint, size: number | bigint, to: "shared" | "private",
          opts?: { mode?: "zero" | "preserve"; pause?: string }): PausedOp | undefined {
    opts = optsOf("convert", opts);
    if (to !== "shared" && to !== "private") throw einval("convert", "to must be 'shared' or 'private'");
    const mode = opts.mode === undefined ? C.MODE_UNSPECIFIED
      : opts.mode === "zero" || opts.mode === "preserve" ? CONTENT_MODE[opts.mode] : undefined;
    if (mode === undefined) throw einval("convert", `unknown mode ${String(opts.mode)}`);
    const stop = stopFor("convert", opts.pause);
    const r = this.sim.afterStep("convert",
      this.sim.core.gmem_convert(this.handle, f64(offset), f64(size), to === "shared" ? 1 : 0, mode, stop));
    if (r === RESULT_PAUSED) return pausedOp(this.sim, "convert");
    if (isErr(r)) throw convertError(this.sim, "convert", r);
    return undefined;
  }
  /** fallocate(PUNCH_HOLE | KEEP_SIZE) of [offset, offset + size); with `pause` a PausedOp. */
  punch(offset: number | bigint, size: number | bigint, opts?: { pause?: string }): PausedOp | undefined {
    opts = optsOf("punch", opts);
    const stop = stopFor("punch", opts.pause);
    const r = this.sim.afterStep("punch", this.sim.core.gmem_punch(this.handle, f64(offset), f64(size), stop));
    if (r === RESULT_PAUSED) return pausedOp(this.sim, "punch");
    if (isErr(r)) throw convertError(this.sim, "punch", r);
    return undefined;
  }
  /** Close the fd (the memory lives on while a memslot binds it). */
  close(): void { this.sim.run("gmem.close", this.sim.core.gmem_close(this.handle, STOP_NEVER)); }
  /** I1 on the bitmap, I2 and I4 on the folios; throws InvariantError. */
  check(): void {
    const r = check(this.sim.core.gmem_check(this.handle), "gmem.check");
    if (r !== 0) this.sim.raiseViolation(r === 1 ? "bitmap counts disagree with its bits" : "folio structure or refcounts");
  }
  dispose(): void {
    check(this.sim.core.gmem_destroy(this.handle), "gmem.dispose");
  }
  private busyCheck(r: number, op: string): void {
    if (isErr(r)) {
      const e = new GmemError(-r, op);
      if (r === -ERRNO.EAGAIN) e.errorOffset = this.sim.out(C.OUT_ERR_INDEX) * PAGE_SIZE;
      throw e;
    }
  }
}

/** A host access's result (HOST_* of assembly/abi/ops.ts). */
export function hostResult(sim: SimContext, r: number): HostAccess {
  if (r === HOST_SIGBUS) return { result: "SIGBUS" };
  if (r === HOST_RETRY) return { result: "retry" };
  if (r !== HOST_OK) throw new GmemError(ERRNO.EIO, "host.access", `unexpected result ${r}`);
  return { result: "ok", value: sim.out(C.OUT_VALUE) };
}
