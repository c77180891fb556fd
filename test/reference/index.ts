// An independent reference model of gmemsim, written as plainly as possible: per-page arrays and maps, no bitmaps,
// no radix tables, no shared memory. It consumes the parsed action steps of a scenario (bindings/scenario/types.ts)
// and returns what the Wasm model's public API would report, and its Observation (types.ts) is compared with the one
// test/reference/observe-wasm.ts reads from the Wasm model after every step of a differential fuzz run
// (test/fuzz/gen.ts). It is also the per-page "naive" peer a benchmark can compare against.
//
// Sources: /work/shared/docs/SCENARIOS.md (ops and results), KERNEL-PROTOCOL.md sections 1-4, 6, 7, and the
// modelling choices the Wasm model documents in its header comments (where the kernel leaves a choice open, that
// choice is the spec):
// - a punched page that pins still hold leaves the filemap; the frame, its content and its pins live on as an
//   orphan (host.unpin drops host pins only; a pin-mode IOMMU's entries keep pointing at the frame);
// - the gmem-mode IOMMU callback zaps precisely (a straddling huge entry is split first); the area keeps the hole,
//   and a later map at the area's own offsets restores it; truncate revokes whole areas;
// - a huge fault installs over a lower-level table; TDX demotes a straddling private leaf before removing it
//   (precise zapping) and never maps a demoted 2 MiB block huge again; before a folio is split the huge SPTEs and
//   IO entries over it are zapped (TDX: demoted) so that mapping <= folio holds;
// - SNP: RMP per page with 2 MiB entries, prepared on the first private fault, made shared in should_proceed (not
//   undone by a rollback); IO entries are kept across conversions and smashed with PSMASH;
// - content: one value per page; on tdx/snp a read through the other kind of mapping than the one that wrote it
//   sees value ^ 0xa5a5a5a5; TDX clears a page whose private mapping is removed and zeroes host-written content
//   when the guest accepts it; v4 content modes apply to the whole requested range, also when none of it converts
//   (ZERO clears it), except that PRESERVE on a range already in the target state changes nothing;
// - injected faults fire on the next matching step: enomem-split on any HugeTLB split (the one at allocation too),
//   enomem-store on every shareability store (a rollback's too: it only WARNs), transient-ref on the refcount
//   check (after the real references) or a split (which spins and goes on), sept-remove-fail on the next S-EPT
//   removal (the VM is dead: its accesses are EIO).
//
// Not modelled (the fuzzer does not generate them): paused operations and resume (EBUSY / "retry"), events and
// counters, pfns and refcount numbers, leaked-page counts, the Wasm model's own exhaustion (heap, area tables).
//
// Layout (no import cycles; each module builds on the ones before it):
//   types.ts   results, observations, constants, Errno, the environment (config, armed faults)
//   tables.ts  the Map-based page table (SPTE and IO page tables)
//   gmem.ts    RGmem: shareability, folios, content, RMP state per page; memslot bindings as gmem sees them
//   host.ts    mmap, host faults and accesses, GUP pins, orphaned frames
//   iommu.ts   pin and gmem modes, the invalidation callback, IO page sizes, DMA
//   arch.ts    TDX (S-EPT demotion and removal, accept) and SNP (RMP prepare, make-shared, PSMASH) rules
//   kvm.ts     VMs, memslots, zaps, the guest fault path
//   convert.ts v2 and v4 conversion, the refcount check, split/merge, punch
//   index.ts   this file: the ReferenceModel facade (apply a step, observe)
import type { ActionStep, ScenarioConfig } from "../../bindings/scenario/types";
import { Errno, type Env, type Observation, type StepResult } from "./types";
import { createGmem, type RGmem } from "./gmem";
import { hostMmap, hostMunmap, hostAccess, hostPin, hostUnpin } from "./host";
import { RIommu, iommuBind, iommuUnbind, iommuMap, iommuUnmap, dma } from "./iommu";
import { RVm, bind, unbind, vmDestroy, guestAccess } from "./kvm";
import { convert, punch, type ConvertEnv } from "./convert";

export { leafPairs } from "./types";
export type { StepResult, Leaves, GmemObs, VmObs, IommuObs, Observation } from "./types";
export type { RGmem } from "./gmem";
export type { RVm } from "./kvm";
export type { RIommu } from "./iommu";

