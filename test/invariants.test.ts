// Every invariant of KERNEL-PROTOCOL.md section 6 the checker knows is broken on purpose (debug core hooks) and
// must be named: the state invariants by sim.debugCorrupt + check.invariants, the runtime ones (post-conditions
// and install-time checks) by sim.debugHook + the op that trips them.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, InvariantError, type Simulator, type Arch } from "../bindings/index";


function sim(arch: Arch = "sw"): Simulator {
  return createSimulatorSync(undefined, { debug: true, checks: true, arch });
}

function named(fn: () => unknown): string {
  try { fn(); } catch (e) {
    if (e instanceof InvariantError) return e.invariant;
    throw e;
  }
  return "none";
}

/** A VM with one slot over a fresh gmem; the guest touched page `touch` privately. */
function setup(s: Simulator, flags: ("mmap" | "init-private" | "init-shared" | "hugetlb-2M")[], size = 4 * 2 ** 20) {
  const g = s.createGmem(size, flags);
  const vm = s.createVm();
  vm.bind(0, 0, size, g, 0);
  return { g, vm };
}

test("invariants: a clean model passes, and so does every step of a busy one", () => {
  const s = sim();
  const { g, vm } = setup(s, ["mmap", "init-private", "hugetlb-2M"]);
  vm.access(0x1000, { private: true, write: 5 });
  g.convert(0x1000, 4096, "shared");
  g.mmap();
  g.hostAccess(0x1000, { write: 9 });
  g.convert(0x1000, 4096, "private");
  s.checkInvariants();
});

const stateCases: [string, Arch, (s: Simulator) => void][] = [
  ["I1", "sw", (s) => { const { g } = setup(s, ["mmap", "init-private"]); s.debugCorrupt("I1", g, 77); }],
  ["I2", "sw", (s) => { const { g, vm } = setup(s, ["mmap", "init-private", "hugetlb-2M"]); vm.access(0, { private: true }); s.debugCorrupt("I2", g, 0); }],
  ["I3", "sw", (s) => { const { g, vm } = setup(s, ["mmap", "init-private", "hugetlb-2M"]); vm.access(0, { private: true }); s.debugCorrupt("I3", g, 88); }],
  ["I4", "sw", (s) => { const { g, vm } = setup(s, ["mmap", "init-private", "hugetlb-2M"]); vm.access(0, { private: true }); s.debugCorrupt("I4", g, 0); }],
  ["I5", "sw", (s) => { const { g, vm } = setup(s, ["mmap", "init-private", "hugetlb-2M"]); vm.access(0, { private: true }); s.debugCorrupt("I5", g, 0); }],
  ["I6", "sw", (s) => { const { g, vm } = setup(s, ["mmap", "init-private"]); vm.access(0x3000, { private: true }); s.debugCorrupt("I6", g, 3); }],
  ["I7", "tdx", (s) => { const { vm } = setup(s, ["mmap", "init-private"]); vm.access(0x2000, { private: true }); s.debugCorrupt("I7", vm, 2); }],
  ["I8", "sw", (s) => { const { vm } = setup(s, ["mmap", "init-shared"]); vm.access(0x2000, { private: false }); s.debugCorrupt("I8", vm, 2); }],
  ["I10", "snp", (s) => { const { vm } = setup(s, ["mmap", "init-private"]); vm.access(0x2000, { private: true }); s.debugCorrupt("I10", vm, 2); }],
  ["I11", "tdx", (s) => {
    const { g, vm } = setup(s, ["mmap", "init-private", "hugetlb-2M"]);
    vm.access(0x1000, { private: true });       // 2 MiB private mapping
    g.convert(0x1000, 4096, "shared");          // demoted (and inhibited), then the 4 KiB page removed
    g.convert(0x1000, 4096, "private");         // merged back to a 2 MiB folio
    g.punch(0, 2 * 2 ** 20);                    // no leaf left in the block ...
    vm.access(0x5000, { private: true });       // ... refaulted at 4 KiB only (no re-promotion)
    vm.leaves("private");
    s.debugCorrupt("I11", vm, 0);               // a 2 MiB leaf the fault path would refuse
  }],
  ["I13", "sw", (s) => { const { vm } = setup(s, ["mmap", "init-private"]); s.debugCorrupt("I13", vm, 0); }],
  ["I14", "sw", (s) => { const { g } = setup(s, ["mmap", "init-private"]); s.debugCorrupt("I14", g, 0); }],
  ["I15", "sw", (s) => {
    const { g, vm } = setup(s, ["mmap", "init-private", "hugetlb-2M"]);
    vm.access(0, { private: true });
    g.convert(0x1000, 4096, "shared"); // the block is now 4 KiB folios ...
    g.punch(0x1000, 4096);             // (zeroes only)
    g.convert(0x1000, 4096, "private");
    vm.access(0x3000, { private: true });
    g.splitFolio(0);                   // the folio is 4 KiB again, while ...
    s.debugCorrupt("I15", vm, 0);      // ... a 2 MiB leaf claims it
  }],
  ["I16", "sw", (s) => {
    const g = s.createGmem(4 * 2 ** 20, ["mmap", "init-private", "hugetlb-2M"]);
    const vm = s.createVm();
    vm.bind(0, 0, 256 * 4096, g, 0);   // a slot of half a 2 MiB block
    vm.access(0, { private: true });
    s.debugCorrupt("I16", vm, 0);      // a 2 MiB leaf that sticks out of the slot
  }],
  ["I17", "sw", (s) => { const { g } = setup(s, ["mmap", "init-private"]); s.debugCorrupt("I17", g, 0); }],
];

