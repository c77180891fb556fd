// How a scenario step becomes a call of the core, and how the core's answer becomes the step's result. One mapping,
// used by `gmemsim run` (which runs each op to its end or its pause point) and by `gmemsim explore` (which runs
// thread ops one atomic step at a time and probes whether a step could start).
import * as O from "../../assembly/abi/ops";
import * as C from "../../assembly/abi/consts";
import { PAGE_SIZE } from "../../assembly/abi/layout";
import * as E from "../../assembly/abi/errno";
import { errnoName, isErr } from "../errors";
import { GMEM_FLAG, IOMMU_MODE, CONTENT_MODE, GUEST_RESULTS, HOST_RESULTS, DMA_RESULTS, LEVEL_NAMES, pauseStep } from "../abi";
import type { Simulator } from "../simulator";
import type { ActionStep, Expect, Level } from "./types";

/** Object handles by scenario id. */
export interface Objects { gmem: Map<string, number>; vm: Map<string, number>; iommu: Map<string, number> }
export function newObjects(): Objects { return { gmem: new Map(), vm: new Map(), iommu: new Map() }; }

/** A step's outcome as the scenario writes results: 0, an errno name, an access result, or "paused". */
export interface Got { result: string | number; errorOffset?: number; level?: string; value?: number }

export class StepFailure extends Error {
  constructor(readonly expected: string, readonly got: string, message?: string) {
    super(message ?? `expected ${expected}, got ${got}`);
  }
}

function need(objs: Objects, kind: keyof Objects, id: string): number {
  const h = objs[kind].get(id);
  if (h === undefined) throw new StepFailure(`${kind} '${id}' to exist`, "it was never created (its create step failed?)");
  return h;
}

const n = (x: bigint): number => (x <= 2n ** 53n ? Number(x) : Number.NaN);

/** The stop value of a step's `pause` (STOP_NEVER without one). */
export function pauseStopOf(s: ActionStep): number {
  const p = (s as { pause?: string }).pause;
  return p === undefined ? O.STOP_NEVER : pauseStep(p);
}

/**
 * Call the core for step s with `stop` (STOP_NEVER, a pause step, STOP_ONE, STOP_PROBE): the raw result. `resume`
 * steps continue the op handle `resumeHandle`.
 */
export function callOp(sim: Simulator, s: ActionStep, objs: Objects, stop: number, resumeHandle = 0): number {
  const c = sim.core;
  switch (s.op) {
    case "gmem.create": {
      let bits = sim.protocol === "v4" ? C.GMEM_GEN_V4 : 0;
      for (const f of s.flags) bits |= GMEM_FLAG[f];
      return c.gmem_create(n(s.size), bits, stop);
    }
    case "gmem.close": return c.gmem_close(need(objs, "gmem", s.gmem), stop);
    case "vm.create": return c.vm_create(stop);
    case "vm.destroy": return c.vm_destroy(need(objs, "vm", s.vm), stop);
    case "vm.bind":
      return c.vm_bind(need(objs, "vm", s.vm), s.slot, n(s.gpa), n(s.size), need(objs, "gmem", s.gmem), n(s.offset), stop);
    case "vm.unbind": return c.vm_unbind(need(objs, "vm", s.vm), s.slot, stop);
    case "guest.access":
      return c.guest_access(need(objs, "vm", s.vm), n(s.gpa), s.private ? 1 : 0, s.write === undefined ? 0 : 1, s.write ?? 0, stop);
    case "host.mmap": return c.gmem_mmap(need(objs, "gmem", s.gmem), stop);
    case "host.munmap": return c.gmem_munmap(need(objs, "gmem", s.gmem), stop);
    case "host.access":
      return c.host_access(need(objs, "gmem", s.gmem), n(s.offset), s.write === undefined ? 0 : 1, s.write ?? 0, stop);
    case "host.pin": case "host.unpin":
      return c.host_pin(need(objs, "gmem", s.gmem), n(s.offset), n(s.size), s.op === "host.unpin" ? 1 : 0, stop);
    case "convert":
      return c.gmem_convert(need(objs, "gmem", s.gmem), n(s.offset), n(s.size), s.to === "shared" ? 1 : 0,
        s.mode === undefined ? C.MODE_UNSPECIFIED : CONTENT_MODE[s.mode], stop);
    case "punch": return c.gmem_punch(need(objs, "gmem", s.gmem), n(s.offset), n(s.size), stop);
    case "iommu.create": return c.iommu_create(IOMMU_MODE[s.mode], stop);
    case "iommu.bind": return c.iommu_bind(need(objs, "iommu", s.iommu), need(objs, "gmem", s.gmem), stop);
    case "iommu.unbind": return c.iommu_unbind(need(objs, "iommu", s.iommu), stop);
    case "iommu.map":
      return c.iommu_map(need(objs, "iommu", s.iommu), n(s.iova), need(objs, "gmem", s.gmem), n(s.offset), n(s.size),
        s.secure ? 1 : 0, stop);
    case "iommu.unmap": return c.iommu_unmap(need(objs, "iommu", s.iommu), n(s.iova), n(s.size), s.secure ? 1 : 0, stop);
    case "dma":
      return c.iommu_dma(need(objs, "iommu", s.iommu), n(s.iova), s.secure ? 1 : 0, s.write === undefined ? 0 : 1, s.write ?? 0, stop);
    case "resume": return c.op_resume(resumeHandle, stop);
    case "inject": throw new StepFailure("an op a core call runs", "inject");
  }
}

