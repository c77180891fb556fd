// Per-arch policy: the one place where sw / tdx / snp differ for the KVM side.
import { H_ARCH, ARCH_SW, ARCH_TDX, ARCH_SNP } from "./layout";
import { rmpLevelOf } from "./snp";

// @ts-ignore: decorator
@inline export function arch(): u32 { return load<u32>(H_ARCH); }
// @ts-ignore: decorator
@inline export function isTdx(): bool { return load<u32>(H_ARCH) == ARCH_TDX; }
// @ts-ignore: decorator
@inline export function isSnp(): bool { return load<u32>(H_ARCH) == ARCH_SNP; }

/**
 * Largest private mapping level for pfn (kvm_x86_ops.gmem_max_mapping_level): sw 1 GiB; TDX 2 MiB (a runnable TD
 * in the huge-page series); SNP the RMP entry level of the pfn, at most 2 MiB.
 */
export function archMaxPrivateLevel(gi: u32, index: u32): u32 {
  const a = arch();
  if (a == ARCH_SW) return 3;
  if (a == ARCH_TDX) return 2;
  if (a == ARCH_SNP) { const r = rmpLevelOf(gi, index); return r == 0 ? 1 : r; }
  return 1;
}
