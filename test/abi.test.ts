// One ABI source: the binding's name tables are derived from assembly/abi/*.ts. These tests hold the derived tables
// to the public contract (the lists of SCENARIOS.md, written out here as the contract states them) and to the
// running core (what it emits and where it pauses), so a renamed or renumbered constant fails here first.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { abi, layout, createSimulatorSync } from "../bindings/index";
import { eventFields } from "../bindings/events";
import { ARCHES, GMEM_FLAGS, FAULTS, IOMMU_MODES, SAFEGUARDS, CONVERT_MODES, ERRNOS, GUEST_ACCESS_RESULTS,
  HOST_ACCESS_RESULTS, DMA_RESULTS } from "../bindings/scenario/types";

// ---- SCENARIOS.md, "File" and "Ops (format 1)" -------------------------------------------------------------------
test("abi: the contract's value lists, in the contract's order", () => {
  assert.equal([...ARCHES], ["sw", "tdx", "snp"]);
  assert.equal([...GMEM_FLAGS], ["mmap", "init-shared", "init-private", "hugetlb-2M", "hugetlb-1G"]);
  assert.equal([...FAULTS], ["enomem-split", "enomem-store", "transient-ref", "sept-remove-fail"]);
  assert.equal([...IOMMU_MODES], ["pin", "gmem"]);
  assert.equal([...CONVERT_MODES], ["zero", "preserve"]);
  // the contract's five, in its table's order; the model's finer switches follow
  assert.equal(SAFEGUARDS.slice(0, 5), ["kvm-retry", "iommu-block", "iommu-callback", "refcount-check", "host-unmap"]);
});

test("abi: every errno and result the contract names exists", () => {
  for (const e of ["EINVAL", "EAGAIN", "ENOMEM", "EACCES", "EEXIST", "EFAULT", "EBADF", "ENOTTY", "EOPNOTSUPP", "EBUSY",
    "ENOENT", "ENODEV"]) assert.ok(ERRNOS.includes(e), e);
  for (const r of ["mapped", "memory-fault", "hwpoison"]) assert.ok(GUEST_ACCESS_RESULTS.includes(r as never), r);
  for (const r of ["ok", "SIGBUS"]) assert.ok(HOST_ACCESS_RESULTS.includes(r as never), r);
  assert.equal([...DMA_RESULTS], ["ok", "io-fault", "machine-check"]);
  for (const r of ["to-private", "to-shared", "truncate", "unbind"]) assert.ok(abi.REASON_NAMES.includes(r), r);
});

test("abi: errno numbers are Linux's", () => {
  const linux: Record<string, number> = { EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13,
    EFAULT: 14, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, ENOTTY: 25, ENOSPC: 28, EOPNOTSUPP: 95, ETIMEDOUT: 110,
    EOWNERDEAD: 130, EHWPOISON: 133 };
  for (const [k, v] of Object.entries(linux)) assert.is(abi.ERRNO[k], v, k);
  assert.is(abi.ERRNO_NAMES[22], "EINVAL");
});

// ---- SCENARIOS.md, "Event kinds (format 1)": kind -> fields -----------------------------------------------------
const CONTRACT_EVENTS: Record<string, string[]> = {
  "gmem.lock": ["gmem", "shared"], "gmem.unlock": ["gmem", "shared"],
  "kvm.invalidate_begin": ["vm", "start", "end"], "kvm.invalidate_end": ["vm", "start", "end"],
  "kvm.zap": ["vm", "table", "start", "end", "count"], "kvm.tlb_flush": ["vm"],
  "host.unmap": ["gmem", "start", "end", "count"], "gmem.refcount_check": ["gmem", "ok", "index"],
  "iommu.invalidate_begin": ["iommu", "start", "end"], "iommu.invalidate_end": ["iommu", "start", "end"],
  "iommu.invalidate": ["iommu", "reason", "secure", "start", "end", "count"], "iommu.iotlb_flush": ["iommu"],
  "iommu.map": ["iommu", "secure", "start", "end", "level"], "iommu.unmap": ["iommu", "secure", "start", "end", "level"],
  "gmem.set_attr": ["gmem", "start", "end", "to"],
  "folio.split": ["gmem", "index", "from", "to"], "folio.merge": ["gmem", "index", "from", "to"],
  "convert.rollback": ["gmem", "start", "end"],
  "arch.rmpupdate": ["pfn", "level", "private"], "arch.psmash": ["pfn", "level", "private"],
  "arch.sept_remove": ["vm", "gfn", "level"], "arch.sept_demote": ["vm", "gfn", "level"],
  "guest.fault": ["vm", "gfn", "private"], "guest.retry": ["vm", "gfn", "private"],
  "guest.memory_fault_exit": ["vm", "gfn", "private"],
};

