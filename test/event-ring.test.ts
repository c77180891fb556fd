// The event ring's reservations (assembly/lib/events.ts): an instance reserves slots in batches; when its call ends
// a lone instance gives the unused ones back (RING_HEAD moves back), one among others keeps them for its next call
// (a reader that reaches them takes them over and pads them). Either way a reader sees every event once, in
// sequence order, with no holes it must skip. Races on the kept slots: event-ring-races.test.ts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync } from "../bindings/index";
import { reader, pair, setAttrStarts } from "./harness/ring";

test("event ring: a lone instance's call moves the head by exactly the events it emitted", () => {
  const sim = createSimulatorSync();
  const g = sim.createGmem(4 << 20, ["mmap", "init-private"]);
  const r = reader(sim);
  for (const to of ["shared", "private", "shared"] as const) {
    const before = r.head();
    g.convert(0, 8192, to);
    const { events, lost } = r.read();
    assert.is(lost, 0);
    assert.ok(events.length >= 3, "lock, set_attr, unlock at least");
    assert.is(r.head() - before, events.length, "no reserved slot is left behind");
    assert.equal(events.map((e) => e.seq), events.map((_, i) => before + i), "sequence numbers without holes");
  }
});

/** The 50 conversions both instances take turns at (one gmem, one guest page each of 8). */
function turns(first: ReturnType<typeof createSimulatorSync>["createGmem"] extends (...a: never[]) => infer G ? G : never,
               second: typeof first) {
  for (let i = 0; i < 50; i++) (i % 2 ? second : first).convert((i % 8) * 4096, 4096, i % 4 < 2 ? "shared" : "private");
}

test("event ring: two instances taking turns: every event read once, in order, none lost", () => {
  // what the sequence emits, from one instance alone
  const solo = createSimulatorSync();
  const gs = solo.createGmem(4 << 20, ["mmap"]);
  const rs = reader(solo);
  turns(gs, gs);
  const want = rs.read().events.map((e) => e.kind);
  // the same with two instances attached: each keeps the rest of its reservation between calls, so the other's
  // events land after slots nobody has filled yet; the reader closes those (pads them) and reads on
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(4 << 20, ["mmap"]);
  const r = reader(a);
  r.skip();
  turns(ga, b.openGmem(ga.handle));
  const { events, lost } = r.read();
  assert.is(lost, 0);
  assert.equal(events.map((e) => e.kind), want);
  for (let i = 1; i < events.length; i++) assert.ok(events[i].seq > events[i - 1].seq);
  // and again after more calls: nothing is read twice
  ga.convert(0, 4096, "private");
  const more = r.read().events;
  assert.ok(more.length > 0 && more[0].seq > events[events.length - 1].seq);
  b.detach();
});

test("event ring: an instance that detaches with slots kept leaves no hole", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const gb = b.openGmem(a.createGmem(4 << 20, ["mmap"]).handle);
  const r = reader(a);
  r.skip();
  gb.convert(0, 4096, "private");
  b.detach(); // its kept slots are padded here, not by the reader
  a.createGmem(4 << 20, ["mmap"]).convert(0, 4096, "private");
  const { events, lost } = r.read();
  assert.is(lost, 0);
  assert.ok(events.filter((e) => e.kind === "gmem.lock").length >= 2);
});

test("event ring: a reader takes over slots an idle instance keeps, and that instance writes elsewhere next", () => {
  const { b, ga, gb, r } = pair();
  ga.convert(0, 4096, "shared"); //   a keeps the rest of its batch
  gb.convert(4096, 4096, "shared"); // b's events come after a's kept slots
  const first = r.read();
  assert.is(first.lost, 0);
  assert.equal(setAttrStarts(first.events), [0, 1],
    "b's events are read although a's slots before them were never filled");
  ga.convert(0, 4096, "private"); // a finds its reservation taken: it reserves anew
  const second = r.read();
  assert.is(second.lost, 0);
  assert.equal(setAttrStarts(second.events), [0]);
  assert.ok(second.events[0].seq > first.events[first.events.length - 1].seq);
  b.detach();
});

test("event ring: a call that emits more than one batch still leaves no holes", () => {
  const sim = createSimulatorSync();
  const g = sim.createGmem(64 << 20, ["mmap", "init-private"]);
  const vm = sim.createVm();
  vm.bind(0, 0, 64 << 20, g, 0);
  const r = reader(sim);
  const before = r.head();
  // 40 separate runs in one conversion: a set_attr per run, more than one 16-slot reservation
  for (let p = 0; p < 80; p += 2) g.convert(p * 4096, 4096, "shared");
  r.read();
  const mid = r.head();
  g.convert(0, 80 * 4096, "private");
  const { events, lost } = r.read();
  assert.is(lost, 0);
  assert.ok(events.length > 16, `${events.length} events`);
  assert.is(r.head() - mid, events.length);
  assert.ok(mid > before);
});

test.run();
