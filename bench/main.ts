// The conversion-throughput benchmark: `gmemsim bench [--quick] [--json OUT] [--filter NAME] [--svg OUT]`.
// Every ratio is measured in one process, alternating the two sides in rounds after a warm-up, and reported as the
// median of the per-round ratios with its spread; targets are checked by reading the JSON, never by timed tests.
import { Bench } from "tinybench";
import {
  createSimulatorSync, type Simulator, type Gmem, type Vm, type Iommu, coreBytes,
} from "../bindings/index";
import { ReferenceModel } from "../test/reference/index";
import type { ActionStep, ScenarioConfig } from "../bindings/scenario/types";
import { modelCost, type CostArch } from "./costmodel";

export interface CaseResult {
  name: string;
  what: string;
  unit: string;
  /** operations per second of the model (median over rounds) */
  opsPerSec?: number;
  /** relative spread of opsPerSec: [min, max] / median over rounds */
  spread?: [number, number];
  /** ratio against the comparison named in `vs` (how many times faster; median of per-round ratios) */
  ratio?: number;
  ratioSpread?: [number, number];
  vs?: string;
  target?: string;
  met?: boolean;
  /** anything else the case measured */
  extra?: Record<string, unknown>;
}

export interface BenchReport {
  tool: string;
  date: string;
  mode: "quick" | "full";
  machine: { node: string; platform: string; arch: string; cpus: number; cpuModel: string };
  cases: CaseResult[];
  seconds: number;
}

type Log = (msg: string) => void;

const GiB = 2 ** 30, MiB = 2 ** 20;
const now = () => performance.now();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
function spreadOf(xs: number[]): [number, number] {
  const m = median(xs);
  return [+(Math.min(...xs) / m).toFixed(3), +(Math.max(...xs) / m).toFixed(3)];
}

/** xorshift32, so every run replays the same sequence */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

/** Alternate A and B for `rounds` rounds of one call each; ratio = timeB / timeA per round (A faster -> > 1). */
function alternate(rounds: number, a: () => number, b: () => number): { aOps: number[]; bOps: number[]; ratios: number[] } {
  const aOps: number[] = [], bOps: number[] = [], ratios: number[] = [];
  a(); b(); // warm-up
  for (let r = 0; r < rounds; r++) {
    let t = now(); const na = a(); const ta = now() - t;
    t = now(); const nb = b(); const tb = now() - t;
    aOps.push(na / (ta / 1000));
    bOps.push(nb / (tb / 1000));
    ratios.push((tb / nb) / (ta / na));
  }
  return { aOps, bOps, ratios };
}

// ---- the reference model, driven with the same steps the scenario runner would build ----------------------------

function refConvert(gmem: string, pageOff: number, pages: number, to: "shared" | "private"): ActionStep {
  return {
    op: "convert", index: 0, raw: null, gmem, offset: BigInt(pageOff) * 4096n, size: BigInt(pages) * 4096n, to,
    expect: { kind: "ok" },
  } as ActionStep;
}

function refWorld(arch: "sw" | "tdx" | "snp", gmemBytes: number, flags: string[], mapAll: boolean, iommu: boolean,
                  level: "4K" | "2M" | "1G" = "4K") {
  const config: ScenarioConfig = { arch, protocol: "v2", invariants: false, disable: [] };
  const ref = new ReferenceModel(config);
  const step = (s: Record<string, unknown>) => {
    const r = ref.apply({ index: 0, raw: null, expect: { kind: "ok" }, ...s } as unknown as ActionStep);
    if (r.result !== 0 && r.result !== "mapped") throw new Error(`reference: ${String(s.op)} -> ${String(r.result)}`);
  };
  step({ op: "gmem.create", id: "g", size: BigInt(gmemBytes), flags });
  step({ op: "vm.create", id: "vm" });
  step({ op: "vm.bind", vm: "vm", slot: 0, gpa: 0n, size: BigInt(gmemBytes), gmem: "g", offset: 0n });
  if (iommu) {
    step({ op: "iommu.create", id: "io", mode: "gmem" });
    step({ op: "iommu.bind", iommu: "io", gmem: "g" });
  }
  if (mapAll) {
    const stride = level === "1G" ? GiB : level === "2M" ? 2 * MiB : 4096;
    for (let off = 0; off < gmemBytes; off += stride) step({ op: "guest.access", vm: "vm", gpa: BigInt(off), private: true });
    if (iommu) step({ op: "iommu.map", iommu: "io", iova: 0n, gmem: "g", offset: 0n, size: BigInt(gmemBytes), secure: true });
  }
  return ref;
}

