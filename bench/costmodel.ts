// A modelled kernel cost: turns the event counts of a run into microseconds per conversion, by component.
// No per-operation latency of a guest_memfd conversion has been published (KERNEL-PROTOCOL.md section 5); every
// number below is an assumption stated next to it, meant to be replaced by a measurement when one exists. The
// event *counts* are the model's; only the unit costs are assumed.

export type CostArch = "sw" | "tdx" | "snp";

export interface CostTable {
  /** per SPTE removed (TDP MMU zap of a present leaf, incl. handle_changed_spte bookkeeping) */
  zapSpte: number;
  /** per IOPTE removed (IO page-table write; the IOTLB flush is separate) */
  zapIopte: number;
  /** per remote TLB flush (IPI to running vCPUs + INVEPT) */
  tlbFlush: number;
  /** per IOTLB flush (IOMMU invalidation queue descriptor + wait) */
  iotlbFlush: number;
  /** per RMPUPDATE (SNP) */
  rmpupdate: number;
  /** per PSMASH (SNP) */
  psmash: number;
  /** per SEAMCALL (TDX): BLOCK, TRACK, REMOVE, DEMOTE, AUG each count one */
  seamcall: number;
  /** per vCPU kick (TDX TRACK needs every vCPU out of guest mode) */
  ipiKick: number;
  /** per 4 KiB folio created by a split / removed by a merge (filemap insert/remove + struct page init) */
  splitPerFolio: number;
  mergePerFolio: number;
  /** per shareability store (maple tree range store) */
  shareabilityStore: number;
  /** per host PTE removed (unmap_mapping_pages) */
  hostUnmap: number;
  /** per invalidate_begin/end pair and lock round trip (mmu_lock, filemap_invalidate_lock) */
  bracket: number;
}

/** Default unit costs in nanoseconds. */
export const COSTS: Record<CostArch, CostTable> = {
  sw: {
    // ~50 ns: a TDP MMU leaf zap is an atomic xchg plus accounting; order of magnitude of kvm_tdp_mmu_zap_leafs per
    // 4K leaf on current x86 (assumption: cache-resident tables).
    zapSpte: 50,
    // ~30 ns: a plain IO page-table store (assumption).
    zapIopte: 30,
    // ~5 us: remote TLB flush with IPIs to a few running vCPUs (assumption: small VM, IPI round trip ~2-5 us).
    tlbFlush: 5000,
    // ~2 us: queued-invalidation descriptor + completion wait on VT-d / AMD-Vi (assumption).
    iotlbFlush: 2000,
    rmpupdate: 0, psmash: 0, seamcall: 0, ipiKick: 0,
    // ~100 ns per 4K folio: filemap xarray store + vmemmap init; plus HVO re-population amortised (assumption,
    // see KERNEL-PROTOCOL.md P7/P8: a 1G split re-inserts 262144 folios and re-allocates ~16 MiB of vmemmap).
    splitPerFolio: 100,
    mergePerFolio: 80,
    // ~300 ns: maple tree range store with merge of neighbours (assumption).
    shareabilityStore: 300,
    // ~100 ns per host PTE zap incl. rmap (assumption).
    hostUnmap: 100,
    // ~200 ns per begin/end bracket: two lock round trips (assumption).
    bracket: 200,
  },
  tdx: {
    zapSpte: 50, zapIopte: 30, tlbFlush: 5000, iotlbFlush: 2000, rmpupdate: 0, psmash: 0,
    // ~2 us per SEAMCALL: TDX module entry/exit and EPT walk (assumption; KERNEL-PROTOCOL.md P11 lists the calls).
    seamcall: 2000,
    // ~3 us: kicking every vCPU out of guest mode for TDH.MEM.TRACK (assumption).
    ipiKick: 3000,
    splitPerFolio: 100, mergePerFolio: 80, shareabilityStore: 300, hostUnmap: 100, bracket: 200,
  },
  snp: {
    zapSpte: 50, zapIopte: 30, tlbFlush: 5000, iotlbFlush: 2000,
    // ~1 us per RMPUPDATE incl. the IOMMU TLB flush it implies (assumption; P10: every RMPUPDATE flushes the IOTLB).
    rmpupdate: 1000,
    // ~1.5 us per PSMASH (assumption).
    psmash: 1500,
    seamcall: 0, ipiKick: 0, splitPerFolio: 100, mergePerFolio: 80, shareabilityStore: 300, hostUnmap: 100,
    bracket: 200,
  },
};

export interface CostBreakdown {
  /** modelled microseconds per conversion, all components */
  perConversionUs: number;
  /** microseconds per conversion by component */
  components: Record<string, number>;
}

/**
 * Modelled cost from event counters (Simulator.counters(), the difference over a run) and the number of
 * conversions in it.
 */
export function modelCost(c: Record<string, number>, arch: CostArch, conversions: number): CostBreakdown {
  const t = COSTS[arch];
  const n = (k: string) => c[k] ?? 0;
  const split4k = n("folio.split.count"), merge4k = n("folio.merge.count"); // 4 KiB folios created / merged
  const comps: Record<string, number> = {
    "SPTE zaps": n("kvm.zap.count") * t.zapSpte,
    "TLB flushes": n("kvm.tlb_flush") * t.tlbFlush,
    "IOPTE zaps": n("iommu.invalidate.count") * t.zapIopte,
    "IOTLB flushes": n("iommu.iotlb_flush") * t.iotlbFlush,
    "host unmaps": n("host.unmap.count") * t.hostUnmap,
    "shareability stores": n("gmem.set_attr") * t.shareabilityStore,
    "split/merge": split4k * t.splitPerFolio + merge4k * t.mergePerFolio,
    // TDX: BLOCK + TRACK + REMOVE per removed leaf, + a kick per TRACK; DEMOTE + BLOCK + TRACK + kick per demote
    "SEAMCALLs": (n("arch.sept_remove") * 3 + n("arch.sept_demote") * 3) * t.seamcall,
    "vCPU kicks": (n("arch.sept_remove") + n("arch.sept_demote")) * t.ipiKick,
    "RMPUPDATE": n("arch.rmpupdate") * t.rmpupdate,
    "PSMASH": n("arch.psmash") * t.psmash,
    "invalidate brackets": (n("kvm.invalidate_begin") + n("iommu.invalidate_begin")) * t.bracket,
  };
  const per: Record<string, number> = {};
  let total = 0;
  for (const [k, v] of Object.entries(comps)) {
    const us = conversions > 0 ? v / conversions / 1000 : 0;
    if (us > 0) per[k] = +us.toFixed(3);
    total += us;
  }
  return { perConversionUs: +total.toFixed(3), components: per };
}
