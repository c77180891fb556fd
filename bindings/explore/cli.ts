// `gmemsim explore FILE.json [--max-schedules N] [--seed S] [--shard I/N] [--out DIR] [--format text|json]
// [--preemption-bound K] [--no-reduction]` (SCENARIOS.md, "Concurrency"). Exit 0: every schedule held; 1: one broke an
// invariant or an expectation (the schedule is printed and a replay file written to --out); 2: usage or malformed file.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseScenario, ScenarioFormatError } from "../scenario/parse";
import { exploreSync, parseShard, type ExploreOptions } from "./index";
import { formatExploreReport } from "./text";
import { SAFEGUARDS, type Safeguard } from "../scenario/types";

export const EXPLORE_HELP = `usage: gmemsim explore FILE.json [options]
  Runs the scenario's steps once, then every interleaving of its threads that the sleep-set reduction keeps, with
  the invariant checker after every atomic step and finally after every schedule. Exhaustive when the schedules
  fit --max-schedules, else a seeded PCT sample.
  --max-schedules N     schedule budget (default 100000)
  --seed S              seed of the PCT sample (default 1)
  --shard I/N           explore the I-th of N disjoint parts (the N parts together = the whole run)
  --preemption-bound K  at most K preemptions per schedule
  --no-reduction        every interleaving (no sleep sets): to compare
  --disable NAME[,NAME] switch safeguards off on top of the file's config.disable (kvm-retry, iommu-block,
                        iommu-callback, refcount-check, host-unmap, iommu-seq): what does each one prevent?
  --out DIR             where a failing schedule's replay scenario goes (default ./explore-out/)
  --format text|json    output (default text)
  --debug-core          run on the debug core (asserts on)
exit: 0 every schedule held, 1 a schedule broke an invariant or an expectation, 2 usage or malformed file
`;

function usage(msg: string): number {
  process.stderr.write(`gmemsim explore: ${msg}\n${EXPLORE_HELP}`);
  return 2;
}

function intOpt(v: string | undefined, name: string, min: number): number | undefined | null {
  if (v === undefined) return undefined;
  return /^\d+$/.test(v) && +v >= min && +v <= Number.MAX_SAFE_INTEGER ? +v : null;
}

/** A file name for a scenario name. */
function slug(name: string): string {
  return (name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60) || "scenario") + ".counterexample.json";
}

export function exploreCommand(argv: string[]): number {
  let a;
  try {
    a = parseArgs({ args: argv, allowPositionals: true, strict: true, options: {
      "max-schedules": { type: "string" }, seed: { type: "string" }, shard: { type: "string" }, out: { type: "string" },
      format: { type: "string" }, "preemption-bound": { type: "string" }, "no-reduction": { type: "boolean" },
      "debug-core": { type: "boolean" }, disable: { type: "string", multiple: true }, help: { type: "boolean", short: "h" },
    } });
  } catch (e) { return usage((e as Error).message); }
  const v = a.values;
  if (v.help) { process.stdout.write(EXPLORE_HELP); return 0; }
  if (a.positionals.length !== 1) return usage(a.positionals.length ? "one file at a time" : "a scenario file is needed");
  const format = v.format ?? "text";
  if (format !== "text" && format !== "json") return usage("--format text|json");
  const max = intOpt(v["max-schedules"], "max-schedules", 1), seed = intOpt(v.seed, "seed", 0);
  const bound = intOpt(v["preemption-bound"], "preemption-bound", 0);
  if (max === null) return usage("--max-schedules: a positive integer");
  if (seed === null) return usage("--seed: a non-negative integer");
  if (bound === null) return usage("--preemption-bound: a non-negative integer");
  const opts: ExploreOptions = { debugCore: v["debug-core"] ?? false, reduction: v["no-reduction"] ? "none" : "sleep-sets" };
  if (max !== undefined) opts.maxSchedules = max;
  if (seed !== undefined) opts.seed = seed;
  if (bound !== undefined) opts.preemptionBound = bound;
  if (v.shard !== undefined) {
    try { opts.shard = parseShard(v.shard); } catch (e) { return usage((e as Error).message); }
  }
  const file = a.positionals[0];
  let text: string;
  try { text = readFileSync(file, "utf8"); } catch (e) { return usage(`cannot read ${file}: ${(e as Error).message}`); }
  let scn;
  try { scn = parseScenario(text); } catch (e) {
    if (!(e instanceof ScenarioFormatError)) throw e;
    if (format === "json") process.stdout.write(JSON.stringify({ ok: false, malformed: true, step: e.step, field: e.field, message: e.message }) + "\n");
    else process.stderr.write(`gmemsim: ${file}: malformed: ${e.message}\n`);
    return 2;
  }
  for (const list of v.disable ?? []) {
    for (const name of list.split(",").filter(Boolean)) {
      if (!(SAFEGUARDS as readonly string[]).includes(name)) return usage(`--disable: unknown safeguard ${name} (${SAFEGUARDS.join(", ")})`);
      if (!scn.config.disable.includes(name as Safeguard)) scn.config.disable.push(name as Safeguard);
    }
  }
  const rep = exploreSync(scn, opts);
  let replayPath: string | undefined;
  if (rep.failure && rep.failure.schedule.length > 0) {
    const dir = v.out ?? "explore-out";
    replayPath = join(dir, slug(scn.name || file));
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(replayPath, JSON.stringify(rep.failure.replay, null, 1) + "\n");
    } catch (e) {
      process.stderr.write(`gmemsim explore: cannot write ${replayPath}: ${(e as Error).message}\n`);
      replayPath = undefined;
    }
  }
  if (format === "json") process.stdout.write(JSON.stringify({ ...rep, ...(replayPath ? { replayFile: replayPath } : {}) }) + "\n");
  else process.stdout.write(formatExploreReport(rep, scn, replayPath) + "\n");
  return rep.ok ? 0 : 1;
}
