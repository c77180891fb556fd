// A reader merging the event rings (bindings/events.ts) while calls run on other threads (assembly/lib/events.ts).
// One thread cannot pause another mid-step, so another thread is stood in for two ways: a whole call run between
// two of the reader's loads (at every one of them in turn), and the words a call publishes for readers (its batch,
// RING_HEAD) written as a call still running would have left them.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { layout as L } from "../bindings/index";
import type { SimEvent } from "../bindings/events";
import { pair, setAttrStarts, atReaderLoad, slotOf, setBatch, reader } from "./harness/ring";

const increasing = (events: SimEvent[]) => events.every((e, i) => i === 0 || e.seq > events[i - 1].seq);

test("event ring races: a call run between any two loads of a read is read once, after the calls before it", () => {
  const { b, ga, gb, r } = pair();
  let k = 0, seen: SimEvent[] = [];
  for (;; k++) {
    const to = k % 2 ? "private" : "shared";
    ga.convert(0, 4096, to);
    const restore = atReaderLoad(k, () => gb.convert(4096, 4096, to));
    const first = r.read();
    const ran = restore();
    if (!ran) gb.convert(4096, 4096, to); // past the read's last load: b's call after it
    const second = r.read();
    const events = [...first.events, ...second.events];
    assert.is(first.lost + second.lost, 0);
    assert.equal(setAttrStarts(events), [0, 1], `b's call before the reader's load ${k}`);
    assert.ok(increasing(events) && (!seen.length || events[0].seq > seen[seen.length - 1].seq), `in order (load ${k})`);
    seen = events;
    if (!ran) break;
  }
  // the head, the slots claimed, per slot its batch, per ring its position (twice when it has something new), the head
  assert.ok(k >= 8, `${k} loads in a read`);
  b.detach();
});

test("event ring races: while an instance takes a batch, a reader merges nothing new", () => {
  const { a, b, ga, r } = pair();
  setBatch(a, slotOf(b), BigInt(L.RING_RES_PENDING)); // b between its pending mark and its add on RING_HEAD
  ga.convert(0, 4096, "shared");
  assert.equal(r.read().events, [], "a's events may come after the batch b is taking");
  setBatch(a, slotOf(b), 0n);
  assert.equal(setAttrStarts(r.read().events), [0]);
  b.detach();
});

test("event ring races: a reader holds back everything after a batch a call has taken and not written yet", () => {
  const { a, b, ga, r } = pair();
  const u32 = new Uint32Array(a.memory.buffer);
  // b took [h, h + 16) and was stopped before its first event: RING_HEAD moved, its batch is published
  const h = u32[L.RING_HEAD >>> 2];
  u32[L.RING_HEAD >>> 2] = h + 16;
  setBatch(a, slotOf(b), (BigInt(h) << 32n) | BigInt(h + 16));
  ga.convert(0, 4096, "shared"); // a's batch starts at h + 16
  assert.equal(r.read().events, [], "b may still write below a's events");
  setBatch(a, slotOf(b), 0n); // b's call ends without an event: its batch is given up
  const { events, lost } = r.read();
  assert.is(lost, 0);
  assert.equal(setAttrStarts(events), [0]);
  assert.ok(events[0].seq >= h + 16);
  b.detach();
});

test("event ring races: a reader merges up to a running call's newest event, and on once the call ends", () => {
  const { a, b, ga, gb, r } = pair();
  const probe = reader(a);
  gb.convert(4096, 4096, "shared");
  const bEvents = probe.read().events;
  const last = bEvents[bEvents.length - 1].seq;
  const start = last - (last % 16); // batches are 16 numbers from RING_FIRST_SEQ on: this is the one last came from
  // as if b's call were still running after its last event, in the batch that event came from
  setBatch(a, slotOf(b), (BigInt(start) << 32n) | BigInt(start + 16));
  ga.convert(0, 4096, "shared");
  const first = r.read().events;
  assert.equal(setAttrStarts(first), [1], "b's events so far; a's, numbered after b's batch, wait");
  assert.is(first[first.length - 1].seq, last);
  setBatch(a, slotOf(b), 0n);
  const second = r.read().events;
  assert.equal(setAttrStarts(second), [0]);
  assert.ok(second[0].seq > last);
  b.detach();
});

test("event ring races: sequence numbers and ring positions wrap at 2^32 and the merge does not notice", () => {
  const { a, b, ga, gb } = pair();
  const u32 = new Uint32Array(a.memory.buffer);
  u32[L.RING_HEAD >>> 2] = 2 ** 32 - 40 * 16; // 40 batches before the low word wraps
  for (const s of [slotOf(a), slotOf(b)]) u32[(L.RING_WPOS + s * L.CACHE_LINE) >>> 2] = 2 ** 32 - 100;
  const r = reader(a);
  const want: number[] = [];
  for (let i = 0; i < 120; i++) {
    (i % 3 ? ga : gb).convert(i * 4096, 4096, "shared");
    want.push(i);
  }
  const { events, lost } = r.read();
  assert.is(lost, 0);
  assert.equal(setAttrStarts(events), want);
  assert.ok(increasing(events));
  assert.ok(events[events.length - 1].seq > 2 ** 32, "past the wrap of the low word");
  b.detach();
});

test.run();
