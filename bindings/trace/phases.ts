// Which part of the protocol an event belongs to, for traces and views: the phases of a conversion as the seed
// thread names them (filemap_invalidate_lock, invalidate_begin, should_proceed with the IOMMU callback,
// execute_work, invalidate_end), userspace's "step 4" re-map afterwards, and which mechanism acted (the track an
// event goes on). Events carry no phase of their own; a conversion's phases follow from the order its events come
// in, or exactly from its op.step events when it ran across calls (paused, or as a thread).
import type { SimEvent } from "../events";

/** The phases of a conversion or punch, in the order of the v2 protocol (KVM_GMEM_CONVERT_*). */
export const PHASES = ["lock", "invalidate_begin", "should_proceed", "execute_work", "invalidate_end"] as const;
export type Phase = (typeof PHASES)[number];
/** What a view colours an event by: a conversion phase, userspace's re-map after it ("remap"), or "other". */
export type EventClass = Phase | "remap" | "other";

const BY_KIND: Record<string, EventClass> = {
  "gmem.lock": "lock",
  "kvm.invalidate_begin": "invalidate_begin", "kvm.range_add": "invalidate_begin", "iommu.invalidate_begin": "invalidate_begin",
  "host.unmap": "should_proceed", "gmem.refcount_check": "should_proceed", "iommu.invalidate": "should_proceed",
  "kvm.zap": "should_proceed", "kvm.tlb_flush": "should_proceed", "iommu.iotlb_flush": "should_proceed",
  "arch.sept_block": "should_proceed", "arch.sept_track": "should_proceed", "arch.sept_remove": "should_proceed",
  "gmem.set_attr": "execute_work", "folio.split": "execute_work", "folio.merge": "execute_work",
  "folio.free": "execute_work", "convert.rollback": "execute_work", "gmem.zero": "execute_work",
  "arch.rmpupdate": "execute_work", "arch.psmash": "execute_work", "arch.sept_demote": "execute_work",
  "kvm.invalidate_end": "invalidate_end", "iommu.invalidate_end": "invalidate_end", "gmem.unlock": "invalidate_end",
  "iommu.map": "remap", "iommu.unmap": "remap", "kvm.map": "remap", "host.map": "remap", "host.pin": "remap",
  "guest.fault": "remap", "guest.retry": "remap", "guest.memory_fault_exit": "remap", "arch.sept_aug": "remap",
  "arch.sept_accept": "remap",
};

/** The class of an event kind on its own (without the op it happened in). */
export function eventClass(kind: string): EventClass {
  return BY_KIND[kind] ?? "other";
}

/** op.step's step names ("invalidate-begin") -> phases. */
const STEP_PHASE: Record<string, Phase> = {
  "lock": "lock", "invalidate-begin": "invalidate_begin", "should-proceed": "should_proceed", "execute": "execute_work",
  "invalidate-end": "invalidate_end",
};

/** Does this op run the five conversion phases? */
export function hasPhases(op: string): boolean {
  return op === "convert" || op === "punch";
}

const BEGIN = new Set(["kvm.invalidate_begin", "kvm.range_add", "iommu.invalidate_begin"]);
const END = new Set(["kvm.invalidate_end", "iommu.invalidate_end", "gmem.unlock"]);
/** v4's execute_work starts with one of these (kvm_arch_gmem_make_shared, the content mode, the attributes). */
const V4_EXECUTE = new Set(["arch.rmpupdate", "gmem.zero", "gmem.set_attr"]);

/**
 * The phase an event moves a conversion or punch to, from phase `cur` (null: none yet), following the order the
 * core's steps emit their events (gmem/convert.ts, convert_v4.ts, truncate.ts): the lock step emits gmem.lock;
 * invalidate_begin only the consumers' begin kinds; should_proceed starts at the first event after them (v4: at
 * the host unmap or refcount check right after the lock); execute_work at the attribute update (v2 executeWork
 * starts with it, or with the rollback of a work that failed first; v4 with make_shared, zeroing or the
 * attributes; a punch's truncation follows its host unmap);
 * invalidate_end at the first end kind or the unlock.
 */
function advance(cur: Phase | null, kind: string, prev: string, op: string, protocol: "v2" | "v4", v4Executes: boolean): Phase | null {
  if (END.has(kind)) return "invalidate_end";
  if (cur === "invalidate_end") return cur;
  if (kind === "gmem.lock") return "lock";
  if (protocol === "v4" && op === "convert") {
    if (BEGIN.has(kind)) return "invalidate_begin";
    if (cur === "lock" && (kind === "host.unmap" || kind === "gmem.refcount_check")) return "should_proceed";
    // (from should_proceed or the lock: no consumers; a range already in the target state zeroes under the lock
    // and never reaches execute_work, i.e. never updates the attributes)
    if (cur !== null && v4Executes && V4_EXECUTE.has(kind)) return "execute_work";
    return cur;
  }
  if (BEGIN.has(kind)) return cur === null || cur === "lock" || cur === "invalidate_begin" ? "invalidate_begin" : cur;
  const before = cur === null || cur === "lock" || cur === "invalidate_begin"; // (no begin kinds: no consumers)
  if (op === "punch") return before ? "should_proceed" : cur === "should_proceed" && prev === "host.unmap" ? "execute_work" : cur;
  // v2 executeWork starts with the attributes; a work that fails before them starts with its rollback
  if ((kind === "gmem.set_attr" || kind === "convert.rollback") && cur !== "execute_work") return "execute_work";
  return before && cur !== null ? "should_proceed" : cur;
}

/**
 * The phase of each event of one conversion or punch step (null: no phase, e.g. before the lock). With op.step
 * events (an op run across calls: paused, or a thread's) each one closes the phase it names; otherwise the phases
 * follow from the events' order (advance()).
 */
export function conversionPhases(events: SimEvent[], protocol: "v2" | "v4", op = "convert"): (Phase | null)[] {
  const out: (Phase | null)[] = new Array(events.length).fill(null);
  const steps = events.map((e, i) => (e.kind === "op.step" ? i : -1)).filter((i) => i >= 0);
  if (steps.length > 0) {
    let from = 0;
    for (const at of steps) {
      const phase = STEP_PHASE[String(events[at].name)] ?? null; // op.step names its step in `name`
      for (let i = from; i < at; i++) out[i] = phase;
      from = at + 1;
    }
    return out;
  }
  let cur: Phase | null = null;
  const v4Executes = events.some((e) => e.kind === "gmem.set_attr");
  events.forEach((e, i) => {
    cur = advance(cur, e.kind, i > 0 ? events[i - 1].kind : "", op, protocol, v4Executes);
    out[i] = cur;
  });
  return out;
}

/** The mechanism an event belongs to: "gmem <id>", "vm <id>", "iommu <id>", or "firmware" (arch.*). */
export function eventTrack(e: SimEvent): string {
  const ns = e.kind.slice(0, e.kind.indexOf("."));
  if (ns === "arch") return "firmware";
  if ((ns === "kvm" || ns === "guest") && e.vm !== undefined) return `vm ${String(e.vm)}`;
  if (ns === "iommu" && e.iommu !== undefined) return `iommu ${String(e.iommu)}`;
  if (e.gmem !== undefined) return `gmem ${String(e.gmem)}`;
  if (e.vm !== undefined) return `vm ${String(e.vm)}`;
  if (e.iommu !== undefined) return `iommu ${String(e.iommu)}`;
  return "scenario";
}
