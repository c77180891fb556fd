// A run report as Chrome Trace Event JSON (the format chrome://tracing and Perfetto UI open): one process for the
// scenario, one track (thread) per mechanism - each guest_memfd, VM and IOMMU by its scenario id, the arch's
// firmware (TDX module, SNP RMP), the scenario's own checks - and, when the steps come from scenario threads, one
// track per thread for their ops, so an interleaving reads top to bottom. An explorer counterexample is a plain
// scenario whose paused ops are named `<thread>.<op index>` (`as`) and resumed by that name: those ops and their
// resumes go on the track of that thread too. Every step is a complete slice ("X") on
// the track of the object it acts on; a conversion's phases are slices nested in it; every event is an instant
// ("i") on its mechanism's track with its fields as args. Time is the model's order, not wall time: each event
// takes EVENT_US microseconds, so what happened together lines up across tracks.
import type { RunReport, StepOutcome } from "../scenario/run";
import type { SimEvent } from "../events";
import { conversionPhases, eventClass, eventTrack, hasPhases } from "./phases";

/** One Trace Event (the fields this exporter writes). */
export interface TraceEvent {
  name: string;
  ph: "X" | "i" | "M";
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  s?: "t";
  cname?: string;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: "ns" | "ms";
  otherData: Record<string, string | number | boolean>;
}

/** Microseconds per event on the trace's time axis, and between steps. */
const EVENT_US = 10;
const GAP_US = 10;
const PID = 1;

const FIRMWARE: Record<string, string> = { tdx: "TDX module (S-EPT)", snp: "SNP firmware (RMP)", sw: "arch" };

/** The object a step acts on, as a track name (its scenario id). */
function stepTrack(s: StepOutcome, pausedBy: Map<string, string>): string {
  if (s.thread !== undefined) return `thread ${s.thread}`;
  const a = s.args ?? {};
  const id = (k: string) => (typeof a[k] === "string" ? (a[k] as string) : undefined);
  if (s.op === "resume") return pausedBy.get(id("id") ?? "") ?? "scenario";
  const thread = /^(.+)\.\d+$/.exec(id("as") ?? "");
  if (thread) return `thread ${thread[1]}`;
  if (s.op === "gmem.create") return `gmem ${id("id")}`;
  if (s.op === "vm.create") return `vm ${id("id")}`;
  if (s.op === "iommu.create") return `iommu ${id("id")}`;
  if (s.op.startsWith("check.") || s.op === "inject") return "scenario";
  for (const k of ["gmem", "vm", "iommu"] as const) {
    if ((s.op.startsWith(k) || (k === "gmem" && (s.op === "convert" || s.op === "punch" || s.op.startsWith("host.")))) && id(k)) {
      return `${k} ${id(k)}`;
    }
  }
  if (s.op === "guest.access" && id("vm")) return `vm ${id("vm")}`;
  if (s.op === "dma" && id("iommu")) return `iommu ${id("iommu")}`;
  return "scenario";
}

/** Sort key of a track: the scenario, threads, guest_memfds, VMs, IOMMUs, firmware. */
function trackRank(name: string): number {
  const kind = name.slice(0, name.indexOf(" ") < 0 ? name.length : name.indexOf(" "));
  return ["scenario", "thread", "gmem", "vm", "iommu"].indexOf(kind) + 1 || 6;
}

function eventArgs(e: SimEvent): Record<string, unknown> {
  const { kind: _kind, ...rest } = e;
  void _kind;
  return rest;
}

/**
 * A Chrome trace built step by step: the trace events of each step as it finishes (a writer streams them, so a run
 * of any length is traced without holding it), then the metadata naming the tracks, which comes last.
 */
export class ChromeTraceBuilder {
  private readonly tids = new Map<string, number>();
  private readonly pausedBy = new Map<string, string>();
  private ts = 0;
  readonly arch: string;
  readonly protocol: "v2" | "v4";

  constructor(config: RunReport["config"] | undefined) {
    this.arch = config?.arch ?? "sw";
    this.protocol = config?.protocol === "v4" ? "v4" : "v2";
  }

