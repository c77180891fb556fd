// Differential fuzzing of the Wasm model against the reference model (test/reference/model.ts), model-based with
// fast-check: a sequence is a small configuration (a prelude creating guest_memfds, VMs, memslots, IOMMUs) and a
// random list of operations (fc.commands, so a failure shrinks to a minimal sequence). Every op runs on both
// models; their results and observations are compared after every op, and the Wasm model's invariant checker runs
// after every op. Arguments are abstract selectors resolved against the reference model's state when the op runs
// (boundary offsets, unaligned values, ranges past the end, block edges), so a shrunk sequence replays exactly.
// A failure is written out as a scenario file (format 1, the Wasm model's results as `expect`).
//
// No Node APIs here: runs in Node and in a browser page (test/fuzz.test.ts) and under scripts/fuzz.mjs.
import fc from "fast-check";
import { ReferenceModel, type Observation, type StepResult } from "../reference/model";
import { WasmSubject, type ObserveScope } from "../reference/observe-wasm";
import type { ActionStep, ScenarioConfig, Arch, Protocol } from "../../bindings/scenario/types";

// ---------------------------------------------------------------------------------------------------------------
// Wasm model bugs the fuzzer found, each with a scenario in test/scenarios/ that states the documented behaviour.
// An entry set to true keeps the generator out of that bug (preconditions in resolve()), so that a long run can go
// on finding others while it is being fixed; false (all of them now) fuzzes straight into it.

export const AVOID = {
  // every one found so far has been fixed (31fb4b9, 07b8438, 4e94198, 5ddfbe3); the entries stay so that a
  // regression can be fenced off again
  /** host.unpin may drop a pin a pin-mode IOMMU holds (I4 breaks): test/scenarios/unpin-iommu-pin.json */
  unpinIommuPins: false,
  /** punch of a 4 KiB page a pin-mode IOMMU pins leaves the IOPTE on a page outside the filemap (I15 breaks) and
   *  DMA then reaches the index's new folio: test/scenarios/punch-iommu-pinned.json */
  punchIommuPinned: false,
  /** a punch that would orphan more than 64 pinned 4 KiB frames of one guest_memfd fails with EAGAIN after
   *  truncating part of the range: test/scenarios/punch-many-pinned.json */
  orphanLimit: false,
  /** SNP: a to-shared conversion splits a huge folio that a huge IO entry maps, and the entry stays huge (I15
   *  breaks): test/scenarios/snp-split-keeps-huge-ioptes.json */
  snpSplitHugeIo: false,
  /** iommu.unmap of an area whose frame was punched out (an orphan) drops the pin of the index's new page when a
   *  second pin-mode area pins that page (I4 breaks): test/scenarios/orphan-unmap-drops-its-own-pin.json */
  orphanUnmap: false,
  /** on tdx/snp an orphaned frame forgets its content was written encrypted (DMA then reads the plaintext):
   *  test/scenarios/snp-orphan-keeps-ciphertext.json */
  orphanCiphertext: false,
  /** a to-shared conversion splits a 1 GiB folio while a 2 MiB private SPTE elsewhere in it survives (I15: the
   *  TDX v3 "zap mappings before splitting backend folios" fix): test/scenarios/split-1g-keeps-2m-sptes.json */
  splitUnderHugeSpte: false,
  /** SNP: an IOMMU map installs a 2 MiB IO entry over pfns with 4 KiB RMP entries (only the first pfn's entry is
   *  looked at), and a 4 KiB RMPUPDATE under a huge IO entry does not smash it (I10):
   *  test/scenarios/snp-rmp-4k-under-huge-iopte.json */
  snpIoOverRmp4K: false,
};

type RefGmem = NonNullable<ReturnType<ReferenceModel["gmems"]["get"]>>;

