// gmemsim command line. Node only (the library itself runs anywhere).
import { readFileSync, writeFileSync } from "node:fs";
import { createSimulatorSync, type Simulator } from "./index";
import { GmemError } from "./errors";
import { parseScenario, ScenarioFormatError } from "./scenario/parse";
import { runScenario, allSteps, type RunReport, type StepOutcome } from "./scenario/run";
import { SEED_SCENARIO } from "./scenario/seed";
import { writeChromeTrace } from "./trace/file";
import { runBench, setLoader, setMachine, type BenchReport } from "../bench/main";
import { chartSvg, markdownTable } from "../bench/report";
import { createRequire } from "node:module";
import { exploreCommand } from "./explore/cli";
import { cpus } from "node:os";

const HELP = `gmemsim - an executable model of guest_memfd private/shared conversion

usage:
  gmemsim [run] [FILE.json] [--trace OUT.json] [--chrome-trace OUT.json] [--format text|json] [--debug-core]
        run a scenario (default: the seed's private->shared flow with a gmem-bound IOMMU, built in)
        exit 0: every expectation held, 1: one failed, 2: the file is malformed
  gmemsim explore FILE.json [--max-schedules N] [--seed S] [--shard I/N] [--out DIR] [--format text|json]
        every interleaving of the scenario's threads, invariants after every atomic step (explore --help)
        exit 0: every schedule held, 1: a schedule broke an invariant or an expectation, 2: malformed
  gmemsim bench [--quick] [--json OUT] [--svg OUT] [--filter NAME]
        conversion-throughput benchmark: ratios against the reference model and the memory floor
  gmemsim demo [--json]     build the model's structures and print what they cost
  gmemsim --help | --version
`;

function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}

interface DemoRow { what: string; guest: number; populated: number; heapBytes: number; folios: string }

/** Memory the model needs for a 1 TiB guest_memfd of 1 GiB folios and a 1 GiB one split to 4 KiB folios. */
export function demo(sim: Simulator): DemoRow[] {
  const rows: DemoRow[] = [];
  const heapBytes = () => sim.memoryStats().heapPages * 4096;

  let before = heapBytes();
  const big = sim.createGmem(2 ** 40, ["mmap", "init-private", "hugetlb-1G"]);
  for (let i = 0; i < big.npages; i += 1 << 18) big.allocFolio(i);
  big.check();
  rows.push({ what: "1 TiB guest_memfd, hugetlb-1G, every 1 GiB folio allocated", guest: big.size,
    populated: big.populated * 4096, heapBytes: heapBytes() - before, folios: "1024 x order 18" });

  before = heapBytes();
  const small = sim.createGmem(2 ** 30, ["mmap", "init-private", "hugetlb-1G"]);
  small.allocFolio(0);
  small.splitFolio(0);
  small.check();
  rows.push({ what: "1 GiB guest_memfd, hugetlb-1G, folio split to 4 KiB", guest: small.size,
    populated: small.populated * 4096, heapBytes: heapBytes() - before, folios: "262144 x order 0" });

  before = heapBytes();
  const flat = sim.createGmem(2 ** 30, ["mmap", "init-shared"]);
  for (let i = 0; i < flat.npages; i++) flat.allocFolio(i);
  flat.check();
  rows.push({ what: "1 GiB guest_memfd, 4 KiB pages, every page allocated", guest: flat.size,
    populated: flat.populated * 4096, heapBytes: heapBytes() - before, folios: "262144 x order 0" });

  const pt = sim.createPageTable();
  before = heapBytes();
  for (let g = 0; g < 262144; g++) pt.map(g, 0x100 + g, 1);
  pt.check();
  rows.push({ what: "page table mapping 1 GiB at 4 KiB", guest: 2 ** 30, populated: 2 ** 30,
    heapBytes: heapBytes() - before, folios: `${pt.tables()} table pages` });
  return rows;
}

