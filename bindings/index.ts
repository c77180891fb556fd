/**
 * An executable model of Linux guest_memfd private/shared conversion with KVM's page tables and the IOMMU. Start
 * with {@link createSimulator} (or {@link createSimulatorSync}); errors are {@link GmemError},
 * {@link InvariantError} and {@link EnvironmentError}, each with a stable `.code`.
 * @module gmemsim
 */
export {
  createSimulator, createSimulatorSync, restoreSimulator, Simulator, Bitmap, PageTable, Gmem, Vm, Iommu, coreBytes,
  compileCore, type SimulatorOptions, type SharedSimulator, type FolioInfo, type FolioState, type MemoryStats, type CheckCost,
  type Run, type Leaf, type PageLevel, type GmemFlag, type Arch, type Protocol, type GuestAccess, type HostAccess,
  type PausedOp, type SimEvent, type DmaResult, type MappingRun, type FolioRun, type ShareRun, type Memslot,
  type IommuArea, type ModelObject, type RangeOptions,
} from "./sim";
export { EventReader, EVENT_NAMES, decodeEvent } from "./events";
export { GmemError, InvariantError, EnvironmentError, ERRNO, errnoName } from "./errors";
export { canShareMemory } from "./core";
export { parseScenario, validateScenario, ScenarioFormatError, type ErrorSection } from "./scenario/parse";
/** The scenario format's types and value lists (SCENARIOS.md): `scenario.Scenario`, `scenario.SAFEGUARDS`, ... */
export * as scenario from "./scenario/types";
export { runScenario, type RunScenarioOptions } from "./scenario/embed";
export type { RunReport, StepOutcome } from "./scenario/run";
export type { FinalState } from "./scenario/final";
export { toChromeTrace, type ChromeTrace, type TraceEvent } from "./trace/chrome";
export { PHASES, eventClass, type Phase, type EventClass } from "./trace/phases";
export {
  explore, exploreSync, Exploration, type ExploreOptions, type ExploreReport, type ScheduleStep, type ScheduleEnd,
  type Violation, type StepResults,
} from "./explore/index";
export * as abi from "./abi";
export * as layout from "../assembly/abi/layout";
// types the signatures above mention
export type { CoreBytes, CoreFlavor } from "./core";
export type { SimContext, ObjectKind } from "./context";
export type { SeptState } from "./objects/vm";
export type { Namer } from "./events";
