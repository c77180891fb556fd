// The command's input and output: standard streams written with blocking writes (a closed pipe ends the output
// quietly instead of throwing EPIPE), text made safe for a terminal, colour only on a terminal and never with
// NO_COLOR, input files read with a size cap, output files written whole or not at all.
import { closeSync, fstatSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { isatty } from "node:tty";
import { CliError, EXIT } from "./errors";

/** The most a scenario file may hold. */
export const MAX_INPUT_BYTES = 128 * 2 ** 20;

// C0 and C1 controls but \t and \n, and the Unicode marks that reorder or split lines on a terminal
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** Text for a terminal: control characters (ESC included) and bidirectional marks shown as \uXXXX. */
export function safeText(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/** JSON text with the characters JSON.stringify leaves raw but a terminal acts on (C1, bidi) escaped: same value. */
export function safeJson(s: string): string {
  return s.replace(/[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, escapeChar);
}

/** Colour for a stream: on a terminal, unless NO_COLOR is set (to anything but "") or TERM is dumb. */
export function colourWanted(fd: number, env: Record<string, string | undefined> = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return env.TERM !== "dumb" && isatty(fd);
}

export interface Paint {
  ok(s: string): string;
  bad(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const sgr = (on: number, off: number) => (s: string) => `\x1b[${on}m${s}\x1b[${off}m`;
const COLOUR: Paint = { ok: sgr(32, 39), bad: sgr(31, 39), dim: sgr(2, 22), bold: sgr(1, 22) };
const PLAIN: Paint = { ok: (s) => s, bad: (s) => s, dim: (s) => s, bold: (s) => s };

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocking, buffered writes to a file descriptor; after EPIPE (the reader went away) everything is dropped. */
class FdWriter {
  private parts: string[] = [];
  private size = 0;
  closed = false;
  constructor(private readonly fd: number) {}
  write(s: string): void {
    if (this.closed) return;
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 1 << 16) this.flush();
  }
  flush(): void {
    if (this.parts.length === 0 || this.closed) { this.parts = []; this.size = 0; return; }
    const buf = Buffer.from(this.parts.join(""), "utf8");
    this.parts = [];
    this.size = 0;
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") { Atomics.wait(sleepCell, 0, 0, 1); continue; } // a non-blocking pipe is full
        if (code === "EPIPE" || code === "EBADF") { this.closed = true; return; }
        throw new CliError(EXIT.IO, `cannot write to ${this.fd === 1 ? "standard output" : "standard error"}: ${(e as Error).message}`);
      }
    }
  }
}

/** What a command writes to and reads from. */
export interface Io {
  /** text to standard output (made safe for a terminal) */
  out(text: string): void;
  /** text to standard output as is: only text built from safeText() pieces and paint */
  outTrusted(text: string): void;
  /** JSON text to standard output */
  outJson(text: string): void;
  /** text to standard error (made safe for a terminal) */
  err(text: string): void;
  /** text to standard error as is (a progress line redrawing itself) */
  errTrusted(text: string): void;
  /** colour for standard output / standard error (plain when not wanted) */
  paint: Paint;
  errPaint: Paint;
  /** standard error is a terminal (progress lines may redraw themselves) */
  errIsTty: boolean;
  flush(): void;
}

export function nodeIo(): Io {
  const out = new FdWriter(1), err = new FdWriter(2);
  return {
    out: (t) => out.write(safeText(t)),
    outTrusted: (t) => out.write(t),
    outJson: (t) => out.write(safeJson(t)),
    err: (t) => { err.write(safeText(t)); err.flush(); },
    errTrusted: (t) => { err.write(t); err.flush(); },
    paint: colourWanted(1) ? COLOUR : PLAIN,
    errPaint: colourWanted(2) ? COLOUR : PLAIN,
    errIsTty: isatty(2) && process.env.TERM !== "dumb",
    flush: () => { out.flush(); err.flush(); },
  };
}

function reason(e: unknown): string {
  const x = e as NodeJS.ErrnoException;
  const what: Record<string, string> = {
    ENOENT: "no such file or directory", EACCES: "permission denied", EISDIR: "it is a directory",
    ENOTDIR: "a part of the path is not a directory", ENOSPC: "no space left on the device", EROFS: "read-only file system",
  };
  return (x.code && what[x.code]) ?? x.message;
}

export class InputTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`larger than ${+(limit / 2 ** 20).toFixed(2)} MiB, the most a scenario file may hold (see --max-input)`);
  }
}

/**
 * The bytes of `path` ("-": standard input), at most `max` of them: InputTooLarge beyond that (/dev/zero ends
 * here too), CliError (exit 3) when it cannot be read.
 */
export function readInput(path: string, max: number = MAX_INPUT_BYTES): Uint8Array {
  const name = path === "-" ? "standard input" : path;
  let fd: number;
  try {
    fd = path === "-" ? 0 : openSync(path, "r");
    if (fstatSync(fd).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
  } catch (e) {
    throw new CliError(EXIT.IO, `cannot read ${name}: ${reason(e)}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, max + 1 - total));
      let n: number;
      try { n = readSync(fd, chunk, 0, chunk.length, null); }
      catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") { Atomics.wait(sleepCell, 0, 0, 5); continue; }
        if ((e as NodeJS.ErrnoException).code === "EOF") break;
        throw new CliError(EXIT.IO, `cannot read ${name}: ${reason(e)}`);
      }
      if (n === 0) break;
      total += n;
      if (total > max) throw new InputTooLarge(max);
      chunks.push(chunk.subarray(0, n));
    }
  } finally {
    if (path !== "-") closeSync(fd);
  }
  return Buffer.concat(chunks, total);
}

/** A file written whole: into a temporary file beside it, renamed into place by close(); abort() leaves nothing. */
export interface OutputFile {
  readonly path: string;
  write(text: string): void;
  close(): void;
  abort(): void;
}

/**
 * Open `path` for writing now (so a path that cannot be written fails before any work: CliError, exit 3). A
 * regular file (or a new one) is written through a temporary file; anything else (a pipe, /dev/stdout) directly.
 */
export function openOutput(path: string): OutputFile {
  let direct = false;
  try { direct = !statSync(path).isFile(); } catch { /* a new file */ }
  const tmp = direct ? path : `${path}.${process.pid}.tmp`;
  const fail = (e: unknown): never => { throw new CliError(EXIT.IO, `cannot write ${path}: ${reason(e)}`); };
  let fd = -1;
  try { fd = openSync(tmp, "w"); } catch (e) { fail(e); }
  let pending: string[] = [];
  let size = 0;
  const flush = () => {
    const buf = Buffer.from(pending.join(""), "utf8");
    pending = [];
    size = 0;
    for (let off = 0; off < buf.length;) {
      try { off += writeSync(fd, buf, off, buf.length - off); } catch (e) { cleanup(); fail(e); }
    }
  };
  const cleanup = () => {
    if (fd >= 0) { try { closeSync(fd); } catch { /* already closed */ } fd = -1; }
    if (!direct) { try { unlinkSync(tmp); } catch { /* gone already */ } }
  };
  return {
    path,
    write(text) {
      if (fd < 0) return;
      pending.push(text);
      size += text.length;
      if (size >= 1 << 20) flush();
    },
    close() {
      if (fd < 0) return;
      flush();
      try { closeSync(fd); fd = -1; if (!direct) renameSync(tmp, path); } catch (e) { cleanup(); fail(e); }
    },
    abort: cleanup,
  };
}
