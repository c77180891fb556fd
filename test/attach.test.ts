// Instances come and go (workers attach to a simulator's memory, run, detach). Each owns its scratch block (its
// out-values, iterator frames, held locks) for as long as it is attached: never aliased with another live one,
// whatever the churn; when every block is taken, attaching is refused with ENOSPC, and a detach frees one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, layout, type Simulator } from "../bindings/index";
import { spawnWorker, runtime } from "gmemsim-test-env";


/** A guest_memfd of 64 pages, each with a folio of its own (4 KiB, shared, touched by the host): distinct frames. */
function populated(sim: Simulator) {
  const g = sim.createGmem(64 * 4096, ["mmap", "init-shared"]);
  g.mmap();
  for (let i = 0; i < 64; i++) g.hostAccess(i * 4096);
  const pfns = Array.from({ length: 64 }, (_, i) => g.folio(i).pfn);
  assert.is(new Set(pfns).size, 64);
  return { g, pfns };
}

test("attach: 10,000 attaches and detaches, never two live instances on one scratch block", () => {
  const a = createSimulatorSync();
  const shared = a.share();
  const { g, pfns } = populated(a);
  const live: Simulator[] = [a];
  let seed = 12345;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  for (let i = 0; i < 10000; i++) {
    if (live.length > 1 && (live.length >= layout.MAX_INSTANCES || rand(2) === 0)) {
      live.splice(1 + rand(live.length - 1), 1)[0].detach();
    } else {
      const b = createSimulatorSync(shared.module, { memory: shared.memory });
      live.push(b);
      const scratch = new Set(live.map((s) => s.core.sim_scratch()));
      if (scratch.size !== live.length) assert.unreachable(`attach ${i}: ${live.length} live instances on ${scratch.size} scratch blocks`);
      const p = rand(64);
      if (b.openGmem(g.handle).folio(p).pfn !== pfns[p] || g.folio(p).pfn !== pfns[p]) assert.unreachable(`attach ${i}: a wrong frame`);
    }
  }
  for (const s of live.slice(1)) s.detach();
});

test("attach: with every block taken the next attach is ENOSPC; a detach frees one", () => {
  const a = createSimulatorSync();
  const shared = a.share();
  const more: Simulator[] = [];
  for (let i = 1; i < layout.MAX_INSTANCES; i++) more.push(createSimulatorSync(shared.module, { memory: shared.memory }));
  let code: string | undefined;
  try { createSimulatorSync(shared.module, { memory: shared.memory }); } catch (e) { code = (e as { code?: string }).code; }
  assert.is(code, "ENOSPC");
  more.pop()!.detach();
  const again = createSimulatorSync(shared.module, { memory: shared.memory });
  assert.ok(again.instanceId >= 0);
  again.detach();
  for (const s of more) s.detach();
  a.createBitmap(8); // the first instance still works
});

test(`attach: workers attaching and detaching 2 x 2,500 times never read each other's results (${runtime})`, async () => {
  const a = createSimulatorSync();
  const { g, pfns } = populated(a);
  const job = { kind: "attach-churn", gmem: g.handle, pfns, rounds: 2500 };
  const runs = [spawnWorker<{ wrong: number; enospc: number }>(a.share(), job), spawnWorker<{ wrong: number; enospc: number }>(a.share(), job)];
  let wrong = 0, asked = 0, done = false;
  void Promise.all(runs).finally(() => { done = true; });
  while (!done) {
    for (let k = 0; k < 64; k++, asked++) if (g.folio(k).pfn !== pfns[k]) wrong++;
    await new Promise((r) => setTimeout(r, 0));
  }
  const results = await Promise.all(runs);
  assert.equal(results.map((r) => r.wrong), [0, 0], "the workers read their own results");
  assert.is(wrong, 0, `the page's thread read its own results (${asked} queries)`);
});

test.run();
