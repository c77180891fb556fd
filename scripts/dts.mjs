// Make tsc's declarations valid for every TypeScript consumer, whatever its module resolution: relative imports get
// the extension node16/nodenext require ("./sim" -> "./sim.js", "./parse" -> "./parse/index.js"), and the
// AssemblyScript number types the ABI files under assembly/abi/ are written in (u32, i32) become `number`, which
// is what they are on the JavaScript side. The WebAssembly types they name (Module, Memory) are declared by
// TypeScript's DOM library only: a Node program compiled without it gets opaque ones from wasm-globals.d.ts, which
// every entry's declarations reference (empty interfaces, so with the DOM library they merge into the full ones).
// Used by scripts/build.mjs.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

function walk(dir, out = []) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out); else if (p.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** The specifier with the extension of the declaration file it names, or unchanged (a package, or already done). */
function withExtension(spec, fromFile) {
  if (!spec.startsWith("./") && !spec.startsWith("../")) return spec;
  if (/\.(js|mjs|cjs|json)$/.test(spec)) return spec;
  const base = join(dirname(fromFile), spec);
  if (existsSync(base + ".d.ts")) return spec + ".js";
  if (existsSync(join(base, "index.d.ts"))) return spec + "/index.js";
  throw new Error(`${fromFile}: cannot resolve ${spec} among the declarations`);
}

const WASM_GLOBALS = `// The WebAssembly types gmemsim's declarations name. TypeScript declares them in its DOM and webworker libraries;
// without those (a Node program with @types/node) these opaque ones stand in. Being empty, they merge into the full
// declarations when a library has them.
declare global {
  namespace WebAssembly {
    interface Module {}
    interface Memory {}
  }
}
export {};
`;

/** Copy the declarations under `from` to `to`, fixed; `entries` (paths under `to`) reference wasm-globals.d.ts. */
export function fixDeclarations(from, to, entries = []) {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  writeFileSync(join(to, "wasm-globals.d.ts"), WASM_GLOBALS);
  for (const file of walk(from)) {
    let text = readFileSync(file, "utf8");
    text = text.replace(/(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(["'])([^"']+)\2/g,
      (_m, pre, q, spec) => `${pre}${q}${withExtension(spec, file)}${q}`);
    text = text.replace(/\b(u32|i32)\b(?!["'])/g, "number");
    const dest = join(to, relative(from, file));
    if (entries.includes(relative(from, file))) {
      text = `/// <reference path="${relative(dirname(dest), join(to, "wasm-globals.d.ts"))}" />\n${text}`;
    }
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, text);
  }
}
