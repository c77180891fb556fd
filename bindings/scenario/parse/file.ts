// The file: its top-level fields, config, and its lists (steps, threads, finally), each step read on its own, then
// the steps together (cross.ts). Everything wrong is a ScenarioFormatError thrown before anything runs.
import {
  ARCHES, PROTOCOLS, SAFEGUARDS,
  type Scenario, type ScenarioConfig, type ScenarioThread, type Safeguard, type Step, type ActionStep, type StepSection,
} from "../types";
import { ScenarioFormatError } from "./error";
import { isObj, own, show, list, suggest, NOTES, type Obj } from "./helpers";
import { locateJsonError, keysInOrder, lineColumn, deeperThan, duplicateKey, MAX_DEPTH, type DuplicateKey } from "./json";
import { readStep } from "./steps";
import { crossCheck } from "./cross";
import { SPECS } from "./specs";

// "$schema": the JSON Schema an editor validates the file with (scenario.schema.json of the package); not read
const TOP_FIELDS = ["$schema", "format", "name", "description", "config", "steps", "threads", "finally"];
const CONFIG_FIELDS = ["arch", "protocol", "invariants", "disable"];
const MIN_THREADS = 2;
const MAX_THREADS = 4;

function top(field: string, detail: string, section: StepSection | null = null, thread: string | null = null): ScenarioFormatError {
  return new ScenarioFormatError(null, field, detail, null, { section, thread });
}

function readDisable(d: unknown): Safeguard[] {
  if (!Array.isArray(d)) throw top("config.disable", `${show(d)} is not a list of safeguard names (${list(SAFEGUARDS)})`);
  const out: Safeguard[] = [];
  d.forEach((x, i) => {
    if (!(SAFEGUARDS as readonly unknown[]).includes(x)) {
      throw top("config.disable", `entry ${i}: ${show(x)} is not a safeguard (${list(SAFEGUARDS)})${typeof x === "string" ? suggest(x, SAFEGUARDS) : ""}`);
    }
    if (!out.includes(x as Safeguard)) out.push(x as Safeguard);
  });
  return out;
}

/** `config` with its defaults. */
export function readConfig(doc: Obj): ScenarioConfig {
  const config: ScenarioConfig = { arch: "sw", protocol: "v2", invariants: false, disable: [] };
  if (!own(doc, "config")) return config;
  const c = doc.config;
  if (!isObj(c)) throw top("config", `${show(c)} is not an object`);
  for (const k of Object.keys(c)) {
    if (!CONFIG_FIELDS.includes(k) && !NOTES.has(k)) {
      throw top(`config.${k}`, `unknown field (config takes ${CONFIG_FIELDS.join(", ")})${suggest(k, CONFIG_FIELDS)}`);
    }
  }
  if (own(c, "arch")) {
    if (!(ARCHES as readonly unknown[]).includes(c.arch)) throw top("config.arch", `${show(c.arch)} is not one of ${list(ARCHES)}`);
    config.arch = c.arch as ScenarioConfig["arch"];
  }
  if (own(c, "protocol")) {
    if (!(PROTOCOLS as readonly unknown[]).includes(c.protocol)) {
      throw top("config.protocol", `${show(c.protocol)} is not one of ${list(PROTOCOLS)}`);
    }
    config.protocol = c.protocol as ScenarioConfig["protocol"];
  }
  if (own(c, "invariants")) {
    if (typeof c.invariants !== "boolean") throw top("config.invariants", `${show(c.invariants)} is not a boolean (true or false)`);
    config.invariants = c.invariants;
  }
  if (own(c, "disable")) config.disable = readDisable(c.disable);
  return config;
}

