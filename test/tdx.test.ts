// TDX S-EPT rules through the API: AUG leaves a PENDING leaf the guest's ACCEPT makes MAPPED; removal is
// BLOCK -> TRACK -> REMOVE and clears the page; a partial zap of a huge leaf demotes first; no re-promotion
// after a 4 KiB round trip; a removal failure kills the VM and leaks the page.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync } from "../bindings/index";

const MiB = 2 ** 20;

function tdx() {
  const sim = createSimulatorSync(undefined, { arch: "tdx", checks: true });
  const g = sim.createGmem(4 * MiB, ["mmap", "init-private", "hugetlb-2M"]);
  const vm = sim.createVm();
  vm.bind(0, 0, 4 * MiB, g, 0);
  return { sim, g, vm };
}

test("tdx: AUG then ACCEPT, and the leaf is MAPPED between ops", () => {
  const { sim, vm } = tdx();
  sim.events.read();
  assert.equal(vm.access(0x3000, { private: true, write: 9 }), { result: "mapped", level: "2M", value: 0 });
  const kinds = sim.events.read().events.map((e) => e.kind);
  assert.ok(kinds.indexOf("arch.sept_aug") < kinds.indexOf("arch.sept_accept"), kinds.join(","));
  assert.equal(vm.spte(0x3000, "private")?.state, "mapped");
});

test("tdx: a 4 KiB to-shared inside a 2 MiB leaf: BLOCK -> TRACK -> DEMOTE, then BLOCK -> TRACK -> REMOVE of that page only, cleared", () => {
  const { sim, g, vm } = tdx();
  vm.access(0x3000, { private: true, write: 9 });
  vm.access(0x4000, { private: true, write: 8 });
  sim.events.read();
  g.convert(0x3000, 4096, "shared");
  const ev = sim.events.read().events.filter((e) => e.kind.startsWith("arch.sept") || e.kind === "kvm.zap");
  assert.equal(ev.map((e) => e.kind), ["arch.sept_block", "arch.sept_track", "arch.sept_demote", // the split
    "arch.sept_block", "arch.sept_track", "arch.sept_remove", "kvm.zap"]); //                  the removal
  assert.is(ev[0].level, "2M");
  assert.is(ev[2].level, "2M");
  assert.is(ev[3].gfn, 3);
  assert.is(ev[5].level, "4K");
  assert.equal(vm.spte(0x4000, "private")?.level, "4K", "the rest of the block stays mapped, demoted");
  g.mmap();
  assert.equal(g.hostAccess(0x3000), { result: "ok", value: 0 }, "tdx_clear_page: the host reads zeros");
  assert.equal((vm.access(0x4000, { private: true }) as { value?: number }).value, 8);
});

test("tdx: after a 4 KiB round trip the block never maps at 2 MiB again", () => {
  const { g, vm } = tdx();
  vm.access(0x3000, { private: true });
  g.convert(0x3000, 4096, "shared");
  g.convert(0x3000, 4096, "private");
  assert.is(g.folio(0).state, "huge", "the folio merged back");
  g.punch(0, 2 * MiB); // drop every leaf of the block
  assert.equal(vm.access(0x5000, { private: true }), { result: "mapped", level: "4K", value: 0 });
});

test("tdx: an S-EPT removal failure kills the VM and leaks the page; the conversion completes", () => {
  const { sim, g, vm } = tdx();
  vm.access(0x3000, { private: true });
  sim.inject("sept-remove-fail");
  g.convert(0x3000, 4096, "shared");
  assert.is(g.test(3), true);
  assert.ok(sim.leakedPages() >= 1);
  try { vm.access(0x4000, { private: true }); assert.unreachable(); } catch (e) { assert.is((e as { code: string }).code, "EIO"); }
  sim.checkInvariants();
});

test.run();
