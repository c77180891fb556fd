#!/usr/bin/env node
// npm test: build the core and binding, then run every test/*.test.ts through the binding twice - in Node and in
// headless Chromium (Debian's /usr/bin/chromium, installed with apt-get when missing, driven by playwright-core on
// a loopback server that sends COOP/COEP so the page is cross-origin isolated). Ends with "N passed, N failed".
// Options: --node-only, --browser-only, --no-build, --filter REGEX
import { build } from "esbuild";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const argv = process.argv.slice(2);
const args = new Set(argv);
// --filter RE: only the test files whose name matches (for working on one area)
const filterAt = argv.indexOf("--filter");
const filter = filterAt >= 0 ? new RegExp(argv[filterAt + 1]) : null;
const out = ".test-out";
const common = {
  bundle: true, format: "esm", target: ["es2022", "node20", "chrome120"], loader: { ".wasm": "binary" },
  logLevel: "warning", sourcemap: "inline",
  // the package is sideEffects: false for its users; the test files are nothing but side effects
  ignoreAnnotations: true,
};

function ansiStrip(s) { return s.replace(/\x1b\[[0-9;]*m/g, ""); }

/** uvu's summary -> { total, passed } (null when it printed none, i.e. the run died). */
function parseUvu(text) {
  const t = ansiStrip(text);
  const total = /Total:\s+(\d+)/.exec(t);
  const passed = /Passed:\s+(\d+)/.exec(t);
  if (!total || !passed) return null;
  return { total: +total[1], passed: +passed[1] };
}

/** esbuild plugin: `import scenarios from "gmemsim-test-scenarios"` = { path: text } of every scenario file. */
const scenariosPlugin = {
  name: "gmemsim-test-scenarios",
  setup(b) {
    b.onResolve({ filter: /^gmemsim-test-scenarios$/ }, () => ({ path: "scenarios", namespace: "gmemsim-scn" }));
    b.onLoad({ filter: /.*/, namespace: "gmemsim-scn" }, () => {
      const files = {};
      for (const dir of ["examples", "test/selftests", "test/scenarios"]) {
        if (!existsSync(dir)) continue;
        for (const f of readdirSync(dir).filter((x) => x.endsWith(".json")).sort()) files[`${dir}/${f}`] = readFileSync(join(dir, f), "utf8");
      }
      return { contents: `export default ${JSON.stringify(files)};`, loader: "js" };
    });
  },
};

async function bundleTests(platform) {
  const files = readdirSync("test").filter((f) => f.endsWith(".test.ts") && (!filter || filter.test(f))).sort();
  const entry = ['import "./harness/uvu-setup";', ...files.map((f) => `import "./${f.replace(/\.ts$/, "")}";`),
    'export { exec } from "uvu";'].join("\n");
  const dir = join(out, platform);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const env = platform === "node" ? "test/harness/env-node.ts" : "test/harness/env-browser.ts";
  const ext = platform === "node" ? ".mjs" : ".js";
  const opts = { ...common, platform: platform === "node" ? "node" : "browser", alias: { "gmemsim-test-env": "./" + env },
    outExtension: { ".js": ext }, plugins: [scenariosPlugin] };
  await build({ ...opts, stdin: { contents: entry, resolveDir: "test", sourcefile: "all.ts", loader: "ts" },
    outfile: join(dir, "all" + ext) });
  const worker = platform === "node" ? "test/harness/worker-node.ts" : "test/harness/worker-browser.ts";
  await build({ ...opts, entryPoints: [worker], outfile: join(dir, (platform === "node" ? "worker-node" : "worker-browser") + ext) });
  return { dir, files };
}

function runNode(dir) {
  return new Promise((resolveRun) => {
    writeFileSync(join(dir, "run.mjs"), 'const m = await import("./all.mjs");\nawait m.exec();\n');
    const child = spawn(process.execPath, [join(dir, "run.mjs")], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.on("data", (d) => { text += d; process.stdout.write(d); });
    child.on("close", (code) => resolveRun({ text, code }));
  });
}

function ensureChromium() {
  const exe = "/usr/bin/chromium";
  if (existsSync(exe)) return exe;
  console.log("test: /usr/bin/chromium missing; installing Debian's chromium with apt-get");
  const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const pre = asRoot ? [] : ["sudo", "-n"];
  const run = (cmd) => spawnSync(pre.length ? pre[0] : cmd[0], pre.length ? [...pre.slice(1), ...cmd] : cmd.slice(1),
    { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  run(["apt-get", "update"]);
  const r = run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"]);
  if (r.status !== 0 || !existsSync(exe)) throw new Error("could not install chromium with apt-get");
  return exe;
}

async function runBrowser(dir) {
  const exe = ensureChromium();
  writeFileSync(join(dir, "index.html"), `<!doctype html><meta charset="utf-8"><title>gmemsim tests</title>
<script type="module">
try {
  const m = await import("./all.js");
  await m.exec();
} catch (e) { console.log("FATAL " + (e && e.stack || e)); }
globalThis.__uvuDone = true;
</script>`);
  const { chromium } = await import("playwright-core");
  // the command's file server (bindings/cli/server.ts), serving the test bundles and what the tests fetch
  const serverJs = join(out, "server.mjs");
  await build({ ...common, sourcemap: false, platform: "node", entryPoints: ["bindings/cli/server.ts"], outfile: serverJs });
  const { serve } = await import(pathToFileURL(resolve(serverJs)).href);
  const server = await serve({ root, port: 0, allow: [`${out}/browser/`, "dist/", "build/", "examples/", "test/", "playground/", "package.json", "scenario.schema.json"] });
  const port = server.address().port;
  const userDir = mkdtempSync(join(tmpdir(), "gmemsim-chromium-"));
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: exe, headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  let text = "";
  try {
    const page = await ctx.newPage();
    page.on("console", (msg) => { const t = msg.text(); text += t + "\n"; process.stdout.write(t + "\n"); });
    page.on("pageerror", (err) => { text += `pageerror ${err.message}\n`; process.stdout.write(`pageerror ${err.message}\n`); });
    await page.goto(`http://127.0.0.1:${port}/${dir}/index.html`);
    await page.waitForFunction(() => globalThis.__uvuDone === true, null, { timeout: 300000 });
    const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
    if (!isolated) text += "\nFATAL page is not cross-origin isolated\n";
  } finally {
    await ctx.close();
    server.close();
    rmSync(userDir, { recursive: true, force: true });
  }
  return { text };
}

const t0 = Date.now();
if (!args.has("--no-build")) {
  const r = spawnSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  if (r.status !== 0) { console.log("0 passed, 1 failed"); process.exit(1); }
}
let passed = 0, failed = 0;
const report = [];
function account(name, res, text) {
  const fatal = /FATAL/.test(text);
  if (!res || fatal || res.total === 0) {
    failed += 1 + (res ? res.total - res.passed : 0);
    passed += res ? res.passed : 0;
    const why = /FATAL.*/.exec(text)?.[0] ?? (res ? "" : "no summary");
    report.push(`${name}: did not finish${why ? ` (${why.slice(0, 200)})` : ""}`);
    return;
  }
  passed += res.passed;
  failed += res.total - res.passed;
  report.push(`${name}: ${res.passed}/${res.total}`);
}
// The house: types (tsc, noUnusedLocals), no unused import in the core, no import cycle and no oversized file
// (../shared/tools/import-cycles.mjs, next to the repository as in CI), the generated docs current, the packed
// package sound for its users (scripts/check-package.mjs). Each is one test.
if (!args.has("--browser-only") && !filter) {
  const checks = [
    ["typecheck", [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.check.json"]],
    ["unused imports", ["scripts/unused-imports.mjs", "assembly"]],
  ];
  const cycles = resolve(root, "../shared/tools/import-cycles.mjs");
  if (existsSync(cycles)) checks.push(["import cycles, file size", [cycles, "--max-lines", "400", "assembly", "bindings"]]);
  checks.push(["docs current (npm run docs)", ["scripts/docs.mjs", "--check"]]);
  checks.push(["package: publint, attw, consumers (npm run check:package)", ["scripts/check-package.mjs"]]);
  for (const [name, cmd] of checks) {
    const r = spawnSync(process.execPath, cmd, { encoding: "utf8" });
    const ok = r.status === 0;
    console.log(`house: ${name}: ${ok ? "ok" : "FAILED"}${ok ? "" : "\n" + r.stdout + r.stderr}`);
    if (ok) passed++; else failed++;
    report.push(`${name}: ${ok ? "ok" : "failed"}`);
  }
}
if (!args.has("--browser-only")) {
  const { dir } = await bundleTests("node");
  console.log("\n== Node " + process.version);
  const { text, code } = await runNode(dir);
  const res = parseUvu(text);
  account("node", res, code !== 0 && res && res.passed === res.total ? text + "\nFATAL exit " + code : text);
}
if (!args.has("--node-only")) {
  const { dir } = await bundleTests("browser");
  console.log("\n== Chromium (headless, cross-origin isolated)");
  try {
    const { text } = await runBrowser(dir);
    account("chromium", parseUvu(text), text);
  } catch (e) {
    console.log(`browser run failed: ${e.stack || e}`);
    failed += 1;
    report.push("chromium: could not run");
  }
}
console.log(`\n${report.join(", ")} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
