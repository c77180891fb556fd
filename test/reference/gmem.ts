// guest_memfd (KERNEL-PROTOCOL 1, 2): one inode per page array. Shareability, folios (4 KiB or HugeTLB blocks),
// content, host PTEs and pins, orphaned frames, the SNP RMP state per page and TDX's 2 MiB inhibit, and the
// bindings to VMs and gmem-mode IOMMUs (as guest_memfd sees them: kvm.ts and iommu.ts own those objects).
import {
  PAGE, SCRAMBLE, GMEM_LIMIT_BYTES, fail, num, type Env, type GmemObs, type Orphan,
} from "./types";
import type { Leaf, Table } from "./tables";

export type GLeaf = Leaf<RGmem>;
export type GTable = Table<RGmem>;

/** a memslot: gfns [base, base + npages) map guest_memfd pages from pgoff */
export interface Slot { no: number; base: number; npages: number; gm: RGmem; pgoff: number }
/** a VM as its guest_memfd bindings see it (kvm.ts RVm): its SPTE tables, invalidation seq and death */
export interface BoundVm { readonly id: string; readonly priv: GTable; readonly shrd: GTable; seq: number; dead: boolean }
/** an IOMMU mapping of guest_memfd pages [offset, offset + npages) at iova pages [iova, iova + npages) */
export interface Area { iova: number; npages: number; gm: RGmem; offset: number; secure: boolean }
/** an IOMMU as the guest_memfd it is bound to sees it (iommu.ts RIommu) */
export interface BoundIommu {
  readonly id: string;
  readonly mode: "pin" | "gmem";
  bound: RGmem | null;
  readonly secure: GTable;
  readonly nonSecure: GTable;
  areas: Area[];
  table(secure: boolean): GTable;
}

export class RGmem {
  readonly npages: number;
  /** 0 (4 KiB folios), 9 (2 MiB HugeTLB) or 18 (1 GiB HugeTLB) */
  readonly hugeOrder: number;
  readonly block: number;
  readonly mmapFlag: boolean;
  closed = false;
  mmapped = false;
  /** per page: shared (true) or private */
  readonly shared: boolean[];
  /** per page: order of the folio holding it, -1 when absent */
  readonly order: number[];
  /** per page: zeroed / prepared (the folio's uptodate flag) */
  readonly uptodate: boolean[];
  /** per page: content value and whether it was last written through a private (encrypted) mapping */
  readonly value: number[];
  readonly enc: boolean[];
  /** per page: mapped by a host PTE */
  readonly hostPte: boolean[];
  /** per page: long-term pins taken by host.pin, and by pin-mode IOMMUs */
  readonly pins: number[];
  readonly ioPins: number[];
  /** frames punched out of the filemap that pins (host or pin-mode IOMMU) still hold */
  readonly orphans: Orphan[] = [];
  /** SNP RMP: per page assigned (private) with a 4 KiB entry, per 2 MiB chunk a 2 MiB entry */
  readonly rmpAssigned: boolean[];
  readonly rmp2M: boolean[];
  /** TDX KVM_LPAGE_GUEST_INHIBIT per 2 MiB block of indices */
  readonly inhibit2M: boolean[];
  /** shareability or folios changed since the last observe() (the observation of a 1 GiB file is not free) */
  dirty = true;
  private last: GmemObs | null = null;
  /** bindings: memslots of VMs */
  readonly bindings: { vm: BoundVm; slot: Slot }[] = [];
  /** gmem-mode IOMMUs bound to this inode */
  readonly iommus: BoundIommu[] = [];

