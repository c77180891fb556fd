// The per-op field table of format 1 and this project's extensions: which fields each op takes, which results its
// `expect` may name, and which ops a thread may not use.
import {
  ERRNOS, GUEST_ACCESS_RESULTS, HOST_ACCESS_RESULTS, DMA_RESULTS, PAUSE_POINTS, type StepOp, type PausePoint,
} from "../types";

export interface OpSpec {
  /** every field the op takes besides op, expect, errorOffset, comment, note (in the order they are checked) */
  fields: readonly string[];
  /** a check: holds or fails, takes no expect */
  check?: true;
  /** result strings `expect` may name besides 0 and errno names */
  results?: readonly string[];
  /** may carry errorOffset with an errno expect */
  errorOffset?: true;
}

/** every result string of any op */
export const ALL_RESULTS: readonly string[] = [...new Set<string>([...GUEST_ACCESS_RESULTS, ...HOST_ACCESS_RESULTS, ...DMA_RESULTS])];

/** every pause point of any op (what a resume's `pause` may name before the cross-check knows the op) */
export const ALL_PAUSE_POINTS: readonly PausePoint[] = [...new Set<PausePoint>(Object.values(PAUSE_POINTS).flat())];

export const SPECS: { readonly [K in StepOp]: OpSpec } = {
  "gmem.create": { fields: ["id", "size", "flags"] },
  "gmem.close": { fields: ["gmem"] },
  "vm.create": { fields: ["id"] },
  "vm.destroy": { fields: ["vm"] },
  "vm.bind": { fields: ["vm", "slot", "gpa", "size", "gmem", "offset"] },
  "vm.unbind": { fields: ["vm", "slot"] },
  "guest.access": { fields: ["vm", "gpa", "private", "write", "value", "level", "pause", "as"], results: GUEST_ACCESS_RESULTS },
  "host.mmap": { fields: ["gmem"] },
  "host.munmap": { fields: ["gmem"] },
  "host.access": { fields: ["gmem", "offset", "write", "value"], results: HOST_ACCESS_RESULTS },
  "host.pin": { fields: ["gmem", "offset", "size"] },
  "host.unpin": { fields: ["gmem", "offset", "size"] },
  convert: { fields: ["gmem", "offset", "size", "to", "mode", "pause", "as"], errorOffset: true },
  punch: { fields: ["gmem", "offset", "size", "pause", "as"], errorOffset: true },
  "iommu.create": { fields: ["id", "mode"] },
  "iommu.bind": { fields: ["iommu", "gmem"] },
  "iommu.unbind": { fields: ["iommu"] },
  "iommu.map": { fields: ["iommu", "iova", "gmem", "offset", "size", "secure", "pause", "as"] },
  "iommu.unmap": { fields: ["iommu", "iova", "size", "secure"] },
  dma: { fields: ["iommu", "iova", "secure", "write", "value"], results: DMA_RESULTS },
  inject: { fields: ["fault", "count"] },
  resume: { fields: ["id", "pause", "level", "value"], results: ALL_RESULTS, errorOffset: true },
  "check.attr": { fields: ["gmem", "offset", "size", "is"], check: true },
  "check.folio": { fields: ["gmem", "offset", "order", "refcount", "pincount", "mapcount", "uptodate"], check: true },
  "check.spte": { fields: ["vm", "gpa", "table", "present", "level"], check: true },
  "check.iopte": { fields: ["iommu", "iova", "secure", "present", "level"], check: true },
  "check.events": { fields: ["sequence", "absent"], check: true },
  "check.stats": { fields: [], check: true },
  "check.invariants": { fields: [], check: true },
};

export const OPS = Object.keys(SPECS) as StepOp[];
export const ERRNO_SET: ReadonlySet<string> = new Set(ERRNOS);

/** Ops a thread may not use (SCENARIOS.md: every op except check.*, inject, resume). */
export function threadForbids(op: StepOp): boolean {
  return SPECS[op].check === true || op === "inject" || op === "resume";
}

/** Fields a step in a thread may not carry (the explorer decides where threads stop). */
export const THREAD_FORBIDDEN_FIELDS: readonly string[] = ["pause", "as"];
