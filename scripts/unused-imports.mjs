#!/usr/bin/env node
// Lists names a file imports and never uses (the core's compiler does not report them; tsc's noUnusedLocals covers
// the TypeScript side). Usage: node scripts/unused-imports.mjs [dir ...]; exit 1 when any is found.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
const dirs = process.argv.slice(2).length ? process.argv.slice(2) : ["assembly"];
const files = [];
const walk = (d) => { for (const n of readdirSync(d)) { const p = join(d, n); if (statSync(p).isDirectory()) walk(p); else if (n.endsWith(".ts") && !n.endsWith(".d.ts")) files.push(p); } };
dirs.forEach(walk);
let found = 0;
for (const f of files) {
  const src = readFileSync(f, "utf8");
  const body = src.replace(/import\s*(type\s*)?\{[^}]*\}\s*from\s*"[^"]*";/g, "").replace(/\/\/[^\n]*/g, "");
  for (const m of src.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"[^"]*";/g)) {
    for (let name of m[1].split(",").map((x) => x.trim()).filter(Boolean)) {
      name = name.replace(/^type\s+/, "").split(/\s+as\s+/).pop();
      if (!new RegExp(`\\b${name}\\b`).test(body)) { console.log(`${f}: ${name}`); found++; }
    }
  }
}
process.exit(found ? 1 : 0);
