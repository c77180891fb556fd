// Every scenario file in the repository (examples/, the ported kernel selftests in test/selftests/, and
// test/scenarios/) runs through the public runner and must pass with its own expectations.
import { test } from "uvu";
import * as assert from "uvu/assert";
import files from "gmemsim-test-scenarios";
import { parseScenario } from "../bindings/scenario/parse";
import { runScenario } from "../bindings/scenario/run";

const names = Object.keys(files);

test("scenarios: the repository holds scenario files", () => {
  assert.ok(names.filter((n) => n.startsWith("test/selftests/")).length >= 15, "ported selftests");
  assert.ok(names.filter((n) => n.startsWith("examples/")).length >= 1, "examples");
});

for (const name of names) {
  test(`scenario ${name}`, () => {
    const scn = parseScenario(files[name]);
    const rep = runScenario(scn);
    if (!rep.ok) {
      const f = rep.failure!;
      assert.unreachable(`step ${f.index} (${f.op}): expected ${f.expected}, got ${f.got}`);
    }
  });
}

test.run();
