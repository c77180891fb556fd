// Events: the core appends one 32-byte entry per thing it does to a ring in the shared memory; this module decodes
// entries into the field names of SCENARIOS.md, using each kind's field layout (EVL_* of assembly/abi/events.ts).
import * as L from "../assembly/abi/layout";
import * as EV from "../assembly/abi/events";
import {
  EVENT_NAMES, EVENT_LAYOUTS, FIELD_NAMES, FLAG_FIELDS, FIELD_SHIFTS, REASON_NAMES, LEVEL_NAMES, OP_NAMES, STEP_NAMES,
} from "./abi";

export { EVENT_NAMES };
export const EVENT_KIND_SET: ReadonlySet<string> = new Set(EVENT_NAMES.filter(Boolean));

/** A decoded event. `gmem`, `vm`, `iommu` name objects (scenario ids when known, else "#<handle index>"). */
export interface SimEvent {
  kind: string;
  /** the step counter value when it was emitted */
  step: number;
  /** position in the stream of all events ever emitted */
  seq: number;
  [field: string]: string | number | boolean;
}

export type Namer = (kind: "gmem" | "vm" | "iommu", index: number) => string;

/** One field's value as SCENARIOS.md writes it. */
function fieldValue(code: number, raw: number, name: Namer): string | number {
  switch (code) {
    case EV.EF_GMEM: return name("gmem", raw);
    case EV.EF_VM: return name("vm", raw);
    case EV.EF_IOMMU: return name("iommu", raw);
    case EV.EF_LEVEL: return LEVEL_NAMES[raw] ?? String(raw);
    case EV.EF_REASON: return REASON_NAMES[raw] ?? String(raw);
    case EV.EF_OP: return OP_NAMES[raw] ?? String(raw);
    case EV.EF_NAME: return STEP_NAMES[raw] ?? String(raw);
    default: return raw >>> 0;
  }
}

/** The field names an event kind carries, in layout order (a visualizer's column list); [] for an unknown kind. */
export function eventFields(kind: string): string[] {
  const k = EVENT_NAMES.indexOf(kind);
  const layout = k < 0 ? undefined : EVENT_LAYOUTS[k];
  if (layout === undefined) return [];
  const out: string[] = [];
  for (const sh of FIELD_SHIFTS) {
    const code = (layout >>> sh) & 31;
    if (code !== EV.EF_NONE) out.push(FIELD_NAMES[code]);
  }
  for (const [bit, field] of FLAG_FIELDS) if ((layout >>> EV.EVL_FLAGS) & bit) out.push(field);
  return out;
}

/** Turn one raw entry (kind, flags, a..e) into the named fields of its kind. */
export function decodeEvent(kind: number, flags: number, a: number, b: number, c: number, d: number, e: number,
                            step: number, seq: number, name: Namer): SimEvent {
  const ev: SimEvent = { kind: EVENT_NAMES[kind] ?? `unknown.${kind}`, step, seq };
  const layout = EVENT_LAYOUTS[kind];
  if (layout === undefined) { Object.assign(ev, { a, b, c, d, e, flags }); return ev; }
  const raw = [a, b, c, d, e];
  for (let i = 0; i < 5; i++) {
    const code = (layout >>> FIELD_SHIFTS[i]) & 31;
    if (code !== EV.EF_NONE) ev[FIELD_NAMES[code]] = fieldValue(code, raw[i], name);
  }
  const ff = layout >>> EV.EVL_FLAGS;
  for (const [bit, field] of FLAG_FIELDS) {
    if (!(ff & bit)) continue;
    if (bit === EV.EFF_SHARED) ev[field] = (flags & EV.EVF_SHARED) !== 0;
    else if (bit === EV.EFF_SECURE) ev[field] = (flags & EV.EVF_SECURE) !== 0;
    else if (bit === EV.EFF_OK) ev[field] = (flags & EV.EVF_OK) !== 0;
    else if (bit === EV.EFF_PRIVATE) ev[field] = (flags & EV.EVF_PRIVATE) !== 0;
    else if (bit === EV.EFF_TABLE) ev[field] = (flags & EV.EVF_PRIVATE) !== 0 ? "private" : "shared";
    else if (bit === EV.EFF_TO) ev[field] = (flags & EV.EVF_SHARED) !== 0 ? "shared" : "private";
  }
  return ev;
}

