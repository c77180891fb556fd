// Scenario files (docs SCENARIOS.md, format 1) after parsing: every step validated and converted. Sizes, offsets
// and addresses are bigint (a scenario may name any u64), ids are strings, `expect` is normalized. The value lists
// below are derived from the core's ABI module (bindings/abi.ts): the numbers behind every name are defined once,
// in assembly/abi/; the string-literal types only give TypeScript the same names (test/abi.test.ts checks both
// against the contract's lists in SCENARIOS.md).
import {
  ARCH_NAMES, GMEM_FLAG, ERRNO, GUEST_RESULTS, HOST_RESULTS, DMA_RESULTS as DMA_RESULTS_ABI, CONTENT_MODE, IOMMU_MODE, INJECT,
  SAFEGUARD, PAUSE_POINT_TABLE,
} from "../abi";

const names = <T extends string>(xs: readonly (string | undefined)[]): readonly T[] => Object.freeze(xs.filter(Boolean) as T[]);

export type Arch = "sw" | "tdx" | "snp";
export const ARCHES = names<Arch>(ARCH_NAMES);

export const PROTOCOLS = ["v2", "v4"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Mapping levels of `level` fields. */
export const LEVELS = ["4K", "2M", "1G"] as const;
export type Level = (typeof LEVELS)[number];

/** `gmem.create` flags. */
export type GmemFlag = "mmap" | "init-shared" | "init-private" | "hugetlb-2M" | "hugetlb-1G";
export const GMEM_FLAGS = names<GmemFlag>(Object.keys(GMEM_FLAG));

/** errno names a step may expect (written without the minus). */
export type Errno = string;
/** every errno of the core (assembly/abi/errno.ts), by name */
export const ERRNOS = names<Errno>(Object.keys(ERRNO));

export type GuestAccessResult = "mapped" | "memory-fault" | "hwpoison" | "retry" | "paused";
export const GUEST_ACCESS_RESULTS = names<GuestAccessResult>([...GUEST_RESULTS, "paused"]);
/** "retry": the host fault found the range being converted and returned VM_FAULT_RETRY (a thread may see it) */
export type HostAccessResult = "ok" | "SIGBUS" | "retry";
export const HOST_ACCESS_RESULTS = names<HostAccessResult>(HOST_RESULTS);
export type DmaResult = "ok" | "io-fault" | "machine-check";
export const DMA_RESULTS = names<DmaResult>(DMA_RESULTS_ABI);
export type AccessResult = GuestAccessResult | HostAccessResult | DmaResult;

export const SHAREABILITIES = ["shared", "private"] as const;
export type Shareability = (typeof SHAREABILITIES)[number];
export const ATTR_STATES = ["shared", "private", "mixed"] as const;
export type AttrState = (typeof ATTR_STATES)[number];
export type ConvertMode = "zero" | "preserve";
export const CONVERT_MODES = names<ConvertMode>(Object.keys(CONTENT_MODE).filter((m) => m !== "unspecified"));
export type IommuMode = "pin" | "gmem";
export const IOMMU_MODES = names<IommuMode>(Object.keys(IOMMU_MODE));
export type Fault = "enomem-split" | "enomem-store" | "transient-ref" | "sept-remove-fail";
export const FAULTS = names<Fault>(Object.keys(INJECT));
export const FOLIO_ORDERS = [0, 9, 18, "absent"] as const;
export type FolioOrder = (typeof FOLIO_ORDERS)[number];

/**
 * Extension: the named points where an op carrying `pause` stops (resumed by a later `resume` step, which may name
 * another point of the same op to stop at again), in the order the op passes them. The one place these names are
 * listed: derived from the steps each op has (OPS_* and STEP_* of assembly/abi/ops.ts).
 */
export const PAUSE_POINTS = PAUSE_POINT_TABLE as Readonly<Record<PausableOp, readonly string[]>>;
/** Ops that may carry `pause` / `as`. */
export type PausableOp = "convert" | "punch" | "guest.access" | "iommu.map";
/** A pause point ("after-<step>"). */
export type PausePoint = string;
export type ConvertPause = PausePoint;
export type GuestAccessPause = PausePoint;

/**
 * Safeguards of the protocol `config.disable` may switch off (SCENARIOS.md "Concurrency"), plus this project's
 * "iommu-seq": the gmem-mode IOMMU map's re-check of the invalidation sequence before it installs.
 */
export type Safeguard = "kvm-retry" | "iommu-block" | "iommu-callback" | "refcount-check" | "host-unmap" | "iommu-seq";
export const SAFEGUARDS = names<Safeguard>(Object.keys(SAFEGUARD));

/**
 * Event kinds a `check.events` step may name: every kind the model emits (SCENARIOS.md's format-1 kinds and this
 * project's additions), derived from the core's EV_* constants. A kind outside this set is a format error, so a
 * typo in `absent` cannot pass silently.
 */
export { EVENT_KIND_SET as EVENT_KINDS } from "../events";

export interface ScenarioConfig {
  /** default "sw" */
  arch: Arch;
  /** default "v2" */
  protocol: Protocol;
  /** run the invariant checker after every step; default false */
  invariants: boolean;
  /** safeguards switched off, each at most once, in file order; default [] */
  disable: Safeguard[];
}

/** One of `threads`: its name and its steps (never a check, inject or resume, never with pause/as). */
export interface ScenarioThread {
  name: string;
  steps: ActionStep[];
}

export interface Scenario {
  format: 1;
  /** default "" */
  name: string;
  description?: string;
  config: ScenarioConfig;
  /** run first, once (may be empty when there are threads) */
  steps: Step[];
  /** 2 to 4 threads in file order, run concurrently after `steps`; absent when the file has none */
  threads?: ScenarioThread[];
  /** run after every thread has finished; absent when the file has none */
  finally?: Step[];
}

/** What a step must produce. A step without `expect` (or with `0` / `"0"`) must succeed: `{ kind: "ok" }`. */
export interface ExpectOk { kind: "ok" }
export interface ExpectErrno {
  kind: "errno";
  errno: Errno;
  /** convert / punch / resume only: the error_offset the failure must report */
  errorOffset?: bigint;
}
export interface ExpectResult<R extends string> { kind: "result"; value: R }
/** One possible result: 0, an errno, or one of the op's result strings. */
export type ExpectOne<R extends string = never> = ExpectOk | ExpectErrno | ([R] extends [never] ? never : ExpectResult<R>);
/**
 * `expect` written as a (non-empty) list: the step must produce one of these. With errorOffset, every errno entry
 * carries it (it applies when the result is an errno).
 */
export interface ExpectAny<R extends string = never> { kind: "any"; of: ExpectOne<R>[] }
export type Expect<R extends string = never> = ExpectOne<R> | ExpectAny<R>;

/** The list of the file a step is in. */
export type StepSection = "steps" | "threads" | "finally";

interface StepBase {
  /** 0-based index in its list: the file's `steps`, its thread's list, or `finally` */
  index: number;
  /** the list it is in */
  section: StepSection;
  /** the name of its thread (section "threads" only) */
  thread?: string;
  /** the step object as written */
  raw: unknown;
}
interface ActionBase<R extends string = never> extends StepBase {
  expect: Expect<R>;
}

export interface GmemCreateStep extends ActionBase {
  op: "gmem.create";
  id: string;
  size: bigint;
  /** default [] */
  flags: GmemFlag[];
}
export interface GmemCloseStep extends ActionBase { op: "gmem.close"; gmem: string }
export interface VmCreateStep extends ActionBase { op: "vm.create"; id: string }
export interface VmDestroyStep extends ActionBase { op: "vm.destroy"; vm: string }
export interface VmBindStep extends ActionBase {
  op: "vm.bind";
  vm: string;
  /** KVM memslot number: an integer in [0, 2^32) */
  slot: number;
  gpa: bigint;
  size: bigint;
  gmem: string;
  offset: bigint;
}
export interface VmUnbindStep extends ActionBase { op: "vm.unbind"; vm: string; slot: number }
export interface GuestAccessStep extends ActionBase<GuestAccessResult> {
  op: "guest.access";
  vm: string;
  gpa: bigint;
  private: boolean;
  /** value to store after the read */
  write?: number;
  /** value the read must return */
  value?: number;
  /** mapping level the access must end up using */
  level?: Level;
  pause?: GuestAccessPause;
  /** the name a later `resume` uses; present exactly when `pause` is */
  as?: string;
}
export interface HostMmapStep extends ActionBase { op: "host.mmap"; gmem: string }
export interface HostMunmapStep extends ActionBase { op: "host.munmap"; gmem: string }
export interface HostAccessStep extends ActionBase<HostAccessResult> {
  op: "host.access";
  gmem: string;
  offset: bigint;
  write?: number;
  value?: number;
}
export interface HostPinStep extends ActionBase { op: "host.pin"; gmem: string; offset: bigint; size: bigint }
export interface HostUnpinStep extends ActionBase { op: "host.unpin"; gmem: string; offset: bigint; size: bigint }
export interface ConvertStep extends ActionBase {
  op: "convert";
  gmem: string;
  offset: bigint;
  size: bigint;
  to: Shareability;
  /** v4 only; absent: the protocol's default */
  mode?: ConvertMode;
  pause?: ConvertPause;
  as?: string;
}
export interface PunchStep extends ActionBase {
  op: "punch";
  gmem: string;
  offset: bigint;
  size: bigint;
  pause?: PausePoint;
  as?: string;
}
export interface IommuCreateStep extends ActionBase { op: "iommu.create"; id: string; mode: IommuMode }
export interface IommuBindStep extends ActionBase { op: "iommu.bind"; iommu: string; gmem: string }
/** Extension: unbind the IOMMU fd from its guest_memfd (the callback runs with reason "unbind"). */
export interface IommuUnbindStep extends ActionBase { op: "iommu.unbind"; iommu: string }
export interface IommuMapStep extends ActionBase {
  op: "iommu.map";
  iommu: string;
  iova: bigint;
  gmem: string;
  offset: bigint;
  size: bigint;
  secure: boolean;
  pause?: PausePoint;
  as?: string;
}
export interface IommuUnmapStep extends ActionBase {
  op: "iommu.unmap";
  iommu: string;
  iova: bigint;
  size: bigint;
  secure: boolean;
}
export interface DmaStep extends ActionBase<DmaResult> {
  op: "dma";
  iommu: string;
  iova: bigint;
  secure: boolean;
  write?: number;
  value?: number;
}
export interface InjectStep extends ActionBase {
  op: "inject";
  fault: Fault;
  /** a positive integer; default 1 */
  count: number;
}
/**
 * Extension: continue the operation a step paused under the name `id`. With `pause` (a pause point of that op) it
 * stops there again and `id` stays paused, to be resumed later.
 */
export interface ResumeStep extends ActionBase<AccessResult> {
  op: "resume";
  id: string;
  pause?: PausePoint;
  /** a resumed guest.access / host.access: the level it must end up using and the value its read must return */
  level?: Level;
  value?: number;
}

export interface CheckAttrStep extends StepBase {
  op: "check.attr";
  gmem: string;
  offset: bigint;
  size: bigint;
  is: AttrState;
}
export interface CheckFolioStep extends StepBase {
  op: "check.folio";
  gmem: string;
  offset: bigint;
  order: FolioOrder;
  /** extensions */
  refcount?: number;
  pincount?: number;
  mapcount?: number;
  uptodate?: boolean;
}
export interface CheckSpteStep extends StepBase {
  op: "check.spte";
  vm: string;
  gpa: bigint;
  table: Shareability;
  present: boolean;
  level?: Level;
}
export interface CheckIopteStep extends StepBase {
  op: "check.iopte";
  iommu: string;
  iova: bigint;
  secure: boolean;
  present: boolean;
  level?: Level;
}
/** One entry of `check.events` `sequence`: an event kind and the fields the event must carry (a bare string: none). */
export interface EventMatch {
  kind: string;
  fields: Record<string, string | number | boolean>;
}
export interface CheckEventsStep extends StepBase {
  op: "check.events";
  /** default [] */
  sequence: EventMatch[];
  /** default [] */
  absent: string[];
}
export interface CheckStatsStep extends StepBase {
  op: "check.stats";
  /** counter name -> exact value (a null-prototype object: any name is an own key) */
  counters: Record<string, number>;
}
export interface CheckInvariantsStep extends StepBase { op: "check.invariants" }

/** Steps that act (and may carry `expect`). */
export type ActionStep =
  | GmemCreateStep | GmemCloseStep | VmCreateStep | VmDestroyStep | VmBindStep | VmUnbindStep | GuestAccessStep
  | HostMmapStep | HostMunmapStep | HostAccessStep | HostPinStep | HostUnpinStep | ConvertStep | PunchStep
  | IommuCreateStep | IommuBindStep | IommuUnbindStep | IommuMapStep | IommuUnmapStep | DmaStep | InjectStep | ResumeStep;
/** Steps that only check state (no `expect`: a check holds or fails). */
export type CheckStep =
  | CheckAttrStep | CheckFolioStep | CheckSpteStep | CheckIopteStep | CheckEventsStep | CheckStatsStep
  | CheckInvariantsStep;
export type Step = ActionStep | CheckStep;
export type StepOp = Step["op"];
