// A shareability bitmap (the structure each guest_memfd inode owns): queries through the core, and live typed
// views over its words and per-block counts for visualizers.
import * as R from "../../assembly/abi/records";
import { GmemError, ERRNO, check, einval, isErr } from "../errors";
import { u32, type SimContext } from "../context";
import { shareRuns, type ShareRun, type RangeOptions } from "../state";

/** A run of equal shareability: [start, end) page indices. */
export interface Run { start: number; end: number; shared: boolean }

/** Views and queries over one shareability bitmap (standalone, or a guest_memfd inode's). */
export abstract class BitmapReader {
  abstract readonly sim: SimContext;
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
    return new Uint32Array(this.sim.memory.buffer, m[(hdr + R.BM_WORDS) >>> 2], m[(hdr + R.BM_NWORDS) >>> 2] * 2);
  }
  /** Shared-page counts per 2 MiB block as a live Uint16Array view. */
  counts2M(): Uint16Array {
    const hdr = this.headerAddr();
    const m = this.sim.u32;
    return new Uint16Array(this.sim.memory.buffer, m[(hdr + R.BM_CNT2M) >>> 2], m[(hdr + R.BM_N2M) >>> 2]);
  }
  /** Shared-page counts per 1 GiB block as a live Uint32Array view. */
  counts1G(): Uint32Array {
    const hdr = this.headerAddr();
    const m = this.sim.u32;
    return new Uint32Array(this.sim.memory.buffer, m[(hdr + R.BM_CNT1G) >>> 2], m[(hdr + R.BM_N1G) >>> 2]);
  }
  /** Total shared pages (kept by the core, O(1)). */
  sharedTotal(): number {
    return this.sim.u32[(this.headerAddr() + R.BM_SHARED) >>> 2];
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
  /**
   * Shareability over [start, end) as runs with their shared-page count, lock-free; with a grain > 1 one count per
   * bucket of that many pages (neighbouring uniform buckets merged), for a view zoomed out.
   */
  shareability(start = 0, end = this.npages, opts?: RangeOptions): ShareRun[] {
    return shareRuns(this.sim, this.handle, start, end, opts);
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
  readonly sim: SimContext;
  readonly handle: number;
  readonly npages: number;
  /** Wrap a bitmap handle of `sim` (a whole number in [0, 2^32): a stale one is EBADF at its first use). */
  constructor(sim: SimContext, handle: number) {
    super();
    this.sim = sim;
    this.handle = u32("bitmap", "handle", handle); // a forged or stale handle is EBADF at its first use
    const hdr = sim.core.bitmap_ptr(this.handle) >>> 0; // 0: a stale handle (its methods say EBADF)
    this.npages = hdr === 0 ? 0 : sim.u32[(hdr + R.BM_NPAGES) >>> 2];
  }
  /** Mark [start, end) shared (true) or private (false). */
  assign(start: number, end: number, shared: boolean): void {
    const op = "bitmap.assign";
    check(this.sim.core.bitmap_assign(this.handle, u32(op, "start", start), u32(op, "end", end), shared ? 1 : 0), op);
  }
  /** Run the I1 check on this bitmap; throws InvariantError. */
  check(): void {
    const r = check(this.sim.core.bitmap_check(this.handle), "bitmap.check");
    if (r !== 0) this.sim.raiseViolation("bitmap counts disagree with its bits");
  }
  dispose(): void {
    check(this.sim.core.bitmap_destroy(this.handle), "bitmap.dispose");
  }
}
