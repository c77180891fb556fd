// Traces are scenarios (bindings/scenario/trace.ts): for every scenario file of the repository, the trace of its run
// parses as a scenario, and running it produces the same result in every step, the same events (every field) in
// every step, the same counters and the same final state; a failed run's trace fails at the same step the same
// way. In Node also through the command: `gmemsim run FILE --trace OUT` streams the same trace, and the JSON
// report numbers every event with the index of the step that emitted it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import files from "gmemsim-test-scenarios";
import { runCli, tempFile, readText } from "gmemsim-test-env";
import { parseScenario } from "../bindings/scenario/parse";
import { runScenario, type RunReport, type StepOutcome } from "../bindings/scenario/run";
import { traceScenario, traceStep } from "../bindings/scenario/trace";
import type { Scenario, Step } from "../bindings/scenario/types";

const performed = (s: Scenario): Step[] => [...s.steps, ...(s.threads ?? []).flatMap((t) => t.steps), ...(s.finally ?? [])];
const strip = (o: StepOutcome) => o.events.map(({ step: _s, seq: _q, ...rest }) => rest);

/** The replay's outcome for each outcome of the original run (the trace adds check steps between them). */
function matchUp(scn: Scenario, rep: RunReport, replay: RunReport): [StepOutcome, StepOutcome | undefined][] {
  const steps = performed(scn);
  const pairs: [StepOutcome, StepOutcome | undefined][] = [];
  let at = 0;
  rep.steps.forEach((o, k) => {
    pairs.push([o, replay.steps[at]]);
    at += traceStep(steps[k], o).length;
  });
  return pairs;
}

test("trace: every scenario file's trace replays with the same results, events, counters and final state", () => {
  let n = 0, failing = 0, events = 0;
  for (const [name, text] of Object.entries(files)) {
    const scn = parseScenario(text);
    const rep = runScenario(scn);
    const traceText = JSON.stringify(traceScenario(scn, rep));
    const again = parseScenario(traceText);
    assert.is(again.threads, undefined, `${name}: a trace is one list of steps`);
    const replay = runScenario(again);
    assert.is(replay.ok, rep.ok, `${name}: ok ${rep.ok}, replay ${replay.ok} (${replay.failure?.message ?? ""})`);
    for (const [o, r] of matchUp(scn, rep, replay)) {
      assert.ok(r !== undefined, `${name}: the replay stopped before ${o.section} step ${o.index}`);
      assert.is(r!.op, o.op, `${name}: step ${o.index}`);
      assert.equal([r!.ok, r!.result, r!.level, r!.value, r!.errorOffset], [o.ok, o.result, o.level, o.value, o.errorOffset],
        `${name}: ${o.section} step ${o.index} (${o.op})`);
      assert.equal(strip(r!), strip(o), `${name}: the events of ${o.section} step ${o.index} (${o.op})`);
      events += o.events.length;
    }
    if (rep.ok) {
      assert.equal(replay.stats, rep.stats, `${name}: counters`);
      assert.equal(replay.final, rep.final, `${name}: final state`);
      assert.is(replay.steps[replay.steps.length - 1].op, "check.stats", `${name}: the trace ends by checking every counter`);
    } else {
      failing++;
      assert.is(replay.failure!.op, rep.failure!.op, name);
      assert.equal([replay.failure!.expected, replay.failure!.got], [rep.failure!.expected, rep.failure!.got], name);
    }
    n++;
  }
  assert.ok(n >= 80 && events > 1000, `${n} files, ${events} events`);
  assert.ok(failing === 0, "the repository's scenarios all hold");
});

const FAILING = JSON.stringify({ format: 1, name: "fails at a thread step", config: { invariants: true },
  steps: [{ op: "gmem.create", id: "g", size: "16K", flags: ["mmap"] }],
  threads: {
    a: [{ op: "convert", gmem: "g", offset: 0, size: "4K", to: "private", expect: [0, "EAGAIN"] }],
    b: [{ op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "private", expect: "EINVAL", note: "it succeeds" }],
  },
  finally: [{ op: "check.invariants" }] });

test("trace: a failed run's trace ends at the failing step, as written, and its replay fails there the same way", () => {
  const scn = parseScenario(FAILING);
  const rep = runScenario(scn);
  assert.is(rep.ok, false);
  const trace = traceScenario(scn, rep) as { steps: Record<string, unknown>[] };
  const last = trace.steps[trace.steps.length - 1];
  assert.equal(last, { op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "private", expect: "EINVAL",
    note: 'thread "b" step 0: it succeeds' });
  assert.equal(trace.steps.find((s) => s.note === 'thread "a" step 0'), { op: "convert", gmem: "g", offset: 0, size: "4K",
    to: "private", expect: 0, note: 'thread "a" step 0' }, "a thread step that held expects what it produced");
  const replay = runScenario(parseScenario(JSON.stringify(trace)));
  assert.is(replay.ok, false);
  assert.equal([replay.failure!.expected, replay.failure!.got], [rep.failure!.expected, rep.failure!.got]);
});

test("trace: through the command, streamed, for every example; the JSON report numbers events by step", async () => {
  const examples = Object.keys(files).filter((f) => f.startsWith("examples/"));
  for (const name of examples) {
    const out = tempFile("trace.json");
    if (out === null) return; // a page runs no command
    const r = runCli(["run", name, "--trace", out])!;
    assert.is(r.code, 0, `${name}: ${r.stderr}`);
    const scn = parseScenario(files[name]);
    const streamed = JSON.parse(await readText(out)) as Record<string, unknown>;
    const built = JSON.parse(JSON.stringify(traceScenario(scn, runScenario(scn)))) as Record<string, unknown>;
    assert.match(String(streamed.description), /^Trace of a run of .* by gmemsim \d+\.\d+\.\d+/);
    assert.equal({ ...streamed, description: "" }, { ...built, description: "" }, `${name}: the streamed trace is the trace`);
  }
  // (the replay of each is the first test's; one more through the command)
  const out = tempFile("trace.json")!;
  assert.is(runCli(["run", "examples/seed-to-shared-tdx.json", "--trace", out])!.code, 0);
  const replay = runCli(["run", out])!;
  assert.is(replay.code, 0, replay.stdout.slice(-2000));
  assert.match(replay.stdout, /PASS: \d+ steps/);
  const j = runCli(["run", "examples/to-shared-2m.json", "--format", "json"])!;
  const rep = JSON.parse(j.stdout) as RunReport;
  for (const s of rep.steps) for (const e of s.events) assert.is(e.step, s.index, `event ${e.kind} of step ${s.index}`);
  assert.ok(rep.steps.some((s) => s.events.length > 0));
});

test.run();
