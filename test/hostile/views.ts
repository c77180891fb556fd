// The lock-free view queries in the hostile sweep (test/hostile/sweep.ts): the same live, dead and forged objects
// and the same garbage arguments; every call returns or throws an Error with a string `.code`, never traps.
import type { Simulator, Gmem, Vm, Iommu, PageTable } from "../../bindings/index";

export interface SweepTools {
  sim: Simulator;
  G_: () => Gmem; V_: () => Vm; I_: () => Iommu; P_: () => PageTable;
  arg: (good: () => unknown, p?: number) => unknown;
  chance: (p: number) => boolean; pick: <T>(xs: readonly T[]) => T; int: (n: number) => number; junk: () => unknown;
  index: (g: Gmem) => number; gfn: () => number; table: () => unknown; secure: () => unknown;
}

export function viewMethods(t: SweepTools): [string, () => unknown][] {
  const S = (s: unknown) => s as never;
  const grain = () => S(t.chance(0.85) ? { grain: t.arg(() => t.pick([1, 7, 512, 1 << 18, t.int(5000) + 1])) } : t.junk());
  return [
    ["sim.objects", () => t.sim.readConsistent(() => t.sim.objects().length)],
    ["gmem.folios", () => { const g = t.G_(); return g.folios(S(t.arg(() => t.index(g))), S(t.arg(() => g.npages)), grain()).length; }],
    ["gmem.shareability", () => { const g = t.G_(); return g.shareability(S(t.arg(() => 0)), S(t.arg(() => t.index(g))), grain()).length; }],
    ["gmem.hostMappings", () => { const g = t.G_(); return g.hostMappings(S(t.arg(() => 0)), S(t.arg(() => g.npages)), grain()).length; }],
    ["vm.memslots", () => t.V_().memslots().length],
    ["vm.mappings", () => t.V_().mappings(S(t.table()), S(t.arg(t.gfn)), S(t.arg(t.gfn)), grain()).length],
    ["iommu.areas", () => t.I_().areas().length],
    ["iommu.mappings", () => t.I_().mappings(S(t.secure()), S(t.arg(t.gfn)), S(t.arg(() => 2 ** 32)), grain()).length],
    ["pt.mappings", () => t.P_().mappings(S(t.arg(t.gfn)), S(t.arg(() => 2 ** 32)), grain()).length],
  ];
}
