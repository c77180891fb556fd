// The invariant checker's cost against the state's size: the IO page tables' check walks each table once and takes
// each leaf's area from a cursor that moves with the walk, and a pin-mode entry on a truncated frame finds its
// orphan through the inode's pfn index (assembly/check/state.ts), so its time per IO entry must not grow with the
// number of areas nor with the orphans, and 4x the entries must cost about 4x the time. (Once O(entries x areas): a
// 4 GiB check in 1,024 areas took 1.41 s against 0.11 s in one area, and did not finish in 9 minutes at the memory
// limit; and O(entries x orphans): 128 MiB punched under pins took 0.2-0.8 s per check.) What the checker visited
// comes from checkInvariants() itself (test/invariants-cost.test.ts counts it without timing).
import { createSimulatorSync, type CheckCost } from "../../bindings/index";
import { median, roundsOf, spreadOf, MiB, type CaseFn } from "../util";

/**
 * ns per IO entry of checkInvariants() on `mib` MiB, every page in a 4 KiB IO entry, over `areas` areas; with
 * `orphaned`, a pin-mode IOMMU whose pages were all punched out of the file (every entry on an orphaned frame).
 */
function nsPerEntry(mib: number, areas: number, rounds: number, orphaned = false): { ns: number[]; visited: CheckCost } {
  const sim = createSimulatorSync(undefined, { checks: false });
  const g = sim.createGmem(mib * MiB, ["mmap", "init-shared"]);
  g.mmap();
  const io = sim.createIommu(orphaned ? "pin" : "gmem");
  if (!orphaned) io.bind(g);
  const per = (mib * MiB) / areas;
  for (let a = 0; a < areas; a++) io.map(a * per, g, a * per, per, false);
  if (orphaned) g.punch(0, mib * MiB);
  const entries = io.info().nonSecureLeaves;
  const ns: number[] = [];
  let visited = sim.checkInvariants();
  for (const ms of roundsOf(rounds, [() => { visited = sim.checkInvariants(); }])[0]) ns.push((ms * 1e6) / entries);
  return { ns, visited };
}

export const checkerScaling: CaseFn = ({ quick, log }) => {
  log("checker");
  const rounds = quick ? 3 : 7, small = quick ? 256 : 1024;
  const one = nsPerEntry(small, 1, rounds), many = nsPerEntry(small, 4096, rounds), big = nsPerEntry(4 * small, 1, rounds);
  const orph = nsPerEntry(small / 4, 1, rounds, true);
  const areasRatio = median(many.ns) / median(one.ns), sizeRatio = median(big.ns) / median(one.ns);
  const orphanRatio = median(orph.ns) / median(one.ns);
  const ns = (xs: number[]) => `${median(xs).toFixed(1)} ns [${Math.min(...xs).toFixed(1)} - ${Math.max(...xs).toFixed(1)}]`;
  return {
    name: "checker", unit: "ns per IO entry",
    what: `checkInvariants() per 4 KiB IO entry: ${small} MiB in 1 area vs 4096 areas vs ${4 * small} MiB in 1 area; ` +
      `${small / 4} MiB of pin-mode entries on orphaned frames`,
    ratio: +areasRatio.toFixed(2), ratioSpread: spreadOf(many.ns.map((x, i) => x / one.ns[i])), vs: "1 area (4096 areas / 1)",
    target: "per-entry cost within 2x whatever the areas (4096 vs 1), the size (4x the entries) and the orphans",
    met: areasRatio <= 2 && sizeRatio <= 2 && orphanRatio <= 2,
    extra: { oneArea: ns(one.ns), areas4096: ns(many.ns), fourTimesSize: ns(big.ns), orphaned: ns(orph.ns),
      sizeRatio: +sizeRatio.toFixed(2), orphanRatio: +orphanRatio.toFixed(2),
      visited: { oneArea: one.visited, areas4096: many.visited, orphaned: orph.visited } },
  };
};
