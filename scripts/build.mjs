#!/usr/bin/env node
// Build what a user or a test needs, from the sources, doing only what changed:
//   core     build/{debug,release}.wasm (+ .wat)   the AssemblyScript core, both asconfig targets
//   floor    build/floor.wasm  the bench's C-like floor kernel (bench/floor/kernel.ts), a module of its own
//   bundle   dist/index.js     the binding with the release core embedded (esbuild, ESM, es2022/node20/chrome120)
//            dist/debug.js     `gmemsim/debug`: the same API, plus the debug core (asserts kept)
//            dist/view.js      `gmemsim/view`: <gmem-view> (the binding it uses is the chunk index.js uses)
//            dist/examples.json  examples/*.json by name, for the playground (the server has no directory listing)
//            dist/cli.js       the gmemsim command (its commands load as chunks when used)
//            dist/chunks/      code the three share (one copy of the binding: `gmemsim` and `gmemsim/debug` agree)
//            dist/*.d.ts, dist/types/   declarations (tsc, then scripts/dts.mjs makes them valid under node16)
//            scenario.schema.json       the JSON Schema of scenario files (bindings/scenario/schema.ts)
// Each stage hashes its inputs (file contents, tool versions) and is skipped when the hash matches the one its
// last run recorded in build/stamps.json and its outputs are there: `npm ci`, `npm test` and `npm pack` build once.
// Usage: node scripts/build.mjs [--force] [--no-types]
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fixDeclarations } from "./dts.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const t0 = Date.now();
process.chdir(root);

export const esbuildCommon = {
  bundle: true,
  format: "esm",
  target: ["es2022", "node20", "chrome120"],
  loader: { ".wasm": "binary" },
  logLevel: "warning",
  legalComments: "none",
};

/** Every file under `paths` (files or directories), sorted. */
function files(paths) {
  const out = [];
  const walk = (p) => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
    else out.push(p);
  };
  for (const p of paths) walk(p);
  return out.sort();
}

/** A hash of the files' paths and contents and of `extra` strings. */
function hashOf(paths, extra = []) {
  const h = createHash("sha256");
  for (const f of files(paths)) h.update(f).update("\0").update(readFileSync(f)).update("\0");
  for (const x of extra) h.update(x).update("\0");
  return h.digest("hex").slice(0, 16);
}

const version = (pkg) => JSON.parse(readFileSync(join("node_modules", pkg, "package.json"), "utf8")).version;
const stampsFile = "build/stamps.json";
const stamps = existsSync(stampsFile) ? JSON.parse(readFileSync(stampsFile, "utf8")) : {};
const done = [];

/** Run `fn` unless the stage's inputs hash as last time and its outputs exist. */
async function stage(name, inputs, extra, outputs, fn) {
  const h = hashOf(inputs, extra);
  if (!args.has("--force") && stamps[name] === h && outputs.every((o) => existsSync(o))) {
    done.push(`${name} up to date`);
    return;
  }
  const t = Date.now();
  delete stamps[name];
  writeFileSync(stampsFile, JSON.stringify(stamps, null, 1) + "\n"); // a stage that fails to finish leaves no stamp
  await fn();
  stamps[name] = h;
  writeFileSync(stampsFile, JSON.stringify(stamps, null, 1) + "\n");
  done.push(`${name} built in ${Date.now() - t} ms`);
}

/** The memory map (assembly/abi/layout.ts), read the way the binding reads it: one source for asc's flags too. */
async function loadModule(entry) {
  const r = await build({ entryPoints: [entry], bundle: true, format: "esm", write: false, logLevel: "warning",
    loader: { ".wasm": "empty" } });
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

mkdirSync("build", { recursive: true });
const CORES = ["build/debug.wasm", "build/release.wasm"];

await stage("core", ["assembly", "asconfig.json", "scripts/build.mjs"], [version("assemblyscript")], CORES, async () => {
  const layout = await loadModule("assembly/abi/layout.ts");
  await compileCore("debug", layout);
  await compileCore("release", layout);
  const wat = readFileSync("build/release.wat", "utf8");
  if (/__new|__alloc/.test(wat)) throw new Error("release core contains managed allocation (__new/__alloc)");
});

// the bench's floor kernel (bench/floor/kernel.ts): its own module and unshared memory, none of the core's flags
await stage("floor", ["bench/floor", "scripts/build.mjs"], [version("assemblyscript")], ["build/floor.wasm"], async () => {
  const asc = await import("assemblyscript/asc");
  const { error, stderr } = await asc.main(["bench/floor/kernel.ts", "--config", "bench/floor/asconfig.json",
    "-O3", "--noAssert", "--runtime", "stub", "--use", "abort=", "-o", "build/floor.wasm"],
  { stdout: process.stdout, stderr: process.stderr });
  if (error) { console.error(stderr.toString()); throw new Error(`asc (floor) failed: ${error.message}`); }
});

const types = !args.has("--no-types");
await stage(types ? "bundle" : "bundle-no-types",
  ["bindings", "bench", "test/reference", "assembly/abi", "examples", ...CORES, "build/floor.wasm", "package.json", "tsconfig.json",
    "tsconfig.types.json", "scripts/build.mjs", "scripts/dts.mjs"],
  [version("esbuild"), version("typescript")],
  ["dist/index.js", "dist/debug.js", "dist/view.js", "dist/cli.js", "dist/examples.json", "scenario.schema.json",
    ...(types ? ["dist/index.d.ts", "dist/view.d.ts"] : [])],
  async () => {
    rmSync("dist", { recursive: true, force: true });
    await build({
      ...esbuildCommon, platform: "neutral", splitting: true, outdir: "dist", chunkNames: "chunks/[name]-[hash]",
      entryPoints: { index: "bindings/index.ts", debug: "bindings/debug.ts", view: "bindings/view/index.ts", cli: "bindings/cli/index.ts" },
      external: ["node:*", "@assemblyscript/loader"], mainFields: ["module", "main"],
    });
    const examples = {};
    for (const f of readdirSync("examples").filter((x) => x.endsWith(".json")).sort()) examples[f] = readFileSync(join("examples", f), "utf8");
    writeFileSync("dist/examples.json", JSON.stringify(examples) + "\n");
    const { scenarioSchema } = await loadModule("bindings/scenario/schema.ts");
    const schema = JSON.stringify(scenarioSchema(), null, 1) + "\n";
    if (!existsSync("scenario.schema.json") || readFileSync("scenario.schema.json", "utf8") !== schema) {
      writeFileSync("scenario.schema.json", schema);
    }
    if (types) {
      const tmp = "build/types";
      rmSync(tmp, { recursive: true, force: true });
      const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.types.json",
        "--outDir", tmp], { stdio: "inherit" });
      if (tsc.status !== 0) throw new Error("tsc failed");
      fixDeclarations(tmp, "dist/types", ["bindings/index.d.ts", "bindings/debug.d.ts", "bindings/view/index.d.ts"]);
      writeFileSync("dist/index.d.ts", 'export * from "./types/bindings/index.js";\n');
      writeFileSync("dist/debug.d.ts", 'export * from "./types/bindings/debug.js";\n');
      writeFileSync("dist/view.d.ts", 'export * from "./types/bindings/view/index.js";\n');
    }
  });
// the no-types bundle and the full one write the same dist/: only the last one built stays valid
if (types) delete stamps["bundle-no-types"]; else delete stamps.bundle;
writeFileSync(stampsFile, JSON.stringify(stamps, null, 1) + "\n");

console.log(`build: ${done.join(", ")} (${Date.now() - t0} ms)`);