/** The op whose results a step produces (a resume's is the paused op's). */
export type ResultOp = ActionStep["op"];

/**
 * The step's outcome from the raw result (after afterStep: violations throw before this). A create registers its
 * id (and names the object); RESULT_PAUSED is "paused".
 */
export function decodeResult(sim: Simulator, s: ActionStep, op: ResultOp, raw: number, objs: Objects): Got {
  if (raw === O.RESULT_PAUSED) return { result: "paused" };
  if (isErr(raw)) {
    const got: Got = { result: errnoName(-raw) };
    if ((op === "convert" || op === "punch") && sim.out(C.OUT_ERR_INDEX) !== 0xffffffff &&
        (raw === -E.EAGAIN || raw === -E.ENOMEM || raw === -E.EOPNOTSUPP)) got.errorOffset = sim.out(C.OUT_ERR_INDEX) * PAGE_SIZE;
    return got;
  }
  if (op === "gmem.create" || op === "vm.create" || op === "iommu.create") {
    const kind = op === "gmem.create" ? "gmem" : op === "vm.create" ? "vm" : "iommu";
    const id = (s as { id: string }).id;
    objs[kind].set(id, raw >>> 0);
    sim.setName(kind, raw >>> 0, id);
    return { result: 0 };
  }
  if (op === "guest.access") {
    const result = GUEST_RESULTS[raw] ?? `result ${raw}`;
    return result === "mapped" ? { result, level: LEVEL_NAMES[sim.out(C.OUT_LEVEL)], value: sim.out(C.OUT_VALUE) } : { result };
  }
  if (op === "host.access") {
    const result = HOST_RESULTS[raw] ?? `result ${raw}`;
    return result === "ok" ? { result, value: sim.out(C.OUT_VALUE) } : { result };
  }
  if (op === "dma") {
    const result = DMA_RESULTS[raw] ?? `result ${raw}`;
    return result === "ok" ? { result, value: sim.out(C.OUT_VALUE) } : { result };
  }
  return { result: 0 };
}

export function describeExpect(e: Expect<string>): string {
  if (e.kind === "ok") return "success (0, or \"mapped\" / \"ok\" for an access)";
  if (e.kind === "errno") return e.errno + (e.errorOffset !== undefined ? ` with errorOffset 0x${e.errorOffset.toString(16)}` : "");
  if (e.kind === "any") return `one of ${e.of.map(describeExpect).join(", ")}`;
  return JSON.stringify(e.value);
}

/** What success is per op: 0, or an access's own word for it (a guest access that mapped, a host access or DMA that completed). */
const SUCCESS: ReadonlySet<string | number> = new Set([0, "mapped", "ok"]);

/** Does `got` satisfy one expect entry (a paused op satisfies "ok": it stopped where it was told to)? */
function matchesOne(e: Expect<string>, got: Got, pausedOk: boolean): boolean {
  if (e.kind === "ok") return SUCCESS.has(got.result) || (pausedOk && got.result === "paused");
  if (e.kind === "errno") {
    if (got.result !== e.errno) return false;
    return e.errorOffset === undefined || BigInt(got.errorOffset ?? -1) === e.errorOffset;
  }
  if (e.kind === "any") return e.of.some((x) => matchesOne(x, got, pausedOk));
  return got.result === e.value;
}

/** Throw StepFailure unless the step's result, level and value are what it expects. */
export function compareExpect(s: ActionStep, got: Got): void {
  const e = s.expect as Expect<string>;
  const pausedOk = (s as { pause?: string }).pause !== undefined || s.op === "resume";
  if (!matchesOne(e, got, pausedOk)) {
    const gotText = got.errorOffset !== undefined ? `${got.result} with errorOffset 0x${got.errorOffset.toString(16)}` : String(got.result);
    throw new StepFailure(describeExpect(e), gotText);
  }
  const a = s as { level?: Level; value?: number };
  if ((s.op === "guest.access" || s.op === "host.access" || s.op === "dma" || s.op === "resume") && got.result !== "paused") {
    if (a.level !== undefined && got.level !== a.level) throw new StepFailure(`level ${a.level}`, `level ${got.level ?? "none"}`);
    if (a.value !== undefined && got.value !== a.value) throw new StepFailure(`value ${a.value}`, `value ${got.value ?? "none"}`);
  }
}
