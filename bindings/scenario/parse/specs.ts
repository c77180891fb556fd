// The per-op field table of format 1 and this project's extensions: which fields each op takes and which results
// its `expect` may name.
import { ERRNOS, GUEST_ACCESS_RESULTS, HOST_ACCESS_RESULTS, DMA_RESULTS, type StepOp } from "../types";

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

export const ALL_RESULTS: readonly string[] = [...new Set<string>([...GUEST_ACCESS_RESULTS, ...HOST_ACCESS_RESULTS, ...DMA_RESULTS])];

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
  punch: { fields: ["gmem", "offset", "size"], errorOffset: true },
  "iommu.create": { fields: ["id", "mode"] },
  "iommu.bind": { fields: ["iommu", "gmem"] },
  "iommu.unbind": { fields: ["iommu"] },
  "iommu.map": { fields: ["iommu", "iova", "gmem", "offset", "size", "secure"] },
  "iommu.unmap": { fields: ["iommu", "iova", "size", "secure"] },
  dma: { fields: ["iommu", "iova", "secure", "write", "value"], results: DMA_RESULTS },
  inject: { fields: ["fault", "count"] },
  resume: { fields: ["id"], results: ALL_RESULTS, errorOffset: true },
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