for (const [inv, arch, make] of stateCases) {
  test(`invariants: ${inv} broken on purpose is named (${arch})`, () => {
    const s = sim(arch);
    s.setChecks(false);
    make(s);
    assert.is(named(() => s.checkInvariants()), inv);
  });
}

test("invariants: I9 (skip-shared-zap: a shared SPTE survives a to-private conversion)", () => {
  const s = sim();
  const { g, vm } = setup(s, ["mmap", "init-shared"]);
  vm.access(0x4000, { private: false, write: 1 });
  s.debugHook("skip-shared-zap");
  assert.is(named(() => g.convert(0x4000, 4096, "private")), "I9");
});

test("invariants: I12 (skip-retry: a stale fault installs an SPTE)", () => {
  const s = sim();
  const { g, vm } = setup(s, ["mmap", "init-private"]);
  const f = vm.access(0x6000, { private: true, pause: "after-faultin" });
  assert.ok("handle" in f);
  g.convert(0x9000, 4096, "shared"); // any invalidation moves mmu_invalidate_seq
  s.debugHook("skip-retry");
  assert.is(named(() => s.resume(f as { handle: number; kind: "access"; op: string; at: string })), "I12");
});

test("invariants: I18 (skip-rollback: a failed v2 conversion leaves attributes changed)", () => {
  const s = sim();
  const { g, vm } = setup(s, ["mmap", "init-private", "hugetlb-2M"]);
  vm.access(0, { private: true });
  s.inject("enomem-split");
  s.debugHook("skip-rollback");
  assert.is(named(() => g.convert(0x1000, 4096, "shared")), "I18");
});

test("invariants: I19 (force-work: a no-op conversion changes something)", () => {
  const s = sim();
  const { g, vm } = setup(s, ["mmap", "init-private"]);
  vm.access(0x1000, { private: true });
  s.debugHook("force-work");
  assert.is(named(() => g.convert(0, 8192, "private")), "I19");
});

test("invariants: I20 (bad-error-index: error_offset outside the range)", () => {
  const s = sim();
  const { g } = setup(s, ["mmap", "init-shared"]);
  g.mmap();
  g.hostAccess(0x2000);
  g.pin(0x2000, 4096);
  s.debugHook("bad-error-index");
  assert.is(named(() => g.convert(0, 4 * 4096, "private")), "I20");
});

test("invariants: without the hooks the same flows pass", () => {
  const s = sim();
  const { g, vm } = setup(s, ["mmap", "init-private", "hugetlb-2M"]);
  vm.access(0, { private: true });
  s.inject("enomem-split");
  try { g.convert(0x1000, 4096, "shared"); assert.unreachable(); } catch (e) { assert.is((e as { code: string }).code, "ENOMEM"); }
  g.convert(0x1000, 4096, "shared");
  g.convert(0, 8192 * 0 + 4096, "private");
  s.checkInvariants();
});

test.run();