  constructor(readonly id: string, readonly env: Env, npages: number, flags: string[]) {
    this.npages = npages;
    this.hugeOrder = flags.includes("hugetlb-1G") ? 18 : flags.includes("hugetlb-2M") ? 9 : 0;
    this.block = 1 << this.hugeOrder;
    this.mmapFlag = flags.includes("mmap");
    const v4 = env.config.protocol === "v4";
    const initShared = v4 ? flags.includes("init-shared") : !flags.includes("init-private");
    this.shared = new Array(npages).fill(initShared);
    this.order = new Array(npages).fill(-1);
    this.uptodate = new Array(npages).fill(false);
    this.value = new Array(npages).fill(0);
    this.enc = new Array(npages).fill(false);
    this.hostPte = new Array(npages).fill(false);
    this.pins = new Array(npages).fill(0);
    this.ioPins = new Array(npages).fill(0);
    this.rmpAssigned = new Array(npages).fill(false);
    this.rmp2M = new Array(Math.ceil(npages / 512)).fill(false);
    this.inhibit2M = new Array(Math.ceil(npages / 512)).fill(false);
  }

  get v4(): boolean { return this.env.config.protocol === "v4"; }
  blockStart(i: number): number { return i - (i % this.block); }
  blockEnd(i: number): number { return Math.min(this.npages, this.blockStart(i) + this.block); }
  /** [s, e) rounded out to huge blocks (itself on a 4 KiB-backed file) */
  roundHuge(s: number, e: number): [number, number] {
    if (this.hugeOrder === 0) return [s, e];
    const b = this.block;
    return [s - (s % b), Math.min(this.npages, Math.ceil(e / b) * b)];
  }
  /** does the huge block holding i have any shared index? */
  blockHasShared(i: number): boolean {
    for (let k = this.blockStart(i); k < this.blockEnd(i); k++) if (this.shared[k]) return true;
    return false;
  }
  blockAllPrivate(i: number): boolean { return !this.blockHasShared(i); }
  /** block state: absent, huge (one folio), split (4 KiB folios) */
  blockState(i: number): "absent" | "huge" | "split" {
    const b = this.blockStart(i);
    const o = this.order[b];
    if (o < 0) return "absent";
    return o > 0 ? "huge" : "split";
  }
  populated(): number { let n = 0; for (const o of this.order) if (o >= 0) n++; return n; }

  /** kvm_gmem_get_folio: allocate on first use; a huge block with any shared index is split at once */
  getFolio(i: number): void {
    if (this.order[i] >= 0) return;
    this.dirty = true;
    if (this.hugeOrder === 0) { this.order[i] = 0; this.uptodate[i] = false; return; }
    const b = this.blockStart(i), e = this.blockEnd(i);
    const split = this.blockHasShared(i);
    // the split at allocation is a HugeTLB split like any other: an injected failure makes the allocation fail
    if (split && this.env.take("enomem-split")) fail("ENOMEM");
    if (split) this.env.take("transient-ref");
    for (let k = b; k < e; k++) { this.order[k] = split ? 0 : this.hugeOrder; this.uptodate[k] = false; }
  }
  /** zero the folio holding i if it is not uptodate yet, then mark it */
  prepare(i: number): void {
    if (this.uptodate[i]) return;
    const [s, e] = this.folioRange(i);
    for (let k = s; k < e; k++) { this.value[k] = 0; this.enc[k] = false; this.uptodate[k] = true; }
  }
  folioRange(i: number): [number, number] {
    const o = this.order[i];
    if (o <= 0) return [i, i + 1];
    const n = 1 << o;
    const s = i - (i % n);
    return [s, s + n];
  }
  /** order of the folio usable for mapping i: its own order if the huge block holds no shared index */
  mappingOrder(i: number): number {
    const o = this.order[i];
    if (o <= 0) return 0;
    return this.blockHasShared(i) ? 0 : o;
  }
  /** does anything besides the filemap hold the folio of i? (pins, host PTEs) */
  busy(i: number): boolean {
    const [s, e] = this.folioRange(i);
    for (let k = s; k < e; k++) if (this.pins[k] > 0 || this.ioPins[k] > 0 || this.hostPte[k]) return true;
    return false;
  }

  /** what an access through a private (or shared) mapping reads */
  read(i: number, viaPrivate: boolean): number {
    const v = this.value[i];
    if (v === 0) return 0;
    if (this.env.config.arch !== "sw" && this.enc[i] !== viaPrivate) return (v ^ SCRAMBLE) >>> 0;
    return v;
  }
  write(i: number, v: number, viaPrivate: boolean): void {
    this.value[i] = v >>> 0;
    this.enc[i] = viaPrivate;
  }
  zero(s: number, e: number): void {
    for (let k = s; k < e; k++) { this.value[k] = 0; this.enc[k] = false; }
  }

