#!/usr/bin/env node
// The gmemsim command: the CLI lives in dist/cli.js (built by `npm install` / `npm run build`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error("gmemsim: dist/cli.js is missing; run `npm install` (or `npm run build`) in the package first");
  process.exit(2);
}
await import(cli.href);