function fmtStep(s: StepOutcome, raw: unknown): string {
  const r = raw as Record<string, unknown>;
  const args = Object.entries(r).filter(([k]) => k !== "op" && k !== "expect" && k !== "comment" && k !== "note" &&
    k !== "sequence" && k !== "absent").map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : String(v)}`).join(" ");
  const res = s.result === 0 ? "ok" : String(s.result);
  const extra = [s.level ? `level ${s.level}` : "", s.value !== undefined ? `value ${s.value}` : "",
    s.errorOffset !== undefined ? `errorOffset 0x${s.errorOffset.toString(16)}` : ""].filter(Boolean).join(", ");
  const where = s.section === "threads" ? `${s.thread}[${s.index}]` : s.section === "finally" ? `finally[${s.index}]` : String(s.index);
  return `${where.padStart(3)} ${s.ok ? "ok  " : "FAIL"} ${s.op.padEnd(14)} ${args}` +
    (s.op.startsWith("check.") ? "" : `  -> ${res}${extra ? ` (${extra})` : ""}`);
}

function eventLine(ev: Record<string, unknown>): string {
  const f = Object.entries(ev).filter(([k]) => k !== "kind" && k !== "step" && k !== "seq").map(([k, v]) => `${k}=${String(v)}`).join(" ");
  return `${String(ev.kind)}${f ? ` ${f}` : ""}`;
}

function printReport(rep: RunReport, scnSteps: { raw: unknown }[]): void {
  const w = (x: string) => process.stdout.write(x + "\n");
  w(`scenario: ${rep.name || "(unnamed)"}  [arch ${rep.config.arch}, protocol ${rep.config.protocol}, invariants ${rep.config.invariants ? "on" : "off"}]`);
  rep.steps.forEach((s, i) => {
    w(fmtStep(s, scnSteps[i].raw));
    if (s.events.length) for (const ev of s.events) w(`        | ${eventLine(ev)}`);
  });
  if (rep.failure) {
    const f = rep.failure;
    w("");
    const at = f.section === "threads" ? `thread "${f.thread}" step ${f.index}` : f.section === "finally" ? `finally step ${f.index}` : `step ${f.index}`;
    w(`FAILED at ${at} (${f.op})`);
    w(`  expected: ${f.expected}`);
    w(`  got:      ${f.got}`);
    const prev = [...rep.steps].reverse().find((s) => s.events.length);
    if (prev) {
      w(`  last events (step ${prev.index}):`);
      for (const ev of prev.events.slice(-12)) w(`    ${eventLine(ev)}`);
    }
  }
  w("");
  w(`final state:`);
  for (const g of rep.final.gmems) {
    const runs = g.runs.map((r) => `[${r.start}, ${r.end}) ${r.shared ? "shared" : "private"}`).join(", ");
    w(`  gmem ${g.id}: ${g.size / 4096} pages, populated ${g.populated}, folios huge ${g.folios.huge} / 4K ${g.folios.small}; ${runs}`);
  }
  for (const v of rep.final.vms) {
    w(`  vm ${v.id}: private SPTEs 4K ${v.private["4K"]} 2M ${v.private["2M"]} 1G ${v.private["1G"]}, shared 4K ${v.shared["4K"]}; ` +
      `mmu_invalidate_seq ${v.seq}, TLB flushes ${v.tlbFlushes}`);
  }
  const stats = Object.entries(rep.stats).filter(([, n]) => n !== 0).map(([k, n]) => `${k} ${n}`).join(", ");
  w(`  events: ${stats || "none"}`);
  w("");
  w(rep.ok ? `PASS: ${rep.steps.length} steps` : `FAIL: step ${rep.steps.length - 1} of ${scnSteps.length}`);
}

/** gmemsim run: 0 every expectation held, 1 one failed, 2 malformed. */
function run(args: string[]): number {
  let file: string | undefined, trace: string | undefined, chromeTrace: string | undefined, format = "text", debugCore = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--trace") trace = args[++i];
    else if (a === "--chrome-trace") chromeTrace = args[++i];
    else if (a === "--format") format = args[++i];
    else if (a === "--debug-core") debugCore = true;
    else if (a.startsWith("--")) { process.stderr.write(`gmemsim run: unknown option ${a}\n`); return 2; }
    else if (file === undefined) file = a;
    else { process.stderr.write(`gmemsim run: one file at a time\n`); return 2; }
  }
  if (format !== "text" && format !== "json") { process.stderr.write(`gmemsim run: --format text|json\n`); return 2; }
  if (trace === undefined && args.includes("--trace")) { process.stderr.write(`gmemsim run: --trace needs a file\n`); return 2; }
  if (chromeTrace === undefined && args.includes("--chrome-trace")) { process.stderr.write(`gmemsim run: --chrome-trace needs a file\n`); return 2; }
  let text: string;
  try { text = file === undefined ? SEED_SCENARIO : readFileSync(file, "utf8"); }
  catch (e) { process.stderr.write(`gmemsim run: cannot read ${file}: ${(e as Error).message}\n`); return 2; }
  let scn;
  try { scn = parseScenario(text); }
  catch (e) {
    if (e instanceof ScenarioFormatError) {
      if (format === "json") process.stdout.write(JSON.stringify({ ok: false, malformed: true, step: e.step, field: e.field, message: e.message }) + "\n");
      else process.stderr.write(`gmemsim: ${file ?? "seed"}: malformed: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const rep = runScenario(scn, { debugCore });
  if (trace !== undefined) {
    const doc = {
      format: 1, name: scn.name, config: scn.config, ok: rep.ok,
      steps: rep.steps.map((s, i) => ({ index: s.index, section: s.section, ...(s.thread !== undefined ? { thread: s.thread } : {}),
        op: s.op, step: allSteps(scn)[i].raw, ok: s.ok, result: s.result,
        ...(s.errorOffset !== undefined ? { errorOffset: s.errorOffset } : {}), ...(s.level ? { level: s.level } : {}),
        ...(s.value !== undefined ? { value: s.value } : {}), ...(s.ok ? {} : { expected: s.expected, got: s.got }),
        events: s.events })),
      stats: rep.stats, final: rep.final,
    };
    writeFileSync(trace, JSON.stringify(doc, null, 1) + "\n");
  }
  if (chromeTrace !== undefined) writeChromeTrace(chromeTrace, rep);
  if (format === "json") process.stdout.write(JSON.stringify(rep) + "\n");
  else printReport(rep, allSteps(scn));
  return rep.ok ? 0 : 1;
}

