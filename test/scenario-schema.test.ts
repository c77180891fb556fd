// scenario.schema.json (bindings/scenario/schema.ts) against the parser: every scenario file of the repository is
// valid under both; every malformed file of the parser's tables is refused by both, except those whose fault only
// the parser can see (listed below with why, and checked to stay that way); and taking any one field out of any
// step of any example, the two agree on whether the step is still valid.
import { test } from "uvu";
import * as assert from "uvu/assert";
import Ajv from "ajv";
import files from "gmemsim-test-scenarios";
import { readText } from "gmemsim-test-env";
import { parseScenario, ScenarioFormatError } from "../bindings/scenario/parse";
import { scenarioSchema } from "../bindings/scenario/schema";
import { BAD } from "./scenario-parse-malformed.test";
import { BAD_CONC } from "./scenario-parse-concurrency.test";

/**
 * Malformed files whose fault a schema of one file cannot express, by the table's name for them: ids and paused
 * operations across steps, the JSON text itself, and values only exact arithmetic tells apart.
 */
const BEYOND: Record<string, string> = {
  "truncated JSON": "not JSON: nothing to validate",
  "empty text": "not JSON",
  "trailing comma": "not JSON",
  "size above 2^64-1 (hex)": "a string's numeric value",
  "size above 2^64-1 (unit)": "a string's numeric value",
  "fraction of a byte with unit": "a string's numeric value",
  "write above 2^53": "a string's numeric value",
  "unknown gmem id": "ids across steps",
  "unknown vm id": "ids across steps",
  "unknown gmem id in vm.bind": "ids across steps",
  "unknown iommu id": "ids across steps",
  "unknown id in a check": "ids across steps",
  "id of another kind": "ids across steps",
  "used before created": "ids across steps",
  "created only by a failing create": "ids across steps",
  "duplicate gmem id": "ids across steps",
  "duplicate vm id": "ids across steps",
  "resume of unknown id": "paused operations across steps",
  "resume before the pause": "paused operations across steps",
  "resume of a pause that failed": "paused operations across steps",
  "resume twice": "paused operations across steps",
  "duplicate pause name": "paused operations across steps",
  "resumed convert expecting an access result": "the resumed op's results",
  "resumed access expecting a host result": "the resumed op's results",
  "errorOffset on a resumed access": "the resumed op's results",
  "a thread uses an id another thread creates": "ids across threads and finally",
  "a thread uses an id a later thread creates": "ids across threads and finally",
  "a thread uses its own id before creating it": "ids across threads and finally",
  "steps use an id a thread creates": "ids across threads and finally",
  "a thread creates an id steps created": "ids across threads and finally",
  "two threads create one id": "ids across threads and finally",
  "finally creates an id a thread created": "ids across threads and finally",
  "finally uses an id only a failing create makes": "ids across threads and finally",
  "an unknown id in finally": "ids across threads and finally",
  "resume pause of a guest.access on a convert": "paused operations across steps",
  "resume pause of a convert on a guest.access": "paused operations across steps",
  "resume pause of a convert on an iommu.map (in finally)": "paused operations across steps",
  "resume after a resume without pause": "paused operations across steps",
  "resume after a resume with pause that can only fail": "paused operations across steps",
  "resume of a pause that can only fail": "paused operations across steps",
  "resume of a punch expecting an access result": "paused operations across steps",
  "errorOffset on a resumed iommu.map": "paused operations across steps",
};

let validate: ReturnType<Ajv["compile"]>;

test("schema: scenario.schema.json is what the parser's tables generate, and a valid draft-07 schema", async () => {
  const schema = JSON.parse(await readText("scenario.schema.json")) as Record<string, unknown>;
  assert.equal(schema, JSON.parse(JSON.stringify(scenarioSchema())), "the file is current (npm run build writes it)");
  const ajv = new Ajv({ strict: false, allErrors: false });
  validate = ajv.compile(schema); // throws on a schema that is not valid draft-07
  assert.is(schema.$schema, "http://json-schema.org/draft-07/schema#");
});

test("schema: every scenario file of the repository is valid under the schema and the parser", () => {
  const names = Object.keys(files);
  assert.ok(names.length >= 80, `${names.length} files`);
  for (const [name, text] of Object.entries(files)) {
    parseScenario(text);
    assert.ok(validate(JSON.parse(text)), `${name}: ${JSON.stringify(validate.errors?.slice(0, 2))}`);
  }
});

function schemaAccepts(doc: unknown): boolean {
  let v: unknown = doc;
  if (typeof doc === "string") {
    try { v = JSON.parse(doc); } catch { return false; }
  }
  return validate(v) === true;
}

test("schema: it refuses every malformed file of the parser's tables whose fault one file shows", () => {
  const cases: [string, unknown][] = [...BAD.map(([what, doc]) => [what, doc] as [string, unknown]),
    ...BAD_CONC.map(([what, doc]) => [what, doc] as [string, unknown])];
  const beyondSeen = new Set<string>();
  for (const [what, doc] of cases) {
    let parserRefuses = false;
    try { parseScenario(typeof doc === "string" ? doc : JSON.stringify(doc)); } catch (e) { parserRefuses = e instanceof ScenarioFormatError; }
    assert.ok(parserRefuses, `${what}: the parser refuses it`);
    const accepted = schemaAccepts(doc);
    if (what in BEYOND) {
      beyondSeen.add(what);
      // a malformed file the schema could not tell: if it now can, the list above is out of date
      if (!BEYOND[what].startsWith("not JSON")) assert.ok(accepted, `${what}: the schema now refuses it; take it off BEYOND`);
    } else {
      assert.not.ok(accepted, `${what}: the schema accepts a file the parser refuses`);
    }
  }
  assert.equal([...beyondSeen].sort(), Object.keys(BEYOND).sort(), "every BEYOND entry names a case of the tables");
});

test("schema: without any one field, every step of every example is valid under both or under neither", () => {
  let compared = 0;
  for (const [name, text] of Object.entries(files)) {
    if (!name.startsWith("examples/")) continue;
    const doc = JSON.parse(text) as { steps: Record<string, unknown>[] };
    doc.steps.forEach((step, i) => {
      for (const field of Object.keys(step)) {
        if (field === "op" || field === "comment") continue;
        const { [field]: _gone, ...rest } = step;
        const steps = doc.steps.map((s, j) => (j === i ? rest : s));
        const candidate = { ...doc, steps };
        let parser = true;
        try { parseScenario(JSON.stringify(candidate)); } catch (e) {
          if (!(e instanceof ScenarioFormatError)) throw e;
          if (e.step !== i || e.section !== "steps") continue; // another step relied on it: a fault across steps
          parser = false;
        }
        const schema = schemaAccepts(candidate);
        if (parser !== schema) {
          assert.unreachable(`${name} step ${i} (${String(step.op)}) without ${field}: parser ${parser ? "accepts" : "refuses"}, schema ${schema ? "accepts" : "refuses"}`);
        }
        compared++;
      }
    });
  }
  assert.ok(compared > 500, `${compared} comparisons`);
});

test.run();
