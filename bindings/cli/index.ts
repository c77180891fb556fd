// The gmemsim command. Each command is a module (run.ts, bench.ts, ...) exporting `command`; COMMANDS lists them,
// one line each, loaded only when used. This file picks the command, turns errors into exit statuses, and prints
// the top-level help and version. Node only (the library itself runs anywhere).
import { existsSync } from "node:fs";
import { ScenarioFormatError } from "../scenario/parse";
import { EnvironmentError } from "../errors";
import { CliError, EXIT, parseCommandArgs, type Command } from "./command";
import { nodeIo, type Io } from "./io";
import { VERSION } from "./version";

interface Entry { name: string; summary: string; load: () => Promise<{ command: Command }> }

const COMMANDS: readonly Entry[] = [
  { name: "run", summary: "run a scenario file, step by step (the default command)", load: () => import("./run") },
  { name: "explore", summary: "run every interleaving of a scenario's threads, invariants after every atomic step", load: () => import("./explore") },
  { name: "bench", summary: "measure conversion throughput against the reference model", load: () => import("./bench") },
  { name: "demo", summary: "build the model's largest structures and print what they cost", load: () => import("./demo") },
  { name: "serve", summary: "serve the package's pages (cross-origin isolated) on the loopback interface", load: () => import("./serve") },
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `gmemsim ${VERSION} - an executable model of guest_memfd private/shared conversion with KVM and the IOMMU

usage: gmemsim [COMMAND] [options]
       gmemsim FILE.json [options]     (the same as gmemsim run FILE.json)
       gmemsim                         (runs the built-in seed scenario)

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

gmemsim COMMAND --help describes a command and its options.
  -h, --help       this help
  -v, --version    the version

exit status: 0 ok, 1 an expectation failed, 2 bad usage or malformed input, 3 a file could not be read or
written (70: a bug in gmemsim; please report it with the message)
`;
}

/** The command and its arguments for argv (the arguments after `gmemsim`). */
function pick(argv: string[]): { entry?: Entry; args: string[]; top?: "help" | "version"; unknown?: string } {
  const first = argv[0];
  if (first === undefined) return { entry: COMMANDS[0], args: [] };
  if (first === "-h" || first === "--help" || first === "help") return { top: "help", args: [] };
  if (first === "-v" || first === "--version") return { top: "version", args: [] };
  const entry = COMMANDS.find((c) => c.name === first);
  if (entry !== undefined) return { entry, args: argv.slice(1) };
  // a file or an option of run: `gmemsim x.json`, `gmemsim - < x.json`, `gmemsim --format json`, `gmemsim ./scn`
  if (first.startsWith("-") || /\.json$/i.test(first) || first.includes("/") || existsSync(first)) return { entry: COMMANDS[0], args: argv };
  return { unknown: first, args: [] };
}

async function main(argv: string[], io: Io): Promise<number> {
  const p = pick(argv);
  if (p.top === "help") { io.out(help()); return EXIT.OK; }
  if (p.top === "version") { io.out(`gmemsim ${VERSION}\n`); return EXIT.OK; }
  if (p.entry === undefined) {
    io.err(`gmemsim: unknown command ${JSON.stringify(p.unknown)} (commands: ${COMMANDS.map((c) => c.name).join(", ")}; ` +
      "nor is it a file; see gmemsim --help)\n");
    return EXIT.USAGE;
  }
  const { command } = await p.entry.load();
  let code: number;
  try {
    const args = parseCommandArgs(command, p.args, io);
    code = args === null ? EXIT.OK : await command.run(args, io);
  } catch (e) {
    if (e instanceof CliError) {
      io.err(`gmemsim ${command.name}: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof ScenarioFormatError) {
      io.err(`gmemsim ${command.name}: malformed: ${e.message}\n`);
      return EXIT.USAGE;
    }
    if (e instanceof EnvironmentError) {
      io.err(`gmemsim ${command.name}: this environment cannot run the simulator: ${e.message}\n`);
      return EXIT.IO;
    }
    throw e;
  }
  return code;
}

const io = nodeIo();
try {
  process.exitCode = await main(process.argv.slice(2), io);
} catch (e) {
  io.err(`gmemsim: internal error (a bug in gmemsim; please report it with this message):\n${(e as Error)?.stack ?? String(e)}\n`);
  process.exitCode = EXIT.INTERNAL;
} finally {
  try { io.flush(); } catch { process.exitCode ||= EXIT.IO; }
}
