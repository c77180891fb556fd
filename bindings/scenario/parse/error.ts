// The one error a malformed scenario file produces: where (section, thread, step, op) and which field, thrown before
// anything runs (the CLI's exit status 2; EMBEDDING.md's `.code === 'EMALFORMED'`).
import type { StepSection } from "../types";

/** Where a step is: its list (and thread) and its 0-based index there, as messages print it. */
export function stepPlace(section: StepSection, thread: string | null, index: number): string {
  if (section === "threads") return `thread ${JSON.stringify(thread ?? "")} step ${index}`;
  if (section === "finally") return `finally step ${index}`;
  return `step ${index}`;
}

/** The part of a ScenarioFormatError's place besides the step index and op. */
export interface ErrorSection {
  /** default: "steps" when there is a step index, "threads" when there is a thread, else null */
  section?: StepSection | null;
  thread?: string | null;
}

/**
 * A scenario file is malformed. `.section`, `.thread`, `.step` and `.field` say where; the message begins with the
 * same place: `step 3 (convert): field "size": ...`, `thread "conv" step 0 (convert): field ...`,
 * `finally step 1 (check.attr): field ...`, `thread "conv": field "threads.conv": ...`, or for the file itself
 * `field "config.arch": ...`.
 */
export class ScenarioFormatError extends Error {
  readonly code = "EMALFORMED";
  /** the list the fault is in; null for the file itself, "format", "name", "description", "config.*" and "json" */
  readonly section: StepSection | null;
  /** the thread's name when the fault is in one of `threads` (its steps or its list), else null */
  readonly thread: string | null;
  /** 0-based index of the step in its list (`steps`, the thread's, `finally`); null when not in a step */
  readonly step: number | null;
  /** the field at fault: a step field ("size"), a top-level one ("format", "config.arch", "threads",
   *  "threads.NAME"), "json", or "" for a whole step or file that is not an object */
  readonly field: string;
  /** the step's op when it has a known one */
  readonly op: string | null;
  /** the message without its place and field prefix */
  readonly detail: string;
  constructor(step: number | null, field: string, detail: string, op: string | null = null, where: ErrorSection = {}) {
    const thread = where.thread ?? null;
    const section = where.section !== undefined ? where.section
      : thread !== null ? "threads" : step !== null ? "steps" : null;
    let place = "";
    if (step !== null && section !== null) place = stepPlace(section, thread, step) + (op === null ? "" : ` (${op})`);
    else if (step !== null) place = `step ${step}${op === null ? "" : ` (${op})`}`;
    else if (thread !== null) place = `thread ${JSON.stringify(thread)}`;
    super(`${place === "" ? "" : `${place}: `}${field === "" ? "" : `field "${field}": `}${detail}`);
    this.name = "ScenarioFormatError";
    this.section = section;
    this.thread = thread;
    this.step = step;
    this.field = field;
    this.op = op;
    this.detail = detail;
  }
}