// ---- the Wasm model worlds ----------------------------------------------------------------------------------------

interface World { sim: Simulator; g: Gmem; vm: Vm; io?: Iommu }

function world(arch: "sw" | "tdx" | "snp", gmemBytes: number, flags: ("mmap" | "init-private" | "hugetlb-2M" | "hugetlb-1G")[],
               mapAll: boolean, iommu: boolean, level: "4K" | "2M" | "1G" = "4K"): World {
  const sim = createSimulatorSync(undefined, { arch, checks: false });
  const g = sim.createGmem(gmemBytes, flags);
  const vm = sim.createVm();
  vm.bind(0, 0, gmemBytes, g, 0);
  let io: Iommu | undefined;
  if (iommu) { io = sim.createIommu("gmem"); io.bind(g); }
  if (mapAll) {
    const stride = level === "1G" ? GiB : level === "2M" ? 2 * MiB : 4096;
    for (let off = 0; off < gmemBytes; off += stride) vm.access(off, { private: true });
    if (io) io.map(0, g, 0, gmemBytes, true);
  }
  return { sim, g, vm, io };
}

// ---- the cases ----------------------------------------------------------------------------------------------------

interface Ctx { quick: boolean; log: Log }

type CaseFn = (ctx: Ctx) => CaseResult;

/** random 4 KiB conversions, alternating direction, every page mapped in an SPTE and an IOPTE */
const convert4kRandom: CaseFn = ({ quick, log }) => {
  const bigBytes = (quick ? 8 : 64) * GiB;
  log(`convert-4k-random: populating ${bigBytes / GiB} GiB (every page faulted in and IOMMU-mapped)`);
  const big = world("sw", bigBytes, ["mmap", "init-private"], true, true);
  const npBig = bigBytes / 4096;
  const batch = 20000;
  const rounds = quick ? 5 : 15;
  const bigOps: number[] = [];
  {
    const next = rng(1);
    const run = () => {
      for (let i = 0; i < batch; i++) {
        const p = next() % npBig;
        big.g.convert(p * 4096, 4096, "shared");
        big.g.convert(p * 4096, 4096, "private");
      }
      return 2 * batch;
    };
    run();
    for (let r = 0; r < rounds; r++) { const t = now(); const n = run(); bigOps.push(n / ((now() - t) / 1000)); }
  }
  const c = big.sim.counters();
  const mem = big.sim.memoryStats();
  // the ratio: the same sequence on a guest the per-page reference can hold
  // the per-page reference model holds plain arrays and maps per page, so its guest is smaller
  const cmpBytes = (quick ? 512 : 2048) * MiB;
  log(`convert-4k-random: the same sequence on ${cmpBytes / MiB} MiB, Wasm model vs reference model`);
  const w = world("sw", cmpBytes, ["mmap", "init-private"], true, true);
  const ref = refWorld("sw", cmpBytes, ["mmap", "init-private"], true, true);
  const np = cmpBytes / 4096;
  const small = quick ? 1000 : 3000;
  const nextA = rng(2), nextB = rng(2);
  const alt = alternate(rounds, () => {
    for (let i = 0; i < small; i++) {
      const p = nextA() % np;
      w.g.convert(p * 4096, 4096, "shared");
      w.g.convert(p * 4096, 4096, "private");
    }
    return 2 * small;
  }, () => {
    for (let i = 0; i < small; i++) {
      const p = nextB() % np;
      ref.apply(refConvert("g", p, 1, "shared"));
      ref.apply(refConvert("g", p, 1, "private"));
    }
    return 2 * small;
  });
  const ops = median(bigOps);
  const ratio = median(alt.ratios);
  return {
    name: "convert-4k-random", unit: "conversions/s",
    what: `random 4 KiB conversions alternating direction, ${bigBytes / GiB} GiB guest_memfd, 1 VM + 1 gmem IOMMU, every page mapped in an SPTE and an IOPTE`,
    opsPerSec: Math.round(ops), spread: spreadOf(bigOps), ratio: +ratio.toFixed(2), ratioSpread: spreadOf(alt.ratios),
    vs: `reference model, same sequence on ${cmpBytes / MiB} MiB`,
    target: ">= 1,000,000 conversions/s and >= 1x the reference model", met: ops >= 1e6 && ratio >= 1,
    extra: {
      wasmOpsOnComparisonGuest: Math.round(median(alt.aOps)), referenceOps: Math.round(median(alt.bOps)),
      memoryBytes: mem.memoryBytes, sptesZapped: c["kvm.zap.count"] ?? 0, ioptesZapped: c["iommu.invalidate.count"] ?? 0,
    },
  };
};

