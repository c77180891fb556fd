// Shared by the scenario-parse-*.test.ts files: the ScenarioFormatError a malformed file throws, and the small
// files the malformed-file tables are built from.
import { parseScenario, ScenarioFormatError } from "../../bindings/scenario/parse";

/** The error parseScenario throws for `doc` (an object is JSON.stringify'd; a string is the file text). */
export function failure(doc: unknown): ScenarioFormatError {
  const text = typeof doc === "string" ? doc : JSON.stringify(doc);
  try {
    parseScenario(text);
  } catch (e) {
    if (e instanceof ScenarioFormatError) return e;
    throw new Error(`threw ${String(e)} instead of ScenarioFormatError`);
  }
  throw new Error(`parsed: ${text}`);
}

// PRE defines g (gmem), vm and io at steps 0..2; most malformed cases put the bad step at index 3.
export const PRE = [
  { op: "gmem.create", id: "g", size: "4M", flags: ["mmap"] },
  { op: "vm.create", id: "vm" },
  { op: "iommu.create", id: "io", mode: "gmem" },
];
export const file = (...steps: unknown[]) => ({ format: 1, name: "bad", steps: [...PRE, ...steps] });
export const conv = (extra: Record<string, unknown> = {}) => ({ op: "convert", gmem: "g", offset: 0, size: "4K", to: "shared", ...extra });
export const ga = (extra: Record<string, unknown> = {}) => ({ op: "guest.access", vm: "vm", gpa: 0, private: true, ...extra });
