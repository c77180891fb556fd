// Differential fuzz sweep (issue 6): random operation sequences run on the Wasm model and on the independent
// reference model (test/reference/index.ts); results and observations are compared after every op and the Wasm
// model's invariant checker runs after every op (test/fuzz/). Time-bounded here; `npm run fuzz -- --ops N
// --seed S` runs long ones. A failure is shrunk and written as a scenario (Node: .test-out/fuzz-failures/).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fuzz } from "./fuzz/index";
import { runtime, writeFailure } from "gmemsim-test-env";

const SEED = 20260601;
const BUDGET_MS = 3000;

test("fuzz: reference model and Wasm model agree on random sequences", () => {
  const rep = fuzz({ seed: SEED, timeLimitMs: BUDGET_MS, writeFailure: (name, text) => { writeFailure(name, text); } });
  console.log(`fuzz (${runtime}): ${rep.ops} ops run (${rep.sequences} sequences, ${(rep.ms / 1000).toFixed(1)} s, seed ${SEED}), ` +
    `${rep.divergences} divergences, ${rep.invariantViolations} invariant violations`);
  for (const f of rep.failures) {
    console.log(`  ${f.why}`);
    if (runtime === "node") console.log(`  scenario: .test-out/fuzz-failures/${f.name}`);
    else console.log(f.text);
  }
  assert.ok(rep.ops > 0, "the sweep ran no op");
  assert.is(rep.divergences, 0, "divergences between the reference and the Wasm model");
  assert.is(rep.invariantViolations, 0, "invariant violations in the Wasm model");
});

test.run();