/** 2 MiB-aligned conversions with split and merge (hugetlb-2M), vs the reference */
const convert2m: CaseFn = ({ quick, log }) => {
  const bytes = (quick ? 1 : 4) * GiB;
  log(`convert-2m-split-merge: ${bytes / GiB} GiB hugetlb-2M, 2 MiB-aligned conversions`);
  const w = world("sw", bytes, ["mmap", "init-private", "hugetlb-2M"], true, false, "2M");
  const ref = refWorld("sw", bytes, ["mmap", "init-private", "hugetlb-2M"], true, false, "2M");
  const nb = bytes / (2 * MiB);
  const n = 500;
  const na = rng(3), nb2 = rng(3);
  const alt = alternate(quick ? 5 : 11, () => {
    for (let i = 0; i < n; i++) {
      const b = na() % nb;
      w.g.convert(b * 2 * MiB, 2 * MiB, "shared");
      w.g.convert(b * 2 * MiB, 2 * MiB, "private");
    }
    return 2 * n;
  }, () => {
    for (let i = 0; i < n; i++) {
      const b = nb2() % nb;
      ref.apply(refConvert("g", b * 512, 512, "shared"));
      ref.apply(refConvert("g", b * 512, 512, "private"));
    }
    return 2 * n;
  });
  const ratio = median(alt.ratios);
  return {
    name: "convert-2m-split-merge", unit: "conversions/s",
    what: `2 MiB conversions of 2 MiB-mapped hugetlb-2M memory: zap, split 2M -> 4K, merge back (${bytes / GiB} GiB)`,
    opsPerSec: Math.round(median(alt.aOps)), spread: spreadOf(alt.aOps), ratio: +ratio.toFixed(1),
    ratioSpread: spreadOf(alt.ratios), vs: "reference model, same sequence", target: ">= 30x the reference model",
    met: ratio >= 30, extra: { referenceOps: Math.round(median(alt.bOps)) },
  };
};

/** 1 GiB conversions: of a range mapped at 4 KiB, and of one 1 GiB folio mapped at 1 GiB (split + merge) */
const convert1g: (which: "4k-mapped" | "1g-mapped") => CaseFn = (which) => ({ quick, log }) => {
  const flags: ("mmap" | "init-private" | "hugetlb-1G")[] = which === "1g-mapped" ? ["mmap", "init-private", "hugetlb-1G"] : ["mmap", "init-private"];
  log(`convert-1g-${which}: 1 GiB conversions`);
  const w = world("sw", 2 * GiB, flags, false, false);
  const level = which === "1g-mapped" ? "1G" : "4K";
  const stride = which === "1g-mapped" ? GiB : 4096;
  const populate = (sim: World) => { for (let off = 0; off < GiB; off += stride) sim.vm.access(off, { private: true }); };
  const ref = refWorld("sw", 2 * GiB, flags, false, false);
  const refPopulate = () => {
    for (let off = 0; off < GiB; off += stride) {
      ref.apply({ op: "guest.access", index: 0, raw: null, expect: { kind: "ok" }, vm: "vm", gpa: BigInt(off), private: true } as ActionStep);
    }
  };
  // the memory floor: bytes this conversion pair must change in the model's structures
  //   4k-mapped: 262144 SPTEs zapped (2 MiB) + bitmap words set and cleared (2 x 32 KiB)
  //   1g-mapped: one 1 GiB folio split into 262144 4 KiB folio entries (4 MiB) + bitmap words (2 x 32 KiB)
  const floorBytes = which === "4k-mapped" ? 2 * MiB + 64 * 1024 : 4 * MiB + 64 * 1024;
  check(w.sim.core.bench_block(floorBytes), "bench_block");
  const rounds = quick ? 7 : 15;
  const convOnly: number[] = [], floor: number[] = [], refTimes: number[] = [];
  for (let r = -1; r < rounds; r++) {
    populate(w);
    let t = now();
    w.g.convert(0, GiB, "shared");
    w.g.convert(0, GiB, "private");
    const tc = now() - t;
    t = now();
    w.sim.core.bench_fill(floorBytes, r & 0xff);
    const tf = now() - t;
    let tr = 0;
    if (r < (quick ? 1 : 3)) { // the reference populates 262144 pages per round: a few rounds suffice
      refPopulate();
      t = now();
      ref.apply(refConvert("g", 0, 262144, "shared"));
      ref.apply(refConvert("g", 0, 262144, "private"));
      tr = now() - t;
    }
    if (tr) refTimes.push(tr);
    if (r >= 0) { convOnly.push(tc); floor.push(tf); }
  }
  const vsFloor = convOnly.map((t, i) => t / floor[i]);
  const refRatio = median(refTimes) / median(convOnly);
  const floorX = median(vsFloor);
  return {
    name: `convert-1g-${which}`, unit: "conversion pairs/s",
    what: which === "4k-mapped" ? "1 GiB to shared and back, the range mapped at 4 KiB (262144 SPTEs)"
      : "1 GiB to shared and back on one 1 GiB folio mapped at 1 GiB (split into 262144 folios, merged back)",
    opsPerSec: Math.round(1000 / median(convOnly)), spread: spreadOf(convOnly.map((t) => 1000 / t)),
    ratio: +refRatio.toFixed(1), vs: `reference model (the pair, ${refTimes.length} round${refTimes.length > 1 ? "s" : ""})`,
    target: ">= 30x the reference model and <= 2x the memory floor", met: refRatio >= 30 && floorX <= 2,
    extra: { floorBytes, timesFloor: +floorX.toFixed(2), timesFloorSpread: spreadOf(vsFloor), pairMs: +median(convOnly).toFixed(3),
      floorMs: +median(floor).toFixed(3), referencePairMs: +median(refTimes).toFixed(2), level },
  };
};