/** `threads`: 2 to 4 named, non-empty lists, in `written` order (the names as the text has them) when known. */
function readThreads(t: unknown, config: ScenarioConfig, written: string[] | undefined): ScenarioThread[] {
  if (!isObj(t)) throw top("threads", `${show(t)} is not an object of named lists of steps ({"name": [steps], ...})`, "threads");
  const twice = written?.find((n, i) => written.indexOf(n) !== i);
  if (twice !== undefined) {
    throw top("threads", `thread ${JSON.stringify(twice)} is written twice (each thread has its own name)`, "threads", twice);
  }
  const kept = Object.keys(t);
  const names = written !== undefined && written.length === kept.length && written.every((n) => own(t, n)) ? written : kept;
  if (names.length < MIN_THREADS || names.length > MAX_THREADS) {
    throw top("threads", `${names.length} thread${names.length === 1 ? "" : "s"}: a scenario has ${MIN_THREADS} to ${MAX_THREADS} threads`, "threads");
  }
  return names.map((name) => {
    if (name === "") throw top("threads", "a thread's name is a non-empty string, not \"\"", "threads");
    const steps = t[name];
    if (!Array.isArray(steps)) throw top(`threads.${name}`, `${show(steps)} is not a list of steps`, "threads", name);
    if (steps.length === 0) throw top(`threads.${name}`, "empty: a thread has at least one step", "threads", name);
    return { name, steps: steps.map((s, i) => readStep(s, i, config, { section: "threads", thread: name }) as ActionStep) };
  });
}

function validate(doc: unknown, threadNamesWritten?: string[]): Scenario {
  if (!isObj(doc)) throw top("", `a scenario is a JSON object, not ${show(doc)}`);
  if (!own(doc, "format")) throw top("format", "missing (this gmemsim reads format 1)");
  if (doc.format !== 1) throw top("format", `${show(doc.format)} is not a format this gmemsim reads (format 1)`);
  for (const k of Object.keys(doc)) {
    if (!TOP_FIELDS.includes(k) && !NOTES.has(k)) {
      throw top(k, `unknown field (a scenario has ${TOP_FIELDS.join(", ")})${suggest(k, TOP_FIELDS)}`);
    }
  }
  let name = "";
  if (own(doc, "name")) {
    if (typeof doc.name !== "string") throw top("name", `${show(doc.name)} is not a string`);
    name = doc.name;
  }
  if (own(doc, "$schema") && typeof doc.$schema !== "string") throw top("$schema", `${show(doc.$schema)} is not a string (a schema's path or URL)`);
  if (own(doc, "description") && typeof doc.description !== "string") {
    throw top("description", `${show(doc.description)} is not a string`);
  }
  const config = readConfig(doc);
  const hasThreads = own(doc, "threads");
  if (!own(doc, "steps")) throw top("steps", "missing", "steps");
  const rawSteps = doc.steps;
  if (!Array.isArray(rawSteps)) throw top("steps", `${show(rawSteps)} is not a list of steps`, "steps");
  if (rawSteps.length === 0 && !hasThreads) throw top("steps", "empty: a scenario has at least one step (or threads)", "steps");
  const steps = rawSteps.map((s, i) => readStep(s, i, config, { section: "steps" }));
  const threads = hasThreads ? readThreads(doc.threads, config, threadNamesWritten) : undefined;
  let fin: Step[] | undefined;
  if (own(doc, "finally")) {
    const f = doc.finally;
    if (!Array.isArray(f)) throw top("finally", `${show(f)} is not a list of steps`, "finally");
    fin = f.map((s, i) => readStep(s, i, config, { section: "finally" }));
  }
  crossCheck({ steps, threads: threads ?? [], finally: fin ?? [] });
  const scenario: Scenario = { format: 1, name, config, steps };
  if (typeof doc.description === "string") scenario.description = doc.description;
  if (threads !== undefined) scenario.threads = threads;
  if (fin !== undefined) scenario.finally = fin;
  return scenario;
}

/**
 * Validate and convert an already-parsed scenario document (what JSON.parse returned, or an object built in code).
 * A key whose value is `undefined` counts as absent, as it would once written as JSON. Threads come in the object's
 * key order (JavaScript puts integer-like keys such as "0" first; parseScenario uses the text's order).
 */
