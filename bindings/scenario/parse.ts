// Scenario files (docs SCENARIOS.md, format 1): parse, validate and convert. The parser lives in ./parse/ (index.ts
// lists its public API); this module keeps the path existing imports use.
export * from "./parse/index";