/** 1 TiB hugetlb-1G guest_memfd with nothing populated: all of it to shared and back */
const convert1t: CaseFn = ({ quick, log }) => {
  log("convert-1t-unpopulated");
  const sim = createSimulatorSync(undefined, { checks: false });
  const g = sim.createGmem(2 ** 40, ["mmap", "init-private", "hugetlb-1G"]);
  const times: number[] = [];
  for (let r = 0; r < (quick ? 3 : 7); r++) {
    const t = now();
    g.convert(0, 2 ** 40, "shared");
    g.convert(0, 2 ** 40, "private");
    times.push(now() - t);
  }
  const ms = median(times);
  return {
    name: "convert-1t-unpopulated", unit: "ms per round trip", what: "1 TiB hugetlb-1G guest_memfd, nothing populated: all to shared and back",
    opsPerSec: +(1000 / ms).toFixed(2), spread: spreadOf(times.map((t) => 1000 / t)), target: "< 1 s", met: ms < 1000,
    extra: { ms: +ms.toFixed(2) },
  };
};

/** guest faults/s and IOMMU maps/s at 4 KiB and 2 MiB (tinybench) */
const faultsAndMaps: CaseFn = ({ quick, log }) => {
  log("faults-and-maps (tinybench)");
  const sim = createSimulatorSync(undefined, { checks: false });
  const bytes = 16 * GiB;
  const g4 = sim.createGmem(bytes, ["mmap", "init-private"]);
  const g2 = sim.createGmem(bytes, ["mmap", "init-private", "hugetlb-2M"]);
  const vm = sim.createVm();
  vm.bind(0, 0, bytes, g4, 0);
  vm.bind(1, bytes, bytes, g2, 0);
  const io4 = sim.createIommu("gmem"); io4.bind(g4);
  const io2 = sim.createIommu("gmem"); io2.bind(g2);
  let f4 = 0, f2 = 0, m4 = 0, m2 = 0;
  const n4 = bytes / 4096, n2 = bytes / (2 * MiB);
  const bench = new Bench({ time: quick ? 150 : 600, warmupTime: 50 });
  bench
    .add("guest fault 4K", () => { vm.access((f4++ % n4) * 4096 + 0, { private: true }); })
    .add("guest fault 2M", () => { vm.access(bytes + (f2++ % n2) * 2 * MiB, { private: true }); })
    // each map is a new area at a new iova (the same guest pages may be mapped at several iovas)
    .add("iommu map 4K", () => { io4.map(m4 * 4096, g4, (m4 % n4) * 4096, 4096, true); m4++; })
    .add("iommu map 2M", () => { io2.map(m2 * 2 * MiB, g2, (m2 % n2) * 2 * MiB, 2 * MiB, true); m2++; });
  bench.runSync();
  const extra: Record<string, unknown> = {};
  for (const t of bench.tasks) {
    const r = t.result as { throughput?: { mean: number; rme: number }; hz?: number; rme?: number } | undefined;
    const hz = r?.throughput?.mean ?? r?.hz ?? 0;
    extra[t.name] = { opsPerSec: Math.round(hz), rmePercent: +(r?.throughput?.rme ?? r?.rme ?? 0).toFixed(2) };
  }
  extra.note = "faults: first touch (allocate, zero, map) until the guest is fully mapped, then the existing-SPTE path; maps: every call a new area";
  return { name: "faults-and-maps", unit: "ops/s", what: "guest faults and IOMMU maps at 4 KiB and 2 MiB", extra };
};

