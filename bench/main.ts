// The conversion-throughput benchmark: `gmemsim bench [--quick] [--json OUT] [--filter NAME] [--svg OUT]`.
// Every ratio is measured in one process, alternating the two sides in rounds after a warm-up, and reported as the
// median of the per-round ratios with its spread; targets are checked by reading the JSON, never by timed tests.
// The cases live in bench/cases/*.ts; this file lists them, runs them and summarises each result in one line.
import { now, type BenchReport, type CaseFn, type CaseResult, type Log } from "./util";
import { convert4kRandom, convert2m, convert1g, convert1t } from "./cases/convert";
import { faultsAndMaps, pinVsGmem, bindingOverhead, memoryUse, tdBoot, modelledCost } from "./cases/machine";
import { exploreSchedules } from "./cases/explore";
import { workerScaling } from "./cases/workers";
import { checkerScaling } from "./cases/check";

export type { BenchReport, CaseResult } from "./util";
export { setLoader } from "./cases/machine";

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
  { name: "explore-schedules", quickSeconds: 3, fullSeconds: 5, fn: exploreSchedules },
  { name: "workers", quickSeconds: 4, fullSeconds: 12, fn: workerScaling },
  { name: "checker", quickSeconds: 2, fullSeconds: 6, fn: checkerScaling },
];

export interface BenchOptions { quick: boolean; filter?: string; log: Log; progress: (line: string) => void }

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const cases = CASES.filter((c) => !opts.filter || c.name.includes(opts.filter));
  const est = cases.reduce((s, c) => s + (opts.quick ? c.quickSeconds : c.fullSeconds), 0);
  opts.log(`gmemsim bench (${opts.quick ? "quick" : "full"}): ${cases.length} cases, about ${est} s on a 2-core machine`);
  if (OS) opts.log(`machine: ${OS.cpus} x ${OS.model}, load average ${round2(OS.loadavg()).join(" / ")} (1 / 5 / 15 min)`);
  const t0 = now();
  const loadStart = OS?.loadavg() ?? [];
  const results: CaseResult[] = [];
  for (const [i, c] of cases.entries()) {
    const ti = now();
    opts.progress(`[${i + 1}/${cases.length}] ${c.name} ... (${((ti - t0) / 1000).toFixed(0)} s elapsed)`);
    const r = await c.fn({ quick: opts.quick, log: (m) => opts.progress(`[${i + 1}/${cases.length}] ${m}`) });
    results.push(r);
    opts.log(`  ${c.name}: ${summary(r)}  (${((now() - ti) / 1000).toFixed(1)} s)`);
  }
  const g = globalThis as { process?: { version: string; platform: string; arch: string } };
  const os = OS;
  return {
    tool: "gmemsim bench", date: new Date().toISOString(), mode: opts.quick ? "quick" : "full",
    machine: { node: g.process?.version ?? "n/a", platform: g.process?.platform ?? "browser", arch: g.process?.arch ?? "n/a",
      cpus: os?.cpus ?? 0, cpuModel: os?.model ?? "n/a", loadStart: round2(loadStart), loadEnd: round2(OS?.loadavg() ?? []) },
    cases: results, seconds: +((now() - t0) / 1000).toFixed(1),
  };
}

let OS: { cpus: number; model: string; loadavg: () => number[] } | undefined;
export function setMachine(m: { cpus: number; model: string; loadavg: () => number[] }): void { OS = m; }
const round2 = (xs: number[]) => xs.map((x) => +x.toFixed(2));

