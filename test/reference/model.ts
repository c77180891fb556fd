// An independent reference model of gmemsim, written as plainly as possible: per-page arrays and maps, no bitmaps,
// no radix tables, no shared memory. It consumes the parsed action steps of a scenario (bindings/scenario/types.ts)
// and returns what the Wasm model's public API would report, and its Observation (below) is compared with the one
// test/reference/observe-wasm.ts reads from the Wasm model after every step of a differential fuzz run
// (test/fuzz/gen.ts). It is also the per-page "naive" peer a benchmark can compare against.
//
// Sources: /work/shared/docs/SCENARIOS.md (ops and results), KERNEL-PROTOCOL.md sections 1-4, 6, 7, and the
// modelling choices the Wasm model documents in its header comments (where the kernel leaves a choice open, that
// choice is the spec):
// - a punched page that pins still hold leaves the filemap; the frame, its content and its pins live on as an
//   orphan (host.unpin drops host pins only; a pin-mode IOMMU's entries keep pointing at the frame);
// - the gmem-mode IOMMU callback zaps precisely (a straddling huge entry is split first); the area keeps the hole,
//   and a later map at the area's own offsets restores it; truncate revokes whole areas;
// - a huge fault installs over a lower-level table; TDX demotes a straddling private leaf before removing it
//   (precise zapping) and never maps a demoted 2 MiB block huge again; before a folio is split the huge SPTEs and
//   IO entries over it are zapped (TDX: demoted) so that mapping <= folio holds;
// - SNP: RMP per page with 2 MiB entries, prepared on the first private fault, made shared in should_proceed (not
//   undone by a rollback); IO entries are kept across conversions and smashed with PSMASH;
// - content: one value per page; on tdx/snp a read through the other kind of mapping than the one that wrote it
//   sees value ^ 0xa5a5a5a5; TDX clears a page whose private mapping is removed and zeroes host-written content
//   when the guest accepts it;
// - injected faults fire on the next matching step: enomem-split on any HugeTLB split (the one at allocation too),
//   enomem-store on every shareability store (a rollback's too: it only WARNs), transient-ref on the refcount
//   check (after the real references) or a split (which spins and goes on), sept-remove-fail on the next S-EPT
//   removal (the VM is dead: its accesses are EIO).
//
// Not modelled (the fuzzer does not generate them): paused operations and resume (EBUSY / "retry"), events and
// counters, pfns and refcount numbers, leaked-page counts, the Wasm model's own exhaustion (heap, area tables).
import type { ActionStep, ScenarioConfig } from "../../bindings/scenario/types";

export type StepResult = { result: string | number; errorOffset?: number; level?: string; value?: number };

/**
 * Leaves of one table as runs [first base, end, level]: consecutive leaves of one level merge into one run (a run
 * [s, e, "2M"] is the leaves at s, s + 512, ... < e). leafPairs() expands them to sorted [base, level] pairs.
 */
export type Leaves = [number, number, string][];

/** The leaves of a table as sorted [gfn or iova page of the leaf base, level] pairs. */
export function leafPairs(runs: Leaves): [number, string][] {
  const out: [number, string][] = [];
  const step: Record<string, number> = { "4K": 1, "2M": 512, "1G": 262144 };
  for (const [s, e, l] of runs) for (let b = s; b < e; b += step[l]) out.push([b, l]);
  return out;
}
export interface GmemObs {
  /** shareability as runs [start, end, shared] of page indices */
  shared: [number, number, boolean][];
  /** folio order per page as runs [start, end, order | "absent"] */
  orders: [number, number, number | "absent"][];
  /** 4 KiB pages that have a folio */
  populated: number;
}
export interface VmObs { private: Leaves; shared: Leaves; seq: number; dead?: boolean }
export interface IommuObs { secure: Leaves; nonSecure: Leaves }
export interface Observation {
  gmems: Record<string, GmemObs>;
  vms: Record<string, VmObs>;
  iommus: Record<string, IommuObs>;
}

// ---------------------------------------------------------------------------------------------------------------
// constants

const PAGE = 4096;
const LEVEL_NAME = ["", "4K", "2M", "1G"];
/** pages covered by a leaf of level 1 / 2 / 3 */
const LEVEL_PAGES = [0, 1, 512, 262144];
/** 16 TiB of guest physical address space, 8 TiB of guest_memfd (the model's limits) */
const GPA_LIMIT_PAGES = 2 ** 32;
const GMEM_LIMIT_BYTES = 2 ** 43;
const SCRAMBLE = 0xa5a5a5a5;

class Errno extends Error {
  constructor(readonly code: string, readonly errorOffset?: number) { super(code); }
}
const fail = (code: string, errorOffset?: number): never => { throw new Errno(code, errorOffset); };

// ---------------------------------------------------------------------------------------------------------------
// page tables: one Map per level, base page -> leaf. Plain, no radix tree.

/** a frame punched out of the filemap that pins still hold: its content goes with it */
interface Orphan { index: number; hostPins: number; ioPins: number; value: number; enc: boolean }
/** what a leaf maps: page `index` of a guest_memfd, or (pin-mode IOMMU) a frame punched out from under it */
interface Leaf { gm: RGmem; index: number; orphan?: Orphan }

class Table {
  readonly lv: Map<number, Leaf>[] = [new Map(), new Map(), new Map(), new Map()];

