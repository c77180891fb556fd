// The explorer (issue 11): schedules per second on the three-thread example with two ops per thread, and how many
// schedules the sleep-set reduction leaves against every interleaving the locks allow and the naive count of
// interleavings of the atomic steps. Target: >= 5,000 schedules/s on the project's 2-core machine.
import { exploreSync } from "../../bindings/explore/index";
import { median, spreadOf, type CaseFn } from "../util";
import scenario from "../../examples/race-three-threads-two-ops.json";

export const exploreSchedules: CaseFn = ({ quick, log }) => {
  const text = JSON.stringify(scenario);
  log("explore-schedules: the three-thread example with two ops per thread, depth-first with sleep sets");
  const full = exploreSync(text, { reduction: "none" });
  const rounds = quick ? 2 : 5;
  const perSec: number[] = [];
  let last = full;
  for (let r = 0; r < rounds; r++) {
    last = exploreSync(text);
    perSec.push(last.schedules / (last.ms / 1000));
  }
  const ops = Math.round(median(perSec));
  if (!last.ok || !full.ok) throw new Error(`explore-schedules: the example failed: ${(last.failure ?? full.failure)!.violation.message}`);
  return {
    name: "explore-schedules", unit: "schedules/s", what: "gmemsim explore on examples/race-three-threads-two-ops.json (TDX: 3 threads x 2 ops), exhaustive",
    opsPerSec: ops, spread: spreadOf(perSec), ratio: +(ops / 5000).toFixed(2), ratioSpread: spreadOf(perSec),
    vs: "the 5,000 schedules/s target", target: ">= 5,000 schedules/s (>= 1x the target)", met: ops >= 5000,
    extra: { schedules: last.schedules, allInterleavingsTheLocksAllow: full.schedules, naiveInterleavings: last.naive,
      reductionVsLocks: +(full.schedules / last.schedules).toFixed(2), reductionVsNaive: Math.round(last.naive / last.schedules),
      atomicSteps: last.atomicSteps, replayedSteps: last.replayedSteps, checkpointBytes: last.checkpointBytes },
  };
};
