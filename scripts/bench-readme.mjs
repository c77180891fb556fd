#!/usr/bin/env node
// Regenerate the benchmark table in README.md (between the bench markers) from a bench run's JSON
// (default bench/out/results.json, what `npm run bench` writes). `npm run bench -- --update-readme` runs this.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const from = process.argv[2] ?? join(root, "bench/out/results.json");
const rep = JSON.parse(readFileSync(from, "utf8"));
// bench/report.ts, bundled in memory (the package does not ship it as a module of its own)
const bundled = await build({ entryPoints: [join(root, "bench/report.ts")], bundle: true, format: "esm", write: false,
  logLevel: "warning", loader: { ".wasm": "empty" } });
const { markdownTable } = await import("data:text/javascript;base64," + Buffer.from(bundled.outputFiles[0].text).toString("base64"));
const readme = readFileSync(join(root, "README.md"), "utf8");
const begin = "<!-- bench:begin -->", end = "<!-- bench:end -->";
const i = readme.indexOf(begin), j = readme.indexOf(end);
if (i < 0 || j < i) { console.error("README.md has no bench markers"); process.exit(1); }
writeFileSync(join(root, "README.md"), readme.slice(0, i + begin.length) + "\n" + markdownTable(rep) + readme.slice(j));
console.log(`README.md: benchmark table regenerated from ${from}`);
