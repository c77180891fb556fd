// Resolving an abstract op spec (gen.ts) against the reference model's state when the op runs: which objects exist,
// boundary offsets, unaligned values, ranges past the end, areas to map into; the AVOID preconditions (avoid.ts)
// drop an op that would walk into a known Wasm bug. The result is a scenario step object and its parsed ActionStep.
import type { ActionStep } from "../../bindings/scenario/types";
import type { ReferenceModel } from "../reference/index";
import { AVOID, avoidOk, avoidGuestOk, avoidModeOk, snpIoLayoutDiffers } from "./avoid";
import { PAGE, GMEM_IDS, VM_IDS, IOMMU_IDS, resolvePage, resolveLen, type Spec } from "./gen";

export interface Resolved { json: Record<string, unknown>; step: ActionStep }

function sz(n: number): string { return "0x" + n.toString(16); }

/** the state the resolver reads: which objects exist and their shapes (from the reference model) */
function gmemInfo(ref: ReferenceModel, g: number): { id: string; npages: number; block: number } | null {
  const id = pick(ref.gmems, GMEM_IDS, g);
  const x = id === null ? undefined : ref.gmems.get(id);
  return x ? { id: x.id, npages: x.npages, block: x.block } : null;
}

/** the k-th (mod their number) of the ids that exist (or, free: that do not), so that most ops apply */
function pick(m: Map<string, unknown>, ids: string[], k: number, free = false): string | null {
  const xs = ids.filter((id) => m.has(id) !== free);
  return xs.length === 0 ? null : xs[k % xs.length];
}

