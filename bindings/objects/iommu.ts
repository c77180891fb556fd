// An IOMMU domain: secure (T=1) and non-secure (T=0) IO page tables, areas mapped by userspace, the IOTLB.
import * as C from "../../assembly/abi/consts";
import { STOP_NEVER, RESULT_PAUSED } from "../../assembly/abi/ops";
import { GmemError, ERRNO, check, einval, isErr } from "../errors";
import { DMA_RESULTS, LEVEL_NAMES } from "../abi";
import { u32, f64, optsOf, u32value, type SimContext } from "../context";
import { pausedOp, stopFor, type PausedOp } from "../ops";
import { Gmem } from "./gmem";
import { listAreas, mappingRuns, type IommuArea, type MappingRun, type RangeOptions } from "../state";

export type DmaResult = { result: "ok" | "io-fault" | "machine-check"; value?: number };

export class Iommu {
  readonly sim: SimContext;
  readonly handle: number;
  /** Wrap a IOMMU handle of `sim` (a whole number in [0, 2^32): a stale one is EBADF at its first use). */
  constructor(sim: SimContext, handle: number) {
    this.sim = sim;
    this.handle = u32("iommu", "handle", handle); // a forged or stale handle is EBADF at its first use
  }
  /** gmem mode: bind to the guest_memfd (one registration, global to the fd). */
  bind(gmem: Gmem): void {
    if (!(gmem instanceof Gmem) || gmem.sim !== this.sim) throw einval("iommu.bind", "gmem must be a Gmem of this simulator");
    this.sim.run("iommu.bind", this.sim.core.iommu_bind(this.handle, gmem.handle, STOP_NEVER));
  }
  unbind(): void {
    this.sim.run("iommu.unbind", this.sim.core.iommu_unbind(this.handle, STOP_NEVER));
  }
  /** Map [offset, offset + size) of gmem at iova in the secure or non-secure table; with `pause` a PausedOp. */
  map(iova: number | bigint, gmem: Gmem, offset: number | bigint, size: number | bigint, secure: boolean,
      opts?: { pause?: string }): PausedOp | undefined {
    const op = "iommu.map";
    if (!(gmem instanceof Gmem) || gmem.sim !== this.sim) throw einval(op, "gmem must be a Gmem of this simulator");
    if (typeof secure !== "boolean") throw einval(op, "secure must be a boolean");
    opts = optsOf(op, opts);
    const stop = stopFor(op, opts.pause);
    const r = this.sim.afterStep(op, this.sim.core.iommu_map(this.handle, f64(iova), gmem.handle, f64(offset), f64(size),
      secure ? 1 : 0, stop));
    if (r === RESULT_PAUSED) return pausedOp(this.sim, op);
    check(r, op);
    return undefined;
  }
  /** Unmap whole areas inside [iova, iova + size) of one table (ENOENT if it cuts through one). */
  unmap(iova: number | bigint, size: number | bigint, secure: boolean): void {
    const op = "iommu.unmap";
    if (typeof secure !== "boolean") throw einval(op, "secure must be a boolean");
    this.sim.run(op, this.sim.core.iommu_unmap(this.handle, f64(iova), f64(size), secure ? 1 : 0, STOP_NEVER));
  }
  /** A device access through the secure or non-secure table: 'ok', 'io-fault' or 'machine-check' (TDX). */
  dma(iova: number | bigint, secure: boolean, opts?: { write?: number }): DmaResult {
    const op = "dma";
    opts = optsOf(op, opts);
    if (typeof secure !== "boolean") throw einval(op, "secure must be a boolean");
    const w = opts.write === undefined ? undefined : u32value(op, opts.write);
    const r = this.sim.run(op, this.sim.core.iommu_dma(this.handle, f64(iova), secure ? 1 : 0, w === undefined ? 0 : 1,
      w ?? 0, STOP_NEVER));
    return dmaResult(this.sim, r);
  }
  /** The IO page-table entry for iova in one table, or null. */
  iopte(iova: number | bigint, secure: boolean): { level: "4K" | "2M" | "1G"; pfn: number } | null {
    if (typeof secure !== "boolean") throw einval("iommu.iopte", "secure must be a boolean");
    const level = check(this.sim.core.iommu_iopte(this.handle, f64(iova), secure ? 1 : 0), "iommu.iopte");
    if (level === 0) return null;
    return { level: LEVEL_NAMES[level] as "4K", pfn: this.sim.out(C.OUT_INFO + C.IO_INFO_PFN) };
  }
  info(): { mode: "pin" | "gmem"; iotlbFlushes: number; areas: number; machineChecks: number; seq: number;
            inProgress: number; secureLeaves: number; nonSecureLeaves: number } {
    const m = check(this.sim.core.iommu_info(this.handle), "iommu.info");
    const o = (i: number) => this.sim.out(C.OUT_INFO + i);
    return { mode: m === C.IOMMU_MODE_GMEM ? "gmem" : "pin", iotlbFlushes: o(C.IO_INFO_IOTLB_FLUSHES),
      areas: o(C.IO_INFO_AREAS), machineChecks: o(C.IO_INFO_MACHINE_CHECKS), seq: o(C.IO_INFO_SEQ),
      inProgress: o(C.IO_INFO_IN_PROGRESS) | 0, secureLeaves: o(C.IO_INFO_SECURE_LEAVES),
      nonSecureLeaves: o(C.IO_INFO_NONSECURE_LEAVES) };
  }
  /** The areas userspace mapped (non-secure table first, each in iova order; lock-free). */
  areas(): IommuArea[] { return listAreas(this.sim, this.handle); }
  /** The secure or non-secure table's leaves over iova pages [start, end) as runs with pfn and level (lock-free). */
  mappings(secure: boolean, start = 0, end = 2 ** 32, opts?: RangeOptions): MappingRun[] {
    if (typeof secure !== "boolean") throw einval("iommu.mappings", "secure must be a boolean");
    return mappingRuns(this.sim, "iommu.mappings", secure ? C.VIEW_TABLE_IOMMU_SECURE : C.VIEW_TABLE_IOMMU_NONSECURE,
      this.handle, start, end, opts);
  }
  destroy(): void {
    check(this.sim.afterStep("iommu.destroy", this.sim.core.iommu_destroy(this.handle)), "iommu.destroy");
  }
}

/** A DMA's result (DMA_* of assembly/abi/ops.ts). */
export function dmaResult(sim: SimContext, r: number): DmaResult {
  const result = DMA_RESULTS[r] as DmaResult["result"] | undefined;
  if (!result || isErr(r)) throw new GmemError(ERRNO.EIO, "dma", `unexpected result ${r}`);
  return result === "ok" ? { result, value: sim.out(C.OUT_VALUE) } : { result };
}
