// Events: the core appends one 32-byte entry per thing it does to a ring in the shared memory; this module names
// the kinds (from the EV_* constants of assembly/layout.ts: EV_KVM_INVALIDATE_BEGIN -> "kvm.invalidate_begin") and
// decodes entries into the field names of SCENARIOS.md.
import * as L from "../assembly/layout";

/** kind number -> "ns.name", derived from the EV_<NS>_<NAME> constants shared with the core. */
export const EVENT_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [k, v] of Object.entries(L)) {
    if (!k.startsWith("EV_") || k === "EV_KINDS" || typeof v !== "number") continue;
    const rest = k.slice(3).toLowerCase();
    const dot = rest.indexOf("_");
    names[v] = rest.slice(0, dot) + "." + rest.slice(dot + 1);
  }
  return names;
})();

export const EVENT_KIND_SET: ReadonlySet<string> = new Set(EVENT_NAMES.filter(Boolean));

/** A decoded event. `gmem`, `vm`, `iommu` name objects (scenario ids when known, else "#<handle index>"). */
export interface SimEvent {
  kind: string;
  /** the op (step) counter value when it was emitted */
  step: number;
  /** position in the stream of all events ever emitted */
  seq: number;
  [field: string]: string | number | boolean;
}

const F_SHARED = 1, F_SECURE = 2, F_OK = 4, F_PRIVATE = 8;
export const IOMMU_REASONS = ["to-private", "to-shared", "truncate", "unbind"] as const;
const LEVEL_NAMES = ["", "4K", "2M", "1G"];
const ORDER_LEVEL = (order: number) => (order >= 18 ? "1G" : order >= 9 ? "2M" : "4K");

type Namer = (kind: "gmem" | "vm" | "iommu", index: number) => string;

