// Operations across calls: pause points, paused operations and resuming them, and how an operation's result
// becomes a return value or a thrown GmemError.
import * as O from "../assembly/abi/ops";
import { OUT_OP, OUT_STEP, OUT_ERR_INDEX, OUT_LEVEL, OUT_VALUE } from "../assembly/abi/consts";
import { PAGE_SIZE } from "../assembly/abi/layout";
import { GmemError, ERRNO, check, einval, isErr } from "./errors";
import { pausePointsOf, pauseStep, GUEST_RESULTS, LEVEL_NAMES, STEP_NAMES } from "./abi";
import { optsOf, u32, type SimContext } from "./context";

/** An operation stopped at a pause point; `sim.resume(op)` continues it. */
export interface PausedOp {
  readonly handle: number;
  /** what it is: a conversion, a punch, a guest access, an IOMMU map */
  readonly kind: "convert" | "punch" | "access" | "map";
  /** its scenario op name */
  readonly op: string;
  /** where it stopped: the pause point ("after-<step>") the core reports it ran last */
  readonly at: string;
}

/** Result of a guest access (KVM_RUN until the access completes or exits). */
export interface GuestAccess {
  /** 'mapped' (the access went through), 'memory-fault' (KVM_EXIT_MEMORY_FAULT), 'retry' (an invalidation of
   *  this gfn is in flight, so the fault cannot make progress), 'hwpoison' */
  result: "mapped" | "memory-fault" | "retry" | "hwpoison";
  /** mapping level the access used ('mapped' only) */
  level?: "4K" | "2M" | "1G";
  /** the page's content value as read */
  value?: number;
}

const KIND_OF_OP: Record<string, PausedOp["kind"]> = {
  convert: "convert", punch: "punch", "guest.access": "access", "iommu.map": "map",
};

/** The stop value for an op's `pause` option: STOP_NEVER without one; EINVAL for a point the op does not have. */
export function stopFor(op: string, pause: unknown): number {
  if (pause === undefined) return O.STOP_NEVER;
  if (typeof pause !== "string" || !pausePointsOf(op).includes(pause)) {
    throw einval(op, `unknown pause point ${String(pause)} (${op} has ${pausePointsOf(op).join(", ") || "none"})`);
  }
  return pauseStep(pause);
}

/** A paused op's record as the binding hands it out. */
export function pausedOp(sim: SimContext, op: string): PausedOp {
  return { handle: sim.out(OUT_OP), kind: KIND_OF_OP[op], op, at: `after-${STEP_NAMES[sim.out(OUT_STEP)] ?? "?"}` };
}

/** A PausedOp handed back by this binding (shape-checked: anything else is EINVAL). */
export function pausedOf(op: string, x: unknown): PausedOp {
  const p = x as PausedOp;
  if (typeof x !== "object" || x === null || typeof p.handle !== "number" || !Object.values(KIND_OF_OP).includes(p.kind) ||
      typeof p.op !== "string" || KIND_OF_OP[p.op] !== p.kind) {
    throw einval(op, "not a paused operation");
  }
  return p;
}

/** A conversion's (or punch's) failure: GmemError with errorOffset where the kernel writes error_offset. */
export function convertError(sim: SimContext, op: string, r: number): GmemError {
  const e = new GmemError(-r, op);
  const idx = sim.out(OUT_ERR_INDEX);
  if (idx !== 0xffffffff && (r === -ERRNO.EAGAIN || r === -ERRNO.ENOMEM || r === -ERRNO.EOPNOTSUPP)) {
    e.errorOffset = idx * PAGE_SIZE;
  }
  return e;
}

/** A guest access's result (GUEST_* of assembly/abi/ops.ts), or GmemError. */
export function accessResult(sim: SimContext, op: string, r: number): GuestAccess {
  check(r, op);
  const result = GUEST_RESULTS[r] as GuestAccess["result"] | undefined;
  if (!result) throw new GmemError(ERRNO.EIO, op, `unexpected result ${r}`);
  const outp: GuestAccess = { result };
  if (result === "mapped") {
    outp.level = LEVEL_NAMES[sim.out(OUT_LEVEL)] as GuestAccess["level"];
    outp.value = sim.out(OUT_VALUE);
  }
  return outp;
}

/** What a finished (or paused again) op returns to the caller of the method that started or resumed it. */
export function opOutcome(sim: SimContext, p: PausedOp, r: number): GuestAccess | PausedOp | undefined {
  if (r === O.RESULT_PAUSED) return p;
  if (p.kind === "access") return accessResult(sim, p.op, r);
  if (isErr(r)) throw p.kind === "map" ? new GmemError(-r, p.op) : convertError(sim, p.op, r);
  return undefined;
}

/** Continue a paused op to the end, or to its next pause point `opts.pause`. */
export function resumeOp(sim: SimContext, x: unknown, opts?: { pause?: string }): GuestAccess | PausedOp | undefined {
  const p = pausedOf("resume", x);
  opts = optsOf("resume", opts);
  const stop = stopFor(p.op, opts.pause);
  const r = sim.afterStep("resume", sim.core.op_resume(u32("resume", "handle", p.handle), stop));
  return opOutcome(sim, p, r);
}
