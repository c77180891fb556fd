// Reads the fields of one step object, throwing a ScenarioFormatError that names the place, step and field.
import { ERRNOS, type Errno, type Expect, type ExpectOne, type StepOp, type StepSection } from "../types";
import { ScenarioFormatError } from "./error";
import { own, show, list, suggest, type Obj } from "./helpers";
import { sizeOf, SIZE_FORMS, TWO_53 } from "./sizes";
import { SPECS, ALL_RESULTS, ERRNO_SET } from "./specs";

/** The list a step is read from (and its thread's name). */
export interface StepWhere {
  section: StepSection;
  thread?: string;
}

export class StepReader {
  constructor(readonly obj: Obj, readonly index: number, readonly op: StepOp, readonly where: StepWhere) {}

  fail(field: string, detail: string): never {
    throw new ScenarioFormatError(this.index, field, detail, this.op, { section: this.where.section, thread: this.where.thread ?? null });
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
      this.fail(f, `${show(v)} is not an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? "2^53-1" : max === 0xffffffff ? "2^32-1" : max}]`);
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

  /** `pause` + `as` of a pausable op. */
  pause<T extends string>(values: readonly T[]): { pause?: T; as?: string } {
    const v = this.obj.pause;
    if (this.has("pause") && !(values as readonly unknown[]).includes(v)) {
      this.fail("pause", `${show(v)} is not a pause point of ${this.op} (${list(values)})${typeof v === "string" ? suggest(v, values) : ""}`);
    }
    const pause = this.optOneOf("pause", values);
    const as = this.optName("as");
    if (pause !== undefined && as === undefined) this.fail("as", "missing: a step with pause needs as (the name resume uses)");
    if (pause === undefined && as !== undefined) this.fail("as", "as names a paused operation: give pause too");
    return pause === undefined ? {} : { pause, as };
  }

  /** One result `v` may name (`at`: "entry N: " inside a list). */
  private one(v: unknown, at: string): ExpectOne<string> {
    const results = SPECS[this.op].results ?? [];
    const forms = results.length ? `0, an errno name or one of ${list(results)}` : "0 or an errno name";
    if (v === 0 || v === "0") return { kind: "ok" };
    if (typeof v === "string" && ERRNO_SET.has(v)) return { kind: "errno", errno: v as Errno };
    if (typeof v === "string" && /^E[A-Z0-9]+$/.test(v)) {
      this.fail("expect", `${at}${show(v)} is not an errno this model knows (${ERRNOS.join(" ")})${suggest(v, ERRNOS)}`);
    }
    if (typeof v === "string" && results.includes(v)) return { kind: "result", value: v };
    if (typeof v === "string") {
      const hint = ALL_RESULTS.includes(v) ? "" : suggest(v, results);
      this.fail("expect", `${at}${show(v)} is not a result of ${this.op} (${forms})${hint}`);
    }
    return this.fail("expect", `${at}${show(v)} is not a result (${forms}; errors are errno names such as "EINVAL", not numbers)`);
  }

  /** `expect` (and `errorOffset`): absent = 0; one result; or a non-empty list of results. */
  expect<R extends string = never>(): Expect<R> {
    let e: Expect<string>;
    const v = this.obj.expect;
    if (!this.has("expect")) e = { kind: "ok" };
    else if (Array.isArray(v)) {
      if (v.length === 0) {
        this.fail("expect", "an empty list: list the results the step may produce (or leave expect out: it must succeed)");
      }
      e = { kind: "any", of: v.map((x, i) => this.one(x, `entry ${i}: `)) };
    } else e = this.one(v, "");
    if (this.has("errorOffset")) {
      const errnos = e.kind === "any" ? e.of.filter((x) => x.kind === "errno") : e.kind === "errno" ? [e] : [];
      if (errnos.length === 0) {
        const what = e.kind === "any" ? "the expect list names no errno" : `expect is ${this.has("expect") ? show(v) : "absent"}`;
        this.fail("errorOffset", `errorOffset goes with an errno expect (${what})`);
      }
      const off = this.size("errorOffset");
      for (const x of errnos) x.errorOffset = off;
    }
    return e as Expect<R>;
  }
}
