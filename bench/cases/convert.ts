// Conversion throughput: random 4 KiB conversions, 2 MiB split/merge, 1 GiB at 4 KiB and 1 GiB mappings, and a
// 1 TiB unpopulated file, each against the reference model where one applies.
import { createSimulatorSync } from "../../bindings/index";
import type { ActionStep } from "../../bindings/scenario/types";
import { GiB, MiB, alternate, check, median, now, rng, spreadOf, type CaseFn } from "../util";
import { refConvert, refWorld, world, type World } from "../worlds";

/** random 4 KiB conversions, alternating direction, every page mapped in an SPTE and an IOPTE */
export const convert4kRandom: CaseFn = ({ quick, log }) => {
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
export const convert2m: CaseFn = ({ quick, log }) => {
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
export const convert1g: (which: "4k-mapped" | "1g-mapped") => CaseFn = (which) => ({ quick, log }) => {
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
export const convert1t: CaseFn = ({ quick, log }) => {
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