  private tid(track: string): number {
    let t = this.tids.get(track);
    if (t === undefined) { t = this.tids.size + 1; this.tids.set(track, t); }
    return t;
  }

  /** The trace events of one step: its slice, its conversion phases, its events as instants. */
  step(s: StepOutcome): TraceEvent[] {
    const out: TraceEvent[] = [];
    const track = stepTrack(s, this.pausedBy);
    if (typeof s.args?.as === "string") this.pausedBy.set(s.args.as, track);
    const events = s.events ?? [];
    const ts = this.ts;
    const dur = Math.max(1, events.length) * EVENT_US;
    const args: Record<string, unknown> = { index: s.index, section: s.section, ...(s.args ?? {}), result: s.result, ok: s.ok };
    for (const k of ["thread", "errorOffset", "level", "value", "expected", "got", "invariants", "eventsLost"] as const) {
      if (s[k] !== undefined) args[k] = s[k];
    }
    out.push({ name: s.op, ph: "X", cat: "op", pid: PID, tid: this.tid(track), ts, dur, args,
      ...(s.ok ? {} : { cname: "terrible" }) });
    if (hasPhases(s.op) || (s.op === "resume" && events.some((e) => e.kind === "gmem.lock" || e.kind === "op.step"))) {
      const phases = conversionPhases(events, this.protocol, s.op === "resume" ? "convert" : s.op);
      for (let i = 0; i < events.length;) {
        const p = phases[i];
        let j = i + 1;
        while (j < events.length && phases[j] === p) j++;
        if (p !== null) {
          out.push({ name: p, ph: "X", cat: "phase", pid: PID, tid: this.tid(track), ts: ts + i * EVENT_US,
            dur: (j - i) * EVENT_US, args: { events: j - i } });
        }
        i = j;
      }
    }
    events.forEach((e, i) => {
      const name = eventTrack(e);
      out.push({ name: e.kind, ph: "i", s: "t", cat: eventClass(e.kind), pid: PID,
        tid: this.tid(name === "firmware" ? FIRMWARE[this.arch] : name === "scenario" ? track : name),
        ts: ts + i * EVENT_US + EVENT_US / 2, args: eventArgs(e) });
    });
    this.ts += dur + GAP_US;
    return out;
  }

  /** The metadata: the process name and every track's name and sort order. */
  meta(scenarioName: string | undefined): TraceEvent[] {
    const meta: TraceEvent[] = [{ name: "process_name", ph: "M", pid: PID, tid: 0,
      args: { name: `gmemsim: ${scenarioName || "scenario"} (${this.arch}, ${this.protocol})` } }];
    for (const [name, t] of this.tids) {
      meta.push({ name: "thread_name", ph: "M", pid: PID, tid: t, args: { name } });
      meta.push({ name: "thread_sort_index", ph: "M", pid: PID, tid: t, args: { sort_index: trackRank(name) * 1000 + t } });
    }
    return meta;
  }

  /** The fields after traceEvents. */
  tail(report: Pick<RunReport, "name" | "ok">): Omit<ChromeTrace, "traceEvents"> {
    return { displayTimeUnit: "ns",
      otherData: { generator: "gmemsim", scenario: report.name ?? "", arch: this.arch, protocol: this.protocol, ok: report.ok } };
  }
}

/**
 * The report of runScenario / `gmemsim run --format json` as Chrome Trace Event JSON: the steps' events, then the
 * metadata naming the tracks (as `gmemsim run --chrome-trace` streams it).
 */
export function toChromeTrace(report: RunReport): ChromeTrace {
  if (typeof report !== "object" || report === null || !Array.isArray(report.steps)) {
    throw Object.assign(new TypeError("toChromeTrace: a run report ({ steps: [...] }) from runScenario"), { code: "EINVAL" });
  }
  const b = new ChromeTraceBuilder(report.config);
  const traceEvents: TraceEvent[] = [];
  for (const s of report.steps) for (const e of b.step(s)) traceEvents.push(e);
  for (const e of b.meta(report.name)) traceEvents.push(e);
  return { traceEvents, ...b.tail(report) };
}
