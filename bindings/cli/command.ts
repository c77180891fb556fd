// What every gmemsim command is: a name, its options (node:util parseArgs, plus the help text each option prints),
// and a run function that returns the exit status. index.ts only lists the commands; each lives in its own module.
import { parseArgs } from "node:util";
import type { Io } from "./io";
import { usageError } from "./errors";

export { EXIT, CliError, usageError } from "./errors";

/** One option: parseArgs' type and short name, and what `--help` says about it. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** the value's name in the help text (`--trace OUT.json`) */
  value?: string;
  help: string;
}

export interface Command {
  name: string;
  /** `gmemsim NAME ...` (the rest of the usage line) */
  usage: string;
  /** a paragraph under the usage line */
  description: string;
  options: Record<string, OptionSpec>;
  /** how many positional arguments it takes at most */
  maxPositionals: number;
  run(args: ParsedArgs, io: Io): Promise<number> | number;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** The --help text of a command. */
export function commandHelp(c: Command): string {
  const opts = Object.entries({ ...c.options, help: HELP_OPTION });
  const left = opts.map(([name, o]) => `${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` ${o.value}` : ""}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const lines = opts.map(([, o], i) => `  ${left[i].padEnd(width)}${o.help}`);
  return `usage: gmemsim ${c.name} ${c.usage}\n\n${c.description}\n\noptions:\n${lines.join("\n")}\n`;
}

const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", help: "print this help and exit" };

/**
 * Parse a command's arguments with node:util parseArgs (strict: unknown options, missing values and extra
 * positionals are usage errors). Returns null when --help was asked for (after printing it).
 */
export function parseCommandArgs(c: Command, argv: string[], io: Io): ParsedArgs | null {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, o] of Object.entries({ ...c.options, help: HELP_OPTION })) {
    options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, "");
    throw usageError(`${msg} (see gmemsim ${c.name} --help)`);
  }
  if (parsed.values.help === true) {
    io.out(commandHelp(c));
    return null;
  }
  if (parsed.positionals.length > c.maxPositionals) {
    const extra = parsed.positionals.slice(c.maxPositionals).map((p) => JSON.stringify(p)).join(" ");
    throw usageError(c.maxPositionals === 0 ? `takes no arguments, got ${extra}`
      : `takes at most ${c.maxPositionals} argument${c.maxPositionals === 1 ? "" : "s"}; extra: ${extra}`);
  }
  return parsed;
}

/** The value of a string option that must be one of `choices`. */
export function choice<T extends string>(name: string, v: string | boolean | undefined, choices: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) {
    throw usageError(`--${name} must be one of ${choices.join(", ")}, not ${JSON.stringify(v)}`);
  }
  return v as T;
}

/** A string option's value, or undefined. */
export function str(v: string | boolean | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}
