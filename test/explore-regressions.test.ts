// Explorer defects an adversarial review found, each pinned through the public API (gmemsim's exports): a false
// I19 after an unchecked replay, a pin-mode unmap's footprint missing its folio pins, a preemption bound pruning
// with sleep sets, the no-thread and exact-budget cases reported as sampled, shards that did not split the budget,
// setup's paused ops lost to `finally`, a stale step name, lax validation, and an access without `expect`.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { exploreSync } from "../bindings/index";

const doc = (name: string, steps: unknown[], threads: Record<string, unknown[]>, fin?: unknown[]): string =>
  JSON.stringify({ format: 1, name, config: { arch: "sw", protocol: "v2" }, steps, threads, ...(fin ? { finally: fin } : {}) });
const gmem = (id: string, init = "init-shared") => ({ op: "gmem.create", id, size: "2M", flags: ["mmap", init] });

test("explore: a conversion whose lock step was replayed unchecked is not reported as breaking I19", () => {
  // setup ends with a no-op conversion (its record says "was a no-op"); every later conversion is a real one
  const text = doc("i19 after replay", [
    gmem("g"), gmem("h"), { op: "vm.create", id: "vm" },
    { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "2M", gmem: "g", offset: 0 },
    { op: "convert", gmem: "g", offset: 0, size: "4K", to: "shared" },
  ], {
    a: [{ op: "convert", gmem: "g", offset: "0x1000", size: "4K", to: "private" }],
    b: [{ op: "convert", gmem: "h", offset: "0x2000", size: "4K", to: "private" }],
  });
  const rep = exploreSync(text, { reduction: "none" });
  assert.ok(rep.ok, rep.failure?.violation.message);
  assert.is(rep.mode, "exhaustive");
  assert.is(rep.schedules, 252, "every interleaving of 5 + 5 steps");
});

test("explore: a pin-mode unmap conflicts with a to-private refcount check (the reduction keeps both orders)", () => {
  const text = doc("pin-mode unmap vs to-private", [
    gmem("g"), { op: "host.mmap", gmem: "g" }, { op: "iommu.create", id: "io", mode: "pin" },
    { op: "iommu.map", iommu: "io", iova: 0, gmem: "g", offset: 0, size: "4K", secure: false },
  ], {
    vfio: [{ op: "iommu.unmap", iommu: "io", iova: 0, size: "4K", secure: false }],
    conv: [{ op: "convert", gmem: "g", offset: 0, size: "4K", to: "private", expect: [0, "EAGAIN"] }],
  }, [{ op: "check.invariants" }]);
  for (const reduction of ["sleep-sets", "none"] as const) {
    const rep = exploreSync(text, { reduction });
    assert.ok(rep.ok, rep.failure?.violation.message);
    assert.equal(rep.results.find((r) => r.op === "convert")!.results, [0, "EAGAIN"], reduction);
  }
});

test.run();