/** SNP: would the Wasm model's first-pfn-only RMP rule give another IO layout for [s, s + n) at iova p0? */
function snpIoLayoutDiffers(g: RefGmem, p0: number, s: number, n: number): boolean {
  for (let k = 0; k < n;) {
    let a = 1, b = 1;
    for (let l = 2; l <= 3; l++) {
      const p = l === 2 ? 512 : 262144;
      const i = s + k;
      if ((p0 + k) % p !== 0 || i % p !== 0 || n - k < p || g.order[i] < 0 || (1 << g.order[i]) < p) break;
      const r0 = g.rmpLevel(i);
      const first = r0 === 0 || r0 >= l;
      let all = true;
      for (let q = i; q < i + p; q++) { const r = g.rmpLevel(q); if (r !== 0 && r < l) { all = false; break; } }
      if (first) a = l;
      if (all && b === l - 1) b = l;
      if (!first) break;
    }
    if (a !== b) return true;
    k += a === 3 ? 262144 : a === 2 ? 512 : 1;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// selectors

const PAGE = 4096;
const GMEM_IDS = ["g0", "g1", "g2"];
const VM_IDS = ["vm0", "vm1"];
const IOMMU_IDS = ["io0", "io1"];
const FAULTS = ["enomem-split", "enomem-store", "transient-ref", "sept-remove-fail"] as const;

/** a page position in [0, n] (and a little past it) */
type PageSel = { k: "zero" | "one" | "last" | "end" | "past" } | { k: "block"; n: number } | { k: "frac"; f: number };
/** a length in pages */
type LenSel = { k: "one" | "two" | "block" | "blockm1" | "blockp1" | "rest" | "all" | "zero" } | { k: "frac"; f: number };
/** byte skew making an offset or a size unaligned (0: aligned) */
type Skew = number;

const pageSel: fc.Arbitrary<PageSel> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<PageSel>({ k: "zero" }, { k: "one" }, { k: "last" }) },
  { weight: 1, arbitrary: fc.constantFrom<PageSel>({ k: "end" }, { k: "past" }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }).map((n): PageSel => ({ k: "block", n })) },
  { weight: 5, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((f): PageSel => ({ k: "frac", f })) },
);
const lenSel: fc.Arbitrary<LenSel> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<LenSel>({ k: "one" }, { k: "two" }) },
  { weight: 3, arbitrary: fc.constantFrom<LenSel>({ k: "block" }, { k: "blockm1" }, { k: "blockp1" }) },
  { weight: 3, arbitrary: fc.constantFrom<LenSel>({ k: "rest" }, { k: "all" }) },
  { weight: 1, arbitrary: fc.constant<LenSel>({ k: "zero" }) },
  { weight: 4, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((f): LenSel => ({ k: "frac", f })) },
);
const skew: fc.Arbitrary<Skew> = fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4095 }) });
const value: fc.Arbitrary<number | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 255 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0xffffffff, 0xa5a5a5a5) },
);

