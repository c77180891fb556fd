// The worlds the cases measure: the same guest_memfd + VM (+ gmem-bound IOMMU) set up in the Wasm model and in the
// plain TypeScript reference model (test/reference/), driven with the steps the scenario runner would build.
import { createSimulatorSync, type Simulator, type Gmem, type Vm, type Iommu } from "../bindings/index";
import { ReferenceModel } from "../test/reference/index";
import type { ActionStep, ScenarioConfig } from "../bindings/scenario/types";
import { GiB, MiB } from "./util";

// ---- the reference model, driven with the same steps the scenario runner would build ----------------------------

export function refConvert(gmem: string, pageOff: number, pages: number, to: "shared" | "private"): ActionStep {
  return {
    op: "convert", index: 0, raw: null, gmem, offset: BigInt(pageOff) * 4096n, size: BigInt(pages) * 4096n, to,
    expect: { kind: "ok" },
  } as ActionStep;
}

export function refWorld(arch: "sw" | "tdx" | "snp", gmemBytes: number, flags: string[], mapAll: boolean, iommu: boolean,
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

export interface World { sim: Simulator; g: Gmem; vm: Vm; io?: Iommu }

export function world(arch: "sw" | "tdx" | "snp", gmemBytes: number, flags: ("mmap" | "init-private" | "hugetlb-2M" | "hugetlb-1G")[],
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
