// Queries that read several words (Gmem.check(), Simulator.checkInvariants()) while another thread converts: they
// stop the world for their read (a control-plane call, assembly/api/bracket.ts), so they see the state between two
// steps, never half of one. A page's main thread may not wait for the world to stop: it gets EBUSY, never a false
// violation.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync } from "../bindings/index";
import { startWorker, runtime } from "gmemsim-test-env";

const MiB = 2 ** 20;

test(`queries: checks during a worker's split/merge conversions report no false violation (${runtime})`, async () => {
  const sim = createSimulatorSync();
  const g = sim.createGmem(4 * MiB, ["mmap", "init-private", "hugetlb-2M"]);
  const w = startWorker<{ rounds: number }>(sim.share(), { kind: "convert-loop", gmem: g.handle, offset: 4096, size: 4096, ms: 1500 });
  await w.first;
  let clean = 0, busy = 0;
  const false_: string[] = [];
  let finished = false;
  void w.done.finally(() => { finished = true; });
  while (!finished) {
    for (let k = 0; k < 20; k++) {
      try { g.check(); sim.checkInvariants(); clean++; }
      catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "EBUSY") busy++;
        else false_.push(`${code}: ${(e as Error).message}`);
      }
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  const { rounds } = await w.done;
  assert.ok(rounds > 100, `the worker converted (${rounds} round trips)`);
  assert.equal(false_.slice(0, 3), [], `false violations in ${clean + busy + false_.length} checks`);
  assert.ok(clean > 20, `checks ran between the worker's steps (${clean} clean, ${busy} EBUSY)`);
});

test.run();