export class ReferenceModel implements Env, ConvertEnv {
  readonly config: ScenarioConfig;
  readonly gmems = new Map<string, RGmem>();
  readonly vms = new Map<string, RVm>();
  readonly iommus = new Map<string, RIommu>();
  /** armed faults: kind -> remaining count */
  readonly armed = new Map<string, number>();

  constructor(config: ScenarioConfig) {
    this.config = config;
  }

  /** consume one armed fault of this kind, if any */
  take(fault: string): boolean {
    const n = this.armed.get(fault) ?? 0;
    if (n === 0) return false;
    this.armed.set(fault, n - 1);
    return true;
  }

  apply(step: ActionStep): StepResult {
    try {
      return this.run(step);
    } catch (e) {
      if (e instanceof Errno) return e.errorOffset === undefined ? { result: e.code } : { result: e.code, errorOffset: e.errorOffset };
      throw e;
    }
  }

  observe(): Observation {
    const obs: Observation = { gmems: {}, vms: {}, iommus: {} };
    for (const [id, g] of this.gmems) obs.gmems[id] = g.observe();
    for (const [id, v] of this.vms) obs.vms[id] = { private: v.priv.observe(), shared: v.shrd.observe(), seq: v.seq };
    for (const [id, io] of this.iommus) obs.iommus[id] = { secure: io.secure.observe(), nonSecure: io.nonSecure.observe() };
    return obs;
  }

  private gm(id: string): RGmem { const g = this.gmems.get(id); if (!g) throw new Error(`no gmem ${id}`); return g; }
  private vm(id: string): RVm { const v = this.vms.get(id); if (!v) throw new Error(`no vm ${id}`); return v; }
  private io(id: string): RIommu { const v = this.iommus.get(id); if (!v) throw new Error(`no iommu ${id}`); return v; }

  private run(s: ActionStep): StepResult {
    switch (s.op) {
      case "gmem.create": this.gmems.set(s.id, createGmem(this, s.id, s.size, s.flags)); return { result: 0 };
      case "gmem.close": this.gm(s.gmem).closed = true; return { result: 0 };
      case "vm.create": this.vms.set(s.id, new RVm(s.id)); return { result: 0 };
      case "vm.destroy": vmDestroy(this, this.vm(s.vm)); this.vms.delete(s.vm); return { result: 0 };
      case "vm.bind": bind(this.vm(s.vm), s.slot, s.gpa, s.size, this.gm(s.gmem), s.offset); return { result: 0 };
      case "vm.unbind": unbind(this, this.vm(s.vm), s.slot); return { result: 0 };
      case "guest.access": return guestAccess(this, this.vm(s.vm), s.gpa, s.private, s.write);
      case "host.mmap": hostMmap(this.gm(s.gmem)); return { result: 0 };
      case "host.munmap": hostMunmap(this.gm(s.gmem)); return { result: 0 };
      case "host.access": return hostAccess(this.gm(s.gmem), s.offset, s.write);
      case "host.pin": hostPin(this.gm(s.gmem), s.offset, s.size); return { result: 0 };
      case "host.unpin": hostUnpin(this.gm(s.gmem), s.offset, s.size); return { result: 0 };
      case "convert": convert(this, this.gm(s.gmem), s.offset, s.size, s.to === "shared", s.mode); return { result: 0 };
      case "punch": punch(this, this.gm(s.gmem), s.offset, s.size); return { result: 0 };
      case "inject": this.armed.set(s.fault, s.count); return { result: 0 };
      case "iommu.create": this.iommus.set(s.id, new RIommu(s.id, s.mode)); return { result: 0 };
      case "iommu.bind": iommuBind(this.io(s.iommu), this.gm(s.gmem)); return { result: 0 };
      case "iommu.unbind": iommuUnbind(this.io(s.iommu)); return { result: 0 };
      case "iommu.map": iommuMap(this, this.io(s.iommu), s.iova, this.gm(s.gmem), s.offset, s.size, s.secure); return { result: 0 };
      case "iommu.unmap": iommuUnmap(this.io(s.iommu), s.iova, s.size, s.secure); return { result: 0 };
      case "dma": return dma(this, this.io(s.iommu), s.iova, s.secure, s.write);
      case "resume": throw new Error("the reference model does not model paused operations");
    }
    throw new Error(`unknown op ${(s as ActionStep).op}`);
  }
}
