// The event rings (assembly/lib/events.ts, bindings/events.ts): every instance writes its own ring; one global
// sequence (RING_HEAD, taken in batches) orders the events of all of them, and a reader merges the rings by it.
// A reader sees every event once, in sequence order, each instance's in its own order. Races between a reader and
// calls on other threads: event-ring-races.test.ts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, layout as L } from "../bindings/index";
import type { SimEvent } from "../bindings/events";
import { reader, pair, setAttrStarts, slotOf, ringPos, overfill } from "./harness/ring";

const increasing = (events: SimEvent[]) => events.every((e, i) => i === 0 || e.seq > events[i - 1].seq);

test("event ring: a lone instance's calls are read once each, in order; a call's events have consecutive numbers", () => {
  const sim = createSimulatorSync();
  const g = sim.createGmem(4 << 20, ["mmap", "init-private"]);
  const r = reader(sim);
  let last = -1;
  for (const to of ["shared", "private", "shared"] as const) {
    g.convert(0, 8192, to);
    const { events, lost } = r.read();
    assert.is(lost, 0);
    assert.ok(events.length >= 3, "lock, set_attr, unlock at least");
    assert.equal(events.map((e) => e.seq), events.map((_, i) => events[0].seq + i), "one call, one run of numbers");
    assert.ok(events[0].seq > last, "after the previous call's");
    assert.ok(r.head() > events[events.length - 1].seq);
    last = events[events.length - 1].seq;
    assert.equal(r.read().events, [], "nothing is read twice");
  }
});

/** The 50 conversions both instances take turns at (one gmem, one guest page each of 8). */
function turns(first: ReturnType<typeof createSimulatorSync>["createGmem"] extends (...a: never[]) => infer G ? G : never,
               second: typeof first) {
  for (let i = 0; i < 50; i++) (i % 2 ? second : first).convert((i % 8) * 4096, 4096, i % 4 < 2 ? "shared" : "private");
}

test("event ring: two instances taking turns: every event read once, in the order of the calls, none lost", () => {
  // what the sequence emits, from one instance alone
  const solo = createSimulatorSync();
  const gs = solo.createGmem(4 << 20, ["mmap"]);
  const rs = reader(solo);
  turns(gs, gs);
  const want = rs.read().events.map((e) => e.kind);
  // the same with two instances, each writing its own ring: the reader merges them back into the calls' order
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(4 << 20, ["mmap"]);
  const r = reader(a);
  r.skip();
  turns(ga, b.openGmem(ga.handle));
  const { events, lost } = r.read();
  assert.is(lost, 0);
  assert.equal(events.map((e) => e.kind), want);
  assert.ok(increasing(events));
  ga.convert(0, 4096, "private");
  const more = r.read().events;
  assert.ok(more.length > 0 && more[0].seq > events[events.length - 1].seq, "nothing is read twice");
  b.detach();
});

test("event ring: each instance writes only its own ring", () => {
  const { a, b, ga, gb, r } = pair();
  const sa = slotOf(a), sb = slotOf(b);
  assert.is.not(sa, sb);
  const pa = ringPos(a, sa), pb = ringPos(a, sb);
  gb.convert(0, 4096, "shared");
  assert.is(ringPos(a, sa), pa, "a's ring untouched by b's call");
  const nb = ringPos(a, sb) - pb;
  ga.convert(4096, 4096, "shared");
  assert.is(ringPos(a, sb) - pb, nb, "b's ring untouched by a's call");
  const { events } = r.read();
  assert.is(events.length, nb + ringPos(a, sa) - pa, "the reader merged both rings");
  assert.equal(setAttrStarts(events), [0, 1]);
  b.detach();
});

