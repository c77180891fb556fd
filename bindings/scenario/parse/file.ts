// The file: its top-level fields and config, each step read on its own, then the steps together (cross.ts).
import { ARCHES, PROTOCOLS, type Scenario, type ScenarioConfig } from "../types";
import { ScenarioFormatError } from "./error";
import { isObj, own, show, list, suggest, NOTES, type Obj } from "./helpers";
import { locateJsonError, lineColumn } from "./json";
import { readStep } from "./steps";
import { crossCheck } from "./cross";

const TOP_FIELDS = ["format", "name", "description", "config", "steps"];
const CONFIG_FIELDS = ["arch", "protocol", "invariants"];

function top(field: string, detail: string): ScenarioFormatError {
  return new ScenarioFormatError(null, field, detail);
}

export function readConfig(doc: Obj): ScenarioConfig {
  const config: ScenarioConfig = { arch: "sw", protocol: "v2", invariants: false };
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
  return config;
}

/** Validate and convert an already-parsed scenario document (what JSON.parse returned). */
export function validateScenario(doc: unknown): Scenario {
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
  if (own(doc, "description") && typeof doc.description !== "string") {
    throw top("description", `${show(doc.description)} is not a string`);
  }
  const config = readConfig(doc);
  if (!own(doc, "steps")) throw top("steps", "missing");
  const rawSteps = doc.steps;
  if (!Array.isArray(rawSteps)) throw top("steps", `${show(rawSteps)} is not a list of steps`);
  if (rawSteps.length === 0) throw top("steps", "empty: a scenario has at least one step");
  const steps = rawSteps.map((s, i) => readStep(s, i, config));
  crossCheck(steps);
  const scenario: Scenario = { format: 1, name, config, steps };
  if (typeof doc.description === "string") scenario.description = doc.description;
  return scenario;
}

/** Parse, validate and convert a scenario file's text. Throws ScenarioFormatError (code EMALFORMED). */
export function parseScenario(text: string): Scenario {
  if (typeof text !== "string") throw top("json", `scenario text must be a string, not ${typeof text}`);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    const at = locateJsonError(body);
    if (at !== null) throw top("json", `not valid JSON at ${lineColumn(body, at.pos)}: ${at.what}`);
    throw top("json", `not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return validateScenario(doc);
}
