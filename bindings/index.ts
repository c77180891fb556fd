// gmemsim: an executable model of guest_memfd private<->shared conversion. Public entry point.
export {
  createSimulator, createSimulatorSync, restoreSimulator, Simulator, Bitmap, PageTable, Gmem, coreBytes, compileCore,
  type SimulatorOptions, type SharedSimulator, type FolioInfo, type FolioState, type MemoryStats, type Run,
  type Leaf, type PageLevel, type GmemFlag, Vm, type Arch, type Protocol, type GuestAccess, type HostAccess,
  type PausedOp, type SimEvent, Iommu, type DmaResult,
} from "./sim";
export { EventReader, EVENT_NAMES, decodeEvent } from "./events";
export { GmemError, InvariantError, EnvironmentError, ERRNO, errnoName } from "./errors";
export { canShareMemory } from "./core";
export * as layout from "../assembly/layout";
