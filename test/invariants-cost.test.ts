// The invariant checker's cost is linear in the state's size (assembly/check/state.ts): each table is walked once,
// an IO entry's area comes from a cursor that passes each area once, an entry on a truncated pinned frame finds its
// orphan through the inode's pfn index. checkInvariants() reports what it visited; these tests count that work
// (never time it) and check that the answers stay right with many areas. bench/cases/check.ts times it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, type Simulator } from "../bindings/index";

const K = 4096, M = 2 ** 20;

/** A pin-mode IOMMU mapping `bytes` of a shared gmem in `areas` equal areas; the number of entries. */
function pinned(sim: Simulator, bytes: number, areas: number) {
  const g = sim.createGmem(bytes, ["mmap", "init-shared"]);
  g.mmap();
  const io = sim.createIommu("pin");
  const per = bytes / areas;
  for (let a = 0; a < areas; a++) io.map(a * per, g, a * per, per, false);
  return { g, io, entries: bytes / K };
}

test("check cost: 1 area or 1,024 over the same entries, each entry checked once, each area passed once", () => {
  const costs = [1, 1024].map((areas) => {
    const sim = createSimulatorSync(undefined, { checks: false });
    const { io, entries } = pinned(sim, 64 * M, areas);
    assert.is(io.info().areas, areas);
    const cost = sim.checkInvariants();
    assert.is(cost.leaves, entries, "every IO entry once");
    assert.ok(cost.areas < areas, `the cursor passed ${cost.areas} of ${areas} areas`);
    return cost;
  });
  assert.is(costs[1].leaves, costs[0].leaves, "more areas: not one entry more to check");
  assert.ok(costs[1].leaves + costs[1].areas <= costs[0].leaves + 1024, "the areas add their number, never entries x areas");
});

test("check cost: 1,024 areas in both tables, with gaps, 4K and 2M entries, check right", () => {
  const sim = createSimulatorSync(undefined, { checks: false });
  const g = sim.createGmem(16 * M, ["mmap", "init-shared", "hugetlb-2M"]);
  g.convert(8 * M, 8 * M, "private");
  g.mmap();
  const io = sim.createIommu("gmem");
  io.bind(g);
  // 512 one-page areas with one-page gaps over the shared half (non-secure), 512 in the private half (secure),
  // at interleaved iovas so each table's areas sit between the other's
  for (let i = 0; i < 512; i++) {
    io.map(2 * i * K, g, 2 * i * K, K, false);
    io.map((2 * i + 1) * K, g, 8 * M + 2 * i * K, K, true);
  }
  io.map(64 * M, g, 6 * M, 2 * M, false); // a 2 MiB area of huge entries above them
  const info = io.info();
  assert.is(info.areas, 1025);
  const cost = sim.checkInvariants();
  assert.is(cost.leaves, info.secureLeaves + info.nonSecureLeaves, "every entry of both tables once");
  assert.ok(cost.areas <= 1025, `${cost.areas} area steps`);
  // a violation in the 300th area is still found at its iova: a shared page made private under a non-secure
  // entry (the invalidation callback switched off)
  sim.setSafeguardsOff(["iommu-callback"]);
  g.convert(600 * K, K, "private");
  let got: { invariants?: string[]; where?: number } = {};
  try { sim.checkInvariants(); } catch (e) { got = e as typeof got; }
  assert.ok(got.invariants?.includes("I7"), `I7 reported (${JSON.stringify(got.invariants)})`);
  assert.is(got.where, 600, "at the entry's iova page");
});

test("check cost: pin-mode entries on truncated frames find their orphans in one lookup each", () => {
  for (const mib of [8, 32]) {
    const sim = createSimulatorSync(undefined, { checks: false });
    const { g, entries } = pinned(sim, mib * M, 1);
    g.punch(0, mib * M); // every page leaves the file; the IOMMU's pins keep the frames (orphans)
    const cost = sim.checkInvariants();
    assert.is(cost.leaves, entries);
    assert.is(cost.orphans, entries, "one lookup per entry, not one scan of every orphan");
  }
});

test("check cost: the checker still finds an entry whose orphan is gone", () => {
  // after unmapping half, the pins of that half are dropped, their orphans freed; the other half checks clean
  const sim = createSimulatorSync(undefined, { checks: false });
  const { g, io } = pinned(sim, 4 * M, 1024);
  g.punch(0, 4 * M);
  io.unmap(0, 2 * M, false);
  const cost = sim.checkInvariants();
  assert.is(cost.leaves, 512);
  assert.is(cost.orphans, 512);
  assert.is(io.dma(3 * M, false).result, "ok");
});

test.run();
