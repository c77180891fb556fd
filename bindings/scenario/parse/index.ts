// The scenario parser's public API (SCENARIOS.md, format 1 + this project's extensions). Errors are
// ScenarioFormatError (code "EMALFORMED") naming the section, thread, step and field, thrown before anything runs.
export * from "../types";
export { ScenarioFormatError, stepPlace, type ErrorSection } from "./error";
export { parseSize } from "./sizes";
export { parseScenario, validateScenario } from "./file";
