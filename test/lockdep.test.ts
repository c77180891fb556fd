// The debug core's lock-order check (mm/sync.ts, lockdep): every lock a step takes must come after the ones it holds
// (class, then address). Taking kvm->mmu_lock and then a guest_memfd's invalidate_lock is the inversion the kernel
// forbids (kvm_gmem_invalidate_begin takes them the other way): the core reports both locks and traps, the binding
// names them, and the simulator answers ENOTRECOVERABLE from then on. The release core has no such check.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync } from "../bindings/index";
import "../bindings/debug";

const MiB = 2 ** 20;

function setup(debug: boolean) {
  const sim = createSimulatorSync({ debug });
  const g = sim.createGmem(2 * MiB, ["mmap"]);
  const vm = sim.createVm();
  vm.bind(0, 0, 2 * MiB, g, 0);
  return { sim, g, vm };
}

test("lockdep: invalidate_lock then mmu_lock is the order; the model keeps working", () => {
  const { sim, g, vm } = setup(true);
  sim.debugLockOrder(vm, g);
  g.convert(0, 4096, "shared");
  assert.is(g.test(0), true);
});

test("lockdep: mmu_lock then invalidate_lock names both locks and fails the simulator", () => {
  const { sim, g, vm } = setup(true);
  let err: (Error & { code?: string }) | undefined;
  try { sim.debugLockOrder(vm, g, true); } catch (e) { err = e as Error & { code?: string }; }
  assert.ok(err, "the inversion was refused");
  assert.is(err!.code, "ENOTRECOVERABLE");
  assert.match(err!.message, /acquires filemap invalidate_lock @0x[0-9a-f]+ while holding kvm->mmu_lock @0x[0-9a-f]+/);
  assert.match(err!.message, /filemap invalidate_lock < kvm->mmu_lock < IOMMU domain lock/);
  let later: (Error & { code?: string }) | undefined;
  try { g.convert(0, 4096, "shared"); } catch (e) { later = e as Error & { code?: string }; }
  assert.is(later?.code, "ENOTRECOVERABLE", "every later call fails clearly, none hangs");
});

test("lockdep: the release core has no lock-order check (EOPNOTSUPP); bad handles are refused", () => {
  const { sim, g, vm } = setup(false);
  let code: string | undefined;
  try { sim.debugLockOrder(vm, g, true); } catch (e) { code = (e as { code?: string }).code; }
  assert.is(code, "EOPNOTSUPP");
  const d = setup(true);
  try { d.sim.debugLockOrder(vm, d.g); code = undefined; } catch (e) { code = (e as { code?: string }).code; }
  assert.is(code, "EINVAL", "a VM of another simulator");
});

test.run();
