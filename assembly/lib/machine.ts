// Machine-wide settings every layer reads: the arch, the safeguards config.disable switched off, the checker
// switch, the debug corruption hooks, and the invariant violations a mechanism or the checker found.
import { H_ARCH, H_SAFEGUARDS_OFF, H_DEBUG, H_CORRUPT, IN_VIOL } from "../abi/layout";
import { instBase } from "../mm/instance";
import { ARCH_TDX, ARCH_SNP, VIOLATIONS_MAX } from "../abi/consts";
import { DEBUG } from "./debug";

// @ts-ignore: decorator
@inline export function arch(): u32 { return load<u32>(H_ARCH); }
// @ts-ignore: decorator
@inline export function isTdx(): bool { return load<u32>(H_ARCH) == ARCH_TDX; }
// @ts-ignore: decorator
@inline export function isSnp(): bool { return load<u32>(H_ARCH) == ARCH_SNP; }

/** Is safeguard `sg` (SG_* of abi/consts.ts) switched on? (config.disable turns them off) */
// @ts-ignore: decorator
@inline export function safeguard(sg: u32): bool { return (load<u32>(H_SAFEGUARDS_OFF) & sg) == 0; }

/** Is the after-every-step checker on? (H_DEBUG bit 0, shared by every instance) */
// @ts-ignore: decorator
@inline export function checksOn(): bool { return (load<u32>(H_DEBUG) & 1) != 0; }

/** Consume the armed corruption hook if it is `which` (always false in release builds). */
export function debugHook(which: u32): bool {
  if (!DEBUG) return false;
  if (load<u32>(H_CORRUPT) != which) return false;
  store<u32>(H_CORRUPT, 0);
  return true;
}

// ---- violations found during the current step (in this instance's block) ------------------------------------------
const V_COUNT: usize = 0;
const V_WHERE: usize = 4;
const V_CODES: usize = 8;

/** An invariant found broken (by a mechanism's post-condition or by the checker). Distinct codes are kept. */
export function recordViolation(code: u32, where: u32): void {
  const v = instBase() + IN_VIOL;
  const n = load<u32>(v, V_COUNT);
  for (let i: u32 = 0; i < n; i++) if (load<u32>(v + V_CODES + (<usize>i << 2)) == code) return;
  if (n == 0) store<u32>(v, where, V_WHERE);
  if (n < <u32>VIOLATIONS_MAX) { store<u32>(v + V_CODES + (<usize>n << 2), code); store<u32>(v, n + 1, V_COUNT); }
}
export function violationsReset(): void { store<u32>(instBase() + IN_VIOL, 0, V_COUNT); }
export function violationCount(): u32 { return load<u32>(instBase() + IN_VIOL, V_COUNT); }
export function violationCode(i: u32): u32 {
  return i < violationCount() ? load<u32>(instBase() + IN_VIOL + V_CODES + (<usize>i << 2)) : 0;
}
export function violationWhere(): u32 { return load<u32>(instBase() + IN_VIOL, V_WHERE); }
