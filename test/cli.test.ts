// `gmemsim run FILE.json` as SCENARIOS.md defines it: exit 0 when every expectation held; 1 when one failed
// (naming the step index, the op, what was expected and what happened); 2 when the file is malformed (naming the
// step index and the field, running nothing). `--format json` prints JSON, `--trace OUT.json` writes the run as
// a scenario that replays it. In a browser page there is no command to run: there only the parser half is checked.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseScenario, ScenarioFormatError } from "../bindings/scenario/parse";
import { runCli, tempFile, readText, runtime } from "gmemsim-test-env";

const doc = (steps: unknown[], config: Record<string, unknown> = {}) =>
  JSON.stringify({ format: 1, name: "cli test", config: { arch: "sw", protocol: "v2", ...config }, steps });

const CREATE = { op: "gmem.create", id: "g", size: "16K", flags: ["mmap"] };

/** A malformed file, and where the error must point: step index (null: the file itself) and field. */
interface Bad { name: string; text: string; step: number | null; field: string; says?: RegExp }

const MALFORMED: Bad[] = [
  {
    name: "truncated JSON",
    text: doc([CREATE, { op: "convert", gmem: "g", offset: 0, size: "4K", to: "private" }]).slice(0, 120),
    step: null, field: "json", says: /unexpected end of input/,
  },
  {
    name: "unknown op",
    text: doc([CREATE, { op: "gmem.frobnicate", gmem: "g" }]),
    step: 1, field: "op", says: /unknown op/,
  },
  {
    name: "missing field",
    text: doc([CREATE, { op: "convert", gmem: "g", offset: 0, to: "private" }]),
    step: 1, field: "size", says: /missing/,
  },
  {
    name: "bad size string",
    text: doc([CREATE, { op: "punch", gmem: "g", offset: "4Q", size: "4K" }]),
    step: 1, field: "offset", says: /not a size/,
  },
  {
    name: "bad size string in the first step",
    text: doc([{ ...CREATE, size: "sixteen K" }]),
    step: 0, field: "size", says: /not a size/,
  },
  {
    name: "unknown id",
    text: doc([CREATE, { op: "vm.create", id: "vm" },
      { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "4K", gmem: "nope", offset: 0 }]),
    step: 2, field: "gmem", says: /unknown gmem/,
  },
  {
    name: "unknown errno in expect",
    text: doc([CREATE, { op: "convert", gmem: "g", offset: 0, size: "4K", to: "private", expect: "EWHATEVER" }]),
    step: 1, field: "expect",
  },
  {
    name: "misspelt field",
    text: doc([CREATE, { op: "convert", gmem: "g", offset: 0, sise: "4K", to: "private" }]),
    step: 1, field: "sise",
  },
];

test("cli: the parser names the step and the field of every malformed file", () => {
  for (const b of MALFORMED) {
    let err: unknown;
    try { parseScenario(b.text); } catch (e) { err = e; }
    assert.ok(err instanceof ScenarioFormatError, `${b.name}: threw ${String(err)}`);
    const e = err as ScenarioFormatError;
    assert.is(e.code, "EMALFORMED", b.name);
    assert.is(e.step, b.step, `${b.name}: step (${e.message})`);
    assert.is(e.field, b.field, `${b.name}: field (${e.message})`);
    if (b.says) assert.match(e.message, b.says, b.name);
  }
});

test(`cli: malformed files exit 2 naming the step and the field, running nothing (${runtime})`, () => {
  for (const b of MALFORMED) {
    const r = runCli(["run", "-"], b.text);
    if (r === null) return; // a browser page: the parser test above covers it
    assert.is(r.code, 2, `${b.name}: exit code (stderr: ${r.stderr})`);
    if (b.step !== null) assert.match(r.stderr, new RegExp(`\\bstep ${b.step}\\b`), `${b.name}: step index in stderr`);
    assert.ok(r.stderr.includes(`"${b.field}"`), `${b.name}: field "${b.field}" in stderr: ${r.stderr}`);
    if (b.says) assert.match(r.stderr, b.says, b.name);
    if (b.field === "json") assert.match(r.stderr, /line \d+ column \d+/, `${b.name}: where the JSON stops`);
    assert.is(r.stdout, "", `${b.name}: nothing ran`);
    // the same with --format json: one JSON object naming step and field
    const j = runCli(["run", "-", "--format", "json"], b.text)!;
    assert.is(j.code, 2, `${b.name}: --format json exit code`);
    const o = JSON.parse(j.stdout) as { ok: boolean; malformed: boolean; step: number | null; field: string };
    assert.equal({ ok: o.ok, malformed: o.malformed, step: o.step, field: o.field },
      { ok: false, malformed: true, step: b.step, field: b.field }, b.name);
  }
});

const FAILING = doc([
  CREATE,
  { op: "convert", gmem: "g", offset: 0, size: "4K", to: "private" },
  { op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "private", expect: "EINVAL" },
  { op: "check.invariants" },
]);

