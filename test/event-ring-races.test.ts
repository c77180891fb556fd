// Races on the event ring's kept reservations (assembly/lib/events.ts, bindings/events.ts), each found by review and
// failing before its fix. One thread cannot pause a reader mid-step, so a delayed reader is stood in for by running
// other instances' calls inside the reader's compare-exchange or store (the only Atomics writes its takeover makes).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { restoreSimulator, EventReader, layout as L } from "../bindings/index";
import type { Gmem, Simulator } from "../bindings/index";
import { pair, setAttrStarts, duringReaderCas } from "./harness/ring";

/** b converts until the ring has lapped everything up to `until`. */
function lap(gb: Gmem, r: EventReader, until: number): void {
  for (let i = 0; r.head() < until; i++) gb.convert((i % 8) * 4096, 4096, i % 2 ? "shared" : "private");
}

/** A reader of the last lap of sim's ring. */
function lastLap(sim: Simulator, head: number) {
  return new EventReader(sim.memory, (k, j) => sim.nameOf(k, j), head - L.RING_SIZE + 1).read();
}

test("event ring races: a reader taking over a kept range pads only what is still unused (the owner used part of it meanwhile)", () => {
  const { b, ga, r } = pair();
  ga.convert(0, 4096, "shared"); // a keeps [n, e)
  // before the reader's compare-exchange, a runs one whole call: it resumes the kept range (nobody reserved after
  // it), fills some of it and keeps the rest again
  const restore = duringReaderCas(() => ga.convert(4096, 4096, "shared"));
  let got;
  try { got = r.read(); } finally { restore(); }
  const more = r.read();
  assert.equal(setAttrStarts([...got.events, ...more.events]), [0, 1], `lost ${got.lost + more.lost}`);
  b.detach();
});

test("event ring races: a reader never takes over a kept range other than the one it saw, so none is dropped unpadded", () => {
  const { b, ga, gb, r } = pair(64 << 20);
  for (let p = 0; p < 80; p += 2) ga.convert(p * 4096, 4096, "shared");
  r.read();
  ga.convert(0, 4096, "private"); // a keeps [n, e)
  // before the reader's compare-exchange, a's call emits more than a batch and keeps the tail of its last one
  const restore = duringReaderCas(() => ga.convert(0, 80 * 4096, "private"));
  try { r.read(); } finally { restore(); }
  ga.convert(0, 4096, "shared");
  gb.convert(4096, 4096, "shared"); // b writes after
  let seen = false;
  for (let i = 0; i < 5; i++) {
    seen ||= setAttrStarts(r.read().events).includes(1);
    gb.convert(4096, 4096, i % 2 ? "shared" : "private");
  }
  assert.ok(seen, `b's later events are read (head ${r.head()})`);
  b.detach();
});

test("event ring races: the same calls without the interleaving read everything", () => {
  const { b, ga, gb, r } = pair(64 << 20);
  for (let p = 0; p < 80; p += 2) ga.convert(p * 4096, 4096, "shared");
  r.read();
  ga.convert(0, 4096, "private");
  ga.convert(0, 80 * 4096, "private");
  r.read();
  ga.convert(0, 4096, "shared");
  gb.convert(4096, 4096, "shared");
  assert.ok(setAttrStarts(r.read().events).includes(1));
  b.detach();
});

test("event ring races: a snapshot does not pad kept slots the ring has lapped since", () => {
  const { a, b, ga, gb, r } = pair(64 << 20);
  ga.convert(0, 4096, "shared"); // a keeps the rest of its batch, then stays idle
  lap(gb, r, r.head() + L.RING_SIZE + 64);
  const head = r.head();
  const live = lastLap(a, head);
  const img = lastLap(restoreSimulator(a.snapshot()), head);
  assert.is(live.lost, 0);
  assert.is(img.events.length, live.events.length, `restored image: ${img.events.length} events (lost ${img.lost})`);
  b.detach();
});