  // ---- SNP RMP state (the RMPUPDATE / PSMASH side effects on mappings are arch.ts's)
  rmpLevel(i: number): number {
    if (!this.rmpAssigned[i]) return 0;
    return this.rmp2M[Math.floor(i / 512)] ? 2 : 1;
  }
  /** the RMP entry level sev_gmem_prepare would create for page i (0: it is assigned already) */
  rmpPrepareLevel(i: number): number {
    if (this.rmpAssigned[i]) return 0;
    const cs = i - (i % 512), ce = Math.min(this.npages, cs + 512);
    if (this.order[i] < 9 || ce - cs !== 512) return 1;
    for (let k = cs; k < ce; k++) if (this.rmpAssigned[k]) return 1;
    return 2;
  }
  /** may an IO entry of level l map pages [i, i + p) as far as their RMP entries go? */
  rmpAllows(i: number, p: number, l: number): boolean {
    for (let k = i; k < i + p; k++) { const r = this.rmpLevel(k); if (r !== 0 && r < l) return false; }
    return true;
  }

  observe(): GmemObs {
    if (!this.dirty && this.last) return this.last;
    this.dirty = false;
    this.last = this.observeNow();
    return this.last;
  }
  private observeNow(): GmemObs {
    const shared: [number, number, boolean][] = [];
    for (let i = 0; i < this.npages; i++) {
      const last = shared[shared.length - 1];
      if (last && last[2] === this.shared[i]) last[1] = i + 1;
      else shared.push([i, i + 1, this.shared[i]]);
    }
    const orders: [number, number, number | "absent"][] = [];
    for (let i = 0; i < this.npages; i++) {
      const o: number | "absent" = this.order[i] < 0 ? "absent" : this.order[i];
      const last = orders[orders.length - 1];
      if (last && last[2] === o) last[1] = i + 1;
      else orders.push([i, i + 1, o]);
    }
    return { shared, orders, populated: this.populated() };
  }
}

/** KVM_CREATE_GUEST_MEMFD: the flag and size checks, then a new inode */
export function createGmem(env: Env, id: string, sizeB: bigint, flags: string[]): RGmem {
  const v4 = env.config.protocol === "v4";
  const has = (f: string) => flags.includes(f);
  if (v4 && (has("hugetlb-2M") || has("hugetlb-1G"))) fail("EINVAL");
  const size = num(sizeB);
  if (!(size > 0) || size % PAGE !== 0) fail("EINVAL");
  if (has("init-shared") && has("init-private")) fail("EINVAL");
  if (has("hugetlb-2M") && has("hugetlb-1G")) fail("EINVAL");
  if (!v4 && has("init-private") && !has("mmap")) fail("EINVAL");
  if (v4 && has("init-shared") && !has("mmap")) fail("EINVAL");
  const huge = has("hugetlb-1G") ? 2 ** 30 : has("hugetlb-2M") ? 2 ** 21 : PAGE;
  if (size % huge !== 0) fail("EINVAL");
  if (size > GMEM_LIMIT_BYTES) fail("ENOMEM");
  return new RGmem(id, env, size / PAGE, flags);
}

// ---- bindings ------------------------------------------------------------------------------------------------

/** gfn range of a slot for gmem index range [s, e); null when they do not overlap */
export function slotGfns(slot: Slot, s: number, e: number): [number, number] | null {
  const lo = Math.max(s, slot.pgoff), hi = Math.min(e, slot.pgoff + slot.npages);
  if (lo >= hi) return null;
  return [slot.base + lo - slot.pgoff, slot.base + hi - slot.pgoff];
}

/** the VMs with a binding overlapping gmem range [s, e) */
export function vmsOver(g: RGmem, s: number, e: number): BoundVm[] {
  const out: BoundVm[] = [];
  for (const b of g.bindings) if (slotGfns(b.slot, s, e) && !out.includes(b.vm)) out.push(b.vm);
  return out;
}