test(`cli: a failed expectation exits 1 with the step index, op, expected and got (${runtime})`, () => {
  const r = runCli(["run", "-"], FAILING);
  if (r === null) return;
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stdout, /FAILED at step 2 \(convert\)/);
  assert.match(r.stdout, /expected:\s+EINVAL/);
  assert.match(r.stdout, /got:\s+0\b/);
  assert.not.match(r.stdout, /^\s*3 /m, "nothing runs after the failing step");
  const j = runCli(["run", "-", "--format", "json"], FAILING)!;
  assert.is(j.code, 1);
  const o = JSON.parse(j.stdout) as { ok: boolean; failure: { index: number; op: string; expected: string; got: string } };
  assert.is(o.ok, false);
  assert.equal({ index: o.failure.index, op: o.failure.op }, { index: 2, op: "convert" });
  assert.match(String(o.failure.expected), /EINVAL/);
  assert.match(String(o.failure.got), /^0$/);
});

const PASSING = doc([
  CREATE,
  { op: "vm.create", id: "vm" },
  { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "16K", gmem: "g", offset: 0 },
  { op: "convert", gmem: "g", offset: 0, size: "8K", to: "private" },
  { op: "guest.access", vm: "vm", gpa: "0x1000", private: true, expect: "mapped", level: "4K" },
  { op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "shared" },
  { op: "check.events", sequence: ["gmem.lock", "kvm.invalidate_begin", { kind: "kvm.zap", table: "private" },
    { kind: "gmem.set_attr", to: "shared" }, "kvm.invalidate_end", "gmem.unlock"] },
  { op: "convert", gmem: "g", offset: 1, size: "4K", to: "shared", expect: "EINVAL" },
  { op: "check.attr", gmem: "g", offset: 0, size: "4K", is: "private" },
  { op: "check.invariants" },
], { invariants: true });

test(`cli: a passing scenario exits 0; --format json parses; --trace writes steps with events (${runtime})`, async () => {
  const r = runCli(["run", "-"], PASSING);
  if (r === null) return;
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /PASS: 10 steps/);

  const j = runCli(["run", "-", "--format", "json"], PASSING)!;
  assert.is(j.code, 0, j.stderr);
  const rep = JSON.parse(j.stdout) as { ok: boolean; steps: { index: number; op: string; ok: boolean }[] };
  assert.is(rep.ok, true);
  assert.is(rep.steps.length, 10);
  assert.ok(rep.steps.every((s) => s.ok));

  // the trace is a scenario: the steps as they ran, each action followed by a check of its events
  const out = tempFile("trace.json")!;
  const t = runCli(["run", "-", "--trace", out], PASSING)!;
  assert.is(t.code, 0, t.stderr);
  const text = await readText(out);
  const trace = parseScenario(text);
  const raw = JSON.parse(text) as { steps: { op: string; expect?: unknown; sequence?: { kind: string; gmem?: string; vm?: string }[] }[] };
  assert.equal(raw.steps.filter((s) => s.op !== "check.events" && s.op !== "check.stats").map((s) => s.op),
    ["gmem.create", "vm.create", "vm.bind", "convert", "guest.access", "convert", "convert", "check.attr", "check.invariants"]);
  const afterConvert = raw.steps[raw.steps.findIndex((s, i) => s.op === "convert" && i > 6) + 1];
  assert.is(afterConvert.op, "check.events");
  const kinds = afterConvert.sequence!.map((e) => e.kind);
  for (const k of ["gmem.lock", "kvm.invalidate_begin", "kvm.zap", "gmem.set_attr", "kvm.invalidate_end", "gmem.unlock"]) {
    assert.ok(kinds.includes(k), `the second conversion's events hold ${k}: ${kinds.join(", ")}`);
  }
  assert.ok(afterConvert.sequence!.some((e) => e.gmem === "g"), "events name objects by their scenario id");
  assert.is(raw.steps.find((s) => s.op === "guest.access")!.expect, "mapped", "the result it produced is its expect");
  assert.is(raw.steps[raw.steps.length - 1].op, "check.stats", "the trace ends with every counter");
  assert.ok(trace.steps.length > 10);
  const replay = runCli(["run", out])!;
  assert.is(replay.code, 0, replay.stdout + replay.stderr);

  // a failing scenario's trace ends at the failing step, written as the scenario had it: the replay fails there too
  const out2 = tempFile("trace-fail.json")!;
  const f = runCli(["run", "-", "--trace", out2], FAILING)!;
  assert.is(f.code, 1);
  const tf = JSON.parse(await readText(out2)) as { steps: { op: string; expect?: unknown }[] };
  assert.equal(tf.steps[tf.steps.length - 1], { op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "private", expect: "EINVAL" });
  const rf = runCli(["run", out2])!;
  assert.is(rf.code, 1);
  assert.match(rf.stdout, /expected:\s+EINVAL/);
  assert.match(rf.stdout, /got:\s+0\b/);
});

test(`cli: a file that cannot be read is exit 3, a bad option exit 2 (${runtime})`, () => {
  const r = runCli(["run", "/nonexistent/gmemsim/scenario.json"]);
  if (r === null) return;
  assert.is(r.code, 3);
  assert.match(r.stderr, /cannot read/);
  const o = runCli(["run", "-", "--format", "yaml"], PASSING)!;
  assert.is(o.code, 2);
});

test.run();
