#!/usr/bin/env node
// npm run bench [-- --quick] [-- --filter NAME] [-- --update-readme]: run the benchmark through the CLI and write
// bench/out/results.json and bench/out/chart.svg (ignored by git). Only --update-readme touches a tracked file: it
// regenerates the README's results table from that JSON.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const update = args.includes("--update-readme");
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const r = spawnSync(process.execPath, [join(root, "bin/gmemsim.js"), "bench", "--json", join(out, "results.json"),
  "--svg", join(out, "chart.svg"), ...args.filter((a) => a !== "--update-readme")], { stdio: "inherit" });
if (r.status !== 0) process.exit(r.status ?? 1);
if (!update) process.exit(0);
const t = spawnSync(process.execPath, [join(root, "scripts/bench-readme.mjs"), join(out, "results.json")], { stdio: "inherit" });
process.exit(t.status ?? 1);
