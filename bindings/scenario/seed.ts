// The built-in default scenario of `gmemsim run`: the seed message's two flows (LKML, 24 Jun 2025), with a
// guest_memfd-bound IOMMU, on TDX: private->shared, userspace re-maps non-secure; shared->private, userspace
// re-maps secure. examples/seed-*.json hold the same flows one per file.
export const SEED_SCENARIO = JSON.stringify({
  format: 1,
  name: "seed: private->shared and back with a gmem-bound IOMMU (TDX)",
  description: "The proposed flow of the seed message: guest_memfd calls the IOMMU invalidation callback in " +
    "step 2 of each conversion; userspace re-maps in step 4 (non-secure after to-shared, secure after to-private).",
  config: { arch: "tdx", protocol: "v2", invariants: true },
  steps: [
    { op: "gmem.create", id: "g", size: "4M", flags: ["mmap", "init-private", "hugetlb-2M"] },
    { op: "vm.create", id: "vm" },
    { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "4M", gmem: "g", offset: 0 },
    { op: "iommu.create", id: "io", mode: "gmem" },
    { op: "iommu.bind", iommu: "io", gmem: "g" },
    { op: "guest.access", vm: "vm", gpa: "0x1000", private: true, write: 7, expect: "mapped", level: "2M" },
    { op: "iommu.map", iommu: "io", iova: 0, gmem: "g", offset: 0, size: "2M", secure: true },
    { op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "shared",
      comment: "private -> shared: steps 1-3 of the seed's proposed flow" },
    { op: "check.events", sequence: [
      "gmem.lock", "kvm.invalidate_begin", { kind: "kvm.zap", table: "private" },
      { kind: "iommu.invalidate", reason: "to-shared", secure: true },
      { kind: "gmem.set_attr", to: "shared" }, "folio.split", "kvm.invalidate_end", "gmem.unlock"] },
    { op: "check.folio", gmem: "g", offset: 0, order: 0 },
    { op: "check.attr", gmem: "g", offset: "0x1000", size: "4K", is: "shared" },
    { op: "iommu.map", iommu: "io", iova: "0x1000", gmem: "g", offset: "0x1000", size: "4K", secure: false,
      comment: "step 4: userspace maps the range in the non-secure IOMMU" },
    { op: "dma", iommu: "io", iova: "0x1000", secure: false, expect: "ok" },
    { op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "private",
      comment: "shared -> private: the callback zaps the non-secure entry before the page turns private" },
    { op: "check.events", sequence: [
      "gmem.lock", "kvm.invalidate_begin", "host.unmap",
      { kind: "iommu.invalidate", reason: "to-private", secure: false },
      { kind: "gmem.refcount_check", ok: true },
      { kind: "gmem.set_attr", to: "private" }, "folio.merge", "kvm.invalidate_end", "gmem.unlock"] },
    { op: "check.iopte", iommu: "io", iova: "0x1000", secure: false, present: false },
    { op: "dma", iommu: "io", iova: "0x1000", secure: false, expect: "io-fault" },
    { op: "check.folio", gmem: "g", offset: 0, order: 9 },
    { op: "iommu.map", iommu: "io", iova: "0x1000", gmem: "g", offset: "0x1000", size: "4K", secure: true,
      comment: "step 4: userspace maps the range in the secure IOMMU" },
    { op: "check.invariants" },
  ],
}, null, 1);
