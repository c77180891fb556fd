// Reads the fields of one step object, throwing a ScenarioFormatError that names the step and field.
import { ERRNOS, type Errno, type Expect, type StepOp } from "../types";
import { ScenarioFormatError } from "./error";
import { own, show, list, suggest, type Obj } from "./helpers";
import { sizeOf, SIZE_FORMS, TWO_53 } from "./sizes";
import { SPECS, ALL_RESULTS, ERRNO_SET } from "./specs";

/** Reads the fields of one step object, throwing a ScenarioFormatError that names the step and field. */
export class StepReader {
  constructor(readonly obj: Obj, readonly index: number, readonly op: StepOp) {}

  fail(field: string, detail: string): never {
    throw new ScenarioFormatError(this.index, field, detail, this.op);
  }

  has(f: string): boolean {
    return own(this.obj, f);
  }

  get(f: string): unknown {
    if (!this.has(f)) this.fail(f, `missing (${this.op} takes ${SPECS[this.op].fields.join(", ")})`);
    return this.obj[f];
  }

  /** An object name (an id, or a reference to one): a non-empty string. */
  name(f: string): string {
    const v = this.get(f);
    if (typeof v !== "string" || v === "") this.fail(f, `${show(v)} is not a name (a non-empty string)`);
    return v;
  }

  optName(f: string): string | undefined {
    return this.has(f) ? this.name(f) : undefined;
  }

  size(f: string): bigint {
    const v = this.get(f);
    const r = sizeOf(v);
    if ("why" in r) this.fail(f, `${show(v)} is not a size (${r.why})`);
    return r.value;
  }

  bool(f: string): boolean {
    const v = this.get(f);
    if (typeof v !== "boolean") this.fail(f, `${show(v)} is not a boolean (true or false)`);
    return v;
  }

  optBool(f: string): boolean | undefined {
    return this.has(f) ? this.bool(f) : undefined;
  }

  oneOf<T extends string | number>(f: string, values: readonly T[]): T {
    const v = this.get(f);
    if (!(values as readonly unknown[]).includes(v)) {
      this.fail(f, `${show(v)} is not one of ${list(values)}${typeof v === "string" ? suggest(v, values.map(String)) : ""}`);
    }
    return v as T;
  }

  optOneOf<T extends string>(f: string, values: readonly T[]): T | undefined {
    return this.has(f) ? this.oneOf(f, values) : undefined;
  }

  /** A whole number in [min, max] (numbers only). */
  int(f: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
    const v = this.get(f);
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max || Object.is(v, -0)) {
      this.fail(f, `${show(v)} is not an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? "2^53-1" : max}]`);
    }
    return v;
  }

  optInt(f: string, min: number): number | undefined {
    return this.has(f) ? this.int(f, min) : undefined;
  }

  /** A page content value (`write`, `value`): size-like, at most 2^53. */
  content(f: string): number | undefined {
    if (!this.has(f)) return undefined;
    const v = this.obj[f];
    const r = sizeOf(v);
    if ("why" in r) {
      this.fail(f, `${show(v)} is not a value (a non-negative integer, "0x..." or a number with K/M/G/T${r.why === SIZE_FORMS ? "" : `: ${r.why}`})`);
    }
    if (r.value > TWO_53) this.fail(f, `${show(v)} is larger than 2^53`);
    return Number(r.value);
  }

  /** `pause` + `as` of a convert or guest.access. */
  pause<T extends string>(values: readonly T[]): { pause?: T; as?: string } {
    const pause = this.optOneOf("pause", values);
    const as = this.optName("as");
    if (pause !== undefined && as === undefined) this.fail("as", "missing: a step with pause needs as (the name resume uses)");
    if (pause === undefined && as !== undefined) this.fail("as", "as names a paused operation: give pause too");
    return pause === undefined ? {} : { pause, as };
  }

  expect<R extends string = never>(): Expect<R> {
    const spec = SPECS[this.op];
    const results = spec.results ?? [];
    const forms = results.length ? `0, an errno name or one of ${list(results)}` : "0 or an errno name";
    let e: Expect<string>;
    const v = this.obj.expect;
    if (!this.has("expect") || v === 0 || v === "0") e = { kind: "ok" };
    else if (typeof v === "string" && ERRNO_SET.has(v)) e = { kind: "errno", errno: v as Errno };
    else if (typeof v === "string" && /^E[A-Z0-9]+$/.test(v)) {
      this.fail("expect", `${show(v)} is not an errno this model knows (${ERRNOS.join(" ")})${suggest(v, ERRNOS)}`);
    } else if (typeof v === "string" && results.includes(v)) e = { kind: "result", value: v };
    else if (typeof v === "string") {
      const hint = ALL_RESULTS.includes(v) ? "" : suggest(v, results);
      this.fail("expect", `${show(v)} is not a result of ${this.op} (${forms})${hint}`);
    } else {
      this.fail("expect", `${show(v)} is not a result (${forms}; errors are errno names such as "EINVAL", not numbers)`);
    }
    if (this.has("errorOffset")) {
      if (e.kind !== "errno") {
        this.fail("errorOffset", `errorOffset goes with an errno expect (expect is ${this.has("expect") ? show(v) : "absent"})`);
      }
      e.errorOffset = this.size("errorOffset");
    }
    return e as Expect<R>;
  }
}
