#!/usr/bin/env node
// npm run check:package: the package as a user gets it. Packs the tarball (npm pack: the build is reused when
// current), then
//   - its file list: what the README promises is there (LICENSE, docs, examples, the schema, declarations for every
//     entry), what users should not get is not (dev scripts, test-only types, the debug core's .wasm, sources);
//   - the default entry carries the release core and not the debug one; gmemsim/debug carries the debug one;
//   - publint (strict) and attw (the esm-only profile: the package is ESM, no CommonJS entry) find nothing;
//   - installed into a fresh project (npm install of the tarball, offline: it has no dependencies), TypeScript
//     consumers type-check under node16, nodenext and bundler resolution with @types/node only (no DOM library, no
//     skipLibCheck), and a Node consumer runs: both entries, the schema, core.wasm, and `npx gmemsim`.
// Prints the tarball's size and file count; exit 1 naming every problem. scripts/test.mjs runs it.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const problems = [];
const fail = (what) => problems.push(what);
const tmp = mkdtempSync(join(tmpdir(), "gmemsim-pack-"));
const keep = process.argv.includes("--keep");
let configs = {};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts, env: { ...process.env, NO_COLOR: "1", ...(opts.env ?? {}) } });
  return { code: r.status ?? -1, out: (r.stdout ?? "") + (r.stderr ?? "") };
}
const node = (args, opts) => run(process.execPath, args, opts);
const bin = (pkg, file) => join(root, "node_modules", pkg, file);

try {
  // ---- pack -------------------------------------------------------------------------------------------------------
  const packed = run("npm", ["pack", "--json", "--pack-destination", tmp], { cwd: root });
  const json = packed.out.slice(packed.out.indexOf("[\n"));
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.out}`);
  const info = JSON.parse(json.slice(0, json.lastIndexOf("]") + 1))[0];
  const tarball = join(tmp, info.filename);
  const files = info.files.map((f) => f.path);
  const has = (p) => files.includes(p);

  for (const f of ["LICENSE", "README.md", "package.json", "bin/gmemsim.js", "dist/index.js", "dist/index.d.ts", "dist/debug.js",
    "dist/debug.d.ts", "dist/cli.js", "build/release.wasm", "scenario.schema.json", "docs/scenarios.md", "docs/api/README.md",
    "examples/README.md", "examples/browser/index.html"]) if (!has(f)) fail(`the tarball lacks ${f}`);
  const examples = spawnSync("git", ["ls-files", "examples"], { cwd: root, encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  for (const e of examples) if (!has(e)) fail(`the tarball lacks ${e}`);
  const banned = [/^dist\/bench-report/, /^dist\/types\/(test|bench)\//, /^build\/debug/, /\.wat$/, /\.map$/, /stamps\.json$/,
    /^(test|assembly|bindings|bench|scripts)\//, /^\.|\/\./];
  for (const f of files) if (banned.some((b) => b.test(f))) fail(`the tarball should not ship ${f}`);

  // ---- the cores: release in the default entry's import graph, debug only in gmemsim/debug -----------------------
  const dist = (p) => readFileSync(join(root, p), "utf8");
  const graph = (entry) => {
    const seen = new Set(), queue = [entry];
    while (queue.length) {
      const f = queue.pop();
      if (seen.has(f)) continue;
      seen.add(f);
      for (const m of dist(f).matchAll(/(?:from|import)\s*["'](\.\/[^"']+)["']/g)) queue.push(join(dirname(f), m[1]));
    }
    return [...seen].map(dist).join("\n");
  };
  // a stretch of each core's bytes as base64 (esbuild embeds .wasm files base64), aligned on 3 bytes
  const mark = (wasm) => readFileSync(join(root, wasm)).subarray(3000, 3060).toString("base64");
  const release = mark("build/release.wasm"), debug = mark("build/debug.wasm");
  const indexGraph = graph("dist/index.js"), debugGraph = graph("dist/debug.js");
  if (!indexGraph.includes(release)) fail("dist/index.js does not embed the release core");
  if (indexGraph.includes(debug)) fail("dist/index.js embeds the debug core");
  if (!debugGraph.includes(debug)) fail("dist/debug.js does not embed the debug core");

  // ---- publint, attw --------------------------------------------------------------------------------------------
  const pl = node([bin("publint", "src/cli.js"), "run", tarball, "--strict"], { cwd: tmp });
  if (pl.code !== 0 || !/All good!/.test(pl.out)) fail(`publint:\n${pl.out}`);
  const attw = node([bin("@arethetypeswrong/cli", "dist/index.js"), tarball, "--format", "ascii", "--profile", "esm-only",
    "--exclude-entrypoints", "core.wasm", "scenario.schema.json"], { cwd: tmp });
  if (attw.code !== 0) fail(`attw:\n${attw.out}`);

  // ---- a consumer project ---------------------------------------------------------------------------------------
  const app = join(tmp, "app");
  mkdirSync(join(app, "src"), { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  const inst = run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], { cwd: app });
  if (inst.code !== 0) throw new Error(`npm install of the tarball failed:\n${inst.out}`);
  writeFileSync(join(app, "src/use.ts"), `import { createSimulator, createSimulatorSync, GmemError, type Simulator, type SimEvent } from "gmemsim";
