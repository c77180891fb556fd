// Races found by a review of the per-instance rings, each failing before its fix; each stands in for another thread
// the way event-ring-races.test.ts does (a whole call between two of a reader's loads, or the words a running call
// leaves published).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, layout as L } from "../bindings/index";
import type { SimEvent } from "../bindings/events";
import { pair, setAttrStarts, atReaderLoad, slotOf, setBatch, reader, ringPos, overfill } from "./harness/ring";

const W = L.RING_ENTRY_SIZE >>> 2, M = L.RING_SIZE - 1;
const wposAt = (s: number) => (L.RING_WPOS + s * L.CACHE_LINE) >>> 2;

test("event ring races: a full ring whose writer is filling its next entry: every entry is read or counted lost", () => {
  const { a, b, gb, r } = pair();
  const sb = slotOf(b);
  const u32 = new Uint32Array(a.memory.buffer);
  const b0 = ringPos(a, sb);
  overfill(b, gb, 1);
  // b's next call took [h, h + 16), wrote and published its first event (h), and has made the plain stores of its
  // second (h + 1) into the slot of position w + 1 (that of position w + 1 - RING_SIZE), not yet its atomic store of
  // the write position: a thread paused between the two
  const h = u32[L.RING_HEAD >>> 2];
  u32[L.RING_HEAD >>> 2] = h + 16;
  setBatch(a, sb, (BigInt(h) << 32n) | BigInt(h + 16));
  const base = (L.RING_ENTRIES + sb * L.RING_BYTES) >>> 2;
  const w = ringPos(a, sb);
  const model = u32.slice(base + ((w - 1) & M) * W, base + ((w - 1) & M) * W + W);
  const put = (pos: number, seq: number) => { u32.set(model, base + (pos & M) * W); u32[base + (pos & M) * W] = seq; };
  put(w, h);
  Atomics.store(u32, wposAt(sb), w + 1);
  put(w + 1, h + 1);
  const first = r.read();
  Atomics.store(u32, wposAt(sb), w + 2); // b's emit completes
  setBatch(a, sb, 0n); //                  and its call ends
  const second = r.read();
  const got = first.events.length + second.events.length;
  assert.is(got + first.lost + second.lost, ringPos(a, sb) - b0, `every entry of b's read or counted lost (${got} read)`);
  b.detach();
});

test("event ring races: a call run between any two loads of a new reader's construction: read if numbered from its start on", () => {
  const { a, b, ga, gb, r: probe } = pair();
  for (let k = 0; ; k++) {
    const to = k % 2 ? "private" : "shared";
    const restore = atReaderLoad(k, () => gb.convert(0, 4096, to));
    const r = reader(a);
    const ran = restore();
    const start = (r as unknown as { next: number }).next; // where it starts: every event numbered from here on
    ga.convert(4096, 4096, to);
    const all = probe.read().events;
    const { events, lost } = r.read();
    assert.is(lost, 0);
    assert.equal(events.map((e) => e.seq), all.filter((e) => e.seq >= start).map((e) => e.seq),
      `every event from the reader's start on (b's call before the constructor's load ${k})`);
    if (!ran) break;
  }
  b.detach();
});

test("event ring races: RING_HEAD's low word carrying between a read's loads of its two words", () => {
  const { a, b, ga, gb } = pair();
  const u32 = new Uint32Array(a.memory.buffer);
  u32[L.RING_HEAD >>> 2] = 2 ** 32 - 16; // the next batch's add carries into the high word
  const r = reader(a);
  const restore = atReaderLoad(1, () => gb.convert(0, 4096, "shared")); // after the low word's load, before the high's
  const first = r.read();
  assert.ok(restore());
  ga.convert(4096, 4096, "shared");
  const second = r.read();
  assert.is(first.lost + second.lost, 0);
  assert.equal(setAttrStarts([...first.events, ...second.events]), [0, 1], "a's call after b's is read too");
  b.detach();
});

test("event ring races: a worker killed while taking a batch and reaped: what was written before is still read", () => {
  const { a, b, ga, r } = pair();
  ga.convert(0, 4096, "shared"); // a whole call of a's
  // b's worker is terminated inside a call, between its pending mark and its add on RING_HEAD
  const sb = slotOf(b);
  const u32 = new Uint32Array(a.memory.buffer);
  Atomics.add(u32, (L.INSTANCE_BASE + sb * L.INSTANCE_SIZE + L.IN_CALL) >>> 2, 1); // odd: inside a call
  setBatch(a, sb, BigInt(L.RING_RES_PENDING));
  let code = "";
  try { a.reap(sb); } catch (e) { code = (e as { code: string }).code; }
  assert.is(code, "EOWNERDEAD");
  let events: SimEvent[] = [];
  for (let i = 0; i < 3 && !events.length; i++) events = r.read().events;
  assert.equal(setAttrStarts(events), [0], "a's call, which ended before b took its batch");
});

test("event ring races: a reader started before the head reads as far back as a ring goes after its position wrapped", () => {
  const sim = createSimulatorSync();
  const g = sim.createGmem(4 << 20, ["mmap", "init-private"]);
  const u32 = new Uint32Array(sim.memory.buffer);
  Atomics.store(u32, wposAt(slotOf(sim)), 2 ** 32 - 2); // two entries before the position wraps
  const r0 = reader(sim);
  g.convert(0, 4096, "shared");
  const all = r0.read().events;
  assert.ok(all.length > 2);
  const late = reader(sim, all[0].seq).read();
  assert.is(late.lost, 0);
  assert.equal(late.events.map((e) => e.seq), all.map((e) => e.seq));
});

test("event ring races: an entry 2^32 numbers old is not read as a recent one", () => {
  const { a, b, ga, gb } = pair();
  ga.convert(0, 4096, "shared"); // a's events; a is quiet from now on
  // others take 2^32 numbers (b's ring keeps only its newest RING_SIZE entries)
  const u32 = new Uint32Array(a.memory.buffer);
  u32[L.RING_HEAD_HI >>> 2] += 1;
  gb.convert(4096, 4096, "shared");
  const head = reader(a).head();
  const late = reader(a, head - 64).read();
  assert.ok(late.events.every((e) => e.seq >= head - 64));
  assert.equal(setAttrStarts(late.events), [1], "only b's call is that recent");
  b.detach();
});

test("event ring races: a reader started before the head counts what a ring laps before its first read", () => {
  const { a, b, gb } = pair();
  gb.convert(0, 4096, "shared");
  const head = reader(a).head();
  const r = reader(a, head - 8); // from a little before the head (as <gmem-view> starts its strip)
  // b writes more than a ring holds before r's first read: everything b writes now is numbered after r's start
  const written = overfill(b, gb);
  const { events, lost } = r.read();
  const since = events.filter((e) => e.seq >= head).length;
  assert.ok(since + lost >= written, `${written} written since r started: ${since} of them read, ${lost} counted lost`);
  b.detach();
});

test("event ring races: ... and what an instance attaching after it writes", () => {
  const a = createSimulatorSync();
  const ga = a.createGmem(4 << 20, ["mmap", "init-private"]);
  ga.convert(0, 4096, "shared");
  const head = reader(a).head();
  const r = reader(a, head - 8);
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const gb = b.openGmem(ga.handle);
  const written = overfill(b, gb);
  const { events, lost } = r.read();
  const since = events.filter((e) => e.seq >= head).length;
  assert.ok(since + lost >= written, `${written} written since r started: ${since} of them read, ${lost} counted lost`);
  b.detach();
});

test.run();
