// What <gmem-view> draws, as data: for each guest_memfd, lanes along its page indices - shareability, folios, and
// every table that reaches its pages (each VM's private and shared tables through its memslots, each IOMMU
// domain's secure and non-secure tables through its areas, the host PTEs of its mmap) - built from the lock-free
// queries (bindings/state.ts) for one window of pages at the resolution the canvas can show. Pure data: no DOM.
import type { Simulator, ModelObject, MappingRun } from "../index";

/** A coloured stretch of a lane: page indices [start, end) of the guest_memfd. */
export interface Seg {
  start: number;
  end: number;
  /** palette key: private / shared / mixed, absent / huge / small, 4K / 2M / 1G */
  key: string;
  /** shareability: fraction of the stretch that is shared */
  shared?: number;
  /** frame (pfn) of `start` */
  pfn?: number;
  /** S-EPT state of a TDX private leaf (0 mapped, 1 blocked, 2 pending, 3 removed) */
  state?: number;
  /** folio order (huge) */
  order?: number;
}

export type LaneKind = "share" | "folio" | "kvm-private" | "kvm-shared" | "iommu-secure" | "iommu-nonsecure" | "host";

export interface Lane { kind: LaneKind; label: string; segs: Seg[]; truncated?: boolean }

export interface Section { gmem: string; index: number; pages: number; hugeOrder: number; protocol: string; lanes: Lane[] }

export interface Frame {
  /** window: page indices [start, end) across `width` pixels, `grain` pages per query bucket */
  start: number;
  end: number;
  width: number;
  grain: number;
  /** the largest guest_memfd (the axis) */
  pages: number;
  sections: Section[];
}

/** At most this many memslot or area spans are looked at per lane and frame (more: the lane says truncated). */
const MAX_SPANS = 512;

type Gmem = Extract<ModelObject, { kind: "gmem" }>;

/** The shareability grain: whole 2 MiB (and, coarser, 1 GiB) blocks once a bucket would span one. */
function shareGrain(grain: number): number {
  if (grain >= 1 << 18) return Math.ceil(grain / (1 << 18)) * (1 << 18);
  if (grain >= 512) return Math.ceil(grain / 512) * 512;
  return grain;
}

/** Runs of a table in its own index space, moved onto the guest_memfd's page indices (index = at - base + first). */
function moved(runs: MappingRun[], base: number, first: number): Seg[] {
  return runs.map((r) => ({ start: r.start - base + first, end: r.end - base + first, key: r.level, pfn: r.pfn, state: r.state }));
}

/** [a, b) of a span (first index, pages) inside the window [lo, hi); null when they do not meet. */
function clip(first: number, pages: number, lo: number, hi: number): [number, number] | null {
  const a = Math.max(first, lo), b = Math.min(first + pages, hi);
  return a < b ? [a, b] : null;
}

/** Spans of (table index, gmem index, pages) that continue each other merged: fewer queries for many small areas. */
function merged<T extends { at: number; index: number; pages: number }>(spans: T[]): T[] {
  const out: T[] = [];
  for (const s of [...spans].sort((a, b) => a.index - b.index)) {
    const l = out[out.length - 1];
    if (l && l.index + l.pages === s.index && l.at + l.pages === s.at) l.pages += s.pages;
    else out.push({ ...s });
  }
  return out;
}

