// Work a test hands to a worker attached to the same simulator memory. Runs in Node workers and Web Workers.
import { createSimulatorSync, type SharedSimulator } from "../../bindings/index";
import { mixedOps, convertLoop, type MixedJob, type LoopJob } from "./stress";

export type Job =
  | { kind: "info" }
  | { kind: "bitmap-assign"; handle: number; ranges: [number, number, boolean][] }
  | { kind: "bitmap-read"; handle: number; indices: number[] }
  | { kind: "pt-map"; handle: number; gfns: number[]; pfnBase: number }
  | { kind: "gmem-split"; handle: number; index: number }
  | { kind: "hammer"; handle: number; start: number; end: number; rounds: number }
  | { kind: "convert-loop"; gmem: number; offset: number; size: number; ms: number }
  | { kind: "convert-rounds"; gmem: number; pages: number; rounds: number }
  | { kind: "attach-churn"; gmem: number; pfns: number[]; rounds: number }
  | { kind: "freeze-and-hang" }
  | MixedJob
  | LoopJob;

/** Run `job` on a new instance attached to the shared memory; `post` sends progress to the parent (first: attached). */
export function runJob(shared: SharedSimulator, job: Job, post: (m: unknown) => void = () => {}): unknown {
  const sim = createSimulatorSync(shared.module, { memory: shared.memory, debug: shared.flavor === "debug" });
  post({ attached: sim.instanceId });
  try { return jobOn(sim, job, post, shared); } finally { if (!sim.failure) sim.detach(); }
}

function jobOn(sim: ReturnType<typeof createSimulatorSync>, job: Job, post: (m: unknown) => void, shared: SharedSimulator): unknown {
  switch (job.kind) {
    case "mixed": return mixedOps(sim, job);
    case "loop-convert": return convertLoop(sim, job, post);
    case "info":
      return { instanceId: sim.instanceId, stats: sim.memoryStats() };
    case "convert-rounds": {
      // pages 0 .. pages-1 of an init-private gmem to shared, then all back, `rounds` times: a known order of
      // conversions, each a real one (event-ring-threads.test.ts checks the readers see them in it)
      const g = sim.openGmem(job.gmem);
      for (let r = 0; r < job.rounds; r++) for (let p = 0; p < job.pages; p++) g.convert(p * 4096, 4096, r % 2 ? "private" : "shared");
      return { conversions: job.rounds * job.pages };
    }
    case "freeze-and-hang": {
      // stop the world (as a snapshot does) and never let go: the parent terminates this worker
      if (sim.core.sim_freeze() !== 0) throw new Error("sim_freeze failed");
      post({ frozen: true });
      for (;;) { /* hang */ }
    }
    case "attach-churn": {
      // attach a further instance, ask it for folios whose frames are known, detach it; over and over. An instance
      // reading another's out-values (a shared scratch block) shows as a wrong frame, here or in the parent.
      let wrong = 0, enospc = 0;
      for (let r = 0; r < job.rounds; r++) {
        let b: ReturnType<typeof createSimulatorSync>;
        try { b = createSimulatorSync(shared.module, { memory: shared.memory, debug: shared.flavor === "debug" }); }
        catch (e) { if ((e as { code?: string }).code === "ENOSPC") { enospc++; continue; } throw e; }
        const g = b.openGmem(job.gmem);
        for (let k = 0; k < 4; k++) {
          const i = (r * 7 + k * 13) % job.pfns.length;
          if (g.folio(i).pfn !== job.pfns[i]) wrong++;
        }
        b.detach();
      }
      return { wrong, enospc };
    }
    case "bitmap-assign": {
      const bm = sim.openBitmap(job.handle);
      for (const [s, e, v] of job.ranges) bm.assign(s, e, v);
      return { shared: bm.countShared() };
    }
    case "bitmap-read": {
      const bm = sim.openBitmap(job.handle);
      return job.indices.map((i) => bm.test(i));
    }
    case "pt-map": {
      const pt = sim.openPageTable(job.handle);
      for (let i = 0; i < job.gfns.length; i++) pt.map(job.gfns[i], job.pfnBase + i, 1);
      return { leaves: pt.leaves() };
    }
    case "gmem-split": {
      const g = sim.openGmem(job.handle);
      g.splitFolio(job.index);
      return g.folio(job.index);
    }
    case "hammer": {
      // flip a private range back and forth; the simulator lock keeps every round atomic
      const bm = sim.openBitmap(job.handle);
      for (let r = 0; r < job.rounds; r++) {
        bm.assign(job.start, job.end, true);
        bm.assign(job.start, job.end, false);
      }
      bm.assign(job.start, job.end, true);
      return { instanceId: sim.instanceId };
    }
    case "convert-loop": {
      // convert one range to shared and back for `ms` milliseconds: every conversion is one step under the lock
      const g = sim.openGmem(job.gmem);
      const until = Date.now() + job.ms;
      let rounds = 0;
      while (Date.now() < until) {
        g.convert(job.offset, job.size, "shared");
        g.convert(job.offset, job.size, "private");
        rounds++;
      }
      return { rounds };
    }
  }
}
