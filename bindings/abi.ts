// Every name table of the binding, derived from the core's ABI module (assembly/abi/*.ts): the numbers are defined
// once there, and a constant's name gives its scenario / event name. test/abi.test.ts checks the tables against the
// running core and against the contract's lists (SCENARIOS.md).
import * as E from "../assembly/abi/errno";
import * as EV from "../assembly/abi/events";
import * as OPS from "../assembly/abi/ops";
import * as C from "../assembly/abi/consts";

type Mod = Record<string, unknown>;

/** A constant's suffix as a name: lower case, '_' -> '-', a size unit keeps its case (HUGETLB_2M -> "hugetlb-2M"). */
export function abiName(suffix: string): string {
  if (/^SIG[A-Z]+$/.test(suffix)) return suffix; // a signal name stays as the kernel spells it
  return suffix.toLowerCase().replace(/_/g, "-").replace(/-(\d+)([kmgt])$/, (_, n: string, u: string) => `-${n}${u.toUpperCase()}`);
}

/**
 * name -> value of the constants `prefix`X (X named by abiName), excluding the names in `skip`, in value order (a
 * module namespace lists its exports alphabetically; the value order is the order the ABI defines them in).
 */
function named(mod: Mod, prefix: string, skip: string[] = []): Record<string, number> {
  const rows: [string, number][] = [];
  for (const [k, v] of Object.entries(mod)) {
    if (!k.startsWith(prefix) || typeof v !== "number" || skip.includes(k)) continue;
    rows.push([abiName(k.slice(prefix.length)), v]);
  }
  rows.sort((a, b) => a[1] - b[1]);
  return Object.fromEntries(rows);
}

/** value -> name, as an array indexed by value. */
function byValue(t: Record<string, number>): string[] {
  const a: string[] = [];
  for (const [k, v] of Object.entries(t)) a[v] = k;
  return a;
}

// ---- errno --------------------------------------------------------------------------------------------------------
/** errno numbers by name ('EINVAL' -> 22): every E* constant of assembly/abi/errno.ts. */
export const ERRNO: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(Object.entries(E).filter(([k, v]) => /^E[A-Z0-9]+$/.test(k) && typeof v === "number")) as Record<string, number>);
export const ERRNO_NAMES: readonly string[] = Object.freeze(byValue(ERRNO as Record<string, number>));

// ---- events -------------------------------------------------------------------------------------------------------
/** kind number -> "ns.name": EV_<NS>_<NAME>, the first underscore is the dot. */
export const EVENT_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [k, v] of Object.entries(EV)) {
    if (!k.startsWith("EV_") || k === "EV_KINDS" || typeof v !== "number") continue;
    const rest = k.slice(3).toLowerCase();
    const dot = rest.indexOf("_");
    names[v] = rest.slice(0, dot) + "." + rest.slice(dot + 1);
  }
  return names;
})();
/** kind number -> its EVL_* field layout. */
export const EVENT_LAYOUTS: readonly number[] = (() => {
  const l: number[] = [];
  for (const [k, v] of Object.entries(EV)) {
    if (!k.startsWith("EV_") || k === "EV_KINDS" || typeof v !== "number") continue;
    const layout = (EV as Mod)["EVL_" + k.slice(3)];
    if (typeof layout !== "number") throw new Error(`assembly/abi/events.ts: ${k} has no EVL_${k.slice(3)}`);
    l[v] = layout;
  }
  return l;
})();
/** EF_* field code -> field name. */
export const FIELD_NAMES: readonly string[] = byValue(named(EV as Mod, "EF_"));
/** EFF_* flag-field bit -> field name. */
export const FLAG_FIELDS: readonly [number, string][] =
  Object.entries(named(EV as Mod, "EFF_")).map(([k, v]) => [v, k] as [number, string]).sort((a, b) => a[0] - b[0]);
export const FIELD_SHIFTS = [EV.EVL_A, EV.EVL_B, EV.EVL_C, EV.EVL_D, EV.EVL_E] as const;

