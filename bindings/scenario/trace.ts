// A trace is a scenario: what `gmemsim run --trace` writes is a format-1 file that `gmemsim run` replays. It holds
// the steps in the order the run performed them (threads and finally included, one after another as `run` runs
// them), each action step with the result it produced as its `expect` (and the level / value / errorOffset it
// produced), each followed by a `check.events` step listing every event it emitted with every field (a step some of
// whose events the ring overwrote before they were read gets a note saying so instead), and at the end
// a `check.stats` naming every counter. A replay that passes therefore produced the same results and the same events
// in each step (each step's events contain the recorded ones in order, and no counter grew beyond its recorded
// total). A run that failed is traced up to its failing step, written as the scenario had it, so the replay fails
// there the same way. Runs anywhere (no Node APIs): the CLI streams these pieces to a file step by step.
import type { SimEvent } from "../events";
import type { RunReport, StepOutcome } from "./run";
import type { Scenario, Step } from "./types";
import { SPECS } from "./parse/specs";

const DEFINES: ReadonlySet<string> = new Set(["gmem.create", "vm.create", "iommu.create"]);

/** An object of the trace file (a JSON value). */
export type TraceJson = Record<string, unknown>;

/** Where a step came from, as a note on the traced step ("thread \"conv\" step 0"); undefined for `steps`. */
function origin(step: Step): string | undefined {
  if (step.section === "threads") return `thread ${JSON.stringify(step.thread ?? "")} step ${step.index}`;
  if (step.section === "finally") return `finally step ${step.index}`;
  return undefined;
}

/** The top of a trace file: everything before its steps. */
export function traceHeader(scn: Scenario, tool: string): TraceJson {
  const threads = scn.threads?.length ? `; its ${scn.threads.length} threads ran one after another, then finally` : "";
  return {
    format: 1,
    name: scn.name,
    description: `Trace of a run of ${JSON.stringify(scn.name || "(unnamed)")} by ${tool}${threads}. Every action step carries ` +
      "the result it produced as its expect and is followed by a check.events step listing the events it emitted; " +
      "the last step checks every counter. `gmemsim run` on this file replays the run.",
    config: { arch: scn.config.arch, protocol: scn.config.protocol, invariants: scn.config.invariants, disable: scn.config.disable ?? [] },
  };
}

/** An event as a check.events match: every field but its position in the stream (`step`, `seq`). */
export function eventMatch(ev: SimEvent): TraceJson {
  const m: TraceJson = {};
  for (const [k, v] of Object.entries(ev)) if (k !== "step" && k !== "seq") m[k] = v;
  return m;
}

/** The step as the scenario wrote it, with its origin noted when it was not in `steps`. */
function asWritten(step: Step): TraceJson {
  const raw = { ...(step.raw as TraceJson) };
  const from = origin(step);
  if (from !== undefined) raw.note = typeof raw.note === "string" ? `${from}: ${raw.note}` : raw.note ?? from;
  return raw;
}

/** The traced form of one performed step: the step, then (for an action that held) the check of its events. */
export function traceStep(step: Step, outcome: StepOutcome): TraceJson[] {
  const raw = asWritten(step);
  if (!outcome.ok || step.op.startsWith("check.")) return [raw];
  // the result it produced is what it expects; level, value and errorOffset where the op takes them
  const takes = SPECS[step.op].fields;
  delete raw.expect;
  delete raw.errorOffset;
  if (outcome.result !== "paused") raw.expect = outcome.result;
  // a create or a pause written to expect one of several results keeps its list: a failing one defines nothing, and
  // steps that refer to what it defines would no longer parse (the events that follow still tell which it was)
  const written = (step.raw as TraceJson).expect;
  if (Array.isArray(written) && (DEFINES.has(step.op) || "as" in raw)) raw.expect = written;
  if (outcome.errorOffset !== undefined) raw.errorOffset = outcome.errorOffset;
  for (const k of ["level", "value"] as const) {
    if (!takes.includes(k)) continue;
    delete raw[k];
    if (outcome[k] !== undefined) raw[k] = outcome[k];
  }
  const out: TraceJson[] = [raw];
  if (outcome.eventsLost) {
    // an incomplete list is not written as the step's events: the step says what was lost, and nothing checks them
    const lost = `${outcome.eventsLost} of its events were overwritten in the event ring before they were read; its events are not checked`;
    raw.note = typeof raw.note === "string" ? `${raw.note}; ${lost}` : lost;
  } else if (outcome.events.length > 0) out.push({ op: "check.events", sequence: outcome.events.map(eventMatch) });
  return out;
}

/** The end of a trace: a check of every counter, when the run held (a failed run ends at its failing step). */
export function traceFooter(report: RunReport): TraceJson[] {
  return report.ok ? [{ op: "check.stats", ...report.stats }] : [];
}

/** The whole trace of a run, as one object (the CLI streams the same pieces instead). */
export function traceScenario(scn: Scenario, report: RunReport, tool = "gmemsim"): TraceJson {
  const steps: TraceJson[] = [];
  const performed = [...scn.steps, ...(scn.threads ?? []).flatMap((t) => t.steps), ...(scn.finally ?? [])];
  report.steps.forEach((o, i) => steps.push(...traceStep(performed[i], o)));
  steps.push(...traceFooter(report));
  return { ...traceHeader(scn, tool), steps };
}
