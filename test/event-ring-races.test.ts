// Races on the event ring's kept reservations (assembly/lib/events.ts, bindings/events.ts), each found by review and
// failing before its fix. One thread cannot pause a reader mid-step, so a delayed reader is stood in for by running
// other instances' calls inside the reader's compare-exchange or store (the only Atomics calls its close() makes).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, restoreSimulator, EventReader, layout as L } from "../bindings/index";

function reader(sim: ReturnType<typeof createSimulatorSync>) {
  return new EventReader(sim.memory, (k, i) => sim.nameOf(k, i));
}

/** Run `during` once, the first time a reader compare-exchanges (close(): after it loaded NEXT/END, before its CAS). */
function delayReaderCas(during: () => void) {
  const real = Atomics.compareExchange;
  let fired = false;
  (Atomics as any).compareExchange = function (...args: any[]) {
    if (!fired) { fired = true; during(); }
    return (real as any).apply(Atomics, args);
  };
  return () => { (Atomics as any).compareExchange = real; };
}

test("event ring races: a reader taking over a kept range pads only what is still unused (the owner used part of it meanwhile)", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(4 << 20, ["mmap", "init-private"]);
  b.openGmem(ga.handle);
  const r = reader(a);
  r.skip();
  ga.convert(0, 4096, "shared"); // a keeps [n, e)
  // the reader reaches a's first kept slot, loads a's [n, e); before its CAS, a runs one whole call (resumes the
  // kept range because nobody reserved after it, fills 3 slots, keeps the rest again: OPEN = 1)
  const restore = delayReaderCas(() => ga.convert(4096, 4096, "shared"));
  let got;
  try { got = r.read(); } finally { restore(); }
  const more = r.read();
  const sets = [...got.events, ...more.events].filter((e) => e.kind === "gmem.set_attr").map((e) => e.start);
  assert.equal(sets, [0, 1], `set_attr of both calls read (lost ${got.lost + more.lost})`);
  b.detach();
});

test("event ring races: a reader never takes over a kept range other than the one it saw, so none is dropped unpadded", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(64 << 20, ["mmap", "init-private"]);
  const gb = b.openGmem(ga.handle);
  const r = reader(a);
  r.skip();
  for (let p = 0; p < 80; p += 2) ga.convert(p * 4096, 4096, "shared");
  r.read();
  ga.convert(0, 4096, "private"); // a keeps [n, e)
  // during the reader's close: a's call emits > one batch (40 runs): it fills [n, e), reserves [e, e+16) ..., keeps
  // the tail [n2, e2) of its last batch (OPEN = 1); the reader's CAS then succeeds and pads the stale [n, e)
  const restore = delayReaderCas(() => ga.convert(0, 80 * 4096, "private"));
  try { r.read(); } finally { restore(); }
  // a's next call: OPEN = 0 (the reader took it), so it drops [n2, e2) without padding it
  ga.convert(0, 4096, "shared");
  gb.convert(4096, 4096, "shared"); // b writes after
  let seen = false;
  for (let i = 0; i < 5; i++) { // more reads, more calls by b: the reader never gets past a's unpadded slots
    seen ||= r.read().events.some((e) => e.kind === "gmem.set_attr" && e.start === 1);
    gb.convert(4096, 4096, i % 2 ? "shared" : "private");
  }
  assert.ok(seen, `b's later events are read (head ${r.head()})`);
  b.detach();
});

test("event ring races: the same calls without the interleaving read everything", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(64 << 20, ["mmap", "init-private"]);
  const gb = b.openGmem(ga.handle);
  const r = reader(a);
  r.skip();
  for (let p = 0; p < 80; p += 2) ga.convert(p * 4096, 4096, "shared");
  r.read();
  ga.convert(0, 4096, "private");
  ga.convert(0, 80 * 4096, "private");
  r.read();
  ga.convert(0, 4096, "shared");
  gb.convert(4096, 4096, "shared");
  assert.ok(r.read().events.some((e) => e.kind === "gmem.set_attr" && e.start === 1));
  b.detach();
});

test("event ring races: a snapshot does not pad kept slots the ring has lapped since", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(64 << 20, ["mmap", "init-private"]);
  const gb = b.openGmem(ga.handle);
  ga.convert(0, 4096, "shared"); // a keeps the rest of its batch [n, e), then stays idle
  const r0 = reader(a);
  const n = r0.head();
  let i = 0;
  while (r0.head() < n + L.RING_SIZE + 64) gb.convert((i % 8) * 4096, 4096, i++ % 2 ? "shared" : "private");
  const head = r0.head();
  const live = new EventReader(a.memory, (k, j) => a.nameOf(k, j), head - L.RING_SIZE + 1).read();
  const restored = restoreSimulator(a.snapshot());
  const img = new EventReader(restored.memory, (k, j) => restored.nameOf(k, j), head - L.RING_SIZE + 1).read();
  assert.is(live.lost, 0);
  assert.is(img.events.length, live.events.length,
    `restored image: ${img.events.length} events (lost ${img.lost}) vs live ${live.events.length}`);
  b.detach();
});

test("event ring races: a reader taking over a kept range does not pad slots the ring lapped while it worked", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(64 << 20, ["mmap", "init-private"]);
  const gb = b.openGmem(ga.handle);
  const r = reader(a);
  r.skip();
  ga.convert(0, 4096, "shared"); // a keeps [n, e)
  const n = r.head();
  // the reader finds a's slot unpublished (not lapped), loads a's range; before its CAS, b laps the ring over it
  const restore = delayReaderCas(() => {
    let i = 0;
    while (r.head() < n + L.RING_SIZE + 64) gb.convert((i % 8) * 4096, 4096, i++ % 2 ? "shared" : "private");
  });
  try { r.read(); } finally { restore(); }
  const head = r.head();
  const fresh = new EventReader(a.memory, (k, j) => a.nameOf(k, j), head - L.RING_SIZE + 1).read();
  const last = fresh.events.length ? fresh.events[fresh.events.length - 1].seq : -1;
  assert.ok(last > head - 32, `a fresh reader of the last lap reaches the head: last seq ${last}, head ${head}, ` +
    `${fresh.events.length} events`);
  b.detach();
});

