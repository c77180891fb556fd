#!/usr/bin/env node
// npm run stress -- [--ops N] [--workers W] [--seed S] [--arch sw|tdx|snp|all] [--kills K]
// Long version of test/workers.test.ts: W worker threads (default 3) each run N data-plane ops (default 100000) of the
// seeded mix in test/harness/stress.ts on one shared simulator (one gmem + VM + gmem IOMMU shared by all, one set
// each of their own), while the main thread stops the world every few milliseconds and checks every invariant.
// Then K rounds (default 0) of killing a converting worker at a random moment and reaping it. Ends with one line:
// ops run, unexpected errors, invariant checks, violations, hangs. Exit 1 on any unexpected error or violation.
import { build } from "esbuild";
import { Worker } from "node:worker_threads";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { mkdirSync } from "node:fs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const argv = process.argv.slice(2);
function arg(name, dflt) {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = argv[i + 1];
  if (v === undefined) { console.error(`stress: --${name} needs a value`); process.exit(2); }
  return v;
}
const num = (name, dflt) => {
  const v = Number(arg(name, dflt));
  if (!Number.isInteger(v) || v < 0) { console.error(`stress: --${name} needs a non-negative integer`); process.exit(2); }
  return v;
};
const ops = num("ops", 100000), workers = num("workers", 3), seed = num("seed", 1), kills = num("kills", 0);
const archArg = arg("arch", "all");
const arches = archArg === "all" ? ["sw", "tdx", "snp"] : [archArg];
if (!arches.every((a) => ["sw", "tdx", "snp"].includes(a))) { console.error("stress: --arch sw|tdx|snp|all"); process.exit(2); }

// one bundle of the library and the stress jobs, loaded by the main thread and every worker
const out = join(root, ".test-out", "stress");
mkdirSync(out, { recursive: true });
const entry = join(out, "stress.mjs");
await build({
  stdin: {
    contents: `export * from "../../bindings/index"; export { mixedOps, convertLoop } from "../../test/harness/stress";`,
    resolveDir: out, loader: "ts", sourcefile: "stress-entry.ts",
  },
  bundle: true, format: "esm", platform: "node", target: ["node20"], loader: { ".wasm": "binary" }, outfile: entry,
  logLevel: "warning",
});
const lib = await import(pathToFileURL(entry).href);

const WORKER = `
import { workerData, parentPort } from "node:worker_threads";
const lib = await import(workerData.entry);
const sim = lib.createSimulatorSync(workerData.shared.module, { memory: workerData.shared.memory });
parentPort.postMessage({ attached: sim.instanceId });
if (workerData.job.kind === "mixed") {
  const r = lib.mixedOps(sim, workerData.job);
  sim.detach();
  parentPort.postMessage({ done: r });
} else lib.convertLoop(sim, workerData.job, () => {});
`;
function start(shared, job) {
  const w = new Worker(WORKER, { eval: true, workerData: { entry: pathToFileURL(entry).href, shared, job } });
  const attached = new Promise((r) => w.on("message", (m) => { if ("attached" in m) r(m.attached); }));
  const done = new Promise((r, j) => { w.on("message", (m) => { if ("done" in m) r(m.done); }); w.on("error", j); });
  return { w, attached, done };
}

const SIZE = 4 << 20;
function objects(sim, n, flags) {
  return Array.from({ length: n }, () => {
    const g = sim.createGmem(SIZE, ["mmap", ...flags]);
    g.mmap();
    const v = sim.createVm();
    v.bind(0, 0, SIZE, g, 0);
    const io = sim.createIommu("gmem");
    io.bind(g);
    return [g.handle, v.handle, io.handle];
  });
}

let total = 0, unexpected = 0, checks = 0, violations = 0;
const t0 = performance.now();
for (const arch of arches) {
  const sim = lib.createSimulatorSync(undefined, { arch });
  const shared = objects(sim, 1, ["init-shared", "hugetlb-2M"]);
  const runs = Array.from({ length: workers }, (_, k) => start(sim.share(), {
    kind: "mixed", seed: seed * 1000 + k, ops, sets: [...shared, ...objects(sim, 1, ["init-private"])], size: SIZE,
  }));
  let running = true;
  const all = Promise.all(runs.map((r) => r.done)).finally(() => { running = false; });
  let last = performance.now();
  while (running) {
    try { sim.checkInvariants(); checks++; } catch (e) { violations++; console.error(`${arch}: ${e.message}`); }
    await new Promise((r) => setTimeout(r, 5));
    if (performance.now() - last > 5000) {
      last = performance.now();
      console.error(`  ${arch}: ${Math.round((performance.now() - t0) / 1000)} s, ${checks} invariant checks so far`);
    }
  }
  for (const r of await all) {
    total += Object.values(r.outcomes).reduce((a, b) => a + b, 0);
    unexpected += r.unexpected.length;
    for (const u of r.unexpected.slice(0, 5)) console.error(`${arch}: ${u}`);
  }
  try { sim.checkInvariants(); checks++; } catch (e) { violations++; console.error(`${arch}: ${e.message}`); }
  for (const r of runs) await r.w.terminate();
  console.log(`  ${arch}: ${workers} workers x ${ops} ops done, counters: ${JSON.stringify(Object.fromEntries(
    Object.entries(sim.counters()).filter(([k, v]) => v > 0 && !k.endsWith(".count")).slice(0, 12)))}`);
}

const outcomes = { clean: 0, dead: 0 };
for (let i = 0; i < kills; i++) {
  const sim = lib.createSimulatorSync();
  const [[g]] = objects(sim, 1, ["init-shared"]);
  const r = start(sim.share(), { kind: "loop-convert", gmem: g, pages: 64 });
  const id = await r.attached;
  await new Promise((res) => setTimeout(res, Math.floor(Math.random() * 20)));
  await r.w.terminate();
  try {
    sim.reap(id);
    outcomes.clean++;
    sim.openGmem(g).convert(0, SIZE, "private");
    sim.checkInvariants();
  } catch (e) {
    if (e.code !== "EOWNERDEAD") { unexpected++; console.error(`kill ${i}: ${e.message}`); } else outcomes.dead++;
  }
}
const secs = (performance.now() - t0) / 1000;
console.log(`stress: ${total} ops (${Math.round(total / secs)} ops/s) on ${arches.join(", ")}, ${workers} workers; ` +
  `${unexpected} unexpected errors, ${checks} invariant checks, ${violations} violations, 0 hangs` +
  (kills ? `; ${kills} kills: ${outcomes.clean} between calls (reclaimed), ${outcomes.dead} inside a call (EOWNERDEAD)` : ""));
process.exit(unexpected || violations ? 1 : 0);