/** Turn one raw entry (kind, flags, a..e) into the SCENARIOS.md fields of its kind. */
export function decodeEvent(kind: number, flags: number, a: number, b: number, c: number, d: number, e: number,
                            step: number, seq: number, name: Namer): SimEvent {
  const k = EVENT_NAMES[kind] ?? `unknown.${kind}`;
  const ev: SimEvent = { kind: k, step, seq };
  const priv = (flags & F_PRIVATE) !== 0;
  switch (kind) {
    case L.EV_GMEM_LOCK: case L.EV_GMEM_UNLOCK:
      ev.gmem = name("gmem", a); ev.shared = (flags & F_SHARED) !== 0; break;
    case L.EV_KVM_INVALIDATE_BEGIN: case L.EV_KVM_INVALIDATE_END:
      ev.vm = name("vm", a); ev.start = b; ev.end = c; break;
    case L.EV_KVM_ZAP:
      ev.vm = name("vm", a); ev.table = priv ? "private" : "shared"; ev.start = b; ev.end = c; ev.count = d; break;
    case L.EV_KVM_TLB_FLUSH:
      ev.vm = name("vm", a); break;
    case L.EV_HOST_UNMAP:
      ev.gmem = name("gmem", a); ev.start = b; ev.end = c; ev.count = d; break;
    case L.EV_GMEM_REFCOUNT_CHECK:
      ev.gmem = name("gmem", a); ev.ok = (flags & F_OK) !== 0; ev.index = b; break;
    case L.EV_IOMMU_INVALIDATE_BEGIN: case L.EV_IOMMU_INVALIDATE_END:
      ev.iommu = name("iommu", a); ev.start = b; ev.end = c; break;
    case L.EV_IOMMU_INVALIDATE:
      ev.iommu = name("iommu", a); ev.reason = IOMMU_REASONS[e] ?? String(e); ev.secure = (flags & F_SECURE) !== 0;
      ev.start = b; ev.end = c; ev.count = d; break;
    case L.EV_IOMMU_IOTLB_FLUSH:
      ev.iommu = name("iommu", a); break;
    case L.EV_IOMMU_MAP: case L.EV_IOMMU_UNMAP:
      ev.iommu = name("iommu", a); ev.secure = (flags & F_SECURE) !== 0; ev.start = b; ev.end = c;
      ev.level = LEVEL_NAMES[d] ?? String(d); break;
    case L.EV_GMEM_SET_ATTR:
      ev.gmem = name("gmem", a); ev.start = b; ev.end = c; ev.to = (flags & F_SHARED) !== 0 ? "shared" : "private"; break;
    case L.EV_FOLIO_SPLIT: case L.EV_FOLIO_MERGE:
      ev.gmem = name("gmem", a); ev.index = b; ev.from = c; ev.to = d; break;
    case L.EV_CONVERT_ROLLBACK:
      ev.gmem = name("gmem", a); ev.start = b; ev.end = c; break;
    case L.EV_ARCH_RMPUPDATE: case L.EV_ARCH_PSMASH:
      ev.pfn = b; ev.level = LEVEL_NAMES[d] ?? String(d); ev.private = priv; break;
    case L.EV_ARCH_SEPT_TRACK:
      ev.vm = name("vm", a); break;
    case L.EV_ARCH_SEPT_REMOVE: case L.EV_ARCH_SEPT_DEMOTE: case L.EV_ARCH_SEPT_AUG: case L.EV_ARCH_SEPT_ACCEPT:
    case L.EV_ARCH_SEPT_BLOCK:
      ev.vm = name("vm", a); ev.gfn = b; ev.level = LEVEL_NAMES[d] ?? String(d); break;
    case L.EV_GUEST_FAULT: case L.EV_GUEST_RETRY: case L.EV_GUEST_MEMORY_FAULT_EXIT:
      ev.vm = name("vm", a); ev.gfn = b; ev.private = priv; break;
    case L.EV_FOLIO_ALLOC:
      ev.gmem = name("gmem", a); ev.index = b; ev.order = c; break;
    case L.EV_FOLIO_FREE:
      ev.gmem = name("gmem", a); ev.start = b; ev.end = c; ev.order = d; break;
    case L.EV_KVM_MAP:
      ev.vm = name("vm", a); ev.table = (flags & 1) !== 0 ? "private" : "shared"; ev.gfn = b;
      ev.level = LEVEL_NAMES[d] ?? String(d); break;
    case L.EV_HOST_MAP: case L.EV_HOST_PIN: case L.EV_HOST_UNPIN: case L.EV_GMEM_ZERO:
      ev.gmem = name("gmem", a); ev.start = b; ev.end = c; break;
    default:
      Object.assign(ev, { a, b, c, d, e, flags });
  }
  void ORDER_LEVEL;
  return ev;
}

/**
 * A lock-free reader of the ring: any thread, any instance. `read()` returns the events since the last read (in
 * order) and how many were overwritten before it got to them.
 */
export class EventReader {
  private next: number;
  constructor(private readonly memory: WebAssembly.Memory, private readonly name: Namer, from?: number) {
    this.next = from ?? this.head();
  }
  /** events ever written (mod 2^32 per lap of the low word; the high word counts laps) */
  head(): number {
    const u = new Uint32Array(this.memory.buffer, L.RING_HEAD, 2);
    return Atomics.load(u, 0) + Atomics.load(u, 1) * 2 ** 32;
  }
  read(): { events: SimEvent[]; lost: number } {
    const head = this.head();
    let lost = 0;
    if (head - this.next > L.RING_SIZE) { lost = head - this.next - L.RING_SIZE; this.next = head - L.RING_SIZE; }
    const u = new Uint32Array(this.memory.buffer, L.RING_BASE, L.RING_SIZE * (L.RING_ENTRY_SIZE / 4));
    const events: SimEvent[] = [];
    for (let s = this.next; s < head; s++) {
      const w = (s % L.RING_SIZE) * (L.RING_ENTRY_SIZE / 4);
      const seqLow = s >>> 0;
      if (Atomics.load(u, w) !== seqLow) { lost++; continue; }
      const kf = u[w + 1];
      const ev = decodeEvent(kf & 0xffff, kf >>> 16, u[w + 2], u[w + 3], u[w + 4], u[w + 5], u[w + 6], u[w + 7], s, this.name);
      if (Atomics.load(u, w) !== seqLow) { lost++; continue; } // overwritten while we read it
      events.push(ev);
    }
    this.next = head;
    return { events, lost };
  }
}
