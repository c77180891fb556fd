// gmemsim: an executable model of guest_memfd private<->shared conversion. Public entry point.
export {
  createSimulator, createSimulatorSync, Simulator, Bitmap, PageTable, Gmem, coreBytes, compileCore,
  type SimulatorOptions, type SharedSimulator, type FolioInfo, type FolioState, type MemoryStats, type Run,
  type Leaf, type PageLevel, type GmemFlag,
} from "./sim";
export { GmemError, InvariantError, EnvironmentError, ERRNO, errnoName } from "./errors";
export { canShareMemory } from "./core";
export * as layout from "../assembly/layout";