function gmemLanes(sim: Simulator, g: Gmem, objs: ModelObject[], lo: number, hi: number, grain: number): Lane[] {
  const gm = sim.openGmem(g.handle);
  const lanes: Lane[] = [];
  const share = gm.shareability(lo, hi, { grain: shareGrain(grain) }).map((r): Seg => {
    const f = r.shared / (r.end - r.start);
    return { start: r.start, end: r.end, key: f === 0 ? "private" : f === 1 ? "shared" : "mixed", shared: f };
  });
  lanes.push({ kind: "share", label: "shareability", segs: share });
  const folios = gm.folios(lo, hi, { grain }).filter((r) => r.state !== "absent")
    .map((r): Seg => ({ start: r.start, end: r.end, key: r.state, pfn: r.pfn, order: r.order }));
  lanes.push({ kind: "folio", label: `folios${g.hugeOrder ? ` (${g.hugeOrder === 9 ? "2M" : "1G"})` : ""}`, segs: folios });
  for (const o of objs) {
    if (o.kind === "vm") {
      const vm = sim.openVm(o.handle);
      const slots = vm.memslots().filter((m) => m.gmemIndex === g.index)
        .map((m) => ({ at: m.gfn, index: m.index, pages: m.pages }));
      if (slots.length === 0) continue;
      for (const table of ["private", "shared"] as const) {
        const segs: Seg[] = [];
        for (const s of slots) {
          const c = clip(s.index, s.pages, lo, hi);
          if (c) segs.push(...moved(vm.mappings(table, c[0] - s.index + s.at, c[1] - s.index + s.at, { grain }), s.at, s.index));
        }
        lanes.push({ kind: table === "private" ? "kvm-private" : "kvm-shared", label: `vm ${o.name} ${table}`, segs });
      }
    } else if (o.kind === "iommu") {
      const io = sim.openIommu(o.handle);
      const areas = io.areas().filter((a) => a.gmemIndex === g.index);
      const bound = o.gmemIndex === g.index;
      if (areas.length === 0 && !bound) continue;
      for (const secure of [true, false]) {
        const spans = merged(areas.filter((a) => a.secure === secure).map((a) => ({ at: a.iova, index: a.index, pages: a.pages })))
          .filter((s) => clip(s.index, s.pages, lo, hi) !== null);
        const segs: Seg[] = [];
        for (const s of spans.slice(0, MAX_SPANS)) {
          const c = clip(s.index, s.pages, lo, hi)!;
          segs.push(...moved(io.mappings(secure, c[0] - s.index + s.at, c[1] - s.index + s.at, { grain }), s.at, s.index));
        }
        lanes.push({ kind: secure ? "iommu-secure" : "iommu-nonsecure", label: `iommu ${o.name} ${secure ? "secure" : "non-secure"}`,
          segs, ...(spans.length > MAX_SPANS ? { truncated: true } : {}) });
      }
    }
  }
  if (g.mmap) {
    const host = gm.hostMappings(lo, hi, { grain }).map((r): Seg => ({ start: r.start, end: r.end, key: r.level, pfn: r.pfn }));
    lanes.push({ kind: "host", label: "host PTEs", segs: host });
  }
  return lanes;
}

/**
 * The frame for page window [start, end) over `width` pixels (clipped to the axis: the largest guest_memfd; end may
 * be Infinity). Reads without the simulator lock: wrap it in
 * sim.readConsistent() when another thread may be running the model.
 */
export function buildFrame(sim: Simulator, start: number, end: number, width: number): Frame {
  const objs = sim.objects();
  const gmems = objs.filter((o): o is Gmem => o.kind === "gmem");
  const pages = Math.max(1, ...gmems.map((g) => g.pages));
  // the window inside the axis (the whole axis when it does not fit: an unzoomed view asks for [0, Infinity))
  start = Math.max(0, Math.min(start, pages - 1));
  end = Math.min(end, pages);
  if (!(end > start)) { start = 0; end = pages; }
  const grain = Math.max(1, Math.floor((end - start) / Math.max(1, width)));
  const sections: Section[] = [];
  for (const g of gmems) {
    const lo = Math.max(0, Math.floor(start)), hi = Math.min(g.pages, Math.ceil(end));
    sections.push({ gmem: g.name, index: g.index, pages: g.pages, hugeOrder: g.hugeOrder, protocol: g.protocol,
      lanes: lo < hi ? gmemLanes(sim, g, objs, lo, hi, grain) : [] });
  }
  return { start, end, width, grain, pages, sections };
}

/** The segment of a lane at page p, if any. */
export function segAt(lane: Lane, p: number): Seg | undefined {
  let lo = 0, hi = lane.segs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (lane.segs[mid].end <= p) lo = mid + 1; else hi = mid;
  }
  const s = lane.segs[lo];
  return s && s.start <= p ? s : undefined;
}

const hex = (n: number) => `0x${n.toString(16)}`;
const SEPT = ["mapped", "blocked", "pending", "removed"];

/** One lane's state at page p in words (a tooltip line). */
export function describeLane(lane: Lane, p: number, grain: number): string {
  const s = segAt(lane, p);
  const approx = grain > 1 ? " (sampled)" : "";
  if (lane.kind === "share") {
    if (!s) return `${lane.label}: -`;
    return `${lane.label}: ${s.key}${s.key === "mixed" ? ` (${Math.round((s.shared ?? 0) * 100)}% shared)` : ""}`;
  }
  if (!s) return `${lane.label}: ${lane.kind === "folio" ? "absent" : "not mapped"}${approx}`;
  const pfn = s.pfn === undefined ? "" : ` pfn ${hex(s.pfn + (p - s.start))}`;
  if (lane.kind === "folio") return `${lane.label}: ${s.key === "huge" ? `huge folio, order ${s.order}` : "4 KiB folio"}${pfn}${approx}`;
  const state = lane.kind === "kvm-private" && s.state ? ` ${SEPT[s.state] ?? s.state}` : "";
  return `${lane.label}: ${s.key} leaf${pfn}${state}${approx}`;
}