export function resolve(spec: Spec, ref: ReferenceModel): Resolved | null {
  const j: Record<string, unknown> = { op: spec.op };
  switch (spec.op) {
    case "gmem.create": {
      const id = pick(ref.gmems, GMEM_IDS, spec.g, true);
      if (id === null) return null;
      j.id = id;
      j.size = sz(spec.pages * PAGE + spec.skew);
      j.flags = spec.flags;
      break;
    }
    case "gmem.close": {
      const g = gmemInfo(ref, spec.g);
      if (!g || ref.gmems.get(g.id)!.closed) return null;
      j.gmem = g.id;
      break;
    }
    case "vm.create": { const id = pick(ref.vms, VM_IDS, spec.v, true); if (id === null) return null; j.id = id; break; }
    case "vm.destroy": { const id = pick(ref.vms, VM_IDS, spec.v); if (id === null) return null; j.vm = id; break; }
    case "vm.bind": {
      const g = gmemInfo(ref, spec.g);
      const vm = pick(ref.vms, VM_IDS, spec.v);
      if (!g || vm === null) return null;
      const off = resolvePage(spec.off, g.npages);
      const len = resolveLen(spec.len, off, g.npages);
      Object.assign(j, { vm, slot: spec.slot, gpa: sz(spec.gpaPages * PAGE + spec.gpaSkew), size: sz(len * PAGE), gmem: g.id, offset: sz(off * PAGE + spec.offSkew) });
      break;
    }
    case "vm.unbind": {
      const vm = pick(ref.vms, VM_IDS, spec.v);
      if (vm === null) return null;
      // mostly a slot in use
      const used = [...ref.vms.get(vm)!.slots.keys()].sort();
      Object.assign(j, { vm, slot: used.length > 0 && spec.slot < 4 ? used[spec.slot % used.length] : spec.slot });
      break;
    }
    case "guest.access": {
      // a VM with memslots, preferably the one asked for
      let v = ref.vms.get(pick(ref.vms, VM_IDS, spec.v) ?? "");
      if (!v || v.slots.size === 0) v = ref.vms.get(pick(ref.vms, VM_IDS, spec.v + 1) ?? "") ?? v;
      if (!v) return null;
      const slots = [...v.slots.values()].sort((a, b) => a.no - b.no);
      let gfn: number;
      if (slots.length === 0 || spec.outside) gfn = 0x3000 + resolvePage(spec.at, 64);
      else {
        const s = slots[spec.slotSel % slots.length];
        gfn = s.base + Math.min(s.npages - 1, resolvePage(spec.at, s.npages));
      }
      if (AVOID.snpIoOverRmp4K && ref.config.arch === "snp" && spec.priv && !v.priv.find(gfn)) {
        const sl = v.slotOf(gfn);
        if (sl) {
          const g = sl.gm, i = gfn - sl.base + sl.pgoff;
          const nl = g.order[i] < 0 ? (g.hugeOrder >= 9 && !g.shared[i] ? 2 : 1) : g.rmpPrepareLevel(i);
          if (nl > 0 && !g.shared[i]) {
            for (const io of g.iommus) for (const a of io.areas) {
              if (a.gm !== g || i < a.offset || i >= a.offset + a.npages) continue;
              const x = (a.secure ? io.secure : io.nonSecure).find(a.iova + i - a.offset);
              if (x && x.level > nl) return null;
            }
          }
        }
      }
      if (!avoidGuestOk(ref, v.id, gfn, spec.priv)) return null;
      Object.assign(j, { vm: v.id, gpa: sz(gfn * PAGE), private: spec.priv });
      if (spec.write !== undefined) j.write = spec.write;
      break;
    }
    case "host.mmap": case "host.munmap": {
      const g = gmemInfo(ref, spec.g);
      if (!g) return null;
      j.gmem = g.id;
      break;
    }
    case "host.access": {
      const g = gmemInfo(ref, spec.g);
      if (!g) return null;
      Object.assign(j, { gmem: g.id, offset: sz(resolvePage(spec.at, g.npages) * PAGE + spec.byte) });
      if (spec.write !== undefined) j.write = spec.write;
      break;
    }
    case "host.pin": case "host.unpin": case "punch": case "convert": {
      const g = gmemInfo(ref, spec.g);
      if (!g) return null;
      let at = resolvePage(spec.at, g.npages);
      let len = resolveLen(spec.len, at, g.npages);
      if (spec.op === "host.unpin" && spec.skew === 0) {
        // mostly unpin what is pinned: a page with pins, and as many pages after it as are pinned
        const gm = ref.gmems.get(g.id)!;
        const pinned: number[] = gm.orphans.filter((o) => o.hostPins > 0).map((o) => o.index);
        for (let i = 0; i < gm.npages && pinned.length < 64; i++) if (gm.pins[i] > 0) pinned.push(i);
        if (pinned.length > 0 && spec.len.k !== "zero") {
          at = pinned[Math.floor((spec.at.k === "frac" ? spec.at.f : 0) * pinned.length) % pinned.length];
          let n = 1;
          while (n < len && at + n < g.npages && gm.pins[at + n] > 0) n++;
          len = n;
        }
      }
      if (spec.op === "convert" && spec.same && len > 0) {
        // a range already in the target state: the run of such pages from the first one at or after `at` (wrapping)
        const gm = ref.gmems.get(g.id)!;
        let k = -1;
        for (let d = 0; d < gm.npages && k < 0; d++) { const i = (at + d) % gm.npages; if (gm.shared[i] === spec.toShared) k = i; }
        if (k >= 0) {
          let n = 1;
          while (n < len && k + n < gm.npages && gm.shared[k + n] === spec.toShared) n++;
          at = k; len = n;
        }
      }
      const off = at * PAGE + (spec.skewSize ? 0 : spec.skew), size = len * PAGE + (spec.skewSize ? spec.skew : 0);
      Object.assign(j, { gmem: g.id, offset: sz(off), size: sz(size) });
      if (spec.op === "convert") {
        j.to = spec.toShared ? "shared" : "private";
        if (spec.mode !== undefined && (ref.config.protocol === "v4" || spec.skew === 1)) j.mode = spec.mode;
        if (!avoidModeOk(ref, g.id, off, size, spec.toShared, j.mode as string | undefined)) return null;
      }
      if (!avoidOk(spec.op, ref, g.id, off, size)) return null;
      break;
    }
    case "iommu.create": {
      const id = pick(ref.iommus, IOMMU_IDS, spec.io, true);
      if (id === null) return null;
      Object.assign(j, { id, mode: spec.mode });
      break;
    }
    case "iommu.bind": {
      const g = gmemInfo(ref, spec.g);
      const io = pick(ref.iommus, IOMMU_IDS, spec.io);
      if (!g || io === null) return null;
      Object.assign(j, { iommu: io, gmem: g.id });
      break;
    }
    case "iommu.unbind": { const io = pick(ref.iommus, IOMMU_IDS, spec.io); if (io === null) return null; j.iommu = io; break; }
    case "iommu.map": {
      const io = ref.iommus.get(pick(ref.iommus, IOMMU_IDS, spec.io) ?? "");
      // gmem mode maps mostly the bound guest_memfd
      const g = io?.bound && spec.g !== 2 ? { id: io.bound.id, npages: io.bound.npages, block: io.bound.block } : gmemInfo(ref, spec.g);
      if (!io || !g) return null;
      const areas = io.areas.filter((a) => a.secure === spec.secure).sort((a, b) => a.iova - b.iova);
      if (spec.into >= 0 && areas.length > 0) {
        // map again into an area at its own offsets (restores pages the invalidation callback zapped)
        const a = areas[spec.into % areas.length];
        const at = resolvePage(spec.at, a.npages);
        const k = Math.min(at, a.npages - 1);
        const len = Math.min(resolveLen(spec.len, k, a.npages), a.npages - k);
        if (AVOID.snpIoOverRmp4K && ref.config.arch === "snp" && snpIoLayoutDiffers(a.gm, a.iova + k, a.offset + k, len)) return null;
        Object.assign(j, { iommu: io.id, iova: sz((a.iova + k) * PAGE), gmem: a.gm.id, offset: sz((a.offset + k) * PAGE), size: sz(len * PAGE), secure: spec.secure });
        break;
      }
      const at = resolvePage(spec.at, g.npages);
      const len = resolveLen(spec.len, at, g.npages);
      // secure maps are for gmem mode (pin mode refuses them)
      const secure = spec.secure && (io.mode === "gmem" || spec.iovaSkew === 1);
      if (AVOID.snpIoOverRmp4K && ref.config.arch === "snp" && io.mode === "gmem" && spec.iovaSkew === 0 && at + len <= g.npages) {
        if (snpIoLayoutDiffers(ref.gmems.get(g.id)!, spec.iovaPages, at, len)) return null;
      }
      Object.assign(j, { iommu: io.id, iova: sz(spec.iovaPages * PAGE + spec.iovaSkew), gmem: g.id, offset: sz(at * PAGE), size: sz(len * PAGE), secure });
      break;
    }
    case "iommu.unmap": {
      const io = ref.iommus.get(pick(ref.iommus, IOMMU_IDS, spec.io) ?? "");
      if (!io) return null;
      const areas = io.areas.filter((a) => a.secure === spec.secure).sort((a, b) => a.iova - b.iova);
      let iova: number, size: number;
      if (areas.length > 0 && spec.areaSel < 6) {
        const a = areas[spec.areaSel % areas.length];
        if (spec.whole) { iova = a.iova * PAGE; size = a.npages * PAGE; }
        else { iova = a.iova * PAGE; size = resolveLen(spec.lenSel, 0, a.npages) * PAGE + spec.skew; }
      } else { iova = spec.iovaPages * PAGE + spec.skew; size = resolveLen(spec.lenSel, 0, 1024) * PAGE; }
      if (AVOID.orphanUnmap && io.mode === "pin" && size > 0 && iova % PAGE === 0) {
        const s0 = iova / PAGE, e0 = s0 + Math.ceil(size / PAGE);
        for (const a of io.areas) {
          if (a.secure || a.iova + a.npages <= s0 || a.iova >= e0) continue;
          for (let p = a.iova; p < a.iova + a.npages; p++) {
            const hit = io.nonSecure.find(p);
            if (hit?.leaf.orphan && a.gm.ioPins[a.offset + p - a.iova] > 0) return null;
          }
        }
      }
      Object.assign(j, { iommu: io.id, iova: sz(iova), size: sz(size), secure: spec.secure });
      break;
    }
    case "dma": {
      const io = ref.iommus.get(pick(ref.iommus, IOMMU_IDS, spec.io) ?? "");
      if (!io) return null;
      const areas = io.areas.filter((a) => a.secure === spec.secure).sort((a, b) => a.iova - b.iova);
      let p: number;
      if (areas.length > 0 && spec.areaSel < 14) {
        const a = areas[spec.areaSel % areas.length];
        p = a.iova + Math.min(a.npages - 1, Math.floor(spec.at * a.npages));
      } else p = spec.iovaPages;
      if (AVOID.orphanCiphertext && ref.config.arch !== "sw" && !spec.secure) {
        const o = io.nonSecure.find(p)?.leaf.orphan;
        if (o && o.enc && o.value !== 0) return null;
      }
      Object.assign(j, { iommu: io.id, iova: sz(p * PAGE), secure: spec.secure });
      if (spec.write !== undefined) j.write = spec.write;
      break;
    }
    case "inject": Object.assign(j, { fault: spec.fault, count: spec.count }); break;
  }
  return { json: j, step: toStep(j) };
}

const BIG = new Set(["size", "offset", "gpa", "iova"]);

/** a scenario step object -> the parsed ActionStep both models consume (as bindings/scenario/parse.ts makes it) */
export function toStep(j: Record<string, unknown>, index = 0): ActionStep {
  const s: Record<string, unknown> = { index, raw: j, expect: { kind: "ok" } };
  for (const [k, v] of Object.entries(j)) s[k] = BIG.has(k) ? BigInt(v as string) : v;
  if (s.op === "inject" && s.count === undefined) s.count = 1;
  if (s.op === "gmem.create" && s.flags === undefined) s.flags = [];
  return s as unknown as ActionStep;
}
