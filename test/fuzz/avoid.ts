// Wasm model bugs the fuzzer found, each with a scenario in test/scenarios/ that states the documented behaviour.
// An entry set to true keeps the generator out of that bug (preconditions in resolve.ts), so that a long run can go
// on finding others while it is being fixed; false (all of them now) fuzzes straight into it.
import type { ReferenceModel } from "../reference/index";

const PAGE = 4096;

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
  // kernel-fidelity changes the reference model has and the Wasm core gets separately (no scenario files yet: they
  // would fail until it does); true fences the generator off each, so a run can look past them
  /** v4: content mode ZERO on a range that already has the target attribute still zeroes the range ("Even if no
   *  update is required to attributes, the requested content mode is applied", RFC v4 13/44) */
  v4ZeroNoop: false,
  /** v4: argument checks (size 0, overflow, alignment, past i_size: -EINVAL) come before the content-mode check
   *  (which __kvm_gmem_set_attributes does under the lock): an unaligned ZERO to-private is -EINVAL */
  v4ModeAfterArgs: false,
  /** v4: an unsupported content mode is -EOPNOTSUPP with *err_index = start (error_offset = offset) */
  v4ModeErrorOffset: false,
  /** a private access to a gfn no memslot covers is KVM_EXIT_MEMORY_FAULT (kvm_mmu_faultin_pfn's private/shared
   *  check; attributes without a slot read shared), not -EFAULT */
  privateNoSlot: false,
};

export type RefGmem = NonNullable<ReturnType<ReferenceModel["gmems"]["get"]>>;

/** SNP: would the Wasm model's first-pfn-only RMP rule give another IO layout for [s, s + n) at iova p0? */
export function snpIoLayoutDiffers(g: RefGmem, p0: number, s: number, n: number): boolean {
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

/** preconditions that keep the fuzzer out of the known Wasm bugs of AVOID */
export function avoidOk(op: string, ref: ReferenceModel, id: string, off: number, size: number): boolean {
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

/** v4 convert: keep out of the content-mode rules of AVOID (v4ZeroNoop, v4ModeAfterArgs, v4ModeErrorOffset) */
export function avoidModeOk(ref: ReferenceModel, id: string, off: number, size: number, toShared: boolean, mode?: string): boolean {
  const g = ref.gmems.get(id)!;
  if (ref.config.protocol !== "v4" || mode === undefined || g.closed) return true;
  const bad = !(size > 0) || off + size > g.npages * PAGE || off % PAGE !== 0 || size % PAGE !== 0;
  const unsupported = (mode === "zero" && !toShared) || (mode === "preserve" && toShared && ref.config.arch !== "sw");
  if (unsupported && bad && AVOID.v4ModeAfterArgs) return false;
  if (unsupported && !bad && AVOID.v4ModeErrorOffset) return false;
  if (mode === "zero" && toShared && !bad && AVOID.v4ZeroNoop) {
    let noop = true;
    for (let i = off / PAGE; i < (off + size) / PAGE; i++) if (!g.shared[i]) { noop = false; break; }
    if (noop) return false;
  }
  return true;
}

/** guest.access: keep out of AVOID.privateNoSlot */
export function avoidGuestOk(ref: ReferenceModel, vm: string, gfn: number, priv: boolean): boolean {
  const v = ref.vms.get(vm)!;
  return !(AVOID.privateNoSlot && priv && !v.dead && !v.slotOf(gfn));
}