test("abi: every contract event kind exists with at least its contract fields", () => {
  for (const [kind, fields] of Object.entries(CONTRACT_EVENTS)) {
    assert.ok(abi.EVENT_NAMES.includes(kind), kind);
    const have = eventFields(kind);
    for (const f of fields) assert.ok(have.includes(f), `${kind}.${f} (has ${have.join(", ")})`);
  }
  assert.equal(eventFields("no.such"), []);
});

test("abi: every event kind has a layout and its fields have names", () => {
  abi.EVENT_NAMES.forEach((name, k) => {
    if (!name) return;
    assert.type(abi.EVENT_LAYOUTS[k], "number", name);
    for (const f of eventFields(name)) {
      assert.ok(f && !f.includes("undefined"), `${name}: ${f}`);
      assert.ok(!["kind", "step", "seq"].includes(f), `${name}: field ${f} would hide the event's own ${f}`);
    }
  });
});

test("abi: the core's layout of every event kind is the binding's", () => {
  const sim = createSimulatorSync();
  abi.EVENT_NAMES.forEach((name, k) => {
    if (name) assert.is(sim.core.sim_event_layout(k) >>> 0, abi.EVENT_LAYOUTS[k] >>> 0, name);
  });
  assert.is(sim.core.sim_event_layout(0), 0);
  assert.is(sim.core.sim_event_layout(10000), 0);
});

test("abi: every `count` field is summed into <kind>.count", () => {
  const sim = createSimulatorSync({ arch: "snp" });
  const g = sim.createGmem(4 << 20, ["mmap", "init-shared"], "v2");
  const io = sim.createIommu("gmem");
  io.bind(g);
  io.map(0x10000, g, 0x4000, 0x3000, false);
  io.unmap(0x10000, 0x3000, false);
  const vm = sim.createVm();
  vm.bind(0, 0, 4 << 20, g, 0);
  g.convert(0, 0x4000, "private");
  vm.access(0, { private: true });
  g.punch(0, 2 << 20);
  const sums: Record<string, number> = {};
  for (const e of sim.events.read().events) if (typeof e.count === "number") sums[e.kind] = (sums[e.kind] ?? 0) + e.count;
  const c = sim.counters();
  for (const k of ["iommu.unmap", "folio.free", "arch.rmpupdate"]) assert.ok((sums[k] ?? 0) > 0, `${k} happened`);
  for (const [k, v] of Object.entries(sums)) assert.is(c[`${k}.count`], v, k);
});

test("abi: the events the core emits decode to known kinds with contract fields", () => {
  const sim = createSimulatorSync({ arch: "tdx" });
  const g = sim.createGmem(4 << 20, ["mmap", "init-private", "hugetlb-2M"], "v2", { name: "g" });
  const vm = sim.createVm({ name: "vm" });
  vm.bind(0, 0, 4 << 20, g, 0);
  const io = sim.createIommu("gmem", { name: "io" });
  io.bind(g);
  vm.access(0x1000, { private: true });
  io.map(0, g, 0, 2 << 20, true);
  g.convert(0x1000, 0x1000, "shared");
  const { events } = sim.events.read();
  const kinds = new Set(events.map((e) => e.kind));
  for (const k of ["gmem.lock", "kvm.invalidate_begin", "kvm.zap", "iommu.invalidate", "gmem.set_attr", "folio.split",
    "kvm.invalidate_end", "gmem.unlock"]) assert.ok(kinds.has(k), k);
  for (const e of events) {
    assert.ok(!e.kind.startsWith("unknown."), e.kind);
    for (const f of CONTRACT_EVENTS[e.kind] ?? []) assert.ok(f in e, `${e.kind} lacks ${f}`);
  }
  const inv = events.find((e) => e.kind === "iommu.invalidate")!;
  assert.is(inv.reason, "to-shared");
  assert.is(inv.iommu, "io");
});

