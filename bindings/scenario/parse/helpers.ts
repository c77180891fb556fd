// Small helpers of the parser: JSON value tests and how values, lists and suggestions read in messages.

export type Obj = Record<string, unknown>;

export function isObj(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

export function own(o: Obj, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** Fields allowed anywhere and ignored. */
export const NOTES: ReadonlySet<string> = new Set(["comment", "note"]);

/** A value as it appears in a message. */
export function show(x: unknown): string {
  if (x === undefined) return "nothing";
  if (typeof x === "bigint") return x.toString();
  if (Object.is(x, -0)) return "-0";
  let s: string;
  try { s = JSON.stringify(x) ?? String(x); } catch { s = String(x); }
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

/** `"a", "b", "c"` */
export function list(xs: readonly unknown[]): string {
  return xs.map((x) => JSON.stringify(x)).join(", ");
}

function distance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** ` (did you mean "x"?)` when one candidate is close, else "". */
export function suggest(word: string, candidates: Iterable<string>): string {
  let best = "", bd = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bd) { bd = d; best = c; }
  }
  return bd <= Math.min(2, Math.max(1, Math.floor(best.length / 3))) ? ` (did you mean "${best}"?)` : "";
}