/**
 * A lock-free reader of the ring: any thread, any instance. `read()` returns the events since the last read (in
 * order) and how many were overwritten before it got to them.
 */
export class EventReader {
  private next: number;
  constructor(private readonly memory: WebAssembly.Memory, private readonly name: Namer, from?: number) {
    // no event precedes RING_FIRST_SEQ: a reader asked to start earlier (head - n on a young ring) starts there,
    // instead of waiting on slots that hold no event of that number
    this.next = Math.max(from ?? this.head(), L.RING_FIRST_SEQ);
  }
  /** events ever written */
  head(): number {
    const u = new Uint32Array(this.memory.buffer, L.RING_HEAD, 2);
    return Atomics.load(u, 0) + Atomics.load(u, 1) * 2 ** 32;
  }
  /** Skip to the head: the next read starts with what happens next. */
  skip(): void { this.next = this.head(); }
  /**
   * Slot s is reserved but unpublished: if an instance keeps it between calls (IN_RING_OPEN, assembly/lib/events.ts),
   * take the reservation from it (it drops it at its next call) and publish the rest as empty entries. True: done,
   * read slot s again.
   */
  private close(s: number): boolean {
    const u = new Int32Array(this.memory.buffer);
    const u64 = new BigUint64Array(this.memory.buffer);
    const low = s >>> 0;
    for (let i = 0; i < L.MAX_INSTANCES; i++) {
      const at = (L.INSTANCE_BASE + i * L.INSTANCE_SIZE + L.IN_RING_OPEN) / 8;
      const open = Atomics.load(u64, at); // the kept range, start << 32 | end; 0: none kept
      if (open === 0n) continue;
      const from = Number(open >> 32n), end = Number(open & 0xffffffffn);
      if (!(from <= low && low < end)) continue;
      // take exactly that range: the owner's exchange at its next call, or a detach, gets 0 and leaves it to us
      if (Atomics.compareExchange(u64, at, open, 0n) !== open) return false;
      const ring = L.RING_BASE >>> 2, words = L.RING_ENTRY_SIZE >>> 2;
      for (let q = from; q !== end; q = (q + 1) >>> 0) {
        if (((this.head() >>> 0) - q) >>> 0 >= L.RING_SIZE) break; // lapped: a later writer owns the slot now
        const w = ring + (q % L.RING_SIZE) * words;
        u[w + 1] = 0;
        Atomics.store(u, w, q | 0);
      }
      return true;
    }
    return false;
  }
  read(): { events: SimEvent[]; lost: number } {
    const hv = new Uint32Array(this.memory.buffer, L.RING_HEAD, 2);
    const headNow = () => Atomics.load(hv, 0) + Atomics.load(hv, 1) * 2 ** 32;
    const head = headNow();
    let lost = 0;
    if (head - this.next > L.RING_SIZE) { lost = head - this.next - L.RING_SIZE; this.next = head - L.RING_SIZE; }
    const u = new Uint32Array(this.memory.buffer, L.RING_BASE, L.RING_SIZE * (L.RING_ENTRY_SIZE / 4));
    const events: SimEvent[] = [];
    let s = this.next;
    for (; s < head; s++) {
      const w = (s % L.RING_SIZE) * (L.RING_ENTRY_SIZE / 4);
      const seqLow = s >>> 0;
      const seen = Atomics.load(u, w);
      const behind = (seqLow - seen) >>> 0;
      if (behind !== 0 && behind < 2 ** 31) {
        // reserved but not yet published: by an instance inside a call (read it next time), or kept by one between
        // calls (close its reservation and read on)
        if (this.close(s)) { s--; continue; }
        break;
      }
      if (behind !== 0) { lost++; continue; } // a later lap overwrote it
      const kf = u[w + 1], a = u[w + 2], b = u[w + 3], c = u[w + 4], d = u[w + 5], e = u[w + 6], step = u[w + 7];
      // the slot's next writer (seq s + RING_SIZE) reserves it before it writes: past that, it may have been mid-write
      if (headNow() > s + L.RING_SIZE) { lost++; continue; }
      if ((kf & 0xffff) === 0) continue; // an instance's unused reservation
      events.push(decodeEvent(kf & 0xffff, kf >>> 16, a, b, c, d, e, step, s, this.name));
    }
    this.next = s;
    return { events, lost };
  }
}