import * as debug from "gmemsim/debug";
export async function use(): Promise<string[]> {
  const sim: Simulator = await createSimulator({ arch: "tdx", checks: true });
  const g = sim.createGmem(4 * 2 ** 20, ["mmap", "init-private", "hugetlb-2M"]);
  const vm = sim.createVm();
  vm.bind(0, 0, 4 * 2 ** 20, g, 0);
  const a = vm.access(0x1000, { private: true });
  let result = "result" in a ? a.result : "paused";
  try { g.convert(1, 4096, "private"); } catch (e) { if (e instanceof GmemError) result += e.code; }
  const events: SimEvent[] = sim.events.read().events;
  const d: Simulator = debug.createSimulatorSync({ arch: "snp" });
  const x: Simulator = createSimulatorSync(sim.share().module, { memory: sim.share().memory });
  const memory: WebAssembly.Memory = sim.share().memory;
  return [result, String(events.length), d.flavor, x.flavor, String(memory !== undefined)];
}
`);
  configs = {
    node16: { module: "node16", moduleResolution: "node16" },
    nodenext: { module: "nodenext", moduleResolution: "nodenext" },
    bundler: { module: "esnext", moduleResolution: "bundler" },
    // a page's code: the DOM library's full WebAssembly types merge with the package's stand-ins
    "bundler-dom": { module: "esnext", moduleResolution: "bundler", lib: ["es2022", "dom"], types: [] },
  };
  writeFileSync(join(app, "src/page.ts"), `import { createSimulator } from "gmemsim";
export async function page(): Promise<number> { return (await createSimulator()).share().memory.buffer.byteLength; }
`);
  for (const [name, mode] of Object.entries(configs)) {
    writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify({
      compilerOptions: { target: "es2022", lib: ["es2022"], types: ["node"], typeRoots: [join(root, "node_modules/@types")],
        strict: true, noEmit: true, skipLibCheck: false, ...mode },
      files: ["src/use.ts", ...(name.endsWith("-dom") ? ["src/page.ts"] : [])],
    }));
    const tsc = node([bin("typescript", "bin/tsc"), "-p", `tsconfig.${name}.json`], { cwd: app });
    if (tsc.code !== 0) fail(`a consumer does not type-check under ${name}:\n${tsc.out}`);
  }
  writeFileSync(join(app, "run.mjs"), `import { createSimulator, GmemError, coreBytes } from "gmemsim";
import * as debug from "gmemsim/debug";
import schema from "gmemsim/scenario.schema.json" with { type: "json" };
import { readFileSync } from "node:fs";
const sim = await createSimulator();
let refused = "";
try { await createSimulator({ debug: true }); } catch (e) { refused = e.code; }
const d = await debug.createSimulator();
const wasm = readFileSync(new URL(import.meta.resolve("gmemsim/core.wasm")));
const same = Buffer.compare(wasm, Buffer.from(coreBytes())) === 0;
console.log(JSON.stringify({ release: sim.flavor, debug: d.flavor, sharedClasses: debug.GmemError === GmemError,
  schema: schema.title, same, refused }));
`);
  // the default entry refuses { debug: true } until gmemsim/debug is loaded: run that check before importing it
  writeFileSync(join(app, "refuse.mjs"), `import { createSimulator } from "gmemsim";
try { await createSimulator({ debug: true }); console.log("accepted"); } catch (e) { console.log(e.code); }
`);
  const ran = node(["run.mjs"], { cwd: app });
  const want = { release: "release", debug: "debug", sharedClasses: true, schema: "gmemsim scenario (format 1)", same: true, refused: "" };
  if (ran.code !== 0 || ran.out.trim() !== JSON.stringify(want)) fail(`the Node consumer: ${ran.out}`);
  const refused = node(["refuse.mjs"], { cwd: app });
  if (refused.out.trim() !== "ENOENT") fail(`{ debug: true } without gmemsim/debug: ${refused.out}`);
  const cli = run("npx", ["--offline", "gmemsim", "run", "node_modules/gmemsim/examples/to-shared-4k.json"], { cwd: app });
  if (cli.code !== 0 || !/PASS: \d+ steps/.test(cli.out)) fail(`npx gmemsim run in the consumer:\n${cli.out.slice(-1500)}`);
  const ver = run("npx", ["--offline", "gmemsim", "--version"], { cwd: app });
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  if (ver.out.trim() !== `gmemsim ${version}`) fail(`npx gmemsim --version: ${ver.out}`);

  console.log(`package: ${info.filename} ${(info.size / 1024).toFixed(1)} kB packed, ${(info.unpackedSize / 1024).toFixed(1)} kB ` +
    `unpacked, ${files.length} files; publint, attw (esm-only), ${Object.keys(configs).join("/")} consumers, Node consumer, npx gmemsim: ` +
    `${problems.length ? `${problems.length} problem(s)` : "ok"}`);
} catch (e) {
  fail(e.message);
} finally {
  if (keep) console.log(`kept ${tmp}`); else rmSync(tmp, { recursive: true, force: true });
}
if (problems.length) {
  for (const p of problems) console.log(`check:package: ${p}`);
  process.exit(1);
}
