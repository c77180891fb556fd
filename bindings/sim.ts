// The typed facade over the core, in one import: the simulator and every object class.
export {
  Simulator, createSimulator, createSimulatorSync, restoreSimulator, coreBytes, compileCore,
  type SharedSimulator, type MemoryStats, type CheckCost, type GmemFlag,
} from "./simulator";
export type { SimulatorOptions, Arch, Protocol } from "./context";
export type { PausedOp, GuestAccess } from "./ops";
export { Bitmap, type Run } from "./objects/bitmap";
export { PageTable, type PageLevel, type Leaf } from "./objects/pagetable";
export { Gmem, type FolioInfo, type FolioState, type HostAccess } from "./objects/gmem";
export { Vm } from "./objects/vm";
export { Iommu, type DmaResult } from "./objects/iommu";
export type { SimEvent } from "./events";
export type { MappingRun, FolioRun, ShareRun, Memslot, IommuArea, ModelObject, RangeOptions } from "./state";
