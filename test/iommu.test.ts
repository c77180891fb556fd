// The IOMMU through the public API: pin mode vs gmem mode on the same flow, the callback's reasons, map blocking
// during a conversion, no re-entry into a conversion from inside one, and every IOMMU event kind in a trace.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, type Arch } from "../bindings/index";
import files from "gmemsim-test-scenarios";
import { parseScenario } from "../bindings/scenario/parse";
import { runScenario } from "../bindings/scenario/run";

const MiB = 2 ** 20;

function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
}

function setup(arch: Arch, mode: "pin" | "gmem") {
  const sim = createSimulatorSync(undefined, { arch, checks: true });
  const g = sim.createGmem(4 * MiB, ["mmap", "hugetlb-2M"]); // v2: starts shared
  const vm = sim.createVm();
  vm.bind(0, 0, 4 * MiB, g, 0);
  const io = sim.createIommu(mode);
  g.mmap();
  if (mode === "gmem") io.bind(g);
  return { sim, g, vm, io };
}

test("iommu: pin mode blocks a to-private conversion of a DMA-mapped page; gmem mode zaps it with the callback", () => {
  const pin = setup("tdx", "pin");
  pin.io.map(0, pin.g, 0x3000, 0x2000, false);
  try { pin.g.convert(0, 2 * MiB, "private"); assert.unreachable(); } catch (e) {
    assert.is((e as { code: string }).code, "EAGAIN");
    assert.is((e as { errorOffset: number }).errorOffset, 0x3000);
  }
  assert.is(pin.g.countShared(0, 512), 512, "nothing changed");
  pin.io.unmap(0, 0x2000, false);           // QEMU's order: unmap DMA before to-private
  pin.g.convert(0, 2 * MiB, "private");

  const gm = setup("tdx", "gmem");
  gm.io.map(0, gm.g, 0x3000, 0x2000, false);
  gm.sim.events.read();
  gm.g.convert(0, 2 * MiB, "private");      // no EAGAIN: the IOMMU holds no references
  const ev = gm.sim.events.read().events;
  const cb = ev.find((e) => e.kind === "iommu.invalidate");
  assert.ok(cb, "the callback ran");
  assert.is(cb!.reason, "to-private");
  assert.is(cb!.secure, false);
  assert.is(cb!.count, 2);
  assert.is(gm.io.iopte(0, false), null);
  assert.is(gm.io.dma(0, false).result, "io-fault");
  gm.sim.checkInvariants();
});

test("iommu: maps of a range being converted wait (EAGAIN); a conversion cannot be re-entered from inside one", () => {
  const { sim, g, io } = setup("sw", "gmem");
  const p = g.convert(0, 4096, "private", { pause: "after-invalidate-begin" });
  assert.ok(p, "paused inside the conversion, holding its locks");
  assert.is(code(() => io.map(0, g, 0, 4096, false)), "EAGAIN", "IOMMU page-table updates are blocked");
  assert.is(code(() => g.convert(0x1000, 4096, "private")), "EBUSY", "a second conversion would block on the lock");
  assert.is(code(() => g.punch(0, 4096)), "EBUSY");
  sim.resume(p!);
  io.map(0, g, 0, 4096, true);               // after the conversion: the secure map of the now private page
  assert.equal(io.iopte(0, true)?.level, "4K");
  sim.checkInvariants();
});

test("iommu: truncate revokes the whole overlapping area; unbind revokes everything", () => {
  const { sim, g, io } = setup("sw", "gmem");
  g.convert(0, 4 * MiB, "private");
  io.map(0, g, 0, 4 * MiB, true);
  io.map(8 * MiB, g, 0, 2 * MiB, true);     // a second area over the same pages
  sim.events.read();
  g.punch(0x1000, 0x1000);
  const ev = sim.events.read().events.filter((e) => e.kind === "iommu.invalidate");
  assert.ok(ev.some((e) => e.reason === "truncate"));
  assert.is(io.iopte(3 * MiB, true), null, "the whole area went, not just the hole");
  assert.is(io.info().areas, 0);
  io.map(0, g, 0, 2 * MiB, true);
  io.unbind();
  assert.is(io.info().areas, 0);
  sim.checkInvariants();
});

test("iommu: SNP keeps both kinds of entries; RMPUPDATE flushes the IOTLB", () => {
  const { sim, g, vm, io } = setup("snp", "gmem");
  g.convert(0, 2 * MiB, "private");
  vm.access(0x5000, { private: true });       // RMP-assigns the page (prepare)
  io.map(0, g, 0, 4 * MiB, true);             // map everything once: no access check on SNP
  const before = io.info().iotlbFlushes;
  g.convert(0x5000, 4096, "shared");
  assert.ok(io.info().iotlbFlushes > before, "the RMPUPDATE flushed the IOTLB");
  assert.is(io.dma(0x5000, true).result, "io-fault", "a secure access to the now shared page is an RMP fault");
  assert.is(io.dma(0x6000, true).result, "ok", "the rest of the mapping stays");
  sim.checkInvariants();
});

test("iommu: every IOMMU event kind of SCENARIOS.md appears in the example traces", () => {
  const kinds = new Set<string>();
  for (const name of Object.keys(files).filter((n) => n.startsWith("examples/"))) {
    const rep = runScenario(parseScenario(files[name]));
    assert.ok(rep.ok, name);
    for (const s of rep.steps) for (const e of s.events) kinds.add(e.kind);
  }
  for (const k of ["iommu.invalidate_begin", "iommu.invalidate_end", "iommu.invalidate", "iommu.iotlb_flush",
    "iommu.map", "iommu.unmap"]) assert.ok(kinds.has(k), k);
  // and every other format-1 kind
  for (const k of ["gmem.lock", "gmem.unlock", "kvm.invalidate_begin", "kvm.invalidate_end", "kvm.zap", "kvm.tlb_flush",
    "host.unmap", "gmem.refcount_check", "gmem.set_attr", "folio.split", "folio.merge", "convert.rollback",
    "arch.rmpupdate", "arch.psmash", "arch.sept_remove", "arch.sept_demote", "guest.fault", "guest.retry",
    "guest.memory_fault_exit"]) assert.ok(kinds.has(k), k);
});

test.run();
