// `gmemsim explore FILE.json` (SCENARIOS.md, "Concurrency"): runs the scenario's steps once, then every interleaving
// of its threads the sleep-set reduction keeps (or a seeded PCT sample past --max-schedules), with the invariant
// checker after every atomic step. Exit 0: every schedule held; 1: one broke an invariant or an expectation (the
// schedule is printed and a replay scenario written to --out); 2: usage or a malformed file; 3: a file could not
// be read or written.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseScenario, ScenarioFormatError } from "../scenario/parse";
import { SAFEGUARDS, type Safeguard } from "../scenario/types";
import { exploreSync, parseShard, type ExploreOptions } from "../explore/index";
import { formatExploreReport } from "../explore/text";
import { EXIT, CliError, usageError, type Command, type OptionSpec } from "./command";
import { readInput, InputTooLarge, MAX_INPUT_BYTES, safeText, type Io } from "./io";

const options: Record<string, OptionSpec> = {
  "max-schedules": { type: "string", value: "N", help: "schedule budget: exhaustive when the reduced space fits, else a PCT sample (default 100000)" },
  seed: { type: "string", value: "S", help: "seed of the PCT sample (default 1)" },
  shard: { type: "string", value: "I/N", help: "explore the I-th of N disjoint parts of the space (the N parts together = the whole); " +
    "its depth-first budget is ceil(max/N), and when sampled it runs the PCT samples j < max with j = I-1 mod N" },
  "preemption-bound": { type: "string", value: "K", help: "at most K preemptions per schedule (turns the sleep-set reduction off: the two do not combine soundly)" },
  "no-reduction": { type: "boolean", help: "every interleaving the locks allow (no sleep sets), to compare" },
  disable: { type: "string", value: "NAME[,NAME]", help: `switch safeguards off on top of config.disable (${SAFEGUARDS.join(", ")})` },
  out: { type: "string", value: "DIR", help: "where a failing schedule's replay scenario goes (default ./explore-out/)" },
  format: { type: "string", value: "text|json", help: "output format (default text)" },
  "debug-core": { type: "boolean", help: "run on the debug core (assertions on)" },
};

function intOpt(v: string | boolean | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^\d+$/.test(v) || +v < min || +v > Number.MAX_SAFE_INTEGER) {
    throw usageError(`--${name}: ${min === 0 ? "a non-negative" : "a positive"} integer, not ${JSON.stringify(v)}`);
  }
  return +v;
}

/** A file name for a scenario name. */
function slug(name: string): string {
  return (name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60) || "scenario") + ".counterexample.json";
}

export const command: Command = {
  name: "explore",
  usage: "FILE.json [options]",
  description: "Run the scenario's steps once, then every interleaving of its threads that the sleep-set reduction keeps, with\n" +
    "the invariant checker after every atomic step and `finally` after every schedule. Exhaustive when the schedules fit\n" +
    "--max-schedules, else a seeded PCT sample (the output says which). A failing schedule is printed step by step and\n" +
    "written to --out as a plain scenario that `gmemsim run` fails the same way.\n" +
    "Exit status: 0 every schedule held, 1 a schedule broke an invariant or an expectation, 2 bad usage or a malformed\n" +
    "file, 3 a file could not be read or written.",
  options,
  maxPositionals: 1,
  run(args, io: Io): number {
    const v = args.values;
    const format = (v.format as string | undefined) ?? "text";
    if (format !== "text" && format !== "json") throw usageError(`--format text|json, not ${JSON.stringify(format)}`);
    const file = args.positionals[0];
    if (file === undefined) throw usageError("a scenario file is needed (see gmemsim explore --help)");
    const opts: ExploreOptions = { debugCore: v["debug-core"] === true, reduction: v["no-reduction"] ? "none" : "sleep-sets" };
    const max = intOpt(v["max-schedules"], "max-schedules", 1), seed = intOpt(v.seed, "seed", 0);
    const bound = intOpt(v["preemption-bound"], "preemption-bound", 0);
    if (max !== undefined) opts.maxSchedules = max;
    if (seed !== undefined) opts.seed = seed;
    if (bound !== undefined) opts.preemptionBound = bound;
    if (typeof v.shard === "string") {
      try { opts.shard = parseShard(v.shard); } catch (e) { throw usageError((e as Error).message); }
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(readInput(file, MAX_INPUT_BYTES));
    } catch (e) {
      if (e instanceof InputTooLarge) throw new ScenarioFormatError(null, "json", `the file is ${e.message}`);
      if (e instanceof TypeError) throw new ScenarioFormatError(null, "json", "the file is not UTF-8 text");
      throw e;
    }
    const scn = parseScenario(text);
    for (const name of typeof v.disable === "string" ? v.disable.split(",").filter(Boolean) : []) {
      if (!(SAFEGUARDS as readonly string[]).includes(name)) throw usageError(`--disable: unknown safeguard ${JSON.stringify(name)} (${SAFEGUARDS.join(", ")})`);
      if (!scn.config.disable.includes(name as Safeguard)) scn.config.disable.push(name as Safeguard);
    }
    const rep = exploreSync(scn, opts);
    let replayPath: string | undefined;
    if (rep.failure && rep.failure.schedule.length > 0) {
      const dir = (v.out as string | undefined) ?? "explore-out";
      replayPath = join(dir, slug(scn.name || file));
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(replayPath, JSON.stringify(rep.failure.replay, null, 1) + "\n");
      } catch (e) {
        throw new CliError(EXIT.IO, `cannot write ${replayPath}: ${(e as Error).message}`);
      }
    }
    if (format === "json") io.outJson(JSON.stringify({ ...rep, ...(replayPath ? { replayFile: replayPath } : {}) }) + "\n");
    else io.out(safeText(formatExploreReport(rep, scn, replayPath)) + "\n");
    return rep.ok ? EXIT.OK : EXIT.FAILED;
  },
};