/** today's pinning IOMMU vs the gmem-bound one on the same conversion workload */
const pinVsGmem: CaseFn = ({ quick, log }) => {
  log("pin-vs-gmem");
  const bytes = 64 * MiB, np = 64; // the first 64 pages are DMA-mapped, one area each
  const run = (mode: "pin" | "gmem") => {
    const sim = createSimulatorSync(undefined, { checks: false, arch: "tdx" });
    const g = sim.createGmem(bytes, ["mmap"]); // v2: starts shared
    const vm = sim.createVm();
    vm.bind(0, 0, bytes, g, 0);
    const io = sim.createIommu(mode);
    g.mmap();
    if (mode === "gmem") io.bind(g);
    // every shared page is DMA-mapped non-secure, one area per page (as a RamDiscardManager listener would)
    for (let p = 0; p < np; p++) io.map(p * 4096, g, p * 4096, 4096, false);
    const before = sim.counters();
    const next = rng(9);
    let eagain = 0, userUnmaps = 0, userMaps = 0, conversions = 0;
    const shared = new Uint8Array(np).fill(1);
    const t = now();
    for (let i = 0; i < (quick ? 2000 : 20000); i++) {
      const p = next() % np;
      const to = shared[p] ? "private" : "shared";
      if (mode === "pin") {
        if (to === "private") {
          try { g.convert(p * 4096, 4096, "private"); } catch (e) {
            if ((e as { code: string }).code !== "EAGAIN") throw e;
            eagain++;
            io.unmap(p * 4096, 4096, false); userUnmaps++; // unmap DMA before to-private, retry
            g.convert(p * 4096, 4096, "private");
          }
        } else {
          g.convert(p * 4096, 4096, "shared");
          io.map(p * 4096, g, p * 4096, 4096, false); userMaps++; // map after to-shared
        }
      } else {
        g.convert(p * 4096, 4096, to); // the callback zaps; userspace re-maps after to-shared (step 4)
        if (to === "shared") { io.map(p * 4096, g, p * 4096, 4096, false); userMaps++; }
      }
      shared[p] ^= 1;
      conversions++;
    }
    const ms = now() - t;
    const c = sim.counters();
    const d = (k: string) => (c[k] ?? 0) - (before[k] ?? 0);
    return { conversions, ms: +ms.toFixed(1), eagainRetries: eagain, userspaceUnmaps: userUnmaps, userspaceMaps: userMaps,
      callbackZaps: d("iommu.invalidate.count"), iotlbFlushes: d("iommu.iotlb_flush"), kvmZaps: d("kvm.zap.count"),
      refcountChecks: d("gmem.refcount_check"), modelledUsPerConversion: modelCost(Object.fromEntries(Object.keys(c).map((k) => [k, d(k)])), "tdx", conversions).perConversionUs };
  };
  const pin = run("pin"), gmem = run("gmem");
  return { name: "pin-vs-gmem", unit: "-", what: "the same random conversions of DMA-mapped shared pages (64 MiB, tdx): today's pinning IOMMU with the unmap-before/map-after order vs the gmem-bound IOMMU's callback", extra: { pin, gmem } };
};

/** a call through the binding vs the raw export vs the export wrapped by @assemblyscript/loader */
const bindingOverhead: CaseFn = ({ quick, log }) => {
  log("binding-overhead (tinybench)");
  const sim = createSimulatorSync(undefined, { checks: false });
  const bm = sim.createBitmap(1 << 20);
  bm.assign(0, 1000, true);
  const h = bm.handle;
  const raw = sim.core;
  let loaderExports: { bitmap_test(h: number, i: number): number } | undefined;
  let loaderNote = "";
  try {
    // the deprecated loader, measured because the design card named it; it wraps every export
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loader = LOADER;
    if (loader) {
      const inst = loader.instantiateSync(new WebAssembly.Module(coreBytes()), { env: { memory: sim.memory } });
      (inst.exports as unknown as { sim_attach(b: number): number }).sim_attach(1);
      loaderExports = inst.exports as unknown as { bitmap_test(h: number, i: number): number };
    } else loaderNote = "@assemblyscript/loader not installed";
  } catch (e) { loaderNote = `loader failed: ${(e as Error).message}`; }
  let sink = 0;
  const CALLS = 1000; // per task iteration, so tinybench's own per-iteration cost does not hide the calls
  const bench = new Bench({ time: quick ? 200 : 800, warmupTime: 50 });
  bench.add("binding: Bitmap.test", () => { for (let i = 0; i < CALLS; i++) sink += bm.test(i) ? 1 : 0; });
  bench.add("raw export: bitmap_test", () => { for (let i = 0; i < CALLS; i++) sink += raw.bitmap_test(h, i); });
  if (loaderExports) {
    const le = loaderExports;
    bench.add("@assemblyscript/loader: bitmap_test", () => { for (let i = 0; i < CALLS; i++) sink += le.bitmap_test(h, i); });
  }
  bench.runSync();
  const ns: Record<string, number> = {};
  for (const t of bench.tasks) {
    const r = t.result as { latency?: { mean: number }; mean?: number } | undefined;
    const ms = r?.latency?.mean ?? r?.mean ?? 0;
    ns[t.name] = +((ms * 1e6) / CALLS).toFixed(2);
  }
  const ratio = ns["binding: Bitmap.test"] / ns["raw export: bitmap_test"];
  return { name: "binding-overhead", unit: "ns/call", what: "one query through the TypeScript binding vs the raw Wasm export vs the @assemblyscript/loader wrapper",
    ratio: +ratio.toFixed(2), vs: "raw export (binding time / raw time)", target: "binding <= 1.5x raw", met: ratio <= 1.5,
    extra: { nsPerCall: ns, ...(loaderNote ? { loader: loaderNote } : {}) } };
};