export function validateScenario(doc: unknown): Scenario {
  return validate(withoutUndefined(doc, 0, new Set()));
}

/** A copy of plain objects and arrays without the keys whose value is undefined (other values, cycles and what lies
 * deeper than the text parser's MAX_DEPTH are kept as they are, for the validator to judge). */
function withoutUndefined(x: unknown, depth: number, seen: Set<unknown>): unknown {
  if (typeof x !== "object" || x === null || depth > MAX_DEPTH || seen.has(x)) return x;
  const proto = Object.getPrototypeOf(x);
  if (!Array.isArray(x) && proto !== Object.prototype && proto !== null) return x;
  seen.add(x);
  let out: unknown;
  if (Array.isArray(x)) out = x.map((v) => withoutUndefined(v, depth + 1, seen));
  else {
    const o: Obj = {};
    for (const [k, v] of Object.entries(x)) {
      // (defineProperty: a key "__proto__" stays a key, as JSON.parse makes it)
      if (v !== undefined) Object.defineProperty(o, k, { value: withoutUndefined(v, depth + 1, seen), enumerable: true, writable: true, configurable: true });
    }
    out = o;
  }
  seen.delete(x);
  return out;
}

/** The names of `threads` as the text has them (in order, a name written twice included); undefined: unknown. */
function threadNames(body: string, doc: unknown): string[] | undefined {
  if (!isObj(doc) || !isObj(doc.threads)) return undefined;
  const topKeys = keysInOrder(body, []);
  if (topKeys === null || topKeys.filter((k) => k === "threads").length !== 1) return undefined;
  return keysInOrder(body, ["threads"]) ?? undefined;
}

/** Parse, validate and convert a scenario file's text. Throws ScenarioFormatError (code EMALFORMED). */
export function parseScenario(text: string): Scenario {
  if (typeof text !== "string") throw top("json", `scenario text must be a string, not ${typeof text}`);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const deep = deeperThan(body, MAX_DEPTH);
  if (deep >= 0) throw top("json", `nested deeper than ${MAX_DEPTH} lists and objects at ${lineColumn(body, deep)}`);
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    const at = locateJsonError(body);
    if (at !== null) throw top("json", `not valid JSON at ${lineColumn(body, at.pos)}: ${at.what}`);
    throw top("json", `not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const dup = duplicateKey(body, (path) => path.length === 1 && path[0] === "threads"); // readThreads names those
  if (dup !== null) throw duplicateError(dup, body, doc);
  return validate(doc, threadNames(body, doc));
}

/** A key written twice, reported at its step (or top-level field) like any other fault in that place. */
function duplicateError(d: DuplicateKey, body: string, doc: unknown): ScenarioFormatError {
  const detail = `${JSON.stringify(d.key)} is written twice in one object (at ${lineColumn(body, d.at)}); ` +
    "JSON would keep only the last one";
  const [first, second, third] = d.path;
  const stepOf = (list: unknown, i: unknown): { op: string | null } => {
    const s = Array.isArray(list) && typeof i === "number" ? list[i] : undefined;
    return { op: isObj(s) && typeof s.op === "string" && own(SPECS, s.op) ? s.op : null };
  };
  const d0 = isObj(doc) ? doc : {};
  if ((first === "steps" || first === "finally") && typeof second === "number") {
    const field = d.path.length === 2 ? d.key : String(third);
    return new ScenarioFormatError(second, field, detail, stepOf(d0[first], second).op, { section: first });
  }
  if (first === "threads" && typeof second === "string" && typeof third === "number") {
    const list = isObj(d0.threads) ? d0.threads[second] : undefined;
    const field = d.path.length === 3 ? d.key : String(d.path[3]);
    return new ScenarioFormatError(third, field, detail, stepOf(list, third).op, { section: "threads", thread: second });
  }
  if (d.path.length === 0) return top(d.key, detail);
  if (first === "config" && d.path.length === 1) return top(`config.${d.key}`, detail);
  return top(d.path.filter((p) => typeof p === "string").join("."), detail);
}
