// A step that emits more events than the ring holds (RING_SIZE) loses the oldest before anyone reads them. The loss
// is never silent: the reader counts it, the step's outcome says so (eventsLost), a check.events over such a step
// fails saying why instead of judging an incomplete list, and a trace notes the step instead of writing its
// surviving events as if they were all.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runScenario, toChromeTrace } from "../bindings/index";
import { layout } from "../bindings/index";
import { runCli, tempFile, readText } from "gmemsim-test-env";

// a pin-mode IOMMU map of 128 MiB: a folio, a zeroing, a host PTE and an IO entry per 4 KiB page, ~98k events
const BIG = [
  { op: "gmem.create", id: "g", size: "256M", flags: ["mmap", "init-shared"] },
  { op: "host.mmap", gmem: "g" },
  { op: "iommu.create", id: "io", mode: "pin" },
  { op: "iommu.map", iommu: "io", iova: 0, gmem: "g", offset: 0, size: "128M", secure: false },
];

test("events lost: the step says how many, and check.events over it fails saying why", async () => {
  const rep = await runScenario({ format: 1, steps: [...BIG, { op: "check.events", sequence: ["iommu.map"], absent: ["gmem.lock"] }] });
  assert.is(rep.ok, false, "an incomplete list is not judged");
  const map = rep.steps[3];
  assert.ok((map.eventsLost ?? 0) > 0, "the map's outcome counts what the ring overwrote");
  assert.ok(map.events.length <= layout.RING_SIZE);
  assert.ok(map.events.length + map.eventsLost! >= 3 * 32768, "every page's events are accounted for");
  assert.is(rep.failure!.op, "check.events");
  assert.match(rep.failure!.got!, /were overwritten in the event ring \(each instance's holds 16384\)/);
});

test("events lost: a step that lost none is checked as before; the next step starts clean", async () => {
  const rep = await runScenario({ format: 1, steps: [...BIG,
    { op: "iommu.unmap", iommu: "io", iova: 0, size: "128M", secure: false },
    { op: "check.events", sequence: ["iommu.unmap"] }] });
  assert.ok(rep.ok, rep.failure?.message);
  assert.is(rep.steps[4].eventsLost, undefined);
});

test("events lost: a trace notes the step instead of checking a partial list, and replays (Node)", () => {
  const file = tempFile("big.json", JSON.stringify({ format: 1, steps: BIG }));
  if (file === null) return;
  const trace = tempFile("big.trace.json")!;
  const run = runCli(["run", file, "--trace", trace, "--format", "json"])!;
  assert.is(run.code, 0, run.stderr);
  const rep = JSON.parse(run.stdout) as { steps: { eventsLost?: number }[] };
  assert.ok((rep.steps[3].eventsLost ?? 0) > 0, "the JSON report says so");
  const replay = runCli(["run", trace])!;
  assert.is(replay.code, 0, replay.stdout + replay.stderr);
  assert.match(replay.stdout, /earlier events of this step were overwritten in the event ring/);
  const traced = JSON.parse(runCli(["run", trace, "--format", "json"])!.stdout) as { steps: { op: string; args?: { note?: string } }[] };
  const i = traced.steps.findIndex((s) => s.op === "iommu.map");
  assert.match(traced.steps[i].args!.note!, /events were overwritten in the event ring before they were read; its events are not checked/);
  assert.is.not(traced.steps[i + 1]?.op, "check.events", "no partial list written as the step's events");
});

test("events lost: a Chrome trace marks the step's slice with what was lost, streamed or not", async () => {
  const rep = await runScenario({ format: 1, steps: BIG });
  const slice = (events: { ph: string; name: string; args?: { eventsLost?: number } }[]) =>
    events.find((e) => e.ph === "X" && e.name === "iommu.map")!;
  const lost = rep.steps[3].eventsLost!;
  assert.ok(lost > 0);
  assert.is(slice(toChromeTrace(rep).traceEvents).args!.eventsLost, lost);
  const file = tempFile("big2.json", JSON.stringify({ format: 1, steps: BIG }));
  if (file === null) return;
  const out = tempFile("big2.chrome.json")!;
  const run = runCli(["run", file, "--chrome-trace", out])!;
  assert.is(run.code, 0, run.stderr);
  const written = JSON.parse(await readText(out)) as { traceEvents: { ph: string; name: string; args?: { eventsLost?: number } }[] };
  assert.is(slice(written.traceEvents).args!.eventsLost, lost, "the streamed trace says so too");
});

test.run();