/** Wasm memory per simulated GiB at 4 KiB, 2 MiB and 1 GiB population (with SPTE + IOPTE mappings) */
const memoryUse: CaseFn = ({ quick, log }) => {
  log("memory");
  const per: Record<string, number> = {};
  const bytes = (quick ? 2 : 8) * GiB;
  for (const [level, flags] of [["4K", ["mmap", "init-private"]], ["2M", ["mmap", "init-private", "hugetlb-2M"]],
    ["1G", ["mmap", "init-private", "hugetlb-1G"]]] as const) {
    const sim = createSimulatorSync(undefined, { checks: false });
    const before = sim.memoryStats().heapPages;
    const g = sim.createGmem(bytes, [...flags]);
    const vm = sim.createVm();
    vm.bind(0, 0, bytes, g, 0);
    const io = sim.createIommu("gmem");
    io.bind(g);
    const stride = level === "1G" ? GiB : level === "2M" ? 2 * MiB : 4096;
    for (let off = 0; off < bytes; off += stride) vm.access(off, { private: true });
    io.map(0, g, 0, bytes, true);
    per[level] = Math.round(((sim.memoryStats().heapPages - before) * 4096) / (bytes / GiB));
  }
  const fixed = 0x500000; // header, tables, ring, page map below the heap
  const largest = Math.floor((4 * GiB - fixed) / per["4K"]);
  return { name: "memory", unit: "bytes per GiB", what: "Wasm memory per simulated GiB, fully populated, every page in an SPTE and an IOPTE",
    target: ">= 256 GiB fully populated at 4 KiB in one 4 GiB memory", met: largest >= 256,
    extra: { bytesPerGiB: per, largestGuestGiBAt4K: largest, measuredOn: `${bytes / GiB} GiB, scaled linearly` } };
};

/** A TD boot shaped like KERNEL-PROTOCOL.md P1-P2: event counts, and the modelled cost */
const tdBoot: CaseFn = ({ log }) => {
  log("td-boot (KERNEL-PROTOCOL.md section 5, P1)");
  const sim = createSimulatorSync(undefined, { checks: false, arch: "tdx" });
  const bytes = 4 * GiB;
  const g = sim.createGmem(bytes, ["mmap", "init-private", "hugetlb-2M"]);
  const vm = sim.createVm();
  vm.bind(0, 0, bytes, g, 0);
  const before = sim.counters();
  // guest accepts at 4 KiB in two ranges touched once each (P1: 0x806-0x9ff, 0x7e800-0x7e9ff)
  const touch = (gfn: number) => vm.access(gfn * 4096, { private: true });
  for (let gfn = 0x806; gfn <= 0x9ff; gfn++) touch(gfn);
  for (let gfn = 0x7e800; gfn <= 0x7e9ff; gfn++) touch(gfn);
  // and a few GFNs converted back and forth many times (P1: 0x7d9d7 974x, 0x7d9da 476x, 0x7d9d9 156x)
  let conversions = 0;
  for (const [gfn, times] of [[0x7d9d7, 974], [0x7d9da, 476], [0x7d9d9, 156]] as const) {
    for (let i = 0; i < times; i++) {
      g.convert(gfn * 4096, 4096, "shared"); vm.access(gfn * 4096, { private: false });
      g.convert(gfn * 4096, 4096, "private"); touch(gfn);
      conversions += 2;
    }
  }
  const c = sim.counters();
  const d: Record<string, number> = {};
  for (const k of Object.keys(c)) d[k] = c[k] - (before[k] ?? 0);
  const faults = d["guest.fault"] ?? 0;
  const cost = modelCost(d, "tdx", conversions);
  return { name: "td-boot", unit: "events", what: "TD boot pattern of KERNEL-PROTOCOL.md P1 on a 4 GiB hugetlb-2M TD",
    extra: { guestFaults: faults, publishedEptViolations: 2710, conversions,
      sptesZapped: d["kvm.zap.count"] ?? 0, septRemoves: d["arch.sept_remove"] ?? 0, septDemotes: d["arch.sept_demote"] ?? 0,
      modelledUsPerConversion: cost.perConversionUs, modelledBreakdownUs: cost.components } };
};

