// gmemsim demo: build the model's largest structures and print what they cost in Wasm memory.
import { createSimulatorSync, type Simulator } from "../simulator";
import { EXIT, type Command } from "./command";

function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}

export interface DemoRow { what: string; guest: number; populated: number; heapBytes: number; folios: string }

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

export const command: Command = {
  name: "demo",
  usage: "[--json]",
  description: "Build the model's largest structures (a 1 TiB guest_memfd of 1 GiB folios, a 1 GiB one split to 4 KiB\n" +
    "folios, a page table mapping 1 GiB at 4 KiB) and print what each costs in Wasm memory.",
  options: { json: { type: "boolean", help: "print the rows as JSON" } },
  maxPositionals: 0,
  run(args, io) {
    const sim = createSimulatorSync();
    const rows = demo(sim);
    if (args.values.json === true) {
      io.outJson(JSON.stringify(rows, null, 2) + "\n");
      return EXIT.OK;
    }
    io.out("gmemsim foundation demo: what the model's structures cost in Wasm memory\n\n");
    for (const r of rows) {
      io.out(`  ${r.what}\n    guest ${fmtBytes(r.guest)}, populated ${fmtBytes(r.populated)} (${r.folios}),` +
        ` model memory ${fmtBytes(r.heapBytes)}\n`);
    }
    const s = sim.memoryStats();
    io.out(`\n  total Wasm memory ${fmtBytes(s.memoryBytes)}, heap in use ${fmtBytes(s.heapPages * 4096)}\n`);
    return EXIT.OK;
  },
};
