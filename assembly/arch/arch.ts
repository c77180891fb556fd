// Per-arch policy, dispatched on the machine's arch (H_ARCH): the one place where sw / tdx / snp differ for the
// layers above. Each arch's mechanisms live in arch/sw.ts, arch/tdx.ts, arch/snp.ts.
import { ARCH_SW, ARCH_TDX, ARCH_SNP, NOPS_IOMMU_ZAP, NOPS_IOMMU_KEEP } from "../abi/consts";
import { arch, isSnp, isTdx } from "../lib/machine";
import { SW_MAX_PRIVATE_LEVEL } from "./sw";
import { tdxInit, tdxDestroy } from "./tdx";
import { rmpInit, rmpDestroy, rmpLevelOf, rmpMakeShared, rmpMakePrivate, rmpIoLevelLimit } from "./snp";

/** Per-inode arch state (SNP: the RMP; TDX: the GUEST_INHIBIT bits). false on -ENOMEM. */
export function archInodeInit(gi: u32): bool {
  if (isSnp()) return rmpInit(gi);
  if (isTdx()) return tdxInit(gi);
  return true;
}

export function archInodeDestroy(gi: u32): void {
  rmpDestroy(gi);
  tdxDestroy(gi);
}

/**
 * Largest private mapping level for index's pfn (kvm_x86_ops.gmem_max_mapping_level): sw 1 GiB; TDX 2 MiB (a
 * runnable TD in the huge-page series); SNP the RMP entry level of the pfn (4 KiB when unassigned).
 */
export function archMaxPrivateLevel(gi: u32, index: u32): u32 {
  const a = arch();
  if (a == ARCH_SW) return SW_MAX_PRIVATE_LEVEL;
  if (a == ARCH_TDX) return 2;
  if (a == ARCH_SNP) { const r = rmpLevelOf(gi, index); return r == 0 ? 1 : r; }
  return 1;
}

/** kvm_arch_gmem_prepare on the first private use (SNP: RMPUPDATE to private). */
export function archPreparePrivate(gi: u32, index: u32): void {
  if (isSnp()) rmpMakePrivate(gi, index);
}

/** kvm_arch_gmem_make_shared / sev_gmem_invalidate for [s, e) (SNP: RMPUPDATE to shared, PSMASH first). */
export function archMakeShared(gi: u32, s: u32, e: u32): void {
  if (isSnp()) rmpMakeShared(gi, s, e);
}

/** Largest IO entry over index the arch allows (SNP: no larger than the RMP entry). */
export function archIoLevelLimit(gi: u32, index: u32): u32 {
  return isSnp() ? rmpIoLevelLimit(gi, index) : 3;
}

/** The invalidation scheme a gmem-mode IOMMU uses on this arch (NOPS_* of abi/consts.ts). */
export function archIommuScheme(): u32 {
  return isSnp() ? NOPS_IOMMU_KEEP : NOPS_IOMMU_ZAP;
}

/** Is a private page reachable through a non-secure entry a host machine check (TDX), or a contained fault? */
export function archPrivateViaSharedIsFatal(): bool { return isTdx(); }
