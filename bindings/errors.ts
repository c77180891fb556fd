// Errors thrown by the binding. `.code` is stable (an errno name, 'EINVARIANT', 'EMALFORMED'); `.message` is for
// people. Every failure of the public API is an Error with a `.code`.
import { ERRNO, ERRNO_NAMES } from "./abi";

export { ERRNO };

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** A kernel-style failure: `.code` is the errno name ('EINVAL', 'EAGAIN', ...), `.errno` its number. */
export class GmemError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly op: string;
  /** For EAGAIN (and v4 ENOMEM / EOPNOTSUPP) from a conversion: the byte offset the kernel writes to error_offset. */
  errorOffset?: number;
  constructor(errno: number, op: string, detail?: string) {
    const code = errnoName(errno);
    super(`${op}: ${code}${detail ? ` (${detail})` : ""}`);
    this.name = "GmemError";
    this.code = code;
    this.errno = errno;
    this.op = op;
  }
}

/** Invariants of KERNEL-PROTOCOL.md section 6 (or the tables' own structure) do not hold after a step. */
export class InvariantError extends Error {
  readonly code = "EINVARIANT";
  /** 'I1' .. 'I20', or 'PT' for page-table structure: the first one found. */
  readonly invariant: string;
  /** every invariant the check found broken at that step, the first one first */
  readonly invariants: string[];
  /** The page index / gfn where the checker found the first one. */
  readonly where: number;
  readonly step: number;
  constructor(invariants: string[], where: number, step: number, what: string) {
    super(`invariant ${invariants.join(", ")} violated at index ${where} (step ${step}): ${what}`);
    this.name = "InvariantError";
    this.invariant = invariants[0];
    this.invariants = invariants;
    this.where = where;
    this.step = step;
  }
}

/** The environment cannot run the simulator as asked (no WebAssembly threads, not cross-origin isolated, ...). */
export class EnvironmentError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "EnvironmentError";
    this.code = code;
  }
}

/** The kernel's IS_ERR_VALUE: results in [-4095, -1] are -errno. */
export function isErr(r: number): boolean {
  return r < 0 && r >= -4095;
}

/** Throw GmemError for a -errno result, else return it as an unsigned 32-bit number. */
export function check(r: number, op: string): number {
  if (r < 0 && r >= -4095) throw new GmemError(-r, op);
  return r >>> 0;
}

export function einval(op: string, detail: string): GmemError {
  return new GmemError(ERRNO.EINVAL, op, detail);
}

export function ebadf(op: string, detail: string): GmemError {
  return new GmemError(ERRNO.EBADF, op, detail);
}