/** Modelled cost per conversion on each arch for the 4 KiB seed flow with an IOMMU. */
const modelledCost: CaseFn = ({ log }) => {
  log("modelled-cost");
  const outp: Record<string, unknown> = {};
  for (const arch of ["sw", "tdx", "snp"] as const) {
    const w = world(arch, 64 * MiB, ["mmap", "init-private", "hugetlb-2M"], true, true, "2M");
    const before = w.sim.counters();
    const next = rng(5);
    const n = 2000;
    for (let i = 0; i < n / 2; i++) {
      const p = next() % (16384);
      w.g.convert(p * 4096, 4096, "shared");
      w.io!.map(p * 4096 + 64 * MiB, w.g, p * 4096, 4096, false);
      w.io!.unmap(p * 4096 + 64 * MiB, 4096, false);
      w.g.convert(p * 4096, 4096, "private");
      w.vm.access(p * 4096, { private: true });
    }
    const c = w.sim.counters();
    const d: Record<string, number> = {};
    for (const k of Object.keys(c)) d[k] = c[k] - (before[k] ?? 0);
    outp[arch] = modelCost(d, arch as CostArch, n);
  }
  return { name: "modelled-cost", unit: "modelled us/conversion", what: "unit costs (bench/costmodel.ts, stated assumptions) x event counts of 2000 random 4 KiB conversions with a gmem IOMMU, per arch", extra: outp };
};

function check(r: number, what: string): number {
  if (r < 0 && r >= -4095) throw new Error(`${what}: errno ${-r}`);
  return r;
}

// the loader is optional: the CLI bundle sets it when the package is installed (see bench/loader.ts)
let LOADER: { instantiateSync(m: WebAssembly.Module, imports: object): { exports: unknown } } | undefined;
export function setLoader(l: typeof LOADER): void { LOADER = l; }

export const CASES: { name: string; quickSeconds: number; fullSeconds: number; fn: CaseFn }[] = [
  // seconds measured on the project's 2-core machine (estimates for the "about N s" line)
  { name: "convert-4k-random", quickSeconds: 2, fullSeconds: 5, fn: convert4kRandom },
  { name: "convert-2m-split-merge", quickSeconds: 1, fullSeconds: 1, fn: convert2m },
  { name: "convert-1g-4k-mapped", quickSeconds: 1, fullSeconds: 2, fn: convert1g("4k-mapped") },
  { name: "convert-1g-1g-mapped", quickSeconds: 1, fullSeconds: 1, fn: convert1g("1g-mapped") },
  { name: "convert-1t-unpopulated", quickSeconds: 1, fullSeconds: 1, fn: convert1t },
  { name: "faults-and-maps", quickSeconds: 2, fullSeconds: 6, fn: faultsAndMaps },
  { name: "pin-vs-gmem", quickSeconds: 1, fullSeconds: 1, fn: pinVsGmem },
  { name: "binding-overhead", quickSeconds: 1, fullSeconds: 3, fn: bindingOverhead },
  { name: "memory", quickSeconds: 1, fullSeconds: 1, fn: memoryUse },
  { name: "td-boot", quickSeconds: 1, fullSeconds: 1, fn: tdBoot },
  { name: "modelled-cost", quickSeconds: 1, fullSeconds: 1, fn: modelledCost },
];

export interface BenchOptions { quick: boolean; filter?: string; log: Log; progress: (line: string) => void }

