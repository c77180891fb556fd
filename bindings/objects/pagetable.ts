// A standalone radix page table: the structure every KVM and IOMMU table uses, for tests and visualizers.
import { OUT_INFO, PT_INFO_PFN, PT_INFO_STATE, VIEW_TABLE_PT } from "../../assembly/abi/consts";
import { check, einval } from "../errors";
import { u32, f64, optsOf, type SimContext } from "../context";
import { mappingRuns, type MappingRun, type RangeOptions } from "../state";

export type PageLevel = 1 | 2 | 3;
export interface Leaf { pfn: number; level: PageLevel; state: number }

export class PageTable {
  readonly sim: SimContext;
  readonly handle: number;
  /** Wrap a page-table handle of `sim` (a whole number in [0, 2^32): a stale one is EBADF at its first use). */
  constructor(sim: SimContext, handle: number) {
    this.sim = sim;
    this.handle = u32("pt", "handle", handle); // a forged or stale handle is EBADF at its first use
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
    return { pfn: this.sim.out(OUT_INFO + PT_INFO_PFN), level: level as PageLevel, state: this.sim.out(OUT_INFO + PT_INFO_STATE) };
  }
  /**
   * Remove every leaf mapping a gfn in [start, end). A huge leaf that sticks out of the range is zapped whole
   * ('zap', as KVM does outside TDX) or demoted first so exactly the range goes ('demote', TDX's precise zap).
   * Tables: by default a table wholly inside the range goes with its subtree and one the zap empties is freed (an
   * IOMMU unmap); `keepTables` keeps every table and clears only leaves (KVM's tdp_mmu_zap_leafs).
   * Returns the leaves removed and the gfn span they covered.
   */
  zap(start: number, end: number, partial: "zap" | "demote" = "zap", opts?: { keepTables?: boolean }):
    { count: number; start: number; end: number } {
    if (partial !== "zap" && partial !== "demote") throw einval("pt.zap", "partial must be 'zap' or 'demote'");
    opts = optsOf("pt.zap", opts);
    if (opts.keepTables !== undefined && typeof opts.keepTables !== "boolean") throw einval("pt.zap", "keepTables must be a boolean");
    const bits = (partial === "demote" ? 1 : 0) | (opts.keepTables === true ? 2 : 0);
    const count = check(this.sim.core.pt_zap(this.handle, f64(start), f64(end), bits), "pt.zap");
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
  /** The leaves over gfns [start, end) as runs with pfn and level (lock-free). */
  mappings(start = 0, end = 2 ** 32, opts?: RangeOptions): MappingRun[] {
    return mappingRuns(this.sim, "pt.mappings", VIEW_TABLE_PT, this.handle, start, end, opts);
  }
  check(): void {
    const r = check(this.sim.core.pt_check(this.handle), "pt.check");
    if (r !== 0) this.sim.raiseViolation("page-table counters, occupancy or alignment are wrong");
  }
  dispose(): void {
    check(this.sim.core.pt_destroy(this.handle), "pt.dispose");
  }
}
