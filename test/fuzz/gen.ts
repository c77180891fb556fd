// The fuzzer's op generator: abstract op specs (selectors for pages, lengths, skews, objects) as fast-check
// arbitraries with their weights, and the configurations a sequence starts from (arch, protocol, a prelude creating
// guest_memfds, VMs, memslots, IOMMUs). resolve.ts turns a spec into a concrete step against the reference model.
import fc from "fast-check";
import type { ScenarioConfig, Arch, Protocol } from "../../bindings/scenario/types";

// ---------------------------------------------------------------------------------------------------------------
// selectors

export const PAGE = 4096;
export const GMEM_IDS = ["g0", "g1", "g2"];
export const VM_IDS = ["vm0", "vm1"];
export const IOMMU_IDS = ["io0", "io1"];
export const FAULTS = ["enomem-split", "enomem-store", "transient-ref", "sept-remove-fail"] as const;

/** a page position in [0, n] (and a little past it) */
export type PageSel = { k: "zero" | "one" | "last" | "end" | "past" } | { k: "block"; n: number } | { k: "frac"; f: number };
/** a length in pages */
export type LenSel = { k: "one" | "two" | "block" | "blockm1" | "blockp1" | "rest" | "all" | "zero" } | { k: "frac"; f: number };
/** byte skew making an offset or a size unaligned (0: aligned) */
export type Skew = number;

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

export function resolvePage(sel: PageSel, n: number): number {
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
export function resolveLen(sel: LenSel, start: number, n: number): number {
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
  | { op: "convert"; g: number; at: PageSel; len: LenSel; skew: Skew; skewSize: boolean; toShared: boolean; mode?: "zero" | "preserve"; same?: boolean }
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

export const gSel = fc.integer({ min: 0, max: GMEM_IDS.length - 1 });
const vSel = fc.integer({ min: 0, max: VM_IDS.length - 1 });
const ioSel = fc.integer({ min: 0, max: IOMMU_IDS.length - 1 });

function weighted(w: number, a: fc.Arbitrary<Spec>): fc.WeightedArbitrary<Spec> {
  return { weight: Math.round(w * 10), arbitrary: a };
}

export const OP_ARBS: fc.WeightedArbitrary<Spec>[] = [
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
  // v4 content modes where the kernel's order of checks shows: a range already in the target state (the mode still
  // applies: ZERO clears it), and unaligned or out-of-range requests with a mode (-EINVAL before the mode check)
  weighted(3, fc.record({
    op: fc.constant("convert" as const), g: gSel, at: pageSel, len: lenSel, skewSize: fc.boolean(), toShared: fc.boolean(),
    skew: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4095 }) }),
    mode: fc.constantFrom("zero" as const, "preserve" as const), same: fc.boolean(),
  })),
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

/** the rare ops: closing a guest_memfd */
export const RARE_ARBS: fc.WeightedArbitrary<Spec>[] = [weighted(0.3, fc.record({ op: fc.constant("gmem.close" as const), g: gSel }))];

// ---------------------------------------------------------------------------------------------------------------
// configurations

export const configArb: fc.Arbitrary<ScenarioConfig> = fc.record({
  arch: fc.constantFrom<Arch>("sw", "tdx", "snp"),
  protocol: fc.constantFrom<Protocol>("v2", "v4"),
  invariants: fc.constant(true),
  disable: fc.constant([]),
});

/** a small configuration: 1-3 guest_memfds (mostly valid), 1-2 VMs with memslots, 0-2 IOMMUs */
export function preludeArb(protocol: Protocol): fc.Arbitrary<Spec[]> {
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
