#!/usr/bin/env node
// npm run bench [-- --quick] [-- --filter NAME]: run the benchmark through the CLI, write bench/results.json and
// bench/chart.svg, and regenerate the README's results table from that JSON.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const r = spawnSync(process.execPath, [join(root, "bin/gmemsim.js"), "bench", "--json", join(root, "bench/results.json"),
  "--svg", join(root, "bench/chart.svg"), ...args], { stdio: "inherit" });
if (r.status !== 0) process.exit(r.status ?? 1);
const t = spawnSync(process.execPath, [join(root, "scripts/bench-readme.mjs")], { stdio: "inherit" });
process.exit(t.status ?? 1);
