// What the event-ring tests share: a reader of a simulator's rings, two instances on one memory with one guest_memfd
// and a reader started at the head, the starts of the set_attr events read, a stand-in for another thread running
// at a chosen point of a read (one thread cannot pause another mid-step), and the words a call publishes for
// readers (its batch, its ring's write position), to stand in for a call still running on another thread.
import { createSimulatorSync, EventReader, layout as L, type Gmem } from "../../bindings/index";
import type { SimEvent } from "../../bindings/events";

type Sim = ReturnType<typeof createSimulatorSync>;

export function reader(sim: Sim, from?: number): EventReader {
  return new EventReader(sim.memory, (k, i) => sim.nameOf(k, i), from);
}

/** Instances a and b on one memory, guest_memfd ga (init-private) opened by b as gb, reader r from the head. */
export function pair(bytes = 4 << 20) {
  const a = createSimulatorSync();
  const b = createSimulatorSync(a.module, { memory: a.memory });
  const ga = a.createGmem(bytes, ["mmap", "init-private"]);
  const gb = b.openGmem(ga.handle);
  const r = reader(a);
  r.skip();
  return { a, b, ga, gb, r };
}

/** The `start` of every gmem.set_attr event, in order. */
export function setAttrStarts(events: SimEvent[]): number[] {
  return events.filter((e) => e.kind === "gmem.set_attr").map((e) => (e as unknown as { start: number }).start);
}

/**
 * Run `during` right before the n-th Atomics.load (counting from 0) of whatever runs until the returned function is
 * called, which puts Atomics back: a reader's read() makes only loads, so this runs another instance's call between
 * any two of them. Returns whether `during` ran.
 */
export function atReaderLoad(n: number, during: () => void): () => boolean {
  const real = Atomics.load;
  let count = 0, fired = false;
  (Atomics as { load: unknown }).load = function (...args: unknown[]) {
    if (!fired && count++ === n) { fired = true; during(); }
    return (real as (...x: unknown[]) => unknown).apply(Atomics, args);
  };
  return () => { (Atomics as { load: unknown }).load = real; return fired; };
}

/** The slot an instance is attached as (which ring it writes, which batch word it publishes). */
export function slotOf(sim: Sim): number {
  return ((sim.core.sim_scratch() >>> 0) - L.INSTANCE_BASE) / L.INSTANCE_SIZE;
}

/** Entries instance slot s has ever written to its ring. */
export function ringPos(sim: Sim, s: number): number {
  return Atomics.load(new Uint32Array(sim.memory.buffer), (L.RING_WPOS + s * L.CACHE_LINE) >>> 2);
}

/** Set slot s's published batch word (IN_RING_RES): 0 none, 1 pending, else start << 32 | end. */
export function setBatch(sim: Sim, s: number, v: bigint): void {
  Atomics.store(new BigUint64Array(sim.memory.buffer), (L.INSTANCE_BASE + s * L.INSTANCE_SIZE + L.IN_RING_RES) / 8, v);
}

/**
 * Convert pages first .. first + 3 of g (opened by instance `owner`) back and forth until owner's ring has taken
 * more than it holds (RING_SIZE + 100 entries) since the call began; the entries it took.
 */
export function overfill(owner: Sim, g: Gmem, first = 0): number {
  const s = slotOf(owner), p0 = ringPos(owner, s);
  for (let i = 0; ringPos(owner, s) - p0 < L.RING_SIZE + 100; i++) g.convert((first + (i % 4)) * 4096, 4096, i % 2 ? "private" : "shared");
  return ringPos(owner, s) - p0;
}
