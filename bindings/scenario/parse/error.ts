// The one error a malformed scenario file produces, thrown before anything runs (the CLI's exit status 2).

/** A scenario file is malformed: `.step` (index in "steps", or null) and `.field` say where. */
export class ScenarioFormatError extends Error {
  readonly code = "EMALFORMED";
  /** 0-based index in "steps"; null for the file itself, its top-level fields and "config" */
  readonly step: number | null;
  /** the field at fault: a step field ("size"), a top-level one ("format", "config.arch"), "json", or "" for a
   *  whole step or file that is not an object */
  readonly field: string;
  /** the step's op when it has a string one */
  readonly op: string | null;
  /** the message without the "step N (op): field "f": " prefix */
  readonly detail: string;
  constructor(step: number | null, field: string, detail: string, op: string | null = null) {
    const where = step === null ? "" : `step ${step}${op === null ? "" : ` (${op})`}: `;
    super(`${where}${field === "" ? "" : `field "${field}": `}${detail}`);
    this.name = "ScenarioFormatError";
    this.step = step;
    this.field = field;
    this.op = op;
    this.detail = detail;
  }
}