function bench(args: string[]): number {
  let quick = false, json: string | undefined, svg: string | undefined, filter: string | undefined, md: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--quick") quick = true;
    else if (a === "--json") json = args[++i];
    else if (a === "--svg") svg = args[++i];
    else if (a === "--markdown") md = args[++i];
    else if (a === "--filter") filter = args[++i];
    else { process.stderr.write(`gmemsim bench: unknown option ${a}\n`); return 2; }
  }
  try {
    const req = createRequire(import.meta.url);
    setLoader(req("@assemblyscript/loader"));
  } catch { /* optional: the binding-overhead case says it is missing */ }
  const c = cpus();
  setMachine({ cpus: c.length, model: c[0]?.model ?? "unknown" });
  const tty = process.stderr.isTTY;
  let lastProgress = 0;
  const rep: BenchReport = runBench({
    quick, filter,
    log: (m) => { if (tty) process.stderr.write("\r\x1b[K"); process.stdout.write(m + "\n"); },
    progress: (line) => {
      const t = Date.now();
      if (tty) process.stderr.write(`\r\x1b[K${line.slice(0, 120)}`);
      else if (t - lastProgress > 3000) { process.stderr.write(line + "\n"); lastProgress = t; }
    },
  });
  if (tty) process.stderr.write("\r\x1b[K");
  if (json) writeFileSync(json, JSON.stringify(rep, null, 1) + "\n");
  if (svg) writeFileSync(svg, chartSvg(rep));
  if (md) writeFileSync(md, markdownTable(rep));
  process.stdout.write(`done in ${rep.seconds} s${json ? `, results in ${json}` : ""}${svg ? `, chart in ${svg}` : ""}\n`);
  return 0;
}

function main(argv: string[]): number {
  const cmd = argv[0] ?? "run";
  if (cmd === "--help" || cmd === "-h" || cmd === "help") { process.stdout.write(HELP); return 0; }
  if (cmd === "--version") { process.stdout.write("gmemsim 0.1.0\n"); return 0; }
  if (cmd === "run") return run(argv.slice(1));
  if (cmd === "bench") return bench(argv.slice(1));
  if (cmd === "explore") return exploreCommand(argv.slice(1));
  if (cmd.endsWith(".json") || cmd.startsWith("--")) return run(argv);
  if (cmd !== "demo") { process.stderr.write(`gmemsim: unknown command '${cmd}'\n${HELP}`); return 2; }
  const sim = createSimulatorSync();
  const rows = demo(sim);
  if (argv.includes("--json")) { process.stdout.write(JSON.stringify(rows, null, 2) + "\n"); return 0; }
  process.stdout.write("gmemsim foundation demo: what the model's structures cost in Wasm memory\n\n");
  for (const r of rows) {
    process.stdout.write(`  ${r.what}\n    guest ${fmtBytes(r.guest)}, populated ${fmtBytes(r.populated)} (${r.folios}),` +
      ` model memory ${fmtBytes(r.heapBytes)}\n`);
  }
  const s = sim.memoryStats();
  process.stdout.write(`\n  total Wasm memory ${fmtBytes(s.memoryBytes)}, heap in use ${fmtBytes(s.heapPages * 4096)}\n`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (e instanceof GmemError) { process.stderr.write(`gmemsim: ${e.message}\n`); process.exitCode = 1; }
  else throw e;
}