function resolvePage(sel: PageSel, n: number): number {
  switch (sel.k) {
    case "zero": return 0;
    case "one": return Math.min(1, n);
    case "last": return Math.max(0, n - 1);
    case "end": return n;
    case "past": return n + 1;
    case "block": return Math.min(n, 512 * sel.n);
    case "frac": return Math.min(n - 1, Math.floor(sel.f * n));
  }
}
function resolveLen(sel: LenSel, start: number, n: number): number {
  const fit = (x: number) => Math.max(1, Math.min(x, n - start));
  switch (sel.k) {
    case "one": return 1;
    case "two": return fit(2);
    case "block": return fit(512);
    case "blockm1": return fit(511);
    case "blockp1": return 513;
    case "rest": return Math.max(1, n - start);
    case "all": return n;
    case "zero": return 0;
    case "frac": return Math.max(1, Math.ceil(sel.f * Math.max(1, n - start)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// op specs: what an op does, with abstract arguments

export type Spec =
  | { op: "gmem.create"; g: number; pages: number; skew: Skew; flags: string[] }
  | { op: "gmem.close"; g: number }
  | { op: "vm.create"; v: number }
  | { op: "vm.destroy"; v: number }
  | { op: "vm.bind"; v: number; slot: number; gpaPages: number; gpaSkew: Skew; g: number; off: PageSel; len: LenSel; offSkew: Skew }
  | { op: "vm.unbind"; v: number; slot: number }
  | { op: "guest.access"; v: number; slotSel: number; at: PageSel; outside: boolean; priv: boolean; write?: number }
  | { op: "host.mmap" | "host.munmap"; g: number }
  | { op: "host.access"; g: number; at: PageSel; byte: number; write?: number }
  | { op: "host.pin" | "host.unpin" | "punch"; g: number; at: PageSel; len: LenSel; skew: Skew; skewSize: boolean }
  | { op: "convert"; g: number; at: PageSel; len: LenSel; skew: Skew; skewSize: boolean; toShared: boolean; mode?: "zero" | "preserve" }
  | { op: "iommu.create"; io: number; mode: "pin" | "gmem" }
  | { op: "iommu.bind"; io: number; g: number }
  | { op: "iommu.unbind"; io: number }
  | { op: "iommu.map"; io: number; iovaPages: number; iovaSkew: Skew; g: number; at: PageSel; len: LenSel; secure: boolean; into: number }
  | { op: "iommu.unmap"; io: number; areaSel: number; whole: boolean; lenSel: LenSel; iovaPages: number; skew: Skew; secure: boolean }
  | { op: "dma"; io: number; areaSel: number; at: number; iovaPages: number; secure: boolean; write?: number }
  | { op: "inject"; fault: (typeof FAULTS)[number]; count: number };

/** guest physical bases (in pages) memslots are bound at: 2 MiB aligned, 4 KiB aligned only, 1 GiB */
const GPA_BASES = [0, 0x800, 0x1000, 0x1001, 0x1800, 0x40000];
/** iova bases (in pages) */
const IOVA_BASES = [0, 1, 0x200, 0x400, 0x600, 0x1000];

const createSpec = (g: number): fc.Arbitrary<Spec> => fc.record({
  op: fc.constant("gmem.create" as const),
  g: fc.constant(g),
  pages: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(1, 2, 3, 4, 8, 16, 64) },
    { weight: 4, arbitrary: fc.constantFrom(512, 1024, 1536, 2048) },
    { weight: 1, arbitrary: fc.constantFrom(0, 513, 262144) },
  ),
  skew: skew,
  flags: fc.tuple(fc.boolean(), fc.constantFrom("", "", "init-shared", "init-private"), fc.constantFrom("", "", "hugetlb-2M", "hugetlb-2M", "hugetlb-1G"), fc.integer({ min: 0, max: 9 }))
    .map(([mmap, init, huge, r]) => {
      const f: string[] = [];
      if (mmap || r < 6) f.push("mmap");
      if (init) f.push(init);
      if (huge) f.push(huge);
      if (r === 9) f.push(init === "init-shared" ? "init-private" : "hugetlb-2M");
      return [...new Set(f)];
    }),
});

const opSpecs: fc.Arbitrary<Spec>[] = [];
const gSel = fc.integer({ min: 0, max: GMEM_IDS.length - 1 });
const vSel = fc.integer({ min: 0, max: VM_IDS.length - 1 });
const ioSel = fc.integer({ min: 0, max: IOMMU_IDS.length - 1 });

function weighted(w: number, a: fc.Arbitrary<Spec>): fc.WeightedArbitrary<Spec> {
  return { weight: Math.round(w * 10), arbitrary: a };
}

const OP_ARBS: fc.WeightedArbitrary<Spec>[] = [
  weighted(1, gSel.chain((g) => createSpec(g))),
  weighted(1, fc.record({ op: fc.constant("vm.create" as const), v: vSel })),
  weighted(3, fc.record({
    op: fc.constant("vm.bind" as const), v: vSel, slot: fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.constant(32) }),
    gpaPages: fc.constantFrom(...GPA_BASES), gpaSkew: skew, g: gSel, off: pageSel, len: lenSel, offSkew: skew,
  })),
  weighted(2, fc.record({ op: fc.constant("vm.unbind" as const), v: vSel, slot: fc.integer({ min: 0, max: 4 }) })),
  weighted(25, fc.record({
    op: fc.constant("guest.access" as const), v: vSel, slotSel: fc.nat(7), at: pageSel,
    outside: fc.oneof({ weight: 20, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    priv: fc.boolean(), write: value,
  }, { requiredKeys: ["op", "v", "slotSel", "at", "outside", "priv"] })),
  weighted(2, fc.record({ op: fc.constantFrom("host.mmap" as const, "host.munmap" as const), g: gSel })),
  weighted(10, fc.record({ op: fc.constant("host.access" as const), g: gSel, at: pageSel, byte: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4095 }) }), write: value },
    { requiredKeys: ["op", "g", "at", "byte"] })),
  weighted(5, fc.record({ op: fc.constantFrom("host.pin" as const, "host.unpin" as const), g: gSel, at: pageSel, len: lenSel, skew, skewSize: fc.boolean() })),
  weighted(16, fc.record({
    op: fc.constant("convert" as const), g: gSel, at: pageSel, len: lenSel, skew, skewSize: fc.boolean(), toShared: fc.boolean(),
    mode: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom("zero" as const, "preserve" as const) }),
  }, { requiredKeys: ["op", "g", "at", "len", "skew", "skewSize", "toShared"] })),
  weighted(4, fc.record({ op: fc.constant("punch" as const), g: gSel, at: pageSel, len: lenSel, skew, skewSize: fc.boolean() })),
  weighted(1, fc.record({ op: fc.constant("iommu.create" as const), io: ioSel, mode: fc.constantFrom("pin" as const, "gmem" as const) })),
  weighted(2, fc.record({ op: fc.constant("iommu.bind" as const), io: ioSel, g: gSel })),
  weighted(1, fc.record({ op: fc.constant("iommu.unbind" as const), io: ioSel })),
  weighted(7, fc.record({
    op: fc.constant("iommu.map" as const), io: ioSel, iovaPages: fc.constantFrom(...IOVA_BASES), iovaSkew: skew, g: gSel, at: pageSel, len: lenSel, secure: fc.boolean(),
    into: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(3) }),
  })),
  weighted(3, fc.record({
    op: fc.constant("iommu.unmap" as const), io: ioSel, areaSel: fc.nat(7), whole: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    lenSel, iovaPages: fc.constantFrom(...IOVA_BASES), skew, secure: fc.boolean(),
  })),
  weighted(8, fc.record({ op: fc.constant("dma" as const), io: ioSel, areaSel: fc.nat(15), at: fc.double({ min: 0, max: 1, noNaN: true }), iovaPages: fc.integer({ min: 0, max: 0x1200 }), secure: fc.boolean(), write: value },
    { requiredKeys: ["op", "io", "areaSel", "at", "iovaPages", "secure"] })),
  weighted(2, fc.record({ op: fc.constant("inject" as const), fault: fc.constantFrom(...FAULTS), count: fc.integer({ min: 1, max: 3 }) })),
  weighted(0.3, fc.record({ op: fc.constant("vm.destroy" as const), v: vSel })),
];
void opSpecs;