type Rec = Record<string, Record<string, number>>;
/** One readable line for the cases whose result is a set of numbers rather than one rate. */
function extraSummary(r: CaseResult): string | undefined {
  const x = r.extra as Record<string, unknown> | undefined;
  if (!x) return undefined;
  const n = (v: unknown) => fmt(Math.round(v as number));
  switch (r.name) {
    case "convert-4k-random":
      return `${x.nsPerConversion} ns vs floor kernel ${x.floorNsPerConversion} ns; cost growth ${x.growthOf}: ${x.growth}x ` +
        `(${x.nsAt1GiB} -> ${x.nsAtLargest} ns; the floor kernel's own growth ${x.floorGrowth}x, ${x.floorNsAt1GiB} -> ${x.floorNsAtLargest} ns); ` +
        `floor kernel one conversion at a time ${x.serialFloorNsPerConversion} ns (${x.timesSerialFloor}x)`;
    case "convert-1t-unpopulated": {
      const sp = x.msSpread as [number, number];
      return `${x.msPerRoundTrip} ms per round trip [${((x.msPerRoundTrip as number) * sp[0]).toFixed(2)} - ${((x.msPerRoundTrip as number) * sp[1]).toFixed(2)}]`;
    }
    case "faults-and-maps": {
      const e = x as Record<string, { opsPerSec: number; spread: [number, number] }>;
      const t = (k: string) => `${n(e[k].opsPerSec)}${range(e[k].opsPerSec, e[k].spread, fmt)}`;
      return `guest faults/s 4K ${t("guest fault 4K")}, 2M ${t("guest fault 2M")}; IOMMU maps/s 4K ${t("iommu map 4K")}, 2M ${t("iommu map 2M")}`;
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
    case "workers": {
      const { lineRoundTripNs, lineRoundTripNsRange, ...e } = x as Record<string, unknown>;
      const rows = e as Record<string, { one: number; two: number; ratio: number; spread: [number, number] }>;
      const [lo, hi] = lineRoundTripNsRange as [number, number];
      return Object.entries(rows).map(([k, v]) => `${k}: 1 worker ${n(v.one)}/s, 2 workers ${n(v.two)}/s ` +
        `(${v.ratio}x${range(v.ratio, v.spread, (y) => y.toFixed(2))})`).join("; ") +
        `; a cache line's round trip between the two cores ${String(lineRoundTripNs)} ns [${lo} - ${hi}]`;
    }
    case "convert-1g-4k-mapped":
      return `coming back costs this machine ${x.comebackNoopUs} us (a no-op export call after a 50 ms busy loop; ` +
        `${x.warmNoopUs} us right after another)`;
    case "explore-schedules":
      return `${n(x.schedules)} schedules (every interleaving the locks allow: ${n(x.allInterleavingsTheLocksAllow)}, ` +
        `${x.reductionVsLocks}x fewer; naive interleavings ${n(x.naiveInterleavings)}, ${n(x.reductionVsNaive)}x fewer)`;
    case "binding-overhead": {
      const ns = x.nsPerCall as Record<string, number>;
      return Object.entries(ns).map(([k, v]) => `${k} ${v} ns`).join(", ");
    }
  }
  return undefined;
}

export function summary(r: CaseResult, withTarget = true): string {
  const parts: string[] = [];
  const ex = extraSummary(r);
  if (r.opsPerSec !== undefined) parts.push(`${fmt(r.opsPerSec)} ${r.unit}${range(r.opsPerSec, r.spread, fmt)}`);
  if (r.ratio !== undefined) parts.push(`${r.ratio}x${range(r.ratio, r.ratioSpread, (v) => v.toFixed(2))} vs ${r.vs}`);
  if (r.extra && "timesFloor" in r.extra) {
    parts.push(`${"warmTimesFloor" in r.extra ? "cold: " : ""}${r.extra.timesFloor}x${range(r.extra.timesFloor as number,
      r.extra.timesFloorSpread as [number, number] | undefined, (v) => v.toFixed(2))} the memory floor`);
    if ("warmTimesFloor" in r.extra) {
      parts.push(`warm: ${r.extra.warmTimesFloor}x${range(r.extra.warmTimesFloor as number,
        r.extra.warmTimesFloorSpread as [number, number] | undefined, (v) => v.toFixed(2))} the floor (${String(r.extra.warmNote)})`);
    }
  }
  if (r.opsPerSec === undefined && r.ratio === undefined && r.name !== "faults-and-maps") parts.push("counts, not timed");
  if (ex) parts.push(ex);
  if (r.met !== undefined && withTarget) parts.push(r.met ? `target met (${r.target})` : `target NOT met (${r.target})`);
  if (!parts.length && r.extra) parts.push(JSON.stringify(r.extra).slice(0, 160));
  return parts.join(", ");
}

/** " [min - max]" of the rounds, from the median and the relative spread; "" when there is none. */
function range(median: number, spread: [number, number] | undefined, f: (v: number) => string): string {
  return spread ? ` [${f(median * spread[0])} - ${f(median * spread[1])}]` : "";
}

export function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(+n.toFixed(2));
}
