// What the event-ring tests share: a reader of a simulator's ring, two instances on one memory with one guest_memfd
// and a reader started at the head, the starts of the set_attr events read, and a stand-in for a reader thread
// delayed inside its takeover of a kept range (one thread cannot pause another mid-step).
import { createSimulatorSync, EventReader } from "../../bindings/index";
import type { SimEvent } from "../../bindings/events";

type Sim = ReturnType<typeof createSimulatorSync>;

export function reader(sim: Sim): EventReader {
  return new EventReader(sim.memory, (k, i) => sim.nameOf(k, i));
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
 * Run `during` once, at the first Atomics.compareExchange a reader makes (its takeover of a kept range): before the
 * exchange (`after` false) or right after it. Returns the function that puts Atomics back.
 */
export function duringReaderCas(during: () => void, after = false): () => void {
  const real = Atomics.compareExchange;
  let fired = false;
  (Atomics as { compareExchange: unknown }).compareExchange = function (...args: unknown[]) {
    if (!fired && !after) { fired = true; during(); }
    const r = (real as (...x: unknown[]) => unknown).apply(Atomics, args);
    if (!fired && after) { fired = true; during(); }
    return r;
  };
  return () => { (Atomics as { compareExchange: unknown }).compareExchange = real; };
}