/** the rare ops: closing a guest_memfd */
const RARE_ARBS: fc.WeightedArbitrary<Spec>[] = [weighted(0.3, fc.record({ op: fc.constant("gmem.close" as const), g: gSel }))];

// ---------------------------------------------------------------------------------------------------------------
// resolving a spec against the reference model's state

interface Resolved { json: Record<string, unknown>; step: ActionStep }

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
      const off = at * PAGE + (spec.skewSize ? 0 : spec.skew), size = len * PAGE + (spec.skewSize ? spec.skew : 0);
      Object.assign(j, { gmem: g.id, offset: sz(off), size: sz(size) });
      if (spec.op === "convert") {
        j.to = spec.toShared ? "shared" : "private";
        if (spec.mode !== undefined && (ref.config.protocol === "v4" || spec.skew === 1)) j.mode = spec.mode;
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

/** preconditions that keep the fuzzer out of the known Wasm bugs of AVOID */
function avoidOk(op: string, ref: ReferenceModel, id: string, off: number, size: number): boolean {
  const g = ref.gmems.get(id)!;
  if (off % PAGE !== 0 || size % PAGE !== 0) return true;
  const s = off / PAGE, e = Math.min(g.npages, s + size / PAGE);
  if (op === "host.unpin" && AVOID.unpinIommuPins) {
    for (let i = s; i < e; i++) if (g.pins[i] === 0 && g.ioPins[i] > 0) return false;
  }
  if (op === "punch" && AVOID.punchIommuPinned && g.hugeOrder === 0) {
    for (let i = s; i < e; i++) if (g.ioPins[i] > 0) return false;
  }
  if (op === "convert" && AVOID.snpSplitHugeIo && ref.config.arch === "snp" && g.hugeOrder > 0) {
    const b0 = s - (s % g.block), b1 = Math.min(g.npages, Math.ceil(e / g.block) * g.block);
    for (let b = b0; b < b1; b += g.block) {
      if (g.order[b] <= 0) continue;
      for (const io of g.iommus) for (const a of io.areas) {
        const lo = Math.max(b, a.offset), hi = Math.min(b + g.block, a.offset + a.npages);
        if (lo >= hi) continue;
        const t = a.secure ? io.secure : io.nonSecure;
        if (t.within(a.iova + lo - a.offset, a.iova + hi - a.offset).some((x) => x.level > 1)) return false;
      }
    }
  }
  if (op === "convert" && AVOID.splitUnderHugeSpte && g.hugeOrder === 18 && !g.shared[s]) {
    for (const b of g.bindings) for (const x of b.vm.priv.within(b.slot.base, b.slot.base + b.slot.npages)) if (x.level === 2) return false;
  }
  if (op === "punch" && AVOID.orphanLimit && g.hugeOrder === 0) {
    let n = g.orphans.length;
    for (let i = s; i < e; i++) if (g.pins[i] > 0 && g.order[i] >= 0) n++;
    if (n > 64) return false;
  }
  return true;
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

// ---------------------------------------------------------------------------------------------------------------
// running a sequence on both models

export interface FuzzStats {
  ops: number;
  sequences: number;
  divergences: number;
  invariantViolations: number;
  /** "op result" -> how often (coverage of the results; filled when present) */
  results?: Record<string, number>;
}
export function newStats(): FuzzStats { return { ops: 0, sequences: 0, divergences: 0, invariantViolations: 0 }; }

export class Divergence extends Error {
  constructor(readonly kind: "result" | "observation" | "invariant" | "crash", message: string) { super(message); }
}

interface Logged { json: Record<string, unknown>; wasm: StepResult; ref: StepResult }

function sameResult(a: StepResult, b: StepResult): boolean {
  return a.result === b.result && a.errorOffset === b.errorOffset && a.level === b.level && a.value === b.value;
}

/** the first difference of two observations, or null */
export function diffObservation(want: Observation, got: Observation): string | null {
  for (const kind of ["gmems", "vms", "iommus"] as const) {
    const a = want[kind] as Record<string, unknown>, b = got[kind] as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      if (!(k in a)) return `${kind} ${k}: only the Wasm model has it`;
      if (!(k in b)) return `${kind} ${k}: only the reference has it`;
      const x = a[k] as Record<string, unknown>, y = b[k] as Record<string, unknown>;
      for (const f of Object.keys({ ...x, ...y })) {
        const sx = JSON.stringify(x[f]), sy = JSON.stringify(y[f]);
        if (sx !== sy) return `${kind} ${k}.${f}: reference ${clip(sx)} / wasm ${clip(sy)}`;
      }
    }
  }
  return null;
}
function clip(s: string | undefined): string { return s === undefined ? "undefined" : s.length > 400 ? s.slice(0, 400) + "..." : s; }

export class Ctx {
  readonly ref: ReferenceModel;
  readonly wasm: WasmSubject;
  readonly log: Logged[] = [];
  readonly scope: ObserveScope = { gfnRanges: [], iovaRanges: [] };
  constructor(readonly config: ScenarioConfig, readonly stats: FuzzStats) {
    this.ref = new ReferenceModel(config);
    this.wasm = new WasmSubject(config);
  }

  exec(spec: Spec): void {
    const r = resolve(spec, this.ref);
    if (!r) return;
    this.stats.ops++;
    const a = this.ref.apply(r.step);
    let b: StepResult;
    try {
      b = this.wasm.apply(r.step);
    } catch (e) {
      this.log.push({ json: r.json, wasm: { result: "crash" }, ref: a });
      throw new Divergence("crash", `${show(r.json)}: the Wasm model threw ${(e as Error).stack ?? e}`);
    }
    this.log.push({ json: r.json, wasm: b, ref: a });
    if (this.stats.results) {
      const k = `${r.json.op} ${b.result}${b.level ? " " + b.level : ""}`;
      this.stats.results[k] = (this.stats.results[k] ?? 0) + 1;
    }
    if (b.result === 0) this.widenScope(r.json);
    if (!sameResult(a, b)) {
      throw new Divergence("result", `${show(r.json)}: reference ${JSON.stringify(a)}, wasm ${JSON.stringify(b)}`);
    }
    const inv = this.wasm.checkInvariants();
    if (inv) throw new Divergence("invariant", `${show(r.json)}: invariant ${inv}`);
    const want = this.ref.observe();
    const got = this.wasm.observeVerified(this.scope, want);
    const d = diffObservation(want, got);
    if (d) throw new Divergence("observation", `after ${show(r.json)}: ${d}`);
  }

  private widenScope(j: Record<string, unknown>): void {
    if (j.op === "vm.bind") {
      const s = Number(BigInt(j.gpa as string) / 4096n), n = Number(BigInt(j.size as string) / 4096n);
      this.scope.gfnRanges.push([s, s + n]);
    } else if (j.op === "iommu.map") {
      const s = Number(BigInt(j.iova as string) / 4096n), n = Number(BigInt(j.size as string) / 4096n);
      this.scope.iovaRanges.push([s, s + n]);
    }
  }

  dispose(): void {
    // drop the host pins the reference knows of, so that every guest_memfd can go
    this.wasm.dispose((id) => {
      const m = new Map<number, number>();
      const g = this.ref.gmems.get(id);
      if (!g) return m;
      g.pins.forEach((n, i) => { if (n > 0) m.set(i, n); });
      for (const o of g.orphans) m.set(o.index, (m.get(o.index) ?? 0) + o.hostPins);
      return m;
    });
  }
}

function show(j: Record<string, unknown>): string {
  return JSON.stringify(j);
}

class StepCommand implements fc.Command<Ctx, Ctx> {
  constructor(readonly spec: Spec) {}
  check(m: Readonly<Ctx>): boolean { return resolve(this.spec, m.ref) !== null; }
  run(m: Ctx): void { m.exec(this.spec); }
  toString(): string { return JSON.stringify(this.spec); }
}

// ---------------------------------------------------------------------------------------------------------------
// sequences: a configuration prelude + fc.commands

export interface SequenceInput {
  config: ScenarioConfig;
  prelude: Spec[];
  cmds: Iterable<fc.Command<Ctx, Ctx>>;
}

const configArb: fc.Arbitrary<ScenarioConfig> = fc.record({
  arch: fc.constantFrom<Arch>("sw", "tdx", "snp"),
  protocol: fc.constantFrom<Protocol>("v2", "v4"),
  invariants: fc.constant(true),
});

/** a small configuration: 1-3 guest_memfds (mostly valid), 1-2 VMs with memslots, 0-2 IOMMUs */
function preludeArb(protocol: Protocol): fc.Arbitrary<Spec[]> {
  const gm = (g: number) => fc.record({
    pages: fc.constantFrom(1, 4, 16, 64, 512, 1024, 2048),
    // HugeTLB 2M often, 1G rarely (one 1 GiB folio: 262144 pages the reference walks per op)
    huge: protocol === "v4" ? fc.constant(0) : fc.oneof({ weight: 20, arbitrary: fc.constantFrom(0, 9) }, { weight: g === 0 ? 1 : 0, arbitrary: fc.constant(18) }),
    mmap: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    init: fc.constantFrom("", "init-shared", "init-private"),
  }).map(({ pages, huge, mmap, init }): Spec => {
    const flags: string[] = [];
    if (mmap || init) flags.push("mmap");
    if (init) flags.push(init);
    if (huge === 9) flags.push("hugetlb-2M");
    if (huge === 18) flags.push("hugetlb-1G");
    const n = huge === 18 ? 262144 : huge === 9 ? Math.max(512, pages - (pages % 512)) : pages;
    return { op: "gmem.create", g, pages: n, skew: 0, flags };
  });
  const bindArb = (v: number, slot: number) => fc.record({
    op: fc.constant("vm.bind" as const), v: fc.constant(v), slot: fc.constant(slot),
    gpaPages: fc.constantFrom(0, 0x800, 0x1000, 0x1001), gpaSkew: fc.constant(0), g: gSel,
    off: fc.constantFrom<PageSel>({ k: "zero" }, { k: "zero" }, { k: "frac", f: 0.25 }, { k: "frac", f: 0.5 }),
    len: fc.constantFrom<LenSel>({ k: "rest" }, { k: "rest" }, { k: "block" }, { k: "one" }), offSkew: fc.constant(0),
  });
  return fc.tuple(
    fc.integer({ min: 1, max: 3 }), fc.tuple(gm(0), gm(1), gm(2)),
    fc.integer({ min: 1, max: 2 }), fc.tuple(bindArb(0, 0), bindArb(0, 1), bindArb(1, 0)), fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 0, max: 2 }), fc.tuple(fc.constantFrom("pin" as const, "gmem" as const), fc.constantFrom("pin" as const, "gmem" as const)),
    fc.tuple(gSel, gSel), fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3)),
  ).map(([ng, gms, nv, binds, nb, ni, modes, bindTo, mmaps]) => {
    const out: Spec[] = [];
    for (let g = 0; g < ng; g++) out.push(gms[g]);
    for (let g = 0; g < ng; g++) if (mmaps[g] > 0) out.push({ op: "host.mmap", g });
    for (let v = 0; v < nv; v++) out.push({ op: "vm.create", v });
    for (let k = 0; k < nb; k++) if (binds[k].v < nv) out.push(binds[k]);
    for (let i = 0; i < ni; i++) {
      out.push({ op: "iommu.create", io: i, mode: modes[i] });
      if (modes[i] === "gmem") out.push({ op: "iommu.bind", io: i, g: bindTo[i] % ng });
    }
    return out;
  });
}

