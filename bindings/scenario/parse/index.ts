// The scenario parser's public API (SCENARIOS.md, format 1 + this project's extensions).
export * from "../types";
export { ScenarioFormatError } from "./error";
export { parseSize } from "./sizes";
export { parseScenario, validateScenario } from "./file";
