// What `gmemsim run` prints, step by step as the run goes (a long run shows progress and never builds its whole
// output as one string): the text report, or the JSON report (the RunReport of runScenario, its steps streamed).
import type { SimEvent } from "../events";
import type { Scenario, Step } from "../scenario/types";
import type { RunReport, StepOutcome } from "../scenario/run";
import { safeText, type Io, type Paint } from "./io";

const HIDDEN_ARGS = new Set(["op", "expect", "comment", "note", "sequence", "absent"]);

function where(s: StepOutcome): string {
  return s.section === "threads" ? `${s.thread}[${s.index}]` : s.section === "finally" ? `finally[${s.index}]` : String(s.index);
}

function stepLine(s: StepOutcome, raw: unknown, paint: Paint): string {
  const r = raw as Record<string, unknown>;
  const args = Object.entries(r).filter(([k]) => !HIDDEN_ARGS.has(k))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`).join(" ");
  const res = s.result === 0 ? "ok" : String(s.result);
  const extra = [s.level ? `level ${s.level}` : "", s.value !== undefined ? `value ${s.value}` : "",
    s.errorOffset !== undefined ? `errorOffset 0x${s.errorOffset.toString(16)}` : ""].filter(Boolean).join(", ");
  const rest = safeText(`${s.op.padEnd(14)} ${args}` + (s.op.startsWith("check.") ? "" : `  -> ${res}${extra ? ` (${extra})` : ""}`));
  return `${safeText(where(s)).padStart(3)} ${s.ok ? paint.ok("ok  ") : paint.bad("FAIL")} ${rest}`;
}

export function eventLine(ev: SimEvent): string {
  const f = Object.entries(ev).filter(([k]) => k !== "kind" && k !== "step" && k !== "seq").map(([k, v]) => `${k}=${String(v)}`).join(" ");
  return `${ev.kind}${f ? ` ${f}` : ""}`;
}

/** The text report, written as the run goes. */
export class TextReport {
  private steps = 0;
  /** the last step that emitted events (the failure shows its last few) */
  private lastWithEvents: StepOutcome | undefined;
  constructor(private readonly io: Io) {}

  begin(scn: Scenario): void {
    const c = scn.config;
    this.io.out(`scenario: ${scn.name || "(unnamed)"}  [arch ${c.arch}, protocol ${c.protocol}, invariants ${c.invariants ? "on" : "off"}]\n`);
  }

  step(step: Step, s: StepOutcome): void {
    this.steps++;
    if (s.events.length) this.lastWithEvents = s;
    let text = stepLine(s, step.raw, this.io.paint) + "\n";
    for (const ev of s.events) text += `        | ${safeText(eventLine(ev))}\n`;
    if (s.eventsLost) text += `        | (${s.eventsLost} earlier events of this step were overwritten in the event ring before they were read)\n`;
    this.io.outTrusted(text);
  }

  end(rep: RunReport, total: number): void {
    const w = (x: string) => this.io.out(x + "\n");
    const p = this.io.paint;
    const painted = (paint: (x: string) => string, x: string) => this.io.outTrusted(paint(safeText(x)) + "\n");
    if (rep.failure) {
      const f = rep.failure;
      w("");
      const at = f.section === "threads" ? `thread "${f.thread}" step ${f.index}` : f.section === "finally" ? `finally step ${f.index}` : `step ${f.index}`;
      painted(p.bad, `FAILED at ${at} (${f.op})`);
      w(`  expected: ${f.expected}`);
      w(`  got:      ${f.got}`);
      const prev = this.lastWithEvents;
      if (prev) {
        w(`  last events (step ${where(prev)}):`);
        for (const ev of prev.events.slice(-12)) w(`    ${eventLine(ev)}`);
      }
    }
    w("");
    w("final state:");
    for (const g of rep.final.gmems) {
      const runs = g.runs.map((r) => `[${r.start}, ${r.end}) ${r.shared ? "shared" : "private"}`).join(", ");
      w(`  gmem ${g.id}: ${g.size / 4096} pages, populated ${g.populated}, folios huge ${g.folios.huge} / 4K ${g.folios.small}; ${runs}`);
    }
    for (const v of rep.final.vms) {
      w(`  vm ${v.id}: private SPTEs 4K ${v.private["4K"]} 2M ${v.private["2M"]} 1G ${v.private["1G"]}, shared 4K ${v.shared["4K"]}; ` +
        `mmu_invalidate_seq ${v.seq}, TLB flushes ${v.tlbFlushes}`);
    }
    const stats = Object.entries(rep.stats).filter(([, n]) => n !== 0).map(([k, n]) => `${k} ${n}`).join(", ");
    w(`  events: ${stats || "none"}`);
    w("");
    if (rep.ok) painted(p.ok, `PASS: ${this.steps} steps`);
    else painted(p.bad, `FAIL: step ${this.steps - 1} of ${total}`);
  }
}

/**
 * The JSON report: runScenario's RunReport (`name`, `config`, `steps`, then `ok`, `failure`, `stats`, `final`), one
 * object on one line, its steps written as they finish.
 */
export class JsonReport {
  private first = true;
  constructor(private readonly io: Io) {}

  begin(scn: Scenario): void {
    this.io.outJson(`{"name":${JSON.stringify(scn.name)},"config":${JSON.stringify(scn.config)},"steps":[`);
  }

  step(_step: Step, s: StepOutcome): void {
    this.io.outJson((this.first ? "" : ",") + JSON.stringify(s));
    this.first = false;
  }

  end(rep: RunReport, _total?: number): void {
    const failure = rep.failure === undefined ? "" : `,"failure":${JSON.stringify(rep.failure)}`;
    this.io.outJson(`],"ok":${rep.ok}${failure},"stats":${JSON.stringify(rep.stats)},"final":${JSON.stringify(rep.final)}}\n`);
  }
}
