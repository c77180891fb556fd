// A JSON scan of scenario text, for what JSON.parse does not tell: where a syntax error is (engines word and locate
// their errors differently, some give no position at all; this scan gives the same answer everywhere), and the
// keys of an object in the order written (JSON.parse puts integer-like keys first and keeps one of duplicates).

export class JsonStop {
  constructor(readonly pos: number, readonly what: string) {}
}

type Path = readonly (string | number)[];

/**
 * Scan `t`; calls `onKey(path of the object, key)` for every key in text order. Returns the first syntax error or
 * null; throws (a RangeError) when nested too deep for the scan.
 */
function scan(t: string, onKey?: (path: Path, key: string, at: number, object: number) => void,
              onEnd?: (object: number) => void): JsonStop | null {
  let i = 0;
  let objects = 0; // objects opened so far: the number of the current one tells two objects at one path apart
  const path: (string | number)[] = [];
  const stop = (what: string): never => {
    throw new JsonStop(i, i >= t.length ? "unexpected end of input" : what);
  };
  const ws = () => {
    while (i < t.length && (t[i] === " " || t[i] === "\t" || t[i] === "\n" || t[i] === "\r")) i++;
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= t.length) stop("");
      const c = t.charCodeAt(i);
      if (c === 0x22) { i++; return; }
      if (c < 0x20) stop("control character in a string");
      if (c === 0x5c) {
        i++;
        if (i < t.length && t[i] === "u") {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/[0-9a-fA-F]/.test(t[i] ?? "")) stop("bad \\u escape in a string");
          }
        } else if (i >= t.length || !"\"\\/bfnrt".includes(t[i])) stop("bad escape in a string");
      }
      i++;
    }
  };
  const value = (): void => {
    ws();
    if (i >= t.length) stop("");
    const c = t[i];
    if (c === "{") {
      const object = objects++;
      i++;
      ws();
      if (t[i] === "}") { i++; onEnd?.(object); return; }
      for (;;) {
        ws();
        if (t[i] !== '"') stop("expected a property name (a string in double quotes)");
        const start = i;
        str();
        const key = onKey === undefined ? "" : (JSON.parse(t.slice(start, i)) as string);
        onKey?.(path, key, start, object);
        ws();
        if (t[i] !== ":") stop("expected ':' after a property name");
        i++;
        path.push(key);
        value();
        path.pop();
        ws();
        if (t[i] === "}") { i++; onEnd?.(object); return; }
        if (t[i] !== ",") stop("expected ',' or '}' after a property value");
        i++;
        ws();
        if (t[i] === "}") stop("trailing comma before '}'");
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (t[i] === "]") { i++; return; }
      for (let n = 0; ; n++) {
        path.push(n);
        value();
        path.pop();
        ws();
        if (t[i] === "]") { i++; return; }
        if (t[i] !== ",") stop("expected ',' or ']' after a list element");
        i++;
        ws();
        if (t[i] === "]") stop("trailing comma before ']'");
      }
    }
    if (c === '"') return str();
    const lit = /^(?:true|false|null)/.exec(t.slice(i, i + 5));
    if (lit) { i += lit[0].length; return; }
    const num = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(t.slice(i, i + 400));
    if (num && num[0] !== "-") {
      i += num[0].length;
      if (i < t.length && /[\d.eE]/.test(t[i])) stop("malformed number");
      return;
    }
    stop(`unexpected ${JSON.stringify(c)} where a value belongs`);
  };
  try {
    value();
    ws();
    if (i < t.length) stop("unexpected text after the scenario");
  } catch (e) {
    if (e instanceof JsonStop) return e;
    throw e; // nested too deep for this scan (a RangeError)
  }
  return null;
}

/** The first syntax error of a text JSON.parse refused: its offset and what was wrong (null: none found). */
export function locateJsonError(t: string): JsonStop | null {
  try {
    return scan(t);
  } catch {
    return null;
  }
}

/**
 * The keys of the object at `at` (a path of keys from the top) in the order written, duplicates included; null when
 * the text does not scan (or is nested too deep for the scan). Text JSON.parse accepted.
 */
export function keysInOrder(t: string, at: readonly string[]): string[] | null {
  const keys: string[] = [];
  let ok = true;
  try {
    const bad = scan(t, (path, key) => {
      if (path.length === at.length && path.every((p, k) => p === at[k])) keys.push(key);
    });
    ok = bad === null;
  } catch {
    ok = false;
  }
  return ok ? keys : null;
}

/** `line L column C (position P)` of an offset. */
export function lineColumn(text: string, pos: number): string {
  let line = 1, col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text[i] === "\n") { line++; col = 1; } else col++;
  }
  return `line ${line} column ${col} (position ${pos})`;
}

/** The deepest nesting of lists and objects a scenario may have (a real one nests 6 deep). */
export const MAX_DEPTH = 64;

/**
 * The offset of the first '[' or '{' that opens a level deeper than `max` (strings skipped), or -1. A linear scan
 * without recursion: text nested 10^5 deep is refused here, before anything recursive looks at it.
 */
export function deeperThan(t: string, max: number): number {
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x22) { // skip the string
      for (i++; i < t.length && t.charCodeAt(i) !== 0x22; i++) if (t.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

/** A key written twice in one object: the object's path, the key, and where its second writing starts. */
export interface DuplicateKey { path: Path; key: string; at: number }

class Found {
  constructor(readonly dup: DuplicateKey) {}
}

/**
 * The first key written twice in one object of `t` (JSON.parse silently keeps the last one), or null. Text that
 * JSON.parse accepted and deeperThan() passed; objects at `skip` paths are left to the caller.
 */
export function duplicateKey(t: string, skip: (path: Path) => boolean = () => false): DuplicateKey | null {
  const open = new Map<number, Set<string>>(); // the keys of each object being scanned (at most the depth of them)
  try {
    scan(t, (path, key, at, object) => {
      if (skip(path)) return;
      let keys = open.get(object);
      if (keys === undefined) open.set(object, (keys = new Set()));
      if (keys.has(key)) throw new Found({ path: [...path], key, at });
      keys.add(key);
    }, (object) => open.delete(object));
  } catch (e) {
    if (e instanceof Found) return e.dup;
    throw e;
  }
  return null;
}
