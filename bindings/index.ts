// gmemsim: an executable model of guest_memfd private<->shared conversion. Public entry point.
export {
  createSimulator, createSimulatorSync, restoreSimulator, Simulator, Bitmap, PageTable, Gmem, Vm, Iommu, coreBytes,
  compileCore, type SimulatorOptions, type SharedSimulator, type FolioInfo, type FolioState, type MemoryStats,
  type Run, type Leaf, type PageLevel, type GmemFlag, type Arch, type Protocol, type GuestAccess, type HostAccess,
  type PausedOp, type SimEvent, type DmaResult, type MappingRun, type FolioRun, type ShareRun, type Memslot,
  type IommuArea, type ModelObject, type RangeOptions,
} from "./sim";
export { EventReader, EVENT_NAMES, decodeEvent } from "./events";
export { GmemError, InvariantError, EnvironmentError, ERRNO, errnoName } from "./errors";
export { canShareMemory } from "./core";
export { runScenario, type RunScenarioOptions } from "./scenario/embed";
export type { RunReport, StepOutcome } from "./scenario/run";
export type { FinalState } from "./scenario/final";
export { parseScenario, validateScenario, ScenarioFormatError } from "./scenario/parse";
export { toChromeTrace, type ChromeTrace, type TraceEvent } from "./trace/chrome";
export { PHASES, eventClass, type Phase, type EventClass } from "./trace/phases";
export {
  explore, exploreSync, Exploration, type ExploreOptions, type ExploreReport, type ScheduleStep, type ScheduleEnd,
  type Violation, type StepResults,
} from "./explore/index";
export * as abi from "./abi";
export * as layout from "../assembly/abi/layout";
