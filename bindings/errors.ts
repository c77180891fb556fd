// Errors thrown by the binding. `.code` is stable (an errno name, or EINVARIANT); `.message` is for people.

/** errno numbers of the kernel (asm-generic) the core returns negated, by name. */
export const ERRNO: Readonly<Record<string, number>> = Object.freeze({
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16,
  EEXIST: 17, ENODEV: 19, EINVAL: 22, ENOTTY: 25, ENOSPC: 28, ERANGE: 34, EOPNOTSUPP: 95, EHWPOISON: 133,
});

const NAME_OF: Record<number, string> = Object.fromEntries(Object.entries(ERRNO).map(([k, v]) => [v, k]));

export type ErrnoCode = keyof typeof ERRNO | string;

export function errnoName(errno: number): string {
  return NAME_OF[errno] ?? `E${errno}`;
}

/** A kernel-style failure: `.code` is the errno name ('EINVAL', 'EAGAIN', ...), `.errno` its number. */
export class GmemError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly op: string;
  /** For EAGAIN from a conversion: the byte offset the kernel would write to error_offset. */
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

/** An invariant of KERNEL-PROTOCOL.md section 6 (or the tables' own structure) does not hold. */
export class InvariantError extends Error {
  readonly code = "EINVARIANT";
  /** 'I1' .. 'I20', or 'PT' for page-table structure. */
  readonly invariant: string;
  /** The page index / gfn where the checker found it. */
  readonly where: number;
  readonly step: number;
  constructor(invariant: string, where: number, step: number, what: string) {
    super(`invariant ${invariant} violated at index ${where} (step ${step}): ${what}`);
    this.name = "InvariantError";
    this.invariant = invariant;
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
