// A run of any length holds one step at a time: `gmemsim run` streams its report, --trace and --chrome-trace step by
// step, and the package's runScenario does the same with keepSteps: false (each outcome goes to onStep only). Before,
// every step's outcome and events stayed in the report until the end (a 300,000-step run with --chrome-trace: 1.9 GB).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runScenario } from "../bindings/index";
import { runShell, tempFile, readText } from "gmemsim-test-env";

function flipping(n: number): string {
  const steps = ['{"op":"gmem.create","id":"g","size":"8K","flags":["mmap"]}'];
  for (let i = 0; i < n; i++) steps.push(`{"op":"convert","gmem":"g","offset":0,"size":"4K","to":"${i % 2 ? "shared" : "private"}"}`);
  return `{"format":1,"name":"long","steps":[${steps.join(",")}]}`;
}

test("run streaming: runScenario with keepSteps: false hands every step to onStep and keeps none", async () => {
  let seen = 0, events = 0;
  const rep = await runScenario(flipping(2000), { keepSteps: false, onStep: (_s, o) => { seen++; events += o.events.length; } });
  assert.ok(rep.ok);
  assert.is(seen, 2001);
  assert.ok(events > 2000);
  assert.equal(rep.steps, []);
  assert.is(rep.stats["gmem.set_attr"], 2000);
  const kept = await runScenario(flipping(10));
  assert.is(kept.steps.length, 11, "the default keeps them");
  try { await runScenario(flipping(1), { keepSteps: "no" as never }); assert.unreachable(); }
  catch (e) { assert.is((e as { code?: string }).code, "EINVAL"); }
});

test("run streaming: a 300,000-step run with --trace and --chrome-trace fits a 160 MB heap (Node)", async () => {
  const input = tempFile("long.json", flipping(300000));
  if (input === null) return;
  const trace = tempFile("long.trace.json")!, chrome = tempFile("long.chrome.json")!;
  const r = runShell(`node bin/gmemsim.js run ${input} -f json --trace ${trace} --chrome-trace ${chrome} | tail -c 6000; ` +
    `echo; echo "status=\${PIPESTATUS[0]}"`, { NODE_OPTIONS: "--max-old-space-size=160" })!;
  assert.match(r.stdout, /"ok":true[^]*\nstatus=0\n$/, r.stderr.slice(0, 1000));
  const ct = JSON.parse(await readText(chrome)) as { traceEvents: { ph: string; name: string }[]; otherData: { ok: boolean } };
  assert.is(ct.otherData.ok, true);
  assert.is(ct.traceEvents.filter((e) => e.ph === "X" && e.name === "convert").length, 300000, "every step's slice");
  assert.ok(ct.traceEvents.some((e) => e.ph === "M" && e.name === "thread_name"), "the tracks named at the end");
});

test.run();
