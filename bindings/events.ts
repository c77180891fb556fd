// Events: the core appends one 32-byte entry per thing it does to its instance's ring in the shared memory; this
// module merges the rings in sequence order and decodes entries into the field names of SCENARIOS.md, using each
// kind's field layout (EVL_* of assembly/abi/events.ts).
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
  /** its sequence number: events of every instance are ordered by it (numbers a call took and did not use are skipped) */
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

const PENDING = BigInt(L.RING_RES_PENDING);
const WORDS = L.RING_ENTRY_SIZE >>> 2;
const NO_WORDS = new Uint32Array(0);

/** One entry read from an instance's ring: its full sequence number, and where its words are in a copy. */
interface Raw { seq: number; d: Uint32Array; o: number }

/**
 * A lock-free reader of the event rings: any thread, any instance. `read()` returns the events since the last read,
 * merged from every instance's ring in sequence order (a call's events after those of every call that ended before
 * it began), and how many were overwritten before it got to them. How far it merges: up to RING_HEAD as it was when
 * the read began, and below every batch a call is still filling (IN_RING_RES, assembly/lib/events.ts); while an
 * instance is taking a batch, nothing new this time.
 */
export class EventReader {
  private next: number;
  /** per instance slot: the position in its ring of the first entry not yet merged (-1: not read yet) */
  private readonly cursor: number[] = new Array<number>(L.MAX_INSTANCES).fill(-1);
  /** per slot: its ring's position when this reader started (what it writes from there on is read or counted lost) */
  private readonly floor: number[] = new Array<number>(L.MAX_INSTANCES).fill(0);
  constructor(private readonly memory: WebAssembly.Memory, private readonly name: Namer, from?: number) {
    // the positions before the head: an entry written after a position was taken is past it, and one written
    // before it was reserved before the head is taken (below it)
    const { u32 } = this.views();
    const slots = Math.min(L.MAX_INSTANCES, Atomics.load(u32, L.H_INSTANCES >>> 2));
    const pos: number[] = [];
    for (let i = 0; i < slots; i++) pos.push(Atomics.load(u32, (L.RING_WPOS + i * L.CACHE_LINE) >>> 2));
    const head = this.head();
    this.next = Math.max(from ?? head, L.RING_FIRST_SEQ);
    // (a slot never claimed has written nothing: its ring starts at position 0, also in a restored image)
    for (let i = 0; i < L.MAX_INSTANCES; i++) this.floor[i] = i < slots ? pos[i] : 0;
    if (this.next >= head) for (let i = 0; i < L.MAX_INSTANCES; i++) this.cursor[i] = this.floor[i];
  }
  /** sequence numbers ever reserved: every event has a smaller one (calls leave the rest of their batch unused) */
  head(): number {
    // the high word on both sides of the low one: the head only grows, so an unchanged high word owns that low word
    const u32 = this.views().u32, at = L.RING_HEAD >>> 2;
    for (;;) {
      const hi = Atomics.load(u32, at + 1), lo = Atomics.load(u32, at);
      if (Atomics.load(u32, at + 1) === hi) return hi * 2 ** 32 + lo;
    }
  }
  private cached?: { buffer: ArrayBufferLike; u32: Uint32Array; u64: BigUint64Array };
  /** where a read copies the entries it looks at (kept between reads: an allocation per read costs more than it) */
  private scratch = NO_WORDS;
  /** Views of the memory (a grown memory has a new buffer). */
  private views(): { u32: Uint32Array; u64: BigUint64Array } {
    const buffer = this.memory.buffer;
    if (this.cached?.buffer !== buffer) this.cached = { buffer, u32: new Uint32Array(buffer), u64: new BigUint64Array(buffer) };
    return this.cached;
  }
  /** Skip to the head: the next read starts with what happens next. */
  skip(): void { this.next = Math.max(this.next, this.head()); }
  read(): { events: SimEvent[]; lost: number } {
    const { u32, u64 } = this.views();
    // the bound first: a batch reserved after this either shows as pending below or starts at or past it
    let bound = this.head();
    // the slots ever claimed, read after the head: a slot claims itself before it takes a batch
    const slots = Math.min(L.MAX_INSTANCES, Atomics.load(u32, L.H_INSTANCES >>> 2));
    let lost = 0;
    const res: bigint[] = [];
    for (let i = 0; i < slots; i++) {
      // no batch: both words 0, read without a BigInt (a batch whose end wraps to 0 has a start that is not 0; a word
      // that turns 0 meanwhile means the call ended, after its entries were published)
      const at = L.INSTANCE_BASE + i * L.INSTANCE_SIZE + L.IN_RING_RES;
      res.push(Atomics.load(u32, at >>> 2) === 0 && Atomics.load(u32, (at >>> 2) + 1) === 0 ? 0n : Atomics.load(u64, at >>> 3));
    }
    const taken: (Raw[] | undefined)[] = [];
    const torn: boolean[] = [];
    let used = 0; // words of this.scratch holding this read's copies
    for (let i = 0; i < slots; i++) {
      // positions are u32 and wrap (a busy worker writes 2^32 entries in minutes): all arithmetic on them is mod 2^32
      const wAt = (L.RING_WPOS + i * L.CACHE_LINE) >>> 2;
      const w = Atomics.load(u32, wAt);
      torn.push(false);
      taken.push(undefined);
      if (w === this.cursor[i]) continue; // nothing new in this ring
      // a first read from before the head: as far back as the ring goes; what it wrote since this reader started and
      // no longer holds is lost
      if (this.cursor[i] < 0) lost += Math.max(0, ((w - this.floor[i]) >>> 0) - L.RING_SIZE);
      let c = this.cursor[i] < 0 ? (w - L.RING_SIZE) >>> 0 : this.cursor[i];
      const ahead = (w - c) >>> 0;
      if (ahead > L.RING_SIZE) { lost += ahead - L.RING_SIZE; c = (w - L.RING_SIZE) >>> 0; }
      const base = (L.RING_ENTRIES + i * L.RING_BYTES) >>> 2;
      // a first read: from RING_SIZE back, past the slots never written (a ring that has not gone round yet)
      if (this.cursor[i] < 0) while (c !== w && (u32[base + (c & (L.RING_SIZE - 1)) * WORDS + 1] & 0xff) === 0) c = (c + 1) >>> 0;
      // copy [c, w) (at most two runs: the ring may wrap), then look at the position again
      const n = (w - c) >>> 0, first = c & (L.RING_SIZE - 1), run = Math.min(n, L.RING_SIZE - first);
      if (this.scratch.length < used + n * WORDS) this.scratch = new Uint32Array(Math.max(2 * this.scratch.length, used + n * WORDS, 256));
      const d = this.scratch, at0 = used;
      // word by word: a few entries is the usual read, and a subarray per run costs more than copying them
      for (let j = 0, src = base + first * WORDS, m = run * WORDS; j < m; j++) d[at0 + j] = u32[src + j];
      for (let j = 0, m = (n - run) * WORDS; j < m; j++) d[at0 + run * WORDS + j] = u32[base + j];
      used += n * WORDS;
      // the instance may have lapped what was just read: entries a whole ring behind its position now are lost
      // (the entry RING_SIZE behind the position shares its slot with the one being written now)
      const gone = Math.min(n, Math.max(0, ((Atomics.load(u32, wAt) + 1 - c) >>> 0) - L.RING_SIZE));
      torn[i] = gone > 0 && gone === n;
      lost += gone;
      const list: Raw[] = [];
      for (let k = gone; k < n; k++) list.push({ seq: d[at0 + k * WORDS], d, o: at0 + k * WORDS });
      this.cursor[i] = (c + gone) >>> 0;
      taken[i] = list;
    }
    // full sequence numbers (entries hold the low word): every one read was reserved before this second look
    const h2 = this.head();
    const full = (low: number) => h2 - ((((h2 >>> 0) - low) >>> 0));
    // an entry's: its low word and the low byte of its high word (assembly/lib/events.ts), nearest below h2 mod 2^40
    const hHi = Math.floor(h2 / 2 ** 32); // (below 2^21: integer bit operations are exact)
    const entrySeq = (x: Raw) => {
      const hi = (hHi & ~0xff) | ((x.d[x.o + 1] >>> 8) & 0xff), q = hi * 2 ** 32 + x.seq;
      return q <= h2 ? q : q - 2 ** 40;
    };
    for (let i = 0; i < slots; i++) {
      const r = res[i];
      if (r === 0n) continue;
      if (r === PENDING || torn[i]) { bound = this.next; break; } // (torn: even its newest entry may be overwritten)
      const start = full(Number(r >> 32n)), end = start + ((Number(r & 0xffffffffn) - Number(r >> 32n)) >>> 0);
      const list = taken[i];
      const last = list?.length ? entrySeq(list[list.length - 1]) : -1;
      // merge below what this call has not written yet: after its newest entry if that is in the batch, else its start
      bound = Math.min(bound, last >= start && last < end ? last + 1 : start);
    }
    const out: Raw[] = [];
    let rings = 0;
    for (let i = 0; i < slots; i++) {
      const list = taken[i];
      if (!list) continue;
      let k = 0;
      for (; k < list.length; k++) {
        const q = entrySeq(list[k]);
        if (q >= bound) break;
        if (q >= this.next) { list[k].seq = q; out.push(list[k]); }
      }
      if (k > 0) rings++;
      this.cursor[i] = (this.cursor[i] + k) >>> 0;
    }
    if (rings > 1) out.sort((x, y) => x.seq - y.seq); // (one ring's entries are in order already)
    if (bound > this.next) this.next = bound;
    const events = out.map(({ seq, d, o }) =>
      decodeEvent(d[o + 1] & 0xff, d[o + 1] >>> 16, d[o + 2], d[o + 3], d[o + 4], d[o + 5], d[o + 6], d[o + 7], seq, this.name));
    return { events, lost };
  }
}
