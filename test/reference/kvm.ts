// KVM (KERNEL-PROTOCOL 1.3, 3): VMs, memslots bound to guest_memfd ranges, the SPTE zaps of invalidations, and the
// guest fault path (kvm_mmu_faultin_pfn / kvm_gmem_get_pfn: attribute check, folio, mapping level).
import { PAGE, LEVEL_NAME, LEVEL_PAGES, GPA_LIMIT_PAGES, fail, num, type Env, type StepResult } from "./types";
import { Table } from "./tables";
import { slotGfns, type RGmem, type Slot, type BoundVm, type GTable } from "./gmem";
import { demoteStraddling, septRemove, tdxAccept, privateLevelLimit, snpPrepare } from "./arch";

export class RVm implements BoundVm {
  readonly slots = new Map<number, Slot>();
  readonly priv: GTable = new Table<RGmem>();
  readonly shrd: GTable = new Table<RGmem>();
  seq = 0;
  dead = false;
  constructor(readonly id: string) {}
  slotOf(gfn: number): Slot | null {
    for (const s of this.slots.values()) if (gfn >= s.base && gfn < s.base + s.npages) return s;
    return null;
  }
}

// ---- memslots --------------------------------------------------------------------------------------------------

export function bind(v: RVm, no: number, gpaB: bigint, sizeB: bigint, g: RGmem, offB: bigint): void {
  const gpa = num(gpaB), size = num(sizeB), off = num(offB);
  if (no >= 32) fail("EINVAL");
  if (!(gpa % PAGE === 0) || !(size % PAGE === 0) || !(size > 0)) fail("EINVAL");
  if (gpa / PAGE + size / PAGE > GPA_LIMIT_PAGES) fail("EINVAL");
  if (v.slots.has(no)) fail("EINVAL");
  const base = gpa / PAGE, n = size / PAGE, pgoff = off / PAGE;
  for (const s of v.slots.values()) {
    if (base < s.base + s.npages && s.base < base + n) fail("EEXIST");
  }
  if (g.closed) fail("EBADF");
  if (!(off % PAGE === 0) || off / PAGE + size / PAGE > g.npages) fail("EINVAL");
  for (const b of g.bindings) {
    if (b.vm === v && pgoff < b.slot.pgoff + b.slot.npages && b.slot.pgoff < pgoff + n) fail(g.v4 ? "EEXIST" : "EINVAL");
  }
  const slot: Slot = { no, base, npages: n, gm: g, pgoff };
  v.slots.set(no, slot);
  g.bindings.push({ vm: v, slot });
}

export function unbind(env: Env, v: RVm, no: number): void {
  const slot = v.slots.get(no);
  if (!slot) fail("EINVAL");
  const s = slot!;
  zapVm(env, v, s.base, s.base + s.npages, true, true);
  v.seq++;
  v.slots.delete(no);
  const g = s.gm;
  const k = g.bindings.findIndex((b) => b.slot === s);
  if (k >= 0) g.bindings.splice(k, 1);
}

export function vmDestroy(env: Env, v: RVm): void {
  for (const no of [...v.slots.keys()]) unbind(env, v, no);
}

// ---- zaps ------------------------------------------------------------------------------------------------------

/**
 * Zap the SPTEs of gfns [s, e) in one VM (private and/or shared table). A huge leaf partly inside goes whole,
 * except private leaves on TDX, which are demoted first (precise zapping); TDX clears the pages it removes.
 */
export function zapVm(env: Env, v: BoundVm, s: number, e: number, priv: boolean, shrd: boolean): void {
  if (priv) {
    const t = v.priv;
    if (env.config.arch === "tdx") {
      demoteStraddling(t, s, e);
      for (const x of t.within(s, e)) septRemove(env, v, x);
    } else {
      for (const x of t.within(s, e)) t.remove(x.base, x.level);
    }
  }
  if (shrd) for (const x of v.shrd.within(s, e)) v.shrd.remove(x.base, x.level);
}

/** zap the SPTEs of gmem range [s, e) in every VM bound to it */
export function zapGmem(env: Env, g: RGmem, s: number, e: number, priv: boolean, shrd: boolean): void {
  for (const b of g.bindings) {
    const r = slotGfns(b.slot, s, e);
    if (r) zapVm(env, b.vm, r[0], r[1], priv, shrd);
  }
}

// ---- guest accesses --------------------------------------------------------------------------------------------

export function guestAccess(env: Env, v: RVm, gpaB: bigint, priv: boolean, w?: number): StepResult {
  const gpa = num(gpaB);
  if (!Number.isInteger(gpa)) fail("EINVAL");
  const gfn = Math.floor(gpa / PAGE);
  if (v.dead) fail("EIO");
  const table = priv ? v.priv : v.shrd;
  const hit = table.find(gfn);
  if (hit) {
    const i = hit.leaf.index + (gfn - hit.base);
    return finishAccess(hit.leaf.gm, i, priv, hit.level, w);
  }
  const slot = v.slotOf(gfn);
  // no memslot: kvm_mmu_faultin_pfn checks private/shared first, and the attributes of a gfn no slot covers read as
  // shared (kvm_mem_is_private() is false), so a private access exits with KVM_EXIT_MEMORY_FAULT; a shared one goes
  // on to the slot lookup and fails (-EFAULT). A dead VM (above) is -EIO before either
  if (!slot) return priv ? { result: "memory-fault" } : fail("EFAULT");
  const g = slot!.gm;
  const i = gfn - slot!.base + slot!.pgoff;
  if (priv === g.shared[i]) return { result: "memory-fault" };
  g.getFolio(i);
  g.prepare(i);
  if (priv && env.config.arch === "snp") snpPrepare(g, i);
  // the mapping level: folio order, arch limit, slot alignment and extent, uniform attributes, TDX inhibit
  let level = 1;
  if (priv) {
    const order = g.mappingOrder(i);
    const arch = privateLevelLimit(env, g, i);
    for (let l = Math.min(arch, order >= 18 ? 3 : order >= 9 ? 2 : 1); l > 1; l--) {
      if (hugeAllowed(env, slot!, g, gfn, l)) { level = l; break; }
    }
  }
  const n = LEVEL_PAGES[level];
  const base = gfn - (gfn % n);
  for (const x of table.within(base, base + n)) table.remove(x.base, x.level);
  const ibase = i - (gfn - base);
  table.add(base, level, { gm: g, index: ibase });
  if (priv && env.config.arch === "tdx") tdxAccept(g, ibase, n);
  return finishAccess(g, i, priv, level, w);
}

function hugeAllowed(env: Env, slot: Slot, g: RGmem, gfn: number, l: number): boolean {
  const n = LEVEL_PAGES[l];
  const base = gfn - (gfn % n);
  if (base < slot.base || base + n > slot.base + slot.npages) return false;
  if ((slot.base - slot.pgoff) % n !== 0) return false;
  const ib = base - slot.base + slot.pgoff;
  const first = g.shared[ib];
  for (let k = ib; k < ib + n; k++) if (g.shared[k] !== first) return false;
  if (env.config.arch === "tdx" && l === 2 && g.inhibit2M[Math.floor(ib / 512)]) return false;
  return true;
}

function finishAccess(g: RGmem, i: number, priv: boolean, level: number, w?: number): StepResult {
  const value = g.read(i, priv);
  if (w !== undefined) g.write(i, w, priv);
  return { result: "mapped", level: LEVEL_NAME[level], value };
}