test("event ring races: a reader taking over a kept range does not pad slots the ring lapped while it worked", () => {
  const { a, b, ga, gb, r } = pair(64 << 20);
  ga.convert(0, 4096, "shared"); // a keeps [n, e)
  const n = r.head();
  // the reader finds a's slot unpublished and a's range kept; before its compare-exchange, b laps the ring over it
  const restore = duringReaderCas(() => lap(gb, r, n + L.RING_SIZE + 64));
  try { r.read(); } finally { restore(); }
  const head = r.head();
  const fresh = lastLap(a, head);
  const last = fresh.events.length ? fresh.events[fresh.events.length - 1].seq : -1;
  assert.ok(last > head - 32, `a reader of the last lap reaches the head: last seq ${last}, head ${head}`);
  b.detach();
});

test("event ring races: a snapshot taken while a reader pads a kept range has no hole", () => {
  const { b, ga, gb, r } = pair(64 << 20);
  ga.convert(0, 4096, "shared"); // a keeps [n, e)
  gb.convert(4096, 4096, "shared"); // b's events after a's kept slots
  const from = r.head() - 40;
  const real = Atomics.store;
  let bytes: Uint8Array | undefined;
  (Atomics as { store: unknown }).store = function (...args: unknown[]) {
    if (!bytes) bytes = b.snapshot(); // another thread snapshots after the reader's takeover, before its padding ends
    return (real as (...x: unknown[]) => unknown).apply(Atomics, args);
  };
  try { r.read(); } finally { (Atomics as { store: unknown }).store = real; }
  const restored = restoreSimulator(bytes!);
  const img = new EventReader(restored.memory, (k, j) => restored.nameOf(k, j), from).read();
  assert.ok(setAttrStarts(img.events).includes(1), `b's event is readable in the restored image (${img.events.length} events)`);
  b.detach();
});

/** a keeps a range, b writes after it, the reader takes a's range over and `then` runs right after; starts read. */
function afterTakeover(first: "a" | "b", then: (p: ReturnType<typeof pair>) => void): number[] {
  const p = pair();
  const [x, y] = first === "a" ? [p.ga, p.gb] : [p.gb, p.ga];
  x.convert(first === "a" ? 0 : 4096, 4096, "shared"); // x keeps [n, e)
  y.convert(first === "a" ? 4096 : 0, 4096, "shared"); // y's events after e
  const restore = duringReaderCas(() => then(p), true);
  const all = [];
  try { all.push(...p.r.read().events); } finally { restore(); }
  for (let i = 0; i < 3; i++) { p.ga.convert(12288, 4096, i % 2 ? "private" : "shared"); all.push(...p.r.read().events); }
  if (first === "a") p.b.detach();
  return setAttrStarts(all);
}

test("event ring races: the owner's next call right after a reader took its range over leaves that range to the reader", () => {
  assert.equal(afterTakeover("a", ({ ga }) => ga.convert(8192, 4096, "shared")), [0, 1, 2, 3, 3, 3]);
});

test("event ring races: a detach right after a reader took the range over leaves it to the reader", () => {
  assert.equal(afterTakeover("b", ({ b }) => b.detach()), [1, 0, 3, 3, 3]);
});

test("event ring races: the same calls without the takeover interleaving read everything", () => {
  const { b, ga, gb, r } = pair();
  ga.convert(0, 4096, "shared");
  gb.convert(4096, 4096, "shared");
  const all = [...r.read().events];
  ga.convert(8192, 4096, "shared");
  for (let i = 0; i < 3; i++) { ga.convert(12288, 4096, i % 2 ? "private" : "shared"); all.push(...r.read().events); }
  assert.equal(setAttrStarts(all), [0, 1, 2, 3, 3, 3]);
  b.detach();
});

test("event ring races: a reader pads only the range it took over, never a slot nobody reserved yet", () => {
  const { a, b, ga, gb, r } = pair();
  ga.convert(0, 4096, "shared");
  gb.convert(4096, 4096, "shared");
  const restore = duringReaderCas(() => ga.convert(8192, 4096, "shared"), true);
  try { r.read(); } finally { restore(); }
  const head = r.head();
  const u = new Uint32Array(a.memory.buffer, L.RING_BASE, L.RING_SIZE * (L.RING_ENTRY_SIZE / 4));
  const seen = Atomics.load(u, (head % L.RING_SIZE) * (L.RING_ENTRY_SIZE / 4));
  assert.ok(seen !== head, `the slot of seq ${head} (the head, unreserved) already holds seq ${seen}`);
  b.detach();
});

test.run();