export function runBench(opts: BenchOptions): BenchReport {
  const cases = CASES.filter((c) => !opts.filter || c.name.includes(opts.filter));
  const est = cases.reduce((s, c) => s + (opts.quick ? c.quickSeconds : c.fullSeconds), 0);
  opts.log(`gmemsim bench (${opts.quick ? "quick" : "full"}): ${cases.length} cases, about ${est} s on a 2-core machine`);
  const t0 = now();
  const results: CaseResult[] = [];
  cases.forEach((c, i) => {
    const ti = now();
    opts.progress(`[${i + 1}/${cases.length}] ${c.name} ... (${((ti - t0) / 1000).toFixed(0)} s elapsed)`);
    const r = c.fn({ quick: opts.quick, log: (m) => opts.progress(`[${i + 1}/${cases.length}] ${m}`) });
    results.push(r);
    opts.log(`  ${c.name}: ${summary(r)}  (${((now() - ti) / 1000).toFixed(1)} s)`);
  });
  const g = globalThis as { process?: { version: string; platform: string; arch: string } };
  const os = OS;
  return {
    tool: "gmemsim bench", date: new Date().toISOString(), mode: opts.quick ? "quick" : "full",
    machine: { node: g.process?.version ?? "n/a", platform: g.process?.platform ?? "browser", arch: g.process?.arch ?? "n/a",
      cpus: os?.cpus ?? 0, cpuModel: os?.model ?? "n/a" },
    cases: results, seconds: +((now() - t0) / 1000).toFixed(1),
  };
}

let OS: { cpus: number; model: string } | undefined;
export function setMachine(m: { cpus: number; model: string }): void { OS = m; }

type Rec = Record<string, Record<string, number>>;
/** One readable line for the cases whose result is a set of numbers rather than one rate. */
function extraSummary(r: CaseResult): string | undefined {
  const x = r.extra as Record<string, unknown> | undefined;
  if (!x) return undefined;
  const n = (v: unknown) => fmt(Math.round(v as number));
  switch (r.name) {
    case "faults-and-maps": {
      const e = x as Rec;
      return `guest faults/s 4K ${n(e["guest fault 4K"].opsPerSec)}, 2M ${n(e["guest fault 2M"].opsPerSec)}; ` +
        `IOMMU maps/s 4K ${n(e["iommu map 4K"].opsPerSec)}, 2M ${n(e["iommu map 2M"].opsPerSec)}`;
    }
    case "pin-vs-gmem": {
      const e = x as Rec;
      const side = (k: string) => `${k}: ${e[k].eagainRetries} EAGAIN retries, ${e[k].userspaceUnmaps} userspace unmaps + ` +
        `${e[k].userspaceMaps} maps, ${e[k].callbackZaps} callback zaps, ${e[k].iotlbFlushes} IOTLB flushes, ${e[k].ms} ms`;
      return `${e.pin.conversions} conversions each. ${side("pin")}; ${side("gmem")}`;
    }
    case "memory": {
      const b = x.bytesPerGiB as Record<string, number>;
      const mib = (v: number) => `${(v / 2 ** 20).toFixed(2)} MiB`;
      return `per GiB: 4K ${mib(b["4K"])}, 2M ${mib(b["2M"])}, 1G ${mib(b["1G"])}; largest guest fully populated at 4K: ${x.largestGuestGiBAt4K} GiB`;
    }
    case "td-boot":
      return `${x.guestFaults} guest faults (published: ~${x.publishedEptViolations} EPT violations), ${x.conversions} conversions, ` +
        `${x.septRemoves} S-EPT removes, ${x.septDemotes} demotes; modelled ${x.modelledUsPerConversion} us per conversion`;
    case "modelled-cost": {
      const e = x as Record<string, { perConversionUs: number }>;
      return `modelled us per conversion: sw ${e.sw.perConversionUs}, tdx ${e.tdx.perConversionUs}, snp ${e.snp.perConversionUs}`;
    }
    case "binding-overhead": {
      const ns = x.nsPerCall as Record<string, number>;
      return Object.entries(ns).map(([k, v]) => `${k} ${v} ns`).join(", ");
    }
  }
  return undefined;
}

export function summary(r: CaseResult): string {
  const parts: string[] = [];
  const ex = extraSummary(r);
  if (r.opsPerSec !== undefined) parts.push(`${fmt(r.opsPerSec)} ${r.unit}`);
  if (r.ratio !== undefined) parts.push(`${r.ratio}x vs ${r.vs}`);
  if (r.extra && "timesFloor" in r.extra) parts.push(`${r.extra.timesFloor}x the memory floor`);
  if (ex) parts.push(ex);
  if (r.met !== undefined) parts.push(r.met ? "target met" : `target NOT met (${r.target})`);
  if (!parts.length && r.extra) parts.push(JSON.stringify(r.extra).slice(0, 160));
  return parts.join(", ");
}

export function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}
