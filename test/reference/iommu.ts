// IOMMUs (KERNEL-PROTOCOL 4): pin mode (VFIO type1 / IOMMU_IOAS_MAP: GUP pins through the host mapping, non-secure
// entries only) and gmem mode (bound to one guest_memfd inode, secure and non-secure tables, the invalidation
// callback), IO page sizes, the SNP smashing of IO entries, and DMA.
import { PAGE, LEVEL_PAGES, SCRAMBLE, fail, num, type Env, type StepResult } from "./types";
import { Table } from "./tables";
import type { RGmem, Area, BoundIommu, GTable } from "./gmem";
import { gupPin, dropOrphan } from "./host";

export class RIommu implements BoundIommu {
  bound: RGmem | null = null;
  readonly secure: GTable = new Table<RGmem>();
  readonly nonSecure: GTable = new Table<RGmem>();
  areas: Area[] = [];
  constructor(readonly id: string, readonly mode: "pin" | "gmem") {}
  table(secure: boolean): GTable { return secure ? this.secure : this.nonSecure; }
}

export function iommuBind(io: BoundIommu, g: RGmem): void {
  if (g.closed) fail("EBADF");
  if (io.mode === "pin") fail("EINVAL");
  if (io.bound === g) fail("EEXIST");
  if (io.bound) fail("EBUSY");
  io.bound = g;
  g.iommus.push(io);
}

export function iommuUnbind(io: BoundIommu): void {
  if (io.mode === "pin" || !io.bound) fail("EINVAL");
  const g = io.bound!;
  revokeAreas(io, () => true);
  g.iommus.splice(g.iommus.indexOf(io), 1);
  io.bound = null;
}

function revokeAreas(io: BoundIommu, which: (a: Area) => boolean): void {
  const keep: Area[] = [];
  for (const a of io.areas) {
    if (!which(a)) { keep.push(a); continue; }
    const t = io.table(a.secure);
    for (const x of t.within(a.iova, a.iova + a.npages)) t.remove(x.base, x.level);
  }
  io.areas = keep;
}

/** the largest IO page level for gmem page i mapped at iova with n pages left */
function ioLevel(env: Env, g: RGmem, iova: number, i: number, n: number): number {
  let best = 1;
  for (let l = 2; l <= 3; l++) {
    const p = LEVEL_PAGES[l];
    if (iova % p !== 0 || i % p !== 0 || n < p) break;
    if (g.order[i] < 0 || (1 << g.order[i]) < p) break;
    // SNP: never larger than the RMP entry of a pfn it maps (an unassigned, shared page has none)
    if (env.config.arch === "snp" && !g.rmpAllows(i, p, l)) break;
    best = l;
  }
  return best;
}

export function iommuMap(env: Env, io: BoundIommu, iovaB: bigint, g: RGmem, offB: bigint, sizeB: bigint, secure: boolean): void {
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
    gupPin(g, s, e, g.ioPins);
    for (let i = s; i < e; i++) t.add(p0 + i - s, 1, { gm: g, index: i });
  } else {
    if (env.config.arch !== "snp") for (let i = s; i < e; i++) if (g.shared[i] === secure) fail("EACCES");
    for (let i = s; i < e; i++) { g.getFolio(i); g.prepare(i); }
    for (let k = 0; k < n;) {
      const l = ioLevel(env, g, p0 + k, s + k, n - k);
      t.add(p0 + k, l, { gm: g, index: s + k });
      k += LEVEL_PAGES[l];
    }
  }
  if (!restore) io.areas.push({ iova: p0, npages: n, gm: g, offset: s, secure });
}

export function iommuUnmap(io: BoundIommu, iovaB: bigint, sizeB: bigint, secure: boolean): void {
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
        if (hit?.leaf.orphan) { hit.leaf.orphan.ioPins--; dropOrphan(a.gm, hit.leaf.orphan); }
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
export function iommuCallback(env: Env, g: RGmem, s: number, e: number, reason: "to-shared" | "to-private" | "truncate"): void {
  for (const io of g.iommus) {
    if (reason === "truncate") {
      revokeAreas(io, (a) => a.gm === g && a.offset < e && s < a.offset + a.npages);
      continue;
    }
    if (env.config.arch === "snp") continue;
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
export function smashIoTo(io: BoundIommu, g: RGmem, cs: number, ce: number, level: number): void {
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
export function smashIo(io: BoundIommu, g: RGmem, cs: number, ce: number): void {
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

export function dma(env: Env, io: BoundIommu, iovaB: bigint, secure: boolean, w?: number): StepResult {
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
    const value = o.value === 0 ? 0 : env.config.arch !== "sw" && o.enc ? (o.value ^ SCRAMBLE) >>> 0 : o.value;
    if (w !== undefined) { o.value = w >>> 0; o.enc = false; }
    return { result: "ok", value };
  }
  const i = hit.leaf.index + (p - hit.base);
  const priv = !g.shared[i];
  if (secure !== priv) {
    if (!secure && env.config.arch === "tdx") return { result: "machine-check" };
    return { result: "io-fault" };
  }
  const value = g.read(i, secure);
  if (w !== undefined) g.write(i, w, secure);
  return { result: "ok", value };
}
