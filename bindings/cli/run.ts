// gmemsim run [FILE|-]: run a scenario file (standard input for "-", the built-in seed scenario without one),
// print each step with its events and the final state (or the JSON report), and write the outputs asked for
// (--trace, see outputs.ts). Exit 0: every expectation held; 1: one failed; 2: usage or a malformed file; 3: a file
// could not be read or written.
import { parseScenario, ScenarioFormatError } from "../scenario/parse";
import { runScenario } from "../scenario/run";
import { SEED_SCENARIO } from "../scenario/seed";
import type { Scenario } from "../scenario/types";
import { EXIT, choice, str, usageError, type Command, type OptionSpec } from "./command";
import { readInput, InputTooLarge, MAX_INPUT_BYTES, type Io } from "./io";
import { parseSize } from "../scenario/parse";
import { TextReport, JsonReport } from "./report";
import { RUN_OUTPUTS, type RunSink } from "./outputs";
import { VERSION } from "./version";

const FORMATS = ["text", "json"] as const;

const options: Record<string, OptionSpec> = {
  format: { type: "string", short: "f", value: "text|json", help: "the report: text (default) or one JSON object (the RunReport)" },
  ...Object.fromEntries(RUN_OUTPUTS.map((o) => [o.option, o.spec])),
  "debug-core": { type: "boolean", help: "run on the debug core (asserts kept; slower)" },
  "max-input": { type: "string", value: "SIZE", help: `refuse a file larger than SIZE (default 128M; at most 512M, e.g. a long run's trace)` },
};

/** The most a JavaScript string of the file can hold (V8's limit is just under 2^29 characters). */
const HARD_MAX_INPUT = 512 * 2 ** 20;

function maxInput(v: string | boolean | undefined): number {
  if (v === undefined) return MAX_INPUT_BYTES;
  const n = parseSize(v);
  if (n === null || n === 0n || n > BigInt(HARD_MAX_INPUT)) {
    throw usageError(`--max-input must be a size in (0, 512M] such as 256M, not ${JSON.stringify(v)}`);
  }
  return Number(n);
}

/** The scenario text of `file` ("-": standard input; undefined: the seed), or a ScenarioFormatError. */
function scenarioText(file: string | undefined, max: number): string {
  if (file === undefined) return SEED_SCENARIO;
  let bytes: Uint8Array;
  try {
    bytes = readInput(file, max);
  } catch (e) {
    if (e instanceof InputTooLarge) throw new ScenarioFormatError(null, "json", `the file is ${e.message}`);
    throw e;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ScenarioFormatError(null, "json", "the file is not UTF-8 text");
  }
}

function malformed(e: ScenarioFormatError, file: string | undefined, json: boolean, io: Io): number {
  if (json) {
    io.outJson(JSON.stringify({ ok: false, malformed: true, section: e.section, thread: e.thread, step: e.step, field: e.field,
      message: e.message }) + "\n");
  } else io.err(`gmemsim run: ${file === undefined ? "seed" : file === "-" ? "standard input" : file}: malformed: ${e.message}\n`);
  return EXIT.USAGE;
}

export const command: Command = {
  name: "run",
  usage: "[FILE.json | -] [options]",
  description: "Run a scenario file (\"-\" reads standard input; without a file, the built-in seed scenario: the private->shared\n" +
    "flow with a gmem-bound IOMMU on TDX). Prints every step with its events, then the final state.\n" +
    "Exit status: 0 every expectation held, 1 one failed (the step, op, expected and got are printed), 2 bad usage or\n" +
    "a malformed file (the step and field are printed; nothing runs), 3 a file could not be read or written.",
  options,
  maxPositionals: 1,
  async run(args, io) {
    const format = choice("format", args.values.format, FORMATS, "text");
    const file = args.positionals[0];
    let scn: Scenario;
    try {
      scn = parseScenario(scenarioText(file, maxInput(args.values["max-input"])));
    } catch (e) {
      if (e instanceof ScenarioFormatError) return malformed(e, file, format === "json", io);
      throw e;
    }
    const sinks: RunSink[] = [];
    try {
      for (const o of RUN_OUTPUTS) {
        const path = str(args.values[o.option]);
        if (path !== undefined) sinks.push(o.open(path, scn, `gmemsim ${VERSION}`));
      }
      if (args.values["debug-core"] === true) await import("../debug"); // provides the debug core
      const report = format === "json" ? new JsonReport(io) : new TextReport(io);
      report.begin(scn);
      const rep = runScenario(scn, {
        debugCore: args.values["debug-core"] === true,
        keepSteps: false, // every output takes its steps as they finish: a long run holds one step at a time
        onStep: (step, outcome) => {
          report.step(step, outcome);
          for (const s of sinks) s.step(step, outcome);
        },
      });
      for (const s of sinks) s.end(rep);
      sinks.length = 0;
      report.end(rep, scn.steps.length + (scn.threads ?? []).reduce((n, t) => n + t.steps.length, 0) + (scn.finally?.length ?? 0));
      return rep.ok ? EXIT.OK : EXIT.FAILED;
    } finally {
      for (const s of sinks) s.abort();
    }
  },
};