test("event ring: an instance's events outlive its detach, and its slot's next owner writes on after them", () => {
  const { a, b, gb, ga, r } = pair();
  const s = slotOf(b);
  gb.convert(0, 4096, "shared");
  b.detach();
  const c = createSimulatorSync(a.module, { memory: a.memory });
  assert.is(slotOf(c), s, "the freed slot is taken again");
  c.openGmem(ga.handle).convert(4096, 4096, "shared");
  ga.convert(8192, 4096, "shared");
  const { events, lost } = r.read();
  assert.is(lost, 0);
  assert.equal(setAttrStarts(events), [0, 1, 2]);
  assert.ok(increasing(events));
  c.detach();
});

test("event ring: an instance that attaches after a reader started is read too (readers scan the slots ever claimed)", () => {
  const a = createSimulatorSync();
  const ga = a.createGmem(4 << 20, ["mmap", "init-private"]);
  const r = reader(a);
  const b = createSimulatorSync(a.module, { memory: a.memory });
  assert.ok(slotOf(b) > slotOf(a));
  b.openGmem(ga.handle).convert(4096, 4096, "shared");
  ga.convert(0, 4096, "shared");
  const { events, lost } = r.read();
  assert.is(lost, 0);
  assert.equal(setAttrStarts(events), [1, 0]);
  b.detach();
});

test("event ring: an instance that attaches after a reader and laps its ring before the first read: all counted", () => {
  const a = createSimulatorSync();
  const ga = a.createGmem(4 << 20, ["mmap", "init-private"]);
  const r = reader(a);
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const gb = b.openGmem(ga.handle);
  overfill(b, gb);
  const { events, lost } = r.read();
  assert.ok(lost > 100, `lost ${lost}`);
  assert.is(events.length + lost, ringPos(a, slotOf(b)), "none dropped without being counted");
  b.detach();
});

test("event ring: a call that emits more than one batch of sequence numbers is read whole, in order", () => {
  const sim = createSimulatorSync();
  const g = sim.createGmem(64 << 20, ["mmap", "init-private"]);
  const r = reader(sim);
  // 40 separate runs in one conversion: a set_attr per run, more than one batch of 16
  for (let p = 0; p < 80; p += 2) g.convert(p * 4096, 4096, "shared");
  r.read();
  g.convert(0, 80 * 4096, "private");
  const { events, lost } = r.read();
  assert.is(lost, 0);
  assert.ok(events.length > 16, `${events.length} events`);
  assert.equal(setAttrStarts(events).length, 40);
  assert.equal(events.map((e) => e.seq), events.map((_, i) => events[0].seq + i), "a lone call's batches follow each other");
});

test("event ring: each ring laps on its own; the reader counts what it lost of the busy one and keeps the quiet one's", () => {
  const { a, b, ga, gb, r } = pair();
  const sa = slotOf(a), sb = slotOf(b);
  const a0 = ringPos(a, sa), b0 = ringPos(a, sb);
  ga.convert(0, 4096, "shared"); // a: a few events, early
  overfill(b, gb, 1);
  const { events, lost } = r.read();
  // what b wrote a lap ago is lost, and one more: the oldest entry of a full ring shares its slot with the one its
  // writer may be writing right now (a reader cannot tell it is not)
  assert.is(lost, ringPos(a, sb) - b0 - L.RING_SIZE + 1, "what b wrote a lap ago is lost");
  assert.is(lost + events.length, ringPos(a, sa) - a0 + ringPos(a, sb) - b0, "every event is read or counted lost");
  assert.is(setAttrStarts(events)[0], 0, "a's early event is still there");
  assert.ok(increasing(events));
  b.detach();
});

test("event ring: a reader started before the head reads as far back as each ring goes", () => {
  const sim = createSimulatorSync();
  const g = sim.createGmem(4 << 20, ["mmap", "init-private"]);
  const r0 = reader(sim);
  g.convert(0, 4096, "shared");
  g.convert(4096, 4096, "shared");
  const all = r0.read().events;
  const from = all[2].seq;
  const late = reader(sim, from).read();
  assert.is(late.lost, 0);
  assert.equal(late.events.map((e) => e.seq), all.slice(2).map((e) => e.seq));
});

test.run();
