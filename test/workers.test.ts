// Real parallelism (Node worker_threads / Web Workers on one shared memory): the kernel's locks instead of one
// global lock. Three workers run a seeded mix of every data-plane operation on shared and separate objects while
// the main thread checks the invariants at quiescent points; workers killed at random moments leave the machine
// either intact (killed between calls) or marked dead (killed inside one) and never hang anyone.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulator, layout as L, type Simulator } from "../bindings/index";
import { spawnWorker, startWorker, runtime } from "gmemsim-test-env";
import type { MixedJob } from "./harness/stress";

const SIZE = 4 << 20;

/** n sets of [gmem, vm, iommu], each VM and gmem-mode IOMMU bound to its gmem. */
function sets(sim: Simulator, n: number, flags: ("init-shared" | "init-private" | "hugetlb-2M")[]): [number, number, number][] {
  return Array.from({ length: n }, () => {
    const g = sim.createGmem(SIZE, ["mmap", ...flags]);
    g.mmap();
    const v = sim.createVm();
    v.bind(0, 0, SIZE, g, 0);
    const io = sim.createIommu("gmem");
    io.bind(g);
    return [g.handle, v.handle, io.handle] as [number, number, number];
  });
}

interface Mixed { outcomes: Record<string, number>; unexpected: string[] }

/**
 * Node's worker.terminate() resolves once the thread has stopped. A page's only asks: Chromium lets a busy worker run
 * on for a second or two. A worker is gone when its instance's call counter (IN_CALL) stops moving.
 */
async function stopped(sim: Simulator, instanceId: number): Promise<void> {
  if (runtime === "node") return;
  const at = (L.INSTANCE_BASE + instanceId * L.INSTANCE_SIZE + L.IN_CALL) >>> 2;
  let last = -1;
  for (let t = 0; t < 10000; t += 100) {
    await new Promise((r) => setTimeout(r, 100));
    const c = Atomics.load(sim.u32, at);
    if (c === last) return;
    last = c;
  }
  throw new Error("the terminated worker kept running for 10 s");
}

for (const arch of ["sw", "tdx", "snp"] as const) {
  test(`workers (${runtime}, ${arch}): 3 workers x mixed ops on shared and own objects, invariants at quiescent points`, async () => {
    const sim = await createSimulator({ arch });
    const shared = sets(sim, 1, ["init-shared", "hugetlb-2M"]);
    const own = [0, 1, 2].map(() => sets(sim, 1, ["init-private"]));
    const jobs = own.map((mine, k) => spawnWorker<Mixed>(sim.share(),
      { kind: "mixed", seed: 1000 * k + arch.length, ops: 1500, sets: [...shared, ...mine], size: SIZE } satisfies MixedJob));
    let checks = 0, running = true;
    const all = Promise.all(jobs).finally(() => { running = false; });
    while (running) {
      sim.checkInvariants(); // a world stop: every worker is between calls while it looks
      checks++;
      await new Promise((r) => setTimeout(r, 5));
    }
    const results = await all;
    for (const r of results) assert.equal(r.unexpected, [], r.unexpected.join("\n"));
    sim.checkInvariants();
    assert.ok(checks > 0);
    const c = sim.counters();
    assert.ok(c["gmem.set_attr"] > 0 && c["kvm.map"] > 0 && c["iommu.map"] > 0, JSON.stringify(c).slice(0, 300));
    assert.is(sim.failure, null);
  });
}

test(`workers (${runtime}): killed at random moments, the machine is intact or marked dead, never hung`, async () => {
  const rounds = runtime === "node" ? 100 : 6; // (a page's workers take a second or two to stop: see stopped())
  const seen = { clean: 0, dead: 0 };
  for (let i = 0; i < rounds; i++) {
    const sim = await createSimulator();
    const g = sim.createGmem(SIZE, ["mmap", "init-shared"]);
    const v = sim.createVm();
    v.bind(0, 0, SIZE, g, 0);
    const w = startWorker<never>(sim.share(), { kind: "loop-convert", gmem: g.handle, pages: 64 });
    const { attached } = await w.first as { attached: number };
    await new Promise((r) => setTimeout(r, (i * 7) % 23));
    await w.terminate();
    await stopped(sim, attached);
    let code: string | undefined;
    try { sim.reap(attached); } catch (e) { code = (e as { code: string }).code; }
    if (code === undefined) {
      seen.clean++;
      g.convert(0, SIZE, "private"); // everything the worker held is free again
      v.access(0x1000, { private: true });
      sim.checkInvariants();
      assert.is(sim.failure, null);
    } else {
      assert.is(code, "EOWNERDEAD", `round ${i}`);
      seen.dead++;
      const t0 = performance.now();
      try { g.convert(0, 4096, "shared"); assert.unreachable("a dead machine must refuse"); }
      catch (e) { assert.is((e as { code: string }).code, "EOWNERDEAD"); }
      assert.ok(performance.now() - t0 < 1000, "refused at once");
      assert.equal(sim.failure, { code: "EOWNERDEAD", instanceId: attached });
    }
  }
  assert.is(seen.clean + seen.dead, rounds);
  assert.ok(seen.dead > 0, `kills inside a call happened (${JSON.stringify(seen)})`);
});

test(`workers (${runtime}): a thread waiting on a lock a killed worker held finds out by itself (EOWNERDEAD)`, async () => {
  // a page's main thread never waits (it gets EBUSY at once), so only a thread that may sleep can watch a holder die
  if (runtime !== "node") return;
  const sim = await createSimulator();
  const g = sim.createGmem(SIZE, ["mmap", "init-shared"]);
  const v = sim.createVm();
  v.bind(0, 0, SIZE, g, 0);
  let code: string | undefined;
  // a termination lands where V8 checks for interrupts; a call that no longer calls out to the host (the clock)
  // offers fewer such points inside it, and a loaded machine moves the odds too: at least 80 tries, up to 30 s
  for (let tries = 0, t0 = Date.now(); code === undefined && (tries < 80 || Date.now() - t0 < 30000); tries++) {
    const w = startWorker<never>(sim.share(), { kind: "loop-convert", gmem: g.handle, pages: 8 });
    await w.first;
    await new Promise((r) => setTimeout(r, 1 + (tries % 8)));
    await w.terminate();
    try { v.access(0, { private: false }); g.convert(0, SIZE, "private"); g.convert(0, SIZE, "shared"); }
    catch (e) { code = (e as { code: string }).code; }
  }
  assert.is(code, "EOWNERDEAD", "one of the kills landed inside a call, and the next caller noticed without reap");
});

test(`workers (${runtime}): a worker killed holding the world stop is found dead, not waited on forever`, async () => {
  if (runtime !== "node") return; // (a page's thread never waits: it gets EBUSY)
  const sim = await createSimulator();
  const g = sim.createGmem(SIZE, ["mmap", "init-shared"]);
  const w = startWorker<never>(sim.share(), { kind: "freeze-and-hang" });
  await w.first; // (attached; the freeze follows at once)
  await new Promise((r) => setTimeout(r, 200));
  await w.terminate();
  const t0 = Date.now();
  let code: string | undefined;
  try { g.convert(0, 4096, "private"); } catch (e) { code = (e as { code: string }).code; }
  assert.is(code, "EOWNERDEAD");
  assert.ok(Date.now() - t0 < 10000, `found out in ${Date.now() - t0} ms`);
});

test.run();