export function sequenceArb(maxCommands: number): fc.Arbitrary<SequenceInput> {
  return configArb.chain((config) => fc.record({
    config: fc.constant(config),
    prelude: preludeArb(config.protocol),
    cmds: fc.commands([fc.oneof(...OP_ARBS, ...RARE_ARBS).map((s) => new StepCommand(s))], { maxCommands, size: "max" }),
  }));
}

/** run one sequence on both models; throws Divergence on the first difference */
export function runSequence(input: SequenceInput, stats: FuzzStats, onCtx?: (c: Ctx) => void): void {
  const ctx = new Ctx(input.config, stats);
  onCtx?.(ctx);
  stats.sequences++;
  try {
    for (const p of input.prelude) ctx.exec(p);
    fc.modelRun(() => ({ model: ctx, real: ctx }), input.cmds);
  } finally {
    ctx.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// failures -> scenario files

export function scenarioOf(config: ScenarioConfig, log: Logged[], why: string, seed: number): string {
  const steps = log.map((l, k) => {
    const s: Record<string, unknown> = { ...l.json };
    const w = l.wasm;
    if (w.result === "crash") s.comment = "the Wasm model threw here";
    else if (w.result !== 0) {
      s.expect = w.result;
      if (w.errorOffset !== undefined && (s.op === "convert" || s.op === "punch")) s.errorOffset = "0x" + w.errorOffset.toString(16);
    }
    if (w.level !== undefined && s.op === "guest.access") s.level = w.level;
    if (w.value !== undefined && (s.op === "guest.access" || s.op === "host.access" || s.op === "dma")) s.value = w.value;
    if (k === log.length - 1) s.comment = `fuzz failure here: ${why}; reference model: ${JSON.stringify(l.ref)}`;
    return s;
  });
  steps.push({ op: "check.invariants" } as Record<string, unknown>);
  const scn = {
    format: 1,
    name: `fuzz failure (seed ${seed})`,
    description: `Shrunk by test/fuzz/gen.ts. The steps replay the Wasm model's results as expect; the last action is where the models diverged: ${why}`,
    config: { arch: config.arch, protocol: config.protocol, invariants: true },
    steps,
  };
  return JSON.stringify(scn, null, 1).replace(/\n\s+(?=[^\s{\[])/g, " ").replace(/\n\s+\}/g, " }").replace(/\n\s+\]/g, " ]");
}

export interface FuzzOptions {
  seed: number;
  /** stop after this many ops (counted over every run, shrinking included) */
  maxOps?: number;
  /** stop after this many ms */
  timeLimitMs?: number;
  /** commands per sequence (at most) */
  maxCommands?: number;
  /** write a failure's scenario (Node: a file under .test-out/fuzz-failures/) */
  writeFailure?: (name: string, text: string) => void;
  /** count the results per op in stats.results */
  coverage?: boolean;
  /** called now and then with the stats */
  progress?: (s: FuzzStats) => void;
}

export interface FuzzReport extends FuzzStats {
  failures: { name: string; why: string; text: string }[];
  ms: number;
}

/**
 * Run random sequences until maxOps or timeLimitMs; each failure is shrunk and turned into a scenario. Batches of
 * sequences go through fc.check with derived seeds, so a run is reproducible from its seed.
 */
export function fuzz(opts: FuzzOptions): FuzzReport {
  const stats = newStats();
  if (opts.coverage) stats.results = {};
  const t0 = Date.now();
  const failures: FuzzReport["failures"] = [];
  const maxCommands = opts.maxCommands ?? 60;
  const arb = sequenceArb(maxCommands);
  const done = () => (opts.maxOps !== undefined && stats.ops >= opts.maxOps) || (opts.timeLimitMs !== undefined && Date.now() - t0 >= opts.timeLimitMs);
  let batch = 0;
  while (!done()) {
    const seed = (opts.seed + batch * 7919) | 0;
    batch++;
    // past the budget the remaining runs of the batch are skipped, but never while a failure is being shrunk
    let failing = false;
    const res = fc.check(fc.property(arb, (input) => {
      if (!failing && done()) return true;
      try { runSequence(input, stats); } catch (e) { failing = true; throw e; }
      return true;
    }), { seed, numRuns: 10 });
    opts.progress?.(stats);
    if (res.failed && res.counterexample) {
      const input = res.counterexample[0] as SequenceInput;
      let ctx: Ctx | null = null;
      let why = "";
      try { runSequence(replayable(input), newStats(), (c) => { ctx = c; }); } catch (e) {
        why = (e as Error).message;
        if (e instanceof Divergence && e.kind === "invariant") stats.invariantViolations++;
        else stats.divergences++;
      }
      if (!why) { why = String(res.errorInstance ?? "failed, but not on replay"); stats.divergences++; }
      const c = ctx as Ctx | null;
      const text = scenarioOf(input.config, c ? c.log : [], why, seed);
      const name = `fuzz-${input.config.arch}-${input.config.protocol}-seed${seed >>> 0}.json`;
      failures.push({ name, why, text });
      opts.writeFailure?.(name, text);
    }
  }
  return { ...stats, failures, ms: Date.now() - t0 };
}

/** the commands of a counterexample, replayed in the order they ran */
function replayable(input: SequenceInput): SequenceInput {
  const cmds = [...input.cmds].map((c) => new StepCommand((c as StepCommand).spec ?? (c as unknown as { cmd: StepCommand }).cmd.spec));
  return { config: input.config, prelude: input.prelude, cmds };
}
