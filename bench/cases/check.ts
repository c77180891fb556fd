// The invariant checker's cost against the state's size: the IO page tables' check walks each table once and finds
// each leaf's area by binary search (assembly/check/state.ts checkIommu), so its time per IO entry must not grow
// with the number of areas, and 4x the entries must cost about 4x the time. (Once O(entries x areas): a 4 GiB check
// in 1,024 areas took 1.41 s against 0.11 s in one area, and did not finish in 9 minutes at the memory limit.)
import { createSimulatorSync } from "../../bindings/index";
import { median, now, spreadOf, MiB, type CaseFn } from "../util";

/** ns per IO entry of checkInvariants() on `mib` MiB, every page in a 4 KiB IO entry, over `areas` areas. */
function nsPerEntry(mib: number, areas: number, rounds: number): number[] {
  const sim = createSimulatorSync(undefined, { checks: false });
  const g = sim.createGmem(mib * MiB, ["mmap", "init-shared"]);
  g.mmap();
  const io = sim.createIommu("gmem");
  io.bind(g);
  const per = (mib * MiB) / areas;
  for (let a = 0; a < areas; a++) io.map(a * per, g, a * per, per, false);
  const entries = io.info().nonSecureLeaves;
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = now();
    sim.checkInvariants();
    out.push(((now() - t) * 1e6) / entries);
  }
  return out;
}

export const checkerScaling: CaseFn = ({ quick, log }) => {
  log("checker");
  const rounds = quick ? 3 : 7, small = quick ? 256 : 1024;
  const one = nsPerEntry(small, 1, rounds), many = nsPerEntry(small, 4096, rounds), big = nsPerEntry(4 * small, 1, rounds);
  const areasRatio = median(many) / median(one), sizeRatio = median(big) / median(one);
  const ns = (xs: number[]) => `${median(xs).toFixed(1)} ns [${Math.min(...xs).toFixed(1)} - ${Math.max(...xs).toFixed(1)}]`;
  return {
    name: "checker", unit: "ns per IO entry",
    what: `checkInvariants() per 4 KiB IO entry: ${small} MiB in 1 area vs 4096 areas vs ${4 * small} MiB in 1 area`,
    ratio: +areasRatio.toFixed(2), ratioSpread: spreadOf(many.map((x, i) => x / one[i])), vs: "1 area (4096 areas / 1)",
    target: "per-entry cost within 2x whatever the areas (4096 vs 1) and the size (4x the entries)",
    met: areasRatio <= 2 && sizeRatio <= 2,
    extra: { oneArea: ns(one), areas4096: ns(many), fourTimesSize: ns(big), sizeRatio: +sizeRatio.toFixed(2) },
  };
};
