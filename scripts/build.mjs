#!/usr/bin/env node
// Build everything a user or a test needs, from the sources:
//   build/{debug,release}.wasm (+ .wat)   the AssemblyScript core, both asconfig targets
//   dist/index.js                          the binding with both cores embedded (esbuild, ESM, es2022/node20)
//   dist/view.js                           gmemsim/view: <gmem-view>, on top of ./index.js
//   dist/examples.json                     examples/*.json by name, for the playground (playground/index.html)
//   dist/cli.js                            the gmemsim command
//   dist/types/**.d.ts                     declarations (tsc)
// Usage: node scripts/build.mjs [--no-types]
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const t0 = Date.now();

/** The memory map (assembly/abi/layout.ts), read the way the binding reads it: one source for asc's flags too. */
async function loadLayout() {
  const r = await build({ entryPoints: ["assembly/abi/layout.ts"], bundle: true, format: "esm", write: false, logLevel: "warning" });
  return import("data:text/javascript;base64," + Buffer.from(r.outputFiles[0].text).toString("base64"));
}

async function compileCore(target, L) {
  const asc = await import("assemblyscript/asc");
  const { error, stderr } = await asc.main(["assembly/index.ts", "--config", "asconfig.json", "--target", target,
    "--memoryBase", String(L.MEMORY_BASE), "--initialMemory", String(L.INITIAL_WASM_PAGES),
    "--maximumMemory", String(L.MAX_WASM_PAGES)],
    { stdout: process.stdout, stderr: process.stderr });
  if (error) {
    console.error(stderr.toString());
    throw new Error(`asc (${target}) failed: ${error.message}`);
  }
}

export const esbuildCommon = {
  bundle: true,
  format: "esm",
  target: ["es2022", "node20", "chrome120"],
  loader: { ".wasm": "binary" },
  logLevel: "warning",
  legalComments: "none",
};

process.chdir(root);
mkdirSync("build", { recursive: true });
const layout = await loadLayout();
await compileCore("debug", layout);
await compileCore("release", layout);
const wat = readFileSync("build/release.wat", "utf8");
if (/__new|__alloc/.test(wat)) throw new Error("release core contains managed allocation (__new/__alloc)");

await build({ ...esbuildCommon, entryPoints: { index: "bindings/index.ts" }, outdir: "dist", platform: "neutral" });
// gmemsim/view imports the package entry as "../index": dist/view.js loads ./index.js rather than a second copy of
// the binding and its cores, so a page's simulator and its view share one set of classes
const viewSharesBinding = {
  name: "gmemsim-view-shares-the-binding",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/index$/ }, (a) => (/bindings[\\/]view[\\/]/.test(a.importer) ? { path: "./index.js", external: true } : undefined));
  },
};
await build({ ...esbuildCommon, entryPoints: { view: "bindings/view/index.ts" }, outdir: "dist", platform: "neutral", plugins: [viewSharesBinding] });
await build({ ...esbuildCommon, entryPoints: { "bench-report": "bench/report.ts" }, outdir: "dist", platform: "neutral" });
await build({
  ...esbuildCommon, entryPoints: { cli: "bindings/cli.ts" }, outdir: "dist", platform: "node",
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});

// the playground's list of examples (playground/index.html loads it; the loopback server has no directory listing)
const examples = {};
for (const f of readdirSync("examples").filter((x) => x.endsWith(".json")).sort()) examples[f] = readFileSync(join("examples", f), "utf8");
mkdirSync("dist", { recursive: true });
writeFileSync("dist/examples.json", JSON.stringify(examples) + "\n");

if (!args.has("--no-types")) {
  const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"],
    { stdio: "inherit" });
  if (tsc.status !== 0) throw new Error("tsc failed");
  mkdirSync("dist", { recursive: true });
  writeFileSync("dist/index.d.ts", 'export * from "./types/bindings/index";\n');
  writeFileSync("dist/view.d.ts", 'export * from "./types/bindings/view/index";\n');
}
console.log(`build: core (debug + release), dist/index.js, dist/view.js, dist/cli.js${args.has("--no-types") ? "" : ", types"} in ${Date.now() - t0} ms`);
