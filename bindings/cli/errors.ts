// Exit statuses of the gmemsim command (documented in README.md and `gmemsim --help`), and the error that carries
// one: what a user can act on, printed as one line without a stack trace.

export const EXIT = {
  /** everything held */
  OK: 0,
  /** an expectation of the scenario failed */
  FAILED: 1,
  /** bad usage (unknown option or command, a missing value) or malformed input (the file is not a scenario) */
  USAGE: 2,
  /** a file could not be read or written (or an address could not be listened on) */
  IO: 3,
  /** a bug in gmemsim itself (sysexits' EX_SOFTWARE): the message says so and shows where */
  INTERNAL: 70,
} as const;

export class CliError extends Error {
  constructor(readonly exitCode: number, message: string, readonly code: string = exitCode === EXIT.IO ? "EIO" : "EUSAGE") {
    super(message);
    this.name = "CliError";
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.USAGE, message, "EUSAGE");