  /** the leaf covering page p: its level, base and target */
  find(p: number): { level: number; base: number; leaf: Leaf } | null {
    for (let l = 1; l <= 3; l++) {
      const base = p - (p % LEVEL_PAGES[l]);
      const leaf = this.lv[l].get(base);
      if (leaf) return { level: l, base, leaf };
    }
    return null;
  }
  add(base: number, level: number, leaf: Leaf): void { this.lv[level].set(base, leaf); }
  remove(base: number, level: number): void { this.lv[level].delete(base); }
  /** every leaf that maps a page in [s, e), in ascending order */
  within(s: number, e: number): { level: number; base: number; leaf: Leaf }[] {
    const out: { level: number; base: number; leaf: Leaf }[] = [];
    for (let l = 1; l <= 3; l++) {
      const L = LEVEL_PAGES[l];
      const first = s - (s % L);
      if ((e - first) / L < this.lv[l].size) {
        // a small range: look its candidate bases up (keeps a fault O(1) however many leaves exist)
        for (let base = first; base < e; base += L) { const leaf = this.lv[l].get(base); if (leaf) out.push({ level: l, base, leaf }); }
      } else {
        for (const [base, leaf] of this.lv[l]) if (base < e && base + L > s) out.push({ level: l, base, leaf });
      }
    }
    out.sort((a, b) => a.base - b.base);
    return out;
  }
  /** split the huge leaf at base into 512 leaves one level down */
  demote(base: number, level: number): void {
    const leaf = this.lv[level].get(base)!;
    this.lv[level].delete(base);
    const sub = LEVEL_PAGES[level - 1];
    for (let k = 0; k < 512; k++) this.lv[level - 1].set(base + k * sub, { gm: leaf.gm, index: leaf.index + k * sub });
  }
  count(): number { return this.lv[1].size + this.lv[2].size + this.lv[3].size; }
  clear(): void { for (const m of this.lv) m.clear(); }
  observe(): Leaves {
    const all: [number, number][] = [];
    for (let l = 1; l <= 3; l++) for (const base of this.lv[l].keys()) all.push([base, l]);
    all.sort((a, b) => a[0] - b[0]);
    const runs: [number, number, string][] = [];
    for (const [base, l] of all) {
      const last = runs[runs.length - 1];
      if (last && last[1] === base && last[2] === LEVEL_NAME[l]) last[1] = base + LEVEL_PAGES[l];
      else runs.push([base, base + LEVEL_PAGES[l], LEVEL_NAME[l]]);
    }
    return runs;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// guest_memfd

class RGmem {
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
  readonly bindings: { vm: RVm; slot: Slot }[] = [];
  /** gmem-mode IOMMUs bound to this inode */
  readonly iommus: RIommu[] = [];

  constructor(readonly id: string, readonly model: ReferenceModel, npages: number, flags: string[]) {
    this.npages = npages;
    this.hugeOrder = flags.includes("hugetlb-1G") ? 18 : flags.includes("hugetlb-2M") ? 9 : 0;
    this.block = 1 << this.hugeOrder;
    this.mmapFlag = flags.includes("mmap");
    const v4 = model.config.protocol === "v4";
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

  get v4(): boolean { return this.model.config.protocol === "v4"; }
  blockStart(i: number): number { return i - (i % this.block); }
  blockEnd(i: number): number { return Math.min(this.npages, this.blockStart(i) + this.block); }
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
    if (split && this.model.takeFault("enomem-split")) fail("ENOMEM");
    if (split) this.model.takeFault("transient-ref");
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
    if (this.model.config.arch !== "sw" && this.enc[i] !== viaPrivate) return (v ^ SCRAMBLE) >>> 0;
    return v;
  }
  write(i: number, v: number, viaPrivate: boolean): void {
    this.value[i] = v >>> 0;
    this.enc[i] = viaPrivate;
  }
  zero(s: number, e: number): void {
    for (let k = s; k < e; k++) { this.value[k] = 0; this.enc[k] = false; }
  }

  // ---- SNP RMP
  rmpLevel(i: number): number {
    if (!this.rmpAssigned[i]) return 0;
    return this.rmp2M[Math.floor(i / 512)] ? 2 : 1;
  }
  /** sev_gmem_prepare on the first private use */
  rmpPrepare(i: number): void {
    if (this.rmpAssigned[i]) return;
    const c = Math.floor(i / 512);
    const cs = c * 512, ce = Math.min(this.npages, cs + 512);
    let whole = this.order[i] >= 9 && ce - cs === 512;
    if (whole) for (let k = cs; k < ce; k++) if (this.rmpAssigned[k]) { whole = false; break; }
    if (whole) {
      for (let k = cs; k < ce; k++) this.rmpAssigned[k] = true;
      this.rmp2M[c] = true;
    } else this.rmpAssigned[i] = true;
    // IO entries are never larger than the RMP entry of a pfn they map: the new entry smashes bigger ones
    for (const io of this.iommus) this.model.smashIoTo(io, this, cs, ce, whole ? 2 : 1);
  }
  /** the RMP entry level sev_gmem_prepare would create for page i (0: it is assigned already) */
  rmpPrepareLevel(i: number): number {
    if (this.rmpAssigned[i]) return 0;
    const cs = i - (i % 512), ce = Math.min(this.npages, cs + 512);
    if (this.order[i] < 9 || ce - cs !== 512) return 1;
    for (let k = cs; k < ce; k++) if (this.rmpAssigned[k]) return 1;
    return 2;
  }
  /** make [s, e) unassigned; a 2 MiB entry partly inside is PSMASHed (NPT and IO entries smashed with it) */
  rmpMakeShared(s: number, e: number): void {
    for (let c = Math.floor(s / 512); c * 512 < e; c++) {
      if (!this.rmp2M[c]) continue;
      const cs = c * 512, ce = cs + 512;
      if (s <= cs && ce <= e) { this.rmp2M[c] = false; for (let k = cs; k < ce; k++) this.rmpAssigned[k] = false; continue; }
      this.rmp2M[c] = false;
      this.model.psmashFollowers(this, cs, ce);
    }
    for (let k = s; k < e; k++) this.rmpAssigned[k] = false;
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

// ---------------------------------------------------------------------------------------------------------------
// VMs

interface Slot { no: number; base: number; npages: number; gm: RGmem; pgoff: number }

class RVm {
  readonly slots = new Map<number, Slot>();
  readonly priv = new Table();
  readonly shrd = new Table();
  seq = 0;
  dead = false;
  constructor(readonly id: string) {}
  slotOf(gfn: number): Slot | null {
    for (const s of this.slots.values()) if (gfn >= s.base && gfn < s.base + s.npages) return s;
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// IOMMUs

interface Area { iova: number; npages: number; gm: RGmem; offset: number; secure: boolean }

class RIommu {
  bound: RGmem | null = null;
  readonly secure = new Table();
  readonly nonSecure = new Table();
  areas: Area[] = [];
  constructor(readonly id: string, readonly mode: "pin" | "gmem") {}
  table(secure: boolean): Table { return secure ? this.secure : this.nonSecure; }
}

// ---------------------------------------------------------------------------------------------------------------
// the model

/** parse a bigint byte quantity the way the binding does: a whole number of bytes up to 2^53, else NaN */
function num(x: bigint): number {
  return x >= 0n && x <= 2n ** 53n ? Number(x) : Number.NaN;
}

export class ReferenceModel {
  readonly config: ScenarioConfig;
  readonly gmems = new Map<string, RGmem>();
  readonly vms = new Map<string, RVm>();
  readonly iommus = new Map<string, RIommu>();
  /** armed faults: kind -> remaining count */
  readonly armed = new Map<string, number>();

  constructor(config: ScenarioConfig) {
    this.config = config;
  }

  takeFault(fault: string): boolean { return this.take(fault); }
  private take(fault: string): boolean {
    const n = this.armed.get(fault) ?? 0;
    if (n === 0) return false;
    this.armed.set(fault, n - 1);
    return true;
  }

  apply(step: ActionStep): StepResult {
    try {
      return this.run(step);
    } catch (e) {
      if (e instanceof Errno) return e.errorOffset === undefined ? { result: e.code } : { result: e.code, errorOffset: e.errorOffset };
      throw e;
    }
  }

  observe(): Observation {
    const obs: Observation = { gmems: {}, vms: {}, iommus: {} };
    for (const [id, g] of this.gmems) obs.gmems[id] = g.observe();
    for (const [id, v] of this.vms) obs.vms[id] = { private: v.priv.observe(), shared: v.shrd.observe(), seq: v.seq };
    for (const [id, io] of this.iommus) obs.iommus[id] = { secure: io.secure.observe(), nonSecure: io.nonSecure.observe() };
    return obs;
  }

  private gm(id: string): RGmem { const g = this.gmems.get(id); if (!g) throw new Error(`no gmem ${id}`); return g; }
  private vm(id: string): RVm { const v = this.vms.get(id); if (!v) throw new Error(`no vm ${id}`); return v; }
  private io(id: string): RIommu { const v = this.iommus.get(id); if (!v) throw new Error(`no iommu ${id}`); return v; }

  private run(s: ActionStep): StepResult {
    switch (s.op) {
      case "gmem.create": this.gmemCreate(s.id, s.size, s.flags); return { result: 0 };
      case "gmem.close": this.gm(s.gmem).closed = true; return { result: 0 };
      case "vm.create": this.vms.set(s.id, new RVm(s.id)); return { result: 0 };
      case "vm.destroy": {
        const v = this.vm(s.vm);
        for (const no of [...v.slots.keys()]) this.unbind(v, no);
        this.vms.delete(s.vm);
        return { result: 0 };
      }
      case "vm.bind": this.bind(this.vm(s.vm), s.slot, s.gpa, s.size, this.gm(s.gmem), s.offset); return { result: 0 };
      case "vm.unbind": this.unbind(this.vm(s.vm), s.slot); return { result: 0 };
      case "guest.access": return this.guestAccess(this.vm(s.vm), s.gpa, s.private, s.write);
      case "host.mmap": {
        const g = this.gm(s.gmem);
        if (g.closed) fail("EBADF");
        if (!g.mmapFlag) fail("ENODEV");
        g.mmapped = true;
        return { result: 0 };
      }
      case "host.munmap": {
        const g = this.gm(s.gmem);
        if (!g.mmapped) fail("EINVAL");
        this.unmapHost(g, 0, g.npages);
        g.mmapped = false;
        return { result: 0 };
      }
      case "host.access": return this.hostAccess(this.gm(s.gmem), s.offset, s.write);
      case "host.pin": this.hostPin(this.gm(s.gmem), s.offset, s.size); return { result: 0 };
      case "host.unpin": this.hostUnpin(this.gm(s.gmem), s.offset, s.size); return { result: 0 };
      case "convert": this.convert(this.gm(s.gmem), s.offset, s.size, s.to === "shared", s.mode); return { result: 0 };
      case "punch": this.punch(this.gm(s.gmem), s.offset, s.size); return { result: 0 };
      case "inject": this.armed.set(s.fault, s.count); return { result: 0 };
      case "iommu.create": this.iommus.set(s.id, new RIommu(s.id, s.mode)); return { result: 0 };
      case "iommu.bind": this.iommuBind(this.io(s.iommu), this.gm(s.gmem)); return { result: 0 };
      case "iommu.unbind": this.iommuUnbind(this.io(s.iommu)); return { result: 0 };
      case "iommu.map": this.iommuMap(this.io(s.iommu), s.iova, this.gm(s.gmem), s.offset, s.size, s.secure); return { result: 0 };
      case "iommu.unmap": this.iommuUnmap(this.io(s.iommu), s.iova, s.size, s.secure); return { result: 0 };
      case "dma": return this.dma(this.io(s.iommu), s.iova, s.secure, s.write);
      case "resume": throw new Error("the reference model does not model paused operations");
    }
    throw new Error(`unknown op ${(s as ActionStep).op}`);
  }

  // ---- gmem.create -----------------------------------------------------------------------------------------

  private gmemCreate(id: string, sizeB: bigint, flags: string[]): void {
    const v4 = this.config.protocol === "v4";
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
    this.gmems.set(id, new RGmem(id, this, size / PAGE, flags));
  }

  // ---- memslots --------------------------------------------------------------------------------------------

  private bind(v: RVm, no: number, gpaB: bigint, sizeB: bigint, g: RGmem, offB: bigint): void {
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

  private unbind(v: RVm, no: number): void {
    const slot = v.slots.get(no);
    if (!slot) fail("EINVAL");
    const s = slot!;
    this.zapVm(v, s.base, s.base + s.npages, true, true, s);
    v.seq++;
    v.slots.delete(no);
    const g = s.gm;
    const k = g.bindings.findIndex((b) => b.slot === s);
    if (k >= 0) g.bindings.splice(k, 1);
  }

  // ---- KVM: zaps ---------------------------------------------------------------------------------------------

  /**
   * Zap the SPTEs of gfns [s, e) in one VM (private and/or shared table). A huge leaf partly inside goes whole,
   * except private leaves on TDX, which are demoted first (precise zapping); TDX clears the pages it removes.
   */
  private zapVm(v: RVm, s: number, e: number, priv: boolean, shrd: boolean, _slot?: Slot): void {
    if (priv) {
      const t = v.priv;
      if (this.config.arch === "tdx") {
        this.demoteStraddling(v, t, s, e);
        for (const x of t.within(s, e)) this.septRemove(v, x.base, x.level, x.leaf);
      } else {
        for (const x of t.within(s, e)) t.remove(x.base, x.level);
      }
    }
    if (shrd) for (const x of v.shrd.within(s, e)) v.shrd.remove(x.base, x.level);
  }

  /** TDX: demote every huge private leaf sticking out of [s, e); a demoted 2 MiB block never maps huge again */
  private demoteStraddling(v: RVm, t: Table, s: number, e: number): void {
    for (;;) {
      const x = t.within(s, e).find((y) => y.level > 1 && (y.base < s || y.base + LEVEL_PAGES[y.level] > e));
      if (!x) return;
      if (x.level === 2) x.leaf.gm.inhibit2M[Math.floor(x.leaf.index / 512)] = true;
      t.demote(x.base, x.level);
    }
  }

  /** TDX: BLOCK/TRACK/REMOVE one private leaf, then clear its pages; a removal failure kills the VM */
  private septRemove(v: RVm, base: number, level: number, leaf: Leaf): void {
    if (this.take("sept-remove-fail")) {
      v.dead = true;
      v.priv.remove(base, level);
      return;
    }
    v.priv.remove(base, level);
    leaf.gm.zero(leaf.index, leaf.index + LEVEL_PAGES[level]);
  }

  /** gfn range of a slot for gmem index range [s, e); null when they do not overlap */
  private slotGfns(slot: Slot, s: number, e: number): [number, number] | null {
    const lo = Math.max(s, slot.pgoff), hi = Math.min(e, slot.pgoff + slot.npages);
    if (lo >= hi) return null;
    return [slot.base + lo - slot.pgoff, slot.base + hi - slot.pgoff];
  }

  /** the VMs with a binding overlapping gmem range [s, e) */
  private vmsOver(g: RGmem, s: number, e: number): RVm[] {
    const out: RVm[] = [];
    for (const b of g.bindings) if (this.slotGfns(b.slot, s, e) && !out.includes(b.vm)) out.push(b.vm);
    return out;
  }

  /** zap the SPTEs of gmem range [s, e) in every VM bound to it */
  private zapGmem(g: RGmem, s: number, e: number, priv: boolean, shrd: boolean): void {
    for (const b of g.bindings) {
      const r = this.slotGfns(b.slot, s, e);
      if (r) this.zapVm(b.vm, r[0], r[1], priv, shrd, b.slot);
    }
  }

  /** SNP PSMASH followers: NPT private leaves and IO entries mapping the 2 MiB chunk [cs, ce) go to 4 KiB */
  psmashFollowers(g: RGmem, cs: number, ce: number): void {
    for (const b of g.bindings) {
      const r = this.slotGfns(b.slot, cs, ce);
      if (!r) continue;
      const t = b.vm.priv;
      for (const x of t.within(r[0], r[1])) {
        if (x.level === 3) t.demote(x.base, 3);
      }
      for (const x of t.within(r[0], r[1])) if (x.level === 2) t.demote(x.base, 2);
    }
    for (const io of g.iommus) this.smashIo(io, g, cs, ce);
  }

  // ---- host side -------------------------------------------------------------------------------------------

  private unmapHost(g: RGmem, s: number, e: number): number {
    let n = 0;
    for (let i = s; i < e; i++) if (g.hostPte[i]) { g.hostPte[i] = false; n++; }
    return n;
  }

  /** the host fault of index i (kvm_gmem_fault_user_mapping); false: SIGBUS */
  private hostFault(g: RGmem, i: number): boolean {
    if (!g.shared[i]) return false;
    if (g.hostPte[i]) return true;
    g.getFolio(i);
    g.prepare(i);
    g.hostPte[i] = true;
    return true;
  }

  private hostAccess(g: RGmem, offB: bigint, w?: number): StepResult {
    const off = num(offB);
    if (!Number.isInteger(off) || off < 0 || off >= GMEM_LIMIT_BYTES) fail("EINVAL");
    if (!g.mmapped) fail("EFAULT");
    const i = Math.floor(off / PAGE);
    if (i >= g.npages) return { result: "SIGBUS" };
    if (!this.hostFault(g, i)) return { result: "SIGBUS" };
    const value = g.read(i, false);
    if (w !== undefined) g.write(i, w, false);
    return { result: "ok", value };
  }

  private pageRange(g: RGmem, offB: bigint, sizeB: bigint): [number, number] {
    const off = num(offB), size = num(sizeB);
    if (!(off % PAGE === 0) || !(size % PAGE === 0) || !(size > 0)) fail("EINVAL");
    const s = off / PAGE, e = s + size / PAGE;
    if (e > g.npages) fail("EINVAL");
    return [s, e];
  }

  private hostPin(g: RGmem, offB: bigint, sizeB: bigint): void {
    const [s, e] = this.pageRange(g, offB, sizeB);
    if (!g.mmapped) fail("EFAULT");
    this.gupPin(g, s, e, g.pins);
  }

  /**
   * GUP through the host mapping: each page is faulted in, then pinned in `pins`; a private page fails the whole
   * pin (the pins taken so far are dropped, the faulted-in pages stay mapped).
   */
  private gupPin(g: RGmem, s: number, e: number, pins: number[]): void {
    for (let i = s; i < e; i++) {
      let ok = false;
      try { ok = this.hostFault(g, i); } catch (x) { for (let k = s; k < i; k++) pins[k]--; throw x; }
      if (!ok) { for (let k = s; k < i; k++) pins[k]--; fail("EFAULT"); }
      pins[i]++;
    }
  }

  private hostUnpin(g: RGmem, offB: bigint, sizeB: bigint): void {
    const [s, e] = this.pageRange(g, offB, sizeB);
    // the page's own folio first, then a frame punched out from under a pin
    // only the pins host.pin took; an IOMMU's pins are not the user's to drop
    for (let i = s; i < e; i++) if (g.pins[i] === 0 && !g.orphans.some((o) => o.index === i && o.hostPins > 0)) fail("EINVAL");
    for (let i = s; i < e; i++) {
      if (g.pins[i] > 0) { g.pins[i]--; continue; }
      const o = g.orphans.find((x) => x.index === i && x.hostPins > 0)!;
      o.hostPins--;
      this.dropOrphan(g, o);
    }
  }

  // ---- guest accesses --------------------------------------------------------------------------------------

  private guestAccess(v: RVm, gpaB: bigint, priv: boolean, w?: number): StepResult {
    const gpa = num(gpaB);
    if (!Number.isInteger(gpa)) fail("EINVAL");
    const gfn = Math.floor(gpa / PAGE);
    if (v.dead) fail("EIO");
    const table = priv ? v.priv : v.shrd;
    const hit = table.find(gfn);
    if (hit) {
      const i = hit.leaf.index + (gfn - hit.base);
      return this.finishAccess(hit.leaf.gm, i, priv, hit.level, w);
    }
    const slot = v.slotOf(gfn);
    if (!slot) fail("EFAULT");
    const g = slot!.gm;
    const i = gfn - slot!.base + slot!.pgoff;
    if (priv === g.shared[i]) return { result: "memory-fault" };
    g.getFolio(i);
    g.prepare(i);
    if (priv && this.config.arch === "snp") g.rmpPrepare(i);
    // the mapping level: folio order, arch limit, slot alignment and extent, uniform attributes, TDX inhibit
    let level = 1;
    if (priv) {
      const order = g.mappingOrder(i);
      const arch = this.config.arch === "sw" ? 3 : this.config.arch === "tdx" ? 2 : Math.max(1, g.rmpLevel(i));
      for (let l = Math.min(arch, order >= 18 ? 3 : order >= 9 ? 2 : 1); l > 1; l--) {
        if (this.hugeAllowed(v, slot!, g, gfn, l)) { level = l; break; }
      }
    }
    const n = LEVEL_PAGES[level];
    const base = gfn - (gfn % n);
    for (const x of table.within(base, base + n)) table.remove(x.base, x.level);
    const ibase = i - (gfn - base);
    table.add(base, level, { gm: g, index: ibase });
    if (priv && this.config.arch === "tdx") {
      // TDH.MEM.PAGE.AUG + ACCEPT: a page last written shared reads zero
      for (let k = ibase; k < ibase + n; k++) if (!g.enc[k]) { g.value[k] = 0; }
    }
    return this.finishAccess(g, i, priv, level, w);
  }

  private hugeAllowed(v: RVm, slot: Slot, g: RGmem, gfn: number, l: number): boolean {
    const n = LEVEL_PAGES[l];
    const base = gfn - (gfn % n);
    if (base < slot.base || base + n > slot.base + slot.npages) return false;
    if ((slot.base - slot.pgoff) % n !== 0) return false;
    const ib = base - slot.base + slot.pgoff;
    const first = g.shared[ib];
    for (let k = ib; k < ib + n; k++) if (g.shared[k] !== first) return false;
    if (this.config.arch === "tdx" && l === 2 && g.inhibit2M[Math.floor(ib / 512)]) return false;
    void v;
    return true;
  }

  private finishAccess(g: RGmem, i: number, priv: boolean, level: number, w?: number): StepResult {
    const value = g.read(i, priv);
    if (w !== undefined) g.write(i, w, priv);
    return { result: "mapped", level: LEVEL_NAME[level], value };
  }

  // ---- conversion --------------------------------------------------------------------------------------------

  private convert(g: RGmem, offB: bigint, sizeB: bigint, toShared: boolean, mode?: "zero" | "preserve"): void {
    if (g.closed) fail("EBADF");
    const off = num(offB), size = num(sizeB);
    if (!g.v4) {
      if (size === 0) return;
      if (!(off + size <= g.npages * PAGE)) fail("EINVAL");
      if (off % PAGE !== 0 || size % PAGE !== 0) fail("EINVAL");
      if (mode !== undefined) fail("EINVAL");
      this.convertV2(g, off / PAGE, (off + size) / PAGE, toShared);
    } else {
      // [V4+] the content-mode flags are checked first
      if (mode === "zero" && !toShared) fail("EOPNOTSUPP");
      if (mode === "preserve" && toShared && this.config.arch !== "sw") fail("EOPNOTSUPP");
      if (!(size > 0)) fail("EINVAL");
      if (!(off + size <= g.npages * PAGE)) fail("EINVAL");
      if (off % PAGE !== 0 || size % PAGE !== 0) fail("EINVAL");
      this.convertV4(g, off / PAGE, (off + size) / PAGE, toShared, mode);
    }
  }

  /** the maximal runs of [s, e) whose value differs from the target */
  private workList(g: RGmem, s: number, e: number, toShared: boolean): [number, number][] {
    const out: [number, number][] = [];
    for (let i = s; i < e; i++) {
      if (g.shared[i] === toShared) continue;
      const last = out[out.length - 1];
      if (last && last[1] === i) last[1] = i + 1;
      else out.push([i, i + 1]);
    }
    return out;
  }

  private roundHuge(g: RGmem, s: number, e: number): [number, number] {
    if (g.hugeOrder === 0) return [s, e];
    const b = g.block;
    return [s - (s % b), Math.min(g.npages, Math.ceil(e / b) * b)];
  }

  private convertV2(g: RGmem, s: number, e: number, toShared: boolean): void {
    const works = this.workList(g, s, e, toShared);
    if (works.length === 0) return;
    // invalidate_begin on every VM bound to each (huge-rounded) work
    const ended: RVm[][] = works.map((w) => { const [rs, re] = this.roundHuge(g, w[0], w[1]); return this.vmsOver(g, rs, re); });
    let err: Errno | null = null;
    try {
      // should_proceed
      for (const [ws, we] of works) {
        if (toShared) {
          this.zapGmem(g, ws, we, true, false);
          this.iommuCallback(g, ws, we, "to-shared");
          // SNP arch_make_shared (RMPUPDATE, PSMASH of a partly converted 2 MiB entry): not undone by a rollback
          if (this.config.arch === "snp") g.rmpMakeShared(ws, we);
        } else {
          this.unmapHost(g, ws, we);
          this.zapGmem(g, ws, we, false, true);
          this.iommuCallback(g, ws, we, "to-private");
          this.refcountCheck(g, ws, we, true);
        }
      }
      // execute, with best-effort rollback
      let done = 0;
      try {
        for (const [ws, we] of works) {
          this.executeWork(g, ws, we, toShared);
          done++;
        }
      } catch (x) {
        // best-effort rollback: execute_work(work, !shared) from the head up to and including the failing work;
        // its failures (injected ones included) only WARN
        for (let k = 0; k <= done && k < works.length; k++) {
          try { this.executeWork(g, works[k][0], works[k][1], !toShared); } catch { /* WARN only */ }
        }
        throw x;
      }
    } catch (x) {
      if (!(x instanceof Errno)) throw x;
      err = x;
    }
    for (const vms of ended) for (const v of vms) v.seq++;
    if (err) throw err;
  }

  /** kvm_gmem_has_safe_refcount over the folios of [s, e): -EAGAIN with error_index at the first busy folio */
  private refcountCheck(g: RGmem, s: number, e: number, v2: boolean): void {
    const at = (i: number) => { const fs = g.folioRange(i)[0]; return (v2 ? fs : Math.max(s, fs)) * PAGE; };
    for (let i = s; i < e; i++) {
      if (g.order[i] >= 0 && g.busy(i)) fail("EAGAIN", at(i));
    }
    // an injected transient reference sits on the first folio of the range (at its start when there is none)
    if (this.take("transient-ref")) {
      for (let i = s; i < e; i++) if (g.order[i] >= 0) fail("EAGAIN", at(i));
      fail("EAGAIN", s * PAGE);
    }
  }

  /** kvm_gmem_execute_work: shareability first, then split (to-shared) / merge (to-private) the huge-rounded range */
  private executeWork(g: RGmem, s: number, e: number, toShared: boolean): void {
    if (this.take("enomem-store")) fail("ENOMEM");
    g.dirty = true;
    for (let i = s; i < e; i++) g.shared[i] = toShared;
    if (g.hugeOrder === 0) return;
    const [rs, re] = this.roundHuge(g, s, e);
    const doneBlocks: number[] = [];
    for (let b = rs; b < re; b += g.block) {
      if (toShared) {
        if (g.blockState(b) !== "huge") continue;
        if (this.take("enomem-split")) {
          // the inverse op on the blocks already processed
          for (const d of doneBlocks) this.mergeBlock(g, d);
          fail("ENOMEM");
        }
        this.splitBlock(g, b);
        doneBlocks.push(b);
      } else {
        if (g.blockState(b) !== "split" || g.blockHasShared(b)) continue;
        this.mergeBlock(g, b);
        doneBlocks.push(b);
      }
    }
  }

  private splitBlock(g: RGmem, b: number): void {
    // an injected transient reference: folio_ref_freeze spins until it is dropped (bounded), then the split goes on
    this.take("transient-ref");
    // I15 (mapping <= folio): IO entries over the folio go to 4 KiB first (SNP keeps them across conversions, and
    // the callback of the others zaps only the converted pages)
    for (const io of g.iommus) this.smashIo(io, g, b, g.blockEnd(b));
    // and SPTEs: zap the huge ones mapping the folio before it is split ("Zap mappings before splitting backend
    // folios"); TDX demotes them instead (accepted private memory cannot simply be refaulted)
    for (const bd of g.bindings) {
      const r = this.slotGfns(bd.slot, b, g.blockEnd(b));
      if (!r) continue;
      const t = bd.vm.priv;
      for (;;) {
        const x = t.within(r[0], r[1]).find((y) => y.level > 1);
        if (!x) break;
        if (this.config.arch === "tdx") {
          if (x.level === 2) x.leaf.gm.inhibit2M[Math.floor(x.leaf.index / 512)] = true;
          t.demote(x.base, x.level);
        } else t.remove(x.base, x.level);
      }
    }
    g.dirty = true;
    for (let k = b; k < g.blockEnd(b); k++) g.order[k] = 0;
  }
  private mergeBlock(g: RGmem, b: number): void {
    g.dirty = true;
    for (let k = b; k < g.blockEnd(b); k++) { g.order[k] = g.hugeOrder; g.uptodate[k] = true; }
  }

  private convertV4(g: RGmem, s: number, e: number, toShared: boolean, mode?: "zero" | "preserve"): void {
    if (this.workList(g, s, e, toShared).length === 0) return;
    if (this.take("enomem-store")) fail("ENOMEM", s * PAGE);
    if (!toShared) {
      this.unmapHost(g, s, e);
      this.refcountCheck(g, s, e, false);
    }
    // point of no return
    const vms = this.vmsOver(g, s, e);
    this.zapGmem(g, s, e, toShared, !toShared);
    this.iommuCallback(g, s, e, toShared ? "to-shared" : "to-private");
    if (toShared && this.config.arch === "snp") g.rmpMakeShared(s, e);
    if (mode === "zero") g.zero(s, e);
    else if (mode === "preserve") for (let i = s; i < e; i++) g.enc[i] = !toShared;
    g.dirty = true;
    for (let i = s; i < e; i++) g.shared[i] = toShared;
    for (const v of vms) v.seq++;
  }

  // ---- punch hole --------------------------------------------------------------------------------------------

  private punch(g: RGmem, offB: bigint, sizeB: bigint): void {
    if (g.closed) fail("EBADF");
    const off = num(offB), size = num(sizeB);
    if (!(off % PAGE === 0) || !(size % PAGE === 0) || !(size > 0)) fail("EINVAL");
    const s = off / PAGE;
    const e = Math.min(g.npages, s + size / PAGE);
    if (s >= e) return;
    const [rs, re] = this.roundHuge(g, s, e);
    const vms = this.vmsOver(g, s, e);
    let err: Errno | null = null;
    this.zapGmem(g, s, e, true, true);
    this.unmapHost(g, s, e);
    this.iommuCallback(g, s, e, "truncate");
    try {
      if (g.hugeOrder === 0) {
        for (let i = s; i < e; i++) this.freePage(g, i);
      } else {
        for (let b = rs; b < re; b += g.block) {
          const be = g.blockEnd(b);
          if (s <= b && be <= e) {
            const st = g.blockState(b);
            if (st === "absent") continue;
            if (st === "split") {
              for (let k = b; k < be; k++) if (g.busy(k)) fail("EAGAIN");
            }
            g.dirty = true;
            for (let k = b; k < be; k++) { g.order[k] = -1; g.uptodate[k] = false; }
            g.zero(b, be);
            if (this.config.arch === "snp") g.rmpMakeShared(b, be);
          } else {
            g.zero(Math.max(s, b), Math.min(e, be));
          }
        }
      }
    } catch (x) {
      if (!(x instanceof Errno)) throw x;
      err = x;
    }
    for (const v of vms) v.seq++;
    if (err) throw err;
  }

  /** the last pin of an orphaned frame is gone: the frame goes back to the pool */
  private dropOrphan(g: RGmem, o: Orphan): void {
    if (o.hostPins + o.ioPins === 0) g.orphans.splice(g.orphans.indexOf(o), 1);
  }

  private freePage(g: RGmem, i: number): void {
    if (g.order[i] < 0) return;
    if (g.pins[i] > 0 || g.ioPins[i] > 0) {
      // truncate_inode_folio removes a pinned page anyway: the pins keep the frame, and with it its content; the
      // pin-mode IOMMUs' entries go on pointing at it
      const o: Orphan = { index: i, hostPins: g.pins[i], ioPins: g.ioPins[i], value: g.value[i], enc: g.enc[i] };
      g.orphans.push(o);
      if (o.ioPins > 0) {
        for (const io of this.iommus.values()) {
          if (io.mode !== "pin") continue;
          for (const a of io.areas) {
            if (a.gm !== g || i < a.offset || i >= a.offset + a.npages) continue;
            const hit = io.nonSecure.find(a.iova + i - a.offset);
            if (hit && !hit.leaf.orphan && hit.leaf.index === i) hit.leaf.orphan = o;
          }
        }
      }
    }
    g.ioPins[i] = 0;
    g.pins[i] = 0;
    g.dirty = true;
    g.order[i] = -1;
    g.uptodate[i] = false;
    g.zero(i, i + 1);
    if (this.config.arch === "snp") g.rmpMakeShared(i, i + 1);
  }

  // ---- IOMMU -------------------------------------------------------------------------------------------------

  private iommuBind(io: RIommu, g: RGmem): void {
    if (g.closed) fail("EBADF");
    if (io.mode === "pin") fail("EINVAL");
    if (io.bound === g) fail("EEXIST");
    if (io.bound) fail("EBUSY");
    io.bound = g;
    g.iommus.push(io);
  }

  private iommuUnbind(io: RIommu): void {
    if (io.mode === "pin" || !io.bound) fail("EINVAL");
    const g = io.bound!;
    this.revokeAreas(io, () => true);
    g.iommus.splice(g.iommus.indexOf(io), 1);
    io.bound = null;
  }

  private revokeAreas(io: RIommu, which: (a: Area) => boolean): void {
    const keep: Area[] = [];
    for (const a of io.areas) {
      if (!which(a)) { keep.push(a); continue; }
      const t = io.table(a.secure);
      for (const x of t.within(a.iova, a.iova + a.npages)) t.remove(x.base, x.level);
    }
    io.areas = keep;
  }

  /** the largest IO page level for gmem page i mapped at iova with n pages left */
  private ioLevel(g: RGmem, iova: number, i: number, n: number): number {
    let best = 1;
    for (let l = 2; l <= 3; l++) {
      const p = LEVEL_PAGES[l];
      if (iova % p !== 0 || i % p !== 0 || n < p) break;
      if (g.order[i] < 0 || (1 << g.order[i]) < p) break;
      // SNP: never larger than the RMP entry of a pfn it maps (an unassigned, shared page has none)
      if (this.config.arch === "snp" && !this.rmpAllows(g, i, p, l)) break;
      best = l;
    }
    return best;
  }

  /** may an IO entry of level l map pages [i, i + p) as far as their RMP entries go? */
  rmpAllows(g: RGmem, i: number, p: number, l: number): boolean {
    for (let k = i; k < i + p; k++) { const r = g.rmpLevel(k); if (r !== 0 && r < l) return false; }
    return true;
  }

  private iommuMap(io: RIommu, iovaB: bigint, g: RGmem, offB: bigint, sizeB: bigint, secure: boolean): void {
    if (g.closed) fail("EBADF"); // the map names the guest_memfd's fd
    const iova = num(iovaB), off = num(offB), size = num(sizeB);
    if (!(iova % PAGE === 0) || !(off % PAGE === 0) || !(size % PAGE === 0) || !(size > 0)) fail("EINVAL");
    const s = off / PAGE, n = size / PAGE, e = s + n;
    if (e > g.npages) fail("EINVAL");
    if (io.mode === "gmem" && io.bound !== g) fail("EINVAL");
    if (io.mode === "pin" && secure) fail("EINVAL");
    const p0 = iova / PAGE;
    const t = io.table(secure);
    // a map inside an existing area, at the same offsets, over pages with no entry left (the callback zapped
    // them) restores them; anything else overlapping an area of that table is -EEXIST
    const over = io.areas.filter((a) => a.secure === secure && a.iova < p0 + n && p0 < a.iova + a.npages);
    let restore: Area | null = null;
    if (over.length > 0) {
      const a = over[0];
      const inside = over.length === 1 && a.gm === g && a.iova <= p0 && p0 + n <= a.iova + a.npages && s - a.offset === p0 - a.iova;
      if (!inside || t.within(p0, p0 + n).length > 0) fail("EEXIST");
      restore = a;
    }
    if (io.mode === "pin") {
      if (!g.mmapped) fail("EFAULT");
      this.gupPin(g, s, e, g.ioPins);
      for (let i = s; i < e; i++) t.add(p0 + i - s, 1, { gm: g, index: i });
    } else {
      if (this.config.arch !== "snp") for (let i = s; i < e; i++) if (g.shared[i] === secure) fail("EACCES");
      for (let i = s; i < e; i++) { g.getFolio(i); g.prepare(i); }
      for (let k = 0; k < n;) {
        const l = this.ioLevel(g, p0 + k, s + k, n - k);
        t.add(p0 + k, l, { gm: g, index: s + k });
        k += LEVEL_PAGES[l];
      }
    }
    if (!restore) io.areas.push({ iova: p0, npages: n, gm: g, offset: s, secure });
  }

  private iommuUnmap(io: RIommu, iovaB: bigint, sizeB: bigint, secure: boolean): void {
    const iova = num(iovaB), size = num(sizeB);
    if (!(iova % PAGE === 0) || !(size % PAGE === 0) || !(size > 0)) fail("EINVAL");
    const s = iova / PAGE, e = s + size / PAGE;
    const hit = io.areas.filter((a) => a.secure === secure && a.iova < e && s < a.iova + a.npages);
    if (hit.length === 0) fail("ENOENT");
    for (const a of hit) if (a.iova < s || a.iova + a.npages > e) fail("ENOENT");
    const t = io.table(secure);
    for (const a of hit) {
      if (io.mode === "pin") {
        for (let p = a.iova; p < a.iova + a.npages; p++) {
          const hit = t.find(p);
          if (hit?.leaf.orphan) { hit.leaf.orphan.ioPins--; this.dropOrphan(a.gm, hit.leaf.orphan); }
          else a.gm.ioPins[a.offset + p - a.iova]--;
        }
      }
      for (const x of t.within(a.iova, a.iova + a.npages)) t.remove(x.base, x.level);
    }
    io.areas = io.areas.filter((a) => !hit.includes(a));
  }

  /**
   * The invalidation callback of gmem-mode IOMMUs bound to g, for gmem range [s, e): to-private zaps non-secure
   * entries, to-shared secure ones (sw, tdx; snp keeps both kinds); truncate revokes every overlapping area.
   * Precise: a straddling huge IO entry is split first; the area keeps the hole (a later map restores it).
   */
  private iommuCallback(g: RGmem, s: number, e: number, reason: "to-shared" | "to-private" | "truncate"): void {
    for (const io of g.iommus) {
      if (reason === "truncate") {
        this.revokeAreas(io, (a) => a.gm === g && a.offset < e && s < a.offset + a.npages);
        continue;
      }
      if (this.config.arch === "snp") continue;
      const secure = reason === "to-shared";
      const t = io.table(secure);
      for (const a of io.areas) {
        if (a.secure !== secure || a.gm !== g) continue;
        const lo = Math.max(s, a.offset), hi = Math.min(e, a.offset + a.npages);
        if (lo >= hi) continue;
        const is = a.iova + lo - a.offset, ie = a.iova + hi - a.offset;
        for (;;) {
          const x = t.within(is, ie).find((y) => y.level > 1 && (y.base < is || y.base + LEVEL_PAGES[y.level] > ie));
          if (!x) break;
          t.demote(x.base, x.level);
        }
        // the area keeps the hole: userspace maps into it again
        for (const x of t.within(is, ie)) t.remove(x.base, x.level);
      }
    }
  }

  /** SNP: IO entries mapping pages [cs, ce) of g larger than `level` are smashed down to it */
  smashIoTo(io: RIommu, g: RGmem, cs: number, ce: number, level: number): void {
    for (const secure of [true, false]) {
      const t = io.table(secure);
      for (const a of io.areas) {
        if (a.secure !== secure || a.gm !== g) continue;
        const lo = Math.max(cs, a.offset), hi = Math.min(ce, a.offset + a.npages);
        if (lo >= hi) continue;
        const is = a.iova + lo - a.offset, ie = a.iova + hi - a.offset;
        for (let l = 3; l > level; l--) for (const x of t.within(is, ie)) if (x.level === l) t.demote(x.base, l);
      }
    }
  }

  /** SNP: IO entries mapping the 2 MiB chunk [cs, ce) of g are smashed to 4 KiB */
  private smashIo(io: RIommu, g: RGmem, cs: number, ce: number): void {
    for (const secure of [true, false]) {
      const t = io.table(secure);
      for (const a of io.areas) {
        if (a.secure !== secure || a.gm !== g) continue;
        const lo = Math.max(cs, a.offset), hi = Math.min(ce, a.offset + a.npages);
        if (lo >= hi) continue;
        const is = a.iova + lo - a.offset, ie = a.iova + hi - a.offset;
        for (const x of t.within(is, ie)) if (x.level === 3) t.demote(x.base, 3);
        for (const x of t.within(is, ie)) if (x.level === 2) t.demote(x.base, 2);
      }
    }
  }

  private dma(io: RIommu, iovaB: bigint, secure: boolean, w?: number): StepResult {
    const iova = num(iovaB);
    if (!Number.isInteger(iova)) fail("EINVAL");
    const p = Math.floor(iova / PAGE);
    const hit = io.table(secure).find(p);
    if (!hit) return { result: "io-fault" };
    const g = hit.leaf.gm;
    const o = hit.leaf.orphan;
    if (o) {
      // a frame punched out of the file that this IOMMU still pins: a plain (shared) host page now
      if (secure) return { result: "io-fault" };
      const value = o.value === 0 ? 0 : this.config.arch !== "sw" && o.enc ? (o.value ^ SCRAMBLE) >>> 0 : o.value;
      if (w !== undefined) { o.value = w >>> 0; o.enc = false; }
      return { result: "ok", value };
    }
    const i = hit.leaf.index + (p - hit.base);
    const priv = !g.shared[i];
    if (secure !== priv) {
      if (!secure && this.config.arch === "tdx") return { result: "machine-check" };
      return { result: "io-fault" };
    }
    const value = g.read(i, secure);
    if (w !== undefined) g.write(i, w, secure);
    return { result: "ok", value };
  }
}