// ---- operations ---------------------------------------------------------------------------------------------------
/** OPK_* -> scenario op name ("guest.access"): the first underscore is the dot, the rest '-'. */
export const OP_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [k, v] of Object.entries(OPS)) {
    if (!k.startsWith("OPK_") || k === "OPK_KINDS" || typeof v !== "number") continue;
    const rest = k.slice(4).toLowerCase();
    const dot = rest.indexOf("_");
    names[v] = dot < 0 ? rest : rest.slice(0, dot) + "." + rest.slice(dot + 1).replace(/_/g, "-");
  }
  return names;
})();
export const OP_KIND: Readonly<Record<string, number>> = Object.fromEntries(OP_NAMES.map((n, i) => [n, i]).filter(([n]) => n));
/** STEP_* -> step name ("invalidate-begin"). */
export const STEP_NAMES: readonly string[] = byValue(named(OPS as Mod, "STEP_", ["STEP_KINDS"]));
const opConst = (prefix: string, op: string): unknown => (OPS as Mod)[prefix + op.toUpperCase().replace(/[.-]/g, "_")];
/** The steps each op kind has: OPS_<KIND>, else one step (OPS_SINGLE). */
export function stepsOf(op: string): number {
  const v = opConst("OPS_", op);
  return typeof v === "number" ? v : OPS.OPS_SINGLE;
}
/** An op's pause points: "after-<step>" for each step of OPS_PAUSE_<KIND> (none without one), in step order. */
export function pausePointsOf(op: string): string[] {
  const v = opConst("OPS_PAUSE_", op);
  const bits = typeof v === "number" ? v : 0;
  return STEP_NAMES.map((n, i) => (n && (bits & (1 << i)) ? `after-${n}` : "")).filter(Boolean);
}
/** Every op that has pause points, with them. */
export const PAUSE_POINT_TABLE: Readonly<Record<string, readonly string[]>> = Object.freeze(Object.fromEntries(
  OP_NAMES.filter(Boolean).map((n) => [n, pausePointsOf(n)]).filter(([, p]) => p.length > 0)));
/** "after-<step>" -> the STEP_* value to stop after. */
export function pauseStep(point: string): number {
  const i = STEP_NAMES.indexOf(point.replace(/^after-/, ""));
  return point.startsWith("after-") && i > 0 ? i : -1;
}
export const GUEST_RESULTS: readonly string[] = byValue(named(OPS as Mod, "GUEST_"));
export const HOST_RESULTS: readonly string[] = byValue(named(OPS as Mod, "HOST_"));
export const DMA_RESULTS: readonly string[] = byValue(named(OPS as Mod, "DMA_"));

// ---- the rest -----------------------------------------------------------------------------------------------------
export const ARCH: Readonly<Record<string, number>> = named(C as Mod, "ARCH_");
export const ARCH_NAMES: readonly string[] = byValue(ARCH as Record<string, number>);
export const GMEM_FLAG: Readonly<Record<string, number>> = named(C as Mod, "GMEM_FLAG_", ["GMEM_FLAGS_VALID"]);
export const CONTENT_MODE: Readonly<Record<string, number>> = named(C as Mod, "MODE_");
export const IOMMU_MODE: Readonly<Record<string, number>> = named(C as Mod, "IOMMU_MODE_");
export const REASON_NAMES: readonly string[] = byValue(named(C as Mod, "REASON_"));
export const SAFEGUARD: Readonly<Record<string, number>> = named(C as Mod, "SG_");
export const INJECT: Readonly<Record<string, number>> = named(C as Mod, "INJ_", ["INJ_KINDS"]);
export const SEPT_STATE_NAMES: readonly string[] = byValue(named(C as Mod, "SEPT_"));
export const DEBUG_HOOK: Readonly<Record<string, number>> = named(C as Mod, "DBG_");
/** OBJ_T_* -> object kind ("gmem", "vm", "iommu", "bitmap", "pagetable", ...). */
export const OBJ_KIND_NAMES: readonly string[] = byValue(named(C as Mod, "OBJ_T_"));
/** VIEW_TABLE_* by name: the tables a lock-free leaf query walks ("kvm-private", "iommu-secure", "host", ...). */
export const VIEW_TABLE: Readonly<Record<string, number>> = named(C as Mod, "VIEW_TABLE_");

/** LC_* -> the kernel lock a class models (mm/sync.ts), for lockdep's report. */
export const LOCK_CLASS_NAMES: Readonly<Record<number, string>> = {
  [C.LC_INV]: "filemap invalidate_lock", [C.LC_MMU]: "kvm->mmu_lock", [C.LC_DOM]: "IOMMU domain lock",
  [C.LC_PAGES]: "guest_memfd folio/page lock", [C.LC_ALLOC]: "allocator lock", [C.LC_OBJ]: "object table lock",
};

/** An invariant's name: 'I1' .. 'I20', 'PT' for the page tables' own structure. */
export function invariantName(code: number): string {
  return code === C.INV_PT ? "PT" : `I${code}`;
}

/** The level names of an EF_LEVEL field / a mapping level. */
export const LEVEL_NAMES = ["", "4K", "2M", "1G"] as const;
