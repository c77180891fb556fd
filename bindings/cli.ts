// gmemsim command line. Node only (the library itself runs anywhere).
import { createSimulatorSync, type Simulator } from "./index";
import { GmemError } from "./errors";

const HELP = `gmemsim - an executable model of guest_memfd private/shared conversion

usage:
  gmemsim demo [--json]     build the foundation structures and print what they cost (the default)
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

function main(argv: string[]): number {
  const cmd = argv[0] ?? "demo";
  if (cmd === "--help" || cmd === "-h" || cmd === "help") { process.stdout.write(HELP); return 0; }
  if (cmd === "--version") { process.stdout.write("gmemsim 0.1.0\n"); return 0; }
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
