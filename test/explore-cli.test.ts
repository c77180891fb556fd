// `gmemsim explore` as SCENARIOS.md defines it: exit 0 when every schedule held (schedule count, exhaustive or
// sampled, the results of each thread step), 1 with the schedule and the violation and a replay file in --out that
// `gmemsim run` fails the same way, 2 for a malformed file naming the thread, step and field. Node only (a page has
// no command to run).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCli, tempFile, runtime } from "gmemsim-test-env";

const node = runtime === "node";
const THREADS_BASE = {
  format: 1, name: "cli explore", config: { arch: "sw" },
  steps: [{ op: "gmem.create", id: "g", size: "2M", flags: ["mmap", "init-shared"] }],
};

test("explore cli: an example that holds exits 0 and says exhaustive with the result sets", () => {
  if (!node) return;
  const r = runCli(["explore", "examples/race-dma-map-vs-to-private.json"])!;
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /exhaustive: \d+ schedules/);
  assert.match(r.stdout, /dma\[0\]\s+iommu\.map\s+0, EACCES, EAGAIN/);
  const j = runCli(["explore", "examples/race-dma-map-vs-to-private.json", "--format", "json"])!;
  const rep = JSON.parse(j.stdout);
  assert.is(rep.ok, true);
  assert.is(rep.mode, "exhaustive");
});

test("explore cli: a safeguard off exits 1, prints the schedule, writes a replay that run fails the same way", () => {
  if (!node) return;
  const out = tempFile("x")!.replace(/x$/, "out");
  const r = runCli(["explore", "examples/race-fault-vs-to-shared.json", "--disable", "kvm-retry", "--out", out])!;
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stdout, /FAILED: I12 violated/);
  assert.match(r.stdout, /vcpu\[0\]\s+guest\.access\s+faultin/);
  const m = /replay: gmemsim run (\S+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const replay = runCli(["run", m![1]])!;
  assert.is(replay.code, 1);
  assert.match(replay.stdout, /I12 violated/);
});

test("explore cli: shards run disjoint parts that add up to the whole", () => {
  if (!node) return;
  const count = (args: string[]) => JSON.parse(runCli(["explore", "examples/race-three-threads-two-ops.json", "--format", "json",
    "--max-schedules", "1000000", ...args])!.stdout).schedules as number;
  const whole = count([]);
  const parts = [1, 2, 3].map((i) => count(["--shard", `${i}/3`]));
  assert.ok(parts.every((p) => p > 0 && p < whole), `${parts} of ${whole}`);
  assert.is(parts.reduce((a, b) => a + b, 0), whole);
});

test("explore cli: over the budget it samples and says so, exiting 0 when every sample held", () => {
  if (!node) return;
  const r = runCli(["explore", "examples/race-three-threads-two-ops.json", "--max-schedules", "50", "--seed", "3"])!;
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /sampled: 100 schedules \(50 depth-first, then 50 PCT samples with seed 3/);
});

const BAD: [string, unknown, RegExp][] = [
  ["a thread uses an id another thread creates", { ...THREADS_BASE, threads: {
    a: [{ op: "vm.create", id: "vm" }], b: [{ op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "2M", gmem: "g", offset: 0 }] } }, /thread "b".*vm/],
  ["a forbidden op in a thread", { ...THREADS_BASE, threads: {
    a: [{ op: "check.invariants" }], b: [{ op: "host.mmap", gmem: "g" }] } }, /thread "a".*op/],
  ["more than 4 threads", { ...THREADS_BASE, threads: Object.fromEntries(["a", "b", "c", "d", "e"].map((n) => [n, [{ op: "host.mmap", gmem: "g" }]])) }, /threads/],
  ["an empty expect list", { ...THREADS_BASE, threads: {
    a: [{ op: "host.mmap", gmem: "g", expect: [] }], b: [{ op: "host.mmap", gmem: "g" }] } }, /thread "a".*expect/],
  ["an unknown safeguard", { ...THREADS_BASE, config: { arch: "sw", disable: ["kvm-retyr"] } }, /disable/],
];

for (const [name, doc, says] of BAD) {
  test(`explore cli: malformed (${name}) exits 2 naming where`, () => {
    if (!node) return;
    const f = tempFile("bad.json", JSON.stringify(doc))!;
    const r = runCli(["explore", f])!;
    assert.is(r.code, 2, r.stdout);
    assert.match(r.stderr, says);
  });
}

test("explore cli: bad options exit 2", () => {
  if (!node) return;
  for (const args of [["--shard", "0/2"], ["--shard", "3/2"], ["--max-schedules", "0"], ["--seed", "-1"], ["--disable", "nope"], ["--frob"]]) {
    const r = runCli(["explore", "examples/race-pin-vs-to-private.json", ...args])!;
    assert.is(r.code, 2, `${args.join(" ")}: ${r.stdout}`);
  }
  assert.is(runCli(["explore"])!.code, 2);
  assert.is(runCli(["explore", "--help"])!.code, 0);
});

test.run();
