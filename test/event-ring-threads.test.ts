// The event rings with real threads (Node worker_threads / Web Workers): two workers convert their own guest_memfd
// while the main thread reads. Every event the reader gets comes in sequence order, each worker's conversions in
// the order it made them, and what it did not get it counts as lost (the rings hold RING_SIZE each).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulator, EventReader, layout as L } from "../bindings/index";
import type { SimEvent } from "../bindings/events";
import { spawnWorker, runtime } from "gmemsim-test-env";

const PAGES = 64, ROUNDS = 120;

/** Entries every ring has ever taken. */
function written(u32: Uint32Array): number {
  let n = 0;
  for (let s = 0; s < L.MAX_INSTANCES; s++) n += Atomics.load(u32, (L.RING_WPOS + s * L.CACHE_LINE) >>> 2);
  return n;
}

test(`event ring threads (${runtime}): two workers converting, the main thread reading: in order, each worker's in its own`, async () => {
  const sim = await createSimulator();
  const gs = [0, 1].map(() => sim.createGmem(PAGES * 4096, ["mmap", "init-private"]));
  const names = new Map(gs.map((g, k) => [g.handle & ((1 << L.OBJ_INDEX_BITS) - 1), `g${k}`]));
  const r = new EventReader(sim.memory, (kind, i) => (kind === "gmem" ? names.get(i) : undefined) ?? `#${i}`);
  const before = written(sim.u32);
  let running = true;
  const jobs = Promise.all(gs.map((g) => spawnWorker(sim.share(), { kind: "convert-rounds", gmem: g.handle, pages: PAGES, rounds: ROUNDS })))
    .finally(() => { running = false; });
  const got: SimEvent[] = [];
  let lost = 0, reads = 0;
  while (running) {
    // read back to back for a while (the more reads land inside the workers' calls, the more this can catch), then
    // let the workers' results in
    for (const until = performance.now() + 20; performance.now() < until;) {
      const x = r.read();
      got.push(...x.events); lost += x.lost; reads++;
    }
    await new Promise((res) => setTimeout(res, 0));
  }
  await jobs;
  console.log(`    [threads] ${reads} reads, ${got.length} events, ${lost} lost`);
  const last = r.read();
  got.push(...last.events); lost += last.lost;
  assert.is(got.length + lost, written(sim.u32) - before, "every event read or counted lost");
  for (let i = 1; i < got.length; i++) if (got[i].seq <= got[i - 1].seq) assert.unreachable(`out of order at ${i}`);
  // each worker's set_attr events: a subsequence of the conversions it made, in their order
  for (const name of ["g0", "g1"]) {
    const starts = got.filter((e) => e.kind === "gmem.set_attr" && e.gmem === name).map((e) => (e as unknown as { start: number }).start);
    let k = 0;
    for (const s of starts) {
      while (k < PAGES * ROUNDS && k % PAGES !== s) k++;
      assert.ok(k < PAGES * ROUNDS, `${name}: conversion of page ${s} out of its worker's order`);
      k++;
    }
    assert.ok(starts.length > 0, `${name}: some of its events read (${reads} reads, ${lost} lost)`);
  }
});

test.run();