test("event ring races: a snapshot taken while a reader pads a kept range has no hole", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(64 << 20, ["mmap", "init-private"]);
  const gb = b.openGmem(ga.handle);
  const r = reader(a);
  r.skip();
  ga.convert(0, 4096, "shared"); // a keeps [n, e)
  gb.convert(4096, 4096, "shared"); // b's events after a's kept slots
  const from = r.head() - 40;
  const real = Atomics.store;
  let bytes: Uint8Array | undefined;
  (Atomics as any).store = function (...args: any[]) {
    if (!bytes) bytes = b.snapshot(); // another thread snapshots after the reader's CAS, before its padding ends
    return (real as any).apply(Atomics, args);
  };
  try { r.read(); } finally { (Atomics as any).store = real; }
  const restored = restoreSimulator(bytes!);
  const img = new EventReader(restored.memory, (k, j) => restored.nameOf(k, j), from).read();
  assert.ok(img.events.some((e) => e.kind === "gmem.set_attr" && e.start === 1),
    `b's event is readable in the restored image (${img.events.length} events)`);
  b.detach();
});

function delayAfterReaderCas(during: () => void) {
  const real = Atomics.compareExchange;
  let fired = false;
  (Atomics as any).compareExchange = function (...args: any[]) {
    const r = (real as any).apply(Atomics, args);
    if (!fired) { fired = true; during(); }
    return r;
  };
  return () => { (Atomics as any).compareExchange = real; };
}

test("event ring races: the owner's next call right after a reader took its range over leaves that range to the reader", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(4 << 20, ["mmap", "init-private"]);
  const gb = b.openGmem(ga.handle);
  const r = reader(a);
  r.skip();
  ga.convert(0, 4096, "shared");      // a keeps [n, e)
  gb.convert(4096, 4096, "shared");   // b's events after e (b keeps the rest of its batch)
  // the reader's CAS takes a's range; before it loads NEXT, a runs a call: xchg(OPEN) = 0 -> NEXT = END = 0, reserves
  // a new batch at the head, emits 3, keeps the rest (NEXT = h+3). The reader then pads from h+3 (not from n).
  const restore = delayAfterReaderCas(() => ga.convert(8192, 4096, "shared"));
  let got;
  try { got = r.read(); } finally { restore(); }
  const all = [...got.events];
  for (let i = 0; i < 3; i++) { ga.convert(12288, 4096, i % 2 ? "private" : "shared"); all.push(...r.read().events); }
  const starts = all.filter((e) => e.kind === "gmem.set_attr").map((e) => e.start);
  assert.equal(starts, [0, 1, 2, 3, 3, 3], `set_attr starts read: ${JSON.stringify(starts)} (head ${r.head()}, next ${(r as any).next})`);
  b.detach();
});

test("event ring races: a detach right after a reader took the range over leaves it to the reader", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(4 << 20, ["mmap", "init-private"]);
  const gb = b.openGmem(ga.handle);
  const r = reader(a);
  r.skip();
  gb.convert(4096, 4096, "shared");   // b keeps [n, e)
  ga.convert(0, 4096, "shared");      // a's events after e
  const restore = delayAfterReaderCas(() => b.detach()); // eventsClose: xchg = 0 -> NEXT = END = 0; reader pads from 0
  let got;
  try { got = r.read(); } finally { restore(); }
  const all = [...got.events];
  for (let i = 0; i < 3; i++) { ga.convert(8192, 4096, i % 2 ? "private" : "shared"); all.push(...r.read().events); }
  const starts = all.filter((e) => e.kind === "gmem.set_attr").map((e) => e.start);
  assert.equal(starts, [1, 0, 2, 2, 2], `set_attr starts read: ${JSON.stringify(starts)} (head ${r.head()}, next ${(r as any).next})`);
});

test("event ring races: the same calls without the takeover interleaving read everything", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(4 << 20, ["mmap", "init-private"]);
  const gb = b.openGmem(ga.handle);
  const r = reader(a);
  r.skip();
  ga.convert(0, 4096, "shared");
  gb.convert(4096, 4096, "shared");
  const all = [...r.read().events];
  ga.convert(8192, 4096, "shared");
  for (let i = 0; i < 3; i++) { ga.convert(12288, 4096, i % 2 ? "private" : "shared"); all.push(...r.read().events); }
  const starts = all.filter((e) => e.kind === "gmem.set_attr").map((e) => e.start);
  assert.equal(starts, [0, 1, 2, 3, 3, 3]);
  b.detach();
});

test("event ring races: a reader pads only the range it took over, never a slot nobody reserved yet", () => {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(4 << 20, ["mmap", "init-private"]);
  const gb = b.openGmem(ga.handle);
  const r = reader(a);
  r.skip();
  ga.convert(0, 4096, "shared");
  gb.convert(4096, 4096, "shared");
  const restore = delayAfterReaderCas(() => ga.convert(8192, 4096, "shared"));
  try { r.read(); } finally { restore(); }
  const head = r.head();
  const u = new Uint32Array(a.memory.buffer, L.RING_BASE, L.RING_SIZE * 8);
  const seen = Atomics.load(u, (head % L.RING_SIZE) * 8);
  assert.ok(seen !== head, `slot of seq ${head} (== head, unreserved) already holds seq ${seen}: published empty before its writer reserves it`);
  b.detach();
});

test.run();
