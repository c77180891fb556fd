#!/usr/bin/env node
// npm run fuzz -- --ops N --seed S [--workers W] [--commands C]
// Long differential fuzz of the Wasm model against the reference model (test/fuzz/): bundles the harness
// with esbuild (as scripts/test.mjs bundles the tests: alias gmemsim-test-env, .wasm as binary), runs N ops in
// total split over W worker processes (default: one per core, at most 2), prints progress and ops/s, writes every
// shrunk failure to .test-out/fuzz-failures/, and ends with one line: ops run, divergences, invariant violations.
// Exit status 1 on any divergence or invariant violation.
import { build } from "esbuild";
import { fork } from "node:child_process";
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v)) { console.error(`fuzz: --${name} needs a number`); process.exit(2); }
  return v;
}

// ---- worker: run a share of the ops and report --------------------------------------------------------------
if (process.env.GMEMSIM_FUZZ_WORKER) {
  const { fuzz } = await import(process.env.GMEMSIM_FUZZ_WORKER);
  const ops = arg("ops", 1000);
  const seed = arg("seed", 1);
  const rep = fuzz({
    seed, maxOps: ops, maxCommands: arg("commands", 60), coverage: process.argv.includes("--coverage"),
    writeFailure: (await import(process.env.GMEMSIM_FUZZ_WORKER)).writeFailure,
    progress: (s) => process.send({ progress: { ops: s.ops, divergences: s.divergences, invariantViolations: s.invariantViolations, sequences: s.sequences } }),
  });
  if (rep.results) for (const [k, n] of Object.entries(rep.results).sort()) console.log(`    ${k}: ${n}`);
  process.send({ done: { ops: rep.ops, sequences: rep.sequences, divergences: rep.divergences, invariantViolations: rep.invariantViolations, failures: rep.failures.map((f) => ({ name: f.name, why: f.why })) } });
  process.exit(0);
}

// ---- parent -----------------------------------------------------------------------------------------------------
const total = arg("ops", 1_000_000);
const seed = arg("seed", Date.now() % 1_000_000);
const workers = Math.max(1, arg("workers", Math.min(2, availableParallelism())));
const out = join(".test-out", "fuzz");
mkdirSync(out, { recursive: true });
const bundle = join(out, "fuzz.mjs");
await build({
  stdin: {
    contents: 'export { fuzz } from "./fuzz/index";\nexport { writeFailure } from "gmemsim-test-env";\n',
    resolveDir: "test", sourcefile: "fuzz-entry.ts", loader: "ts",
  },
  bundle: true, format: "esm", platform: "node", target: ["es2022", "node20"], loader: { ".wasm": "binary" },
  logLevel: "warning", sourcemap: "inline", alias: { "gmemsim-test-env": "./test/harness/env-node.ts" },
  outfile: bundle,
});

console.log(`fuzz: ${total} ops, seed ${seed}, ${workers} worker${workers > 1 ? "s" : ""}`);
const t0 = Date.now();
const state = Array.from({ length: workers }, () => ({ ops: 0, divergences: 0, invariantViolations: 0, sequences: 0 }));
const results = [];
let last = 0;
function line(final = false) {
  const ops = state.reduce((a, s) => a + s.ops, 0);
  const div = state.reduce((a, s) => a + s.divergences, 0);
  const inv = state.reduce((a, s) => a + s.invariantViolations, 0);
  const seqs = state.reduce((a, s) => a + s.sequences, 0);
  const secs = (Date.now() - t0) / 1000;
  const rate = Math.round(ops / Math.max(secs, 0.001));
  if (final) return { ops, div, inv, seqs, secs, rate };
  if (Date.now() - last < 5000) return null;
  last = Date.now();
  console.log(`  ${ops} ops (${seqs} sequences) in ${secs.toFixed(0)} s, ${rate} ops/s, ${div} divergences, ${inv} invariant violations`);
  return null;
}

const share = Math.ceil(total / workers);
await Promise.all(state.map((s, w) => new Promise((done) => {
  const child = fork(fileURLToPath(import.meta.url), ["--ops", String(share), "--seed", String(seed + w * 1_000_003), "--commands", String(arg("commands", 60)), ...(process.argv.includes("--coverage") ? ["--coverage"] : [])], {
    env: { ...process.env, GMEMSIM_FUZZ_WORKER: resolve(bundle) }, stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  child.on("message", (m) => {
    if (m.progress) { Object.assign(s, m.progress); line(); }
    if (m.done) { Object.assign(s, m.done); results.push(m.done); }
  });
  child.on("exit", (code) => {
    if (code !== 0) { s.divergences++; console.log(`  worker ${w} exited with ${code}`); }
    done();
  });
})));

for (const r of results) for (const f of r.failures) console.log(`  failure: .test-out/fuzz-failures/${f.name}\n    ${f.why.slice(0, 600)}`);
const f = line(true);
console.log(`fuzz: ${f.ops} ops run (${f.seqs} sequences) in ${f.secs.toFixed(1)} s, ${f.rate} ops/s; ${f.div} divergences, ${f.inv} invariant violations`);
process.exit(f.div === 0 && f.inv === 0 ? 0 : 1);