// ---- pause points: the table the parser uses is where the core stops ----------------------------------------------
test("abi: each convert pause point is the step the core reports", () => {
  for (const point of abi.pausePointsOf("convert")) {
    const sim = createSimulatorSync();
    const g = sim.createGmem(1 << 20, ["mmap", "init-shared"], "v2");
    const vm = sim.createVm();
    vm.bind(0, 0, 1 << 20, g, 0);
    const p = g.convert(0, 0x1000, "private", { pause: point })!;
    assert.ok(p, point);
    assert.is(p.at, point);
    assert.is(sim.resume(p), undefined);
    assert.is(g.test(0), false, "private after the resume");
  }
});

test("abi: pause-point names round-trip to steps", () => {
  for (const [op, points] of Object.entries(abi.PAUSE_POINT_TABLE)) {
    assert.ok(points.length > 0, op);
    for (const p of points) assert.ok(abi.pauseStep(p) > 0, `${op} ${p}`);
  }
  assert.is(abi.pauseStep("after-nothing"), -1);
  assert.is(abi.pauseStep("lock"), -1);
});

// ---- the memory map ---------------------------------------------------------------------------------------------
test("abi: the memory map's regions follow one another and the core fits its static budget", () => {
  const L = layout;
  assert.is(L.HEADER_BASE, L.NULL_BASE + L.NULL_SIZE);
  assert.is(L.OBJ_TABLE, L.HEADER_BASE + L.HEADER_SIZE);
  assert.is(L.INSTANCE_BASE, L.OBJ_TABLE + L.OBJ_TABLE_SIZE);
  assert.is(L.RING_BASE, L.INSTANCE_BASE + L.INSTANCES_SIZE);
  assert.is(L.RING_ENTRIES, L.RING_WPOS + L.MAX_INSTANCES * L.CACHE_LINE);
  assert.is(L.RINGS_END, L.RING_ENTRIES + L.MAX_INSTANCES * L.RING_BYTES);
  assert.ok(L.MEMORY_BASE >= L.RINGS_END);
  assert.ok(L.IN_RING_RES % 8 === 0 && L.IN_RING_HI + 4 <= L.IN_RING_RES, "the batch word is a u64 of its own");
  assert.is(L.PAGEMAP_BASE, L.MEMORY_BASE + L.STATIC_SIZE);
  assert.is(L.HEAP_BASE, L.PAGEMAP_BASE + L.PAGEMAP_SIZE);
  assert.ok(L.H_END <= L.HEADER_BASE + L.HEADER_SIZE, "the header's fields fit its page");
  assert.ok(abi.EVENT_NAMES.length <= L.MAX_COUNTERS, "a counter per event kind");
  assert.ok(abi.EVENT_NAMES.length <= 256, "a ring entry holds the kind in one byte (assembly/lib/events.ts)");
  const sim = createSimulatorSync();
  const core = sim.core;
  assert.is(core.sim_layout_version(), L.LAYOUT_VERSION);
  assert.ok(core.sim_heap_base() > L.MEMORY_BASE && core.sim_heap_base() <= L.PAGEMAP_BASE, "static data in its window");
});

test("abi: a call's mark and the views' seqcount share one aligned u64 (mm/instance.ts callSeqMark)", () => {
  assert.is(layout.IN_SEQ, layout.IN_CALL + 4);
  assert.is(layout.IN_CALL % 8, 0);
  assert.is((layout.INSTANCE_BASE + layout.INSTANCE_SIZE) % 8, 0);
  assert.is(layout.INSTANCE_SIZE % 8, 0);
});

test.run();
