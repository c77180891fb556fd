// Shared by the errno-*.test.ts files: invalid inputs, table-driven in the style of the kernel selftest
// guest_memfd_test.c: every row is one call through the public API with the errno the kernel gives
// (KERNEL-PROTOCOL.md 1.2, 1.6, 2.1, 2.3, 2.5 and the IOMMU rules of SCENARIOS.md). After every failing row the
// invariants hold and the observable state (attributes, folios, SPTEs, IOPTEs, pins, live objects) is exactly what
// it was before the call.
import * as assert from "uvu/assert";
import {
  createSimulatorSync, GmemError, type Simulator, type Gmem, type Vm, type Iommu,
} from "../../bindings/index";

export const K = 1024, M = 2 ** 20, G = 2 ** 30;

/** One call and what it must give: an errno name, or "0" for success. */
export interface Row { name: string; call: () => unknown; code: string }

/** "0" when the call returns, the GmemError's code when it throws one; anything else is a test failure. */
export function outcome(call: () => unknown): string {
  try {
    call();
    return "0";
  } catch (e) {
    if (e instanceof GmemError && typeof e.code === "string" && e.code !== "") return e.code;
    throw new Error(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} instead of a GmemError`);
  }
}

/**
 * Run the rows in order. A row passes when the call gives its code; a failing row must also leave the
 * invariants intact and `state()` equal to what it was before the call.
 */
export function runTable(sim: Simulator, title: string, rows: Row[], state: () => unknown): void {
  assert.ok(rows.length > 0, `${title}: empty table`);
  for (const row of rows) {
    const before = state();
    const got = outcome(row.call);
    assert.is(got, row.code, `${title}: ${row.name}: expected ${row.code}, got ${got}`);
    if (row.code !== "0") {
      sim.checkInvariants();
      assert.equal(state(), before, `${title}: ${row.name}: the failed call changed the state`);
    }
  }
}

/** The debug core with the after-every-step checker on (a broken invariant throws InvariantError). */
export function newSim(opts: { arch?: "sw" | "tdx" | "snp"; protocol?: "v2" | "v4" } = {}): Simulator {
  return createSimulatorSync(undefined, { debug: true, checks: true, ...opts });
}

export function memState(sim: Simulator) {
  const m = sim.memoryStats();
  return { live: m.liveObjects, pfnSmall: m.pfnSmall, pfn2M: m.pfn2M, pfn1G: m.pfn1G };
}

export function gmemState(g: Gmem, sample: number[] = [0]) {
  return {
    shared: g.countShared(), populated: g.populated, runs: g.runs(),
    folios: sample.filter((i) => i < g.npages).map((i) => g.folio(i)),
  };
}

export function vmState(vm: Vm) {
  return { info: vm.info(), priv: vm.leaves("private"), shared: vm.leaves("shared") };
}

export function ioState(io: Iommu) {
  return io.info();
}
