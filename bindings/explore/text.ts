// An exploration report as text, in the shape loom and shuttle print theirs: what was explored and how much of the
// space that is; on success, every result each thread step produced; on failure, the schedule step by step (thread,
// op, atomic step, result), the violation at the step that broke it, and the replay file.
import type { ExploreReport } from "./index";
import type { Scenario } from "../scenario/types";

function fmtN(n: number): string {
  return n >= 1e15 ? n.toExponential(2) : n.toLocaleString("en-US");
}

/** The header lines: scenario, config, threads, and what the exploration covered. */
function summary(r: ExploreReport, scn: Scenario): string[] {
  const c = scn.config;
  const threads = (scn.threads ?? []).map((t) => `${t.name} (${t.steps.length} op${t.steps.length === 1 ? "" : "s"})`);
  const lines = [
    `explore: ${r.name || "(unnamed)"}  [arch ${c.arch}, protocol ${c.protocol}` +
      `${c.disable.length ? `, disabled: ${c.disable.join(", ")}` : ""}]`,
    `  threads: ${threads.join(", ") || "none"}`,
  ];
  const scope = [
    r.reduction === "sleep-sets" ? "sleep-set reduction" : "no reduction",
    r.preemptionBound !== undefined ? `at most ${r.preemptionBound} preemption${r.preemptionBound === 1 ? "" : "s"}` : "",
    r.shard ? `shard ${r.shard.index + 1}/${r.shard.of}` : "",
  ].filter(Boolean).join(", ");
  const how = !r.ok ? `stopped at the first failing schedule, after ${fmtN(r.schedules)} that held (${scope})`
    : r.mode === "exhaustive"
    ? `exhaustive: ${fmtN(r.schedules)} schedule${r.schedules === 1 ? "" : "s"} (${scope})`
    : `sampled: ${fmtN(r.schedules)} schedules (${fmtN(r.schedules - r.pctSchedules)} depth-first, then ${fmtN(r.pctSchedules)} ` +
      `PCT samples with seed ${r.seed}; the space exceeds --max-schedules) (${scope})`;
  lines.push(`  ${how}`);
  lines.push(`  naive interleavings of the atomic steps: ${fmtN(r.naive)} (steps per thread ${r.stepsPerThread.join(" x ") || "-"}); ` +
    `${fmtN(r.sleepBlocked)} redundant paths cut; ${fmtN(r.atomicSteps)} atomic steps run; ${r.ms} ms, ` +
    `${fmtN(r.schedulesPerSecond)} schedules/s`);
  return lines;
}

/** The report as the command line prints it; `replayPath`: where the replay file was written. */
export function formatExploreReport(r: ExploreReport, scn: Scenario, replayPath?: string): string {
  const lines = summary(r, scn);
  if (r.ok) {
    lines.push("  every schedule held. Results per thread step:");
    const w = Math.max(...r.results.map((x) => `${x.thread}[${x.index}]`.length), 4);
    const wo = Math.max(...r.results.map((x) => x.op.length), 2);
    for (const x of r.results) {
      lines.push(`    ${`${x.thread}[${x.index}]`.padEnd(w)}  ${x.op.padEnd(wo)}  ${x.results.map(String).join(", ") || "(never ran)"}`);
    }
    return lines.join("\n");
  }
  const f = r.failure!;
  lines.push(`FAILED: ${f.violation.message}`);
  if (f.schedule.length > 0) {
    lines.push("  schedule (thread, op, atomic step, result):");
    const wt = Math.max(...f.schedule.map((s) => `${s.thread}[${s.opIndex}]`.length));
    const wo = Math.max(...f.schedule.map((s) => s.op.length));
    const ws = Math.max(...f.schedule.map((s) => s.step.length));
    f.schedule.forEach((s, i) => {
      const last = i === f.schedule.length - 1 && f.violation.kind !== "finally" && f.violation.kind !== "deadlock";
      const res = s.result !== undefined ? `-> ${String(s.result)}` : "";
      lines.push(`    ${String(i + 1).padStart(3)}  ${`${s.thread}[${s.opIndex}]`.padEnd(wt)}  ${s.op.padEnd(wo)}  ` +
        `${s.step.padEnd(ws)}  ${res}${last ? `   <- ${f.violation.invariants?.join(", ") ?? f.violation.kind}` : ""}`.trimEnd());
    });
  }
  if (f.violation.kind === "finally") lines.push(`  then finally: ${f.violation.message}`);
  if (replayPath) {
    lines.push(`  replay: gmemsim run ${replayPath}   ` + (f.violation.kind === "deadlock"
      ? "(runs the schedule up to the stuck state; not exact: gmemsim run does not wait, so it passes)"
      : "(runs exactly this schedule and fails the same way)"));
  }
  return lines.join("\n");
}
