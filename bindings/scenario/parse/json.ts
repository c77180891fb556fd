// Where a syntax error is in scenario text (engines word and locate their errors differently, some give no
// position at all; this scan gives the same answer everywhere).

export class JsonStop {
  constructor(readonly pos: number, readonly what: string) {}
}

/**
 * The first syntax error of a text JSON.parse refused: its offset and what was wrong. Engines word (and locate)
 * their errors differently, and some give no position at all; this scan gives the same answer everywhere.
 */
export function locateJsonError(t: string): JsonStop | null {
  let i = 0;
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
      i++;
      ws();
      if (t[i] === "}") { i++; return; }
      for (;;) {
        ws();
        if (t[i] !== '"') stop("expected a property name (a string in double quotes)");
        str();
        ws();
        if (t[i] !== ":") stop("expected ':' after a property name");
        i++;
        value();
        ws();
        if (t[i] === "}") { i++; return; }
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
      for (;;) {
        value();
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
    return null; // nested too deep for this scan
  }
  return null;
}

export function lineColumn(text: string, pos: number): string {
  let line = 1, col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text[i] === "\n") { line++; col = 1; } else col++;
  }
  return `line ${line} column ${col} (position ${pos})`;
}
