// Invalid inputs, table-driven in the style of the kernel selftest guest_memfd_test.c: every row is one call
// through the public API with the errno the kernel gives (KERNEL-PROTOCOL.md 1.2, 1.6, 2.1, 2.3, 2.5 and the
// IOMMU rules of SCENARIOS.md). After every failing row the invariants hold and the observable state (attributes,
// folios, SPTEs, IOPTEs, pins, live objects) is exactly what it was before the call.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  createSimulatorSync, GmemError, type Simulator, type Gmem, type Vm, type Iommu, type GmemFlag,
} from "../bindings/index";

const K = 1024, M = 2 ** 20, G = 2 ** 30;

/** One call and what it must give: an errno name, or "0" for success. */
interface Row { name: string; call: () => unknown; code: string }

/** "0" when the call returns, the GmemError's code when it throws one; anything else is a test failure. */
function outcome(call: () => unknown): string {
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
function runTable(sim: Simulator, title: string, rows: Row[], state: () => unknown): void {
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
function newSim(opts: { arch?: "sw" | "tdx" | "snp"; protocol?: "v2" | "v4" } = {}): Simulator {
  return createSimulatorSync(undefined, { debug: true, checks: true, ...opts });
}

function memState(sim: Simulator) {
  const m = sim.memoryStats();
  return { live: m.liveObjects, pfnSmall: m.pfnSmall, pfn2M: m.pfn2M, pfn1G: m.pfn1G };
}

function gmemState(g: Gmem, sample: number[] = [0]) {
  return {
    shared: g.countShared(), populated: g.populated, runs: g.runs(),
    folios: sample.filter((i) => i < g.npages).map((i) => g.folio(i)),
  };
}

function vmState(vm: Vm) {
  return { info: vm.info(), priv: vm.leaves("private"), shared: vm.leaves("shared") };
}

function ioState(io: Iommu) {
  return io.info();
}

// ---- the runner itself: a row that is wrong, or a failure that changes state, is caught --------------------------

test("errno: the table runner fails a row whose code or state is wrong", () => {
  const sim = newSim();
  const g = sim.createGmem(16 * K, ["mmap"]);
  const st = () => gmemState(g);
  const catches = (rows: Row[]) => {
    try { runTable(sim, "meta", rows, st); } catch (e) { return e instanceof Error && !(e instanceof GmemError); }
    return false;
  };
  assert.ok(catches([{ name: "success expected as EINVAL", call: () => g.convert(0, 4 * K, "private"), code: "EINVAL" }]));
  assert.ok(catches([{ name: "EINVAL expected as success", call: () => g.convert(1, 4 * K, "shared"), code: "0" }]));
  assert.ok(catches([{ name: "wrong errno", call: () => g.convert(1, 4 * K, "shared"), code: "EBADF" }]));
  assert.ok(catches([{
    name: "error after a state change",
    call: () => { g.convert(8 * K, 4 * K, "private"); throw new GmemError(22, "fake"); }, code: "EINVAL",
  }]));
  assert.ok(catches([{ name: "not a GmemError", call: () => { throw new TypeError("x"); }, code: "EINVAL" }]));
  assert.not.ok(catches([{ name: "right", call: () => g.convert(1, 4 * K, "shared"), code: "EINVAL" }]));
});

// ---- 1.2 KVM_CREATE_GUEST_MEMFD -----------------------------------------------------------------------------------

function createRows(sim: Simulator, protocol: "v2" | "v4"): Row[] {
  const c = (size: number | bigint, flags: GmemFlag[] = []) => () => sim.createGmem(size, flags, protocol);
  const nonDefault: GmemFlag = protocol === "v2" ? "init-private" : "init-shared";
  const rows: Row[] = [
    { name: "size 0", call: c(0), code: "EINVAL" },
    { name: "size 0 (bigint)", call: c(0n), code: "EINVAL" },
    { name: "size 0 with mmap", call: c(0, ["mmap"]), code: "EINVAL" },
    { name: "size -4096", call: c(-4096), code: "EINVAL" },
    { name: "size -1n", call: c(-1n), code: "EINVAL" },
    { name: "size -0 (zero)", call: c(-0), code: "EINVAL" },
    { name: "size 1", call: c(1), code: "EINVAL" },
    { name: "size 0x800", call: c(0x800), code: "EINVAL" },
    { name: "size 0xfff", call: c(0xfff), code: "EINVAL" },
    { name: "size 0x1001", call: c(0x1001), code: "EINVAL" },
    { name: "size 0x1800 with mmap", call: c(0x1800, ["mmap"]), code: "EINVAL" },
    { name: "size 0x2fff with mmap", call: c(0x2fff, ["mmap"]), code: "EINVAL" },
    { name: "size 4096.5", call: c(4096.5), code: "EINVAL" },
    { name: "size NaN", call: c(NaN), code: "EINVAL" },
    { name: "size Infinity", call: c(Infinity), code: "EINVAL" },
    { name: "unknown flag", call: c(4 * K, ["mmap", "bogus" as GmemFlag]), code: "EINVAL" },
    { name: "flags not a list", call: () => sim.createGmem(4 * K, "mmap" as unknown as GmemFlag[], protocol), code: "EINVAL" },
    { name: "init-shared with init-private", call: c(4 * K, ["mmap", "init-shared", "init-private"]), code: "EINVAL" },
    { name: `${nonDefault} without mmap`, call: c(4 * K, [nonDefault]), code: "EINVAL" },
    { name: "unknown protocol", call: () => sim.createGmem(4 * K, [], "v3" as "v2"), code: "EINVAL" },
  ];
  if (protocol === "v2") {
    rows.push(
      { name: "init-private without mmap (hugetlb)", call: c(2 * M, ["init-private", "hugetlb-2M"]), code: "EINVAL" },
      { name: "hugetlb-2M with hugetlb-1G", call: c(G, ["hugetlb-2M", "hugetlb-1G"]), code: "EINVAL" },
      { name: "both hugetlb sizes with mmap init-private", call: c(G, ["mmap", "init-private", "hugetlb-2M", "hugetlb-1G"]), code: "EINVAL" },
      { name: "hugetlb-2M size not a multiple of 2M", call: c(4 * K, ["hugetlb-2M"]), code: "EINVAL" },
      { name: "hugetlb-1G size 2M", call: c(2 * M, ["mmap", "hugetlb-1G"]), code: "EINVAL" },
    );
  } else {
    rows.push(
      { name: "hugetlb-2M (no HugeTLB in v4)", call: c(2 * M, ["mmap", "hugetlb-2M"]), code: "EINVAL" },
      { name: "hugetlb-1G (no HugeTLB in v4)", call: c(G, ["hugetlb-1G"]), code: "EINVAL" },
    );
  }
  return rows;
}

for (const protocol of ["v2", "v4"] as const) {
  test(`errno: gmem.create ${protocol} (1.2)`, () => {
    const sim = newSim({ protocol });
    const rows = createRows(sim, protocol);
    runTable(sim, `create ${protocol}`, rows, () => memState(sim));
    // the valid combinations succeed and allocate nothing
    const ok: GmemFlag[][] = protocol === "v2"
      ? [[], ["mmap"], ["mmap", "init-private"], ["mmap", "init-shared"], ["hugetlb-2M"], ["mmap", "init-private", "hugetlb-2M"]]
      : [[], ["mmap"], ["mmap", "init-shared"], ["init-private"]];
    for (const f of ok) {
      const size = f.includes("hugetlb-2M") ? 2 * M : 8 * K;
      const g = sim.createGmem(size, f, protocol);
      assert.is(g.populated, 0);
      const shared = protocol === "v2" ? !f.includes("init-private") : f.includes("init-shared");
      assert.is(g.countShared(), shared ? g.npages : 0, `initial state of ${f.join(",")}`);
    }
    sim.checkInvariants();
  });
}

// ---- 1.2 kvm_gmem_bind ----------------------------------------------------------------------------------------------

function bindRows(sim: Simulator, protocol: "v2" | "v4") {
  const g = sim.createGmem(8 * M, ["mmap"], protocol);
  const other = sim.createGmem(4 * M, ["mmap"], protocol);
  const closed = sim.createGmem(4 * M, ["mmap"], protocol);
  closed.close();
  const vm = sim.createVm();
  vm.bind(0, 4 * G, 4 * M, g, 0);
  const dead = sim.createVm();
  dead.destroy();
  const b = (slot: number, gpa: number | bigint, size: number | bigint, gm: Gmem, offset: number | bigint) =>
    () => vm.bind(slot, gpa, size, gm, offset);
  const overlapCode = protocol === "v2" ? "EINVAL" : "EEXIST";
  const rows: Row[] = [
    { name: "offset 1", call: b(1, 8 * G, 4 * K, g, 1), code: "EINVAL" },
    { name: "offset 0x800", call: b(1, 8 * G, 4 * K, g, 0x800), code: "EINVAL" },
    { name: "offset 0xfff", call: b(1, 8 * G, 4 * K, g, 0xfff), code: "EINVAL" },
    { name: "offset 0x400001", call: b(1, 8 * G, 4 * K, g, 4 * M + 1), code: "EINVAL" },
    { name: "offset -4096", call: b(1, 8 * G, 4 * K, g, -4096), code: "EINVAL" },
    { name: "offset NaN", call: b(1, 8 * G, 4 * K, g, NaN), code: "EINVAL" },
    { name: "offset + size past i_size", call: b(1, 8 * G, 4 * M, g, 6 * M), code: "EINVAL" },
    { name: "offset at i_size", call: b(1, 8 * G, 4 * K, g, 8 * M), code: "EINVAL" },
    { name: "offset past i_size", call: b(1, 8 * G, 4 * K, g, 16 * M), code: "EINVAL" },
    { name: "size one page past i_size", call: b(1, 8 * G, 4 * M + 4 * K, g, 4 * M), code: "EINVAL" },
    { name: "offset 2^64 (bigint)", call: b(1, 8 * G, 4 * K, g, 2n ** 64n), code: "EINVAL" },
    { name: "file range overlaps slot 0 (front)", call: b(1, 8 * G, 4 * M, g, 2 * M), code: overlapCode },
    { name: "file range overlaps slot 0 (inside)", call: b(1, 8 * G, 4 * K, g, M), code: overlapCode },
    { name: "file range overlaps slot 0 (last page)", call: b(1, 8 * G, 8 * K, g, 4 * M - 4 * K), code: overlapCode },
    { name: "file range covers slot 0", call: b(1, 8 * G, 8 * M, g, 0), code: overlapCode },
    { name: "slot 32", call: b(32, 8 * G, 4 * K, g, 4 * M), code: "EINVAL" },
    { name: "slot 0xffffffff", call: b(0xffffffff, 8 * G, 4 * K, g, 4 * M), code: "EINVAL" },
    { name: "slot -1", call: b(-1, 8 * G, 4 * K, g, 4 * M), code: "EINVAL" },
    { name: "slot 1.5", call: b(1.5, 8 * G, 4 * K, g, 4 * M), code: "EINVAL" },
    { name: "slot 0 in use (other gpa and offset)", call: b(0, 8 * G, 4 * K, g, 4 * M), code: "EINVAL" },
    { name: "slot 0 in use (other gmem)", call: b(0, 8 * G, 4 * K, other, 0), code: "EINVAL" },
    { name: "gpa range overlaps slot 0 (tail)", call: b(1, 4 * G + 2 * M, 4 * M, other, 0), code: "EEXIST" },
    { name: "gpa range overlaps slot 0 (head)", call: b(1, 4 * G - 4 * K, 8 * K, other, 0), code: "EEXIST" },
    { name: "gpa range inside slot 0", call: b(1, 4 * G + M, 4 * K, other, 0), code: "EEXIST" },
    { name: "gpa unaligned", call: b(1, 8 * G + 1, 4 * K, other, 0), code: "EINVAL" },
    { name: "size 0", call: b(1, 8 * G, 0, other, 0), code: "EINVAL" },
    { name: "size unaligned", call: b(1, 8 * G, 0x800, other, 0), code: "EINVAL" },
    { name: "closed gmem", call: b(1, 8 * G, 4 * K, closed, 0), code: "EBADF" },
    { name: "not a gmem", call: () => vm.bind(1, 8 * G, 4 * K, {} as Gmem, 0), code: "EINVAL" },
    { name: "destroyed vm", call: () => dead.bind(1, 8 * G, 4 * K, other, 0), code: "EBADF" },
    { name: "unbind a free slot", call: () => vm.unbind(5), code: "EINVAL" },
    { name: "unbind slot 32", call: () => vm.unbind(32), code: "EINVAL" },
    { name: "unbind on a destroyed vm", call: () => dead.unbind(0), code: "EBADF" },
  ];
  const state = () => ({ vm: vmState(vm), g: gmemState(g), other: gmemState(other), mem: memState(sim) });
  return { rows, state, vm, g, other };
}

for (const protocol of ["v2", "v4"] as const) {
  test(`errno: vm.bind ${protocol} (1.2)`, () => {
    const sim = newSim({ protocol });
    const { rows, state, vm, g, other } = bindRows(sim, protocol);
    runTable(sim, `bind ${protocol}`, rows, state);
    // the neighbours of the failing rows succeed: the rest of the file, adjacent gpa, the other file
    vm.bind(1, 8 * G, 4 * M, g, 4 * M);
    vm.bind(2, 4 * G + 4 * M, 4 * K, other, 0);
    vm.bind(31, 0, 4 * K, other, 4 * K);
    vm.unbind(0);
    vm.bind(0, 4 * G, 4 * M, g, 0);
    sim.checkInvariants();
  });
}

// ---- 2.1 [V2] KVM_GMEM_CONVERT_SHARED / _PRIVATE -----------------------------------------------------------------

test("errno: convert v2 (2.1, in the kernel's order)", () => {
  const sim = newSim({ protocol: "v2" });
  const g = sim.createGmem(16 * K, ["mmap"]);
  g.convert(4 * K, 4 * K, "private"); // [0,1) shared, [1,2) private, [2,4) shared: any wrong change shows
  const closed = sim.createGmem(16 * K, ["mmap"]);
  closed.close();
  const cv = (offset: number | bigint, size: number | bigint, to: "shared" | "private" = "private") => () => g.convert(offset, size, to);
  const rows: Row[] = [
    // 3. size 0 returns 0 before any range or alignment check
    { name: "size 0 at 0 (to private)", call: cv(0, 0), code: "0" },
    { name: "size 0 at 0 (to shared)", call: cv(0, 0, "shared"), code: "0" },
    { name: "size 0, unaligned offset", call: cv(0x800, 0), code: "0" },
    { name: "size 0, offset past i_size", call: cv(G, 0), code: "0" },
    { name: "size 0, offset 2^52", call: cv(2 ** 52, 0), code: "0" },
    { name: "size 0n, offset 1n", call: cv(1n, 0n), code: "0" },
    // 4. overflow / past i_size
    { name: "offset + size past i_size", call: cv(12 * K, 8 * K), code: "EINVAL" },
    { name: "offset at i_size", call: cv(16 * K, 4 * K), code: "EINVAL" },
    { name: "offset past i_size", call: cv(20 * K, 4 * K), code: "EINVAL" },
    { name: "size past i_size", call: cv(0, 20 * K), code: "EINVAL" },
    { name: "far offset", call: cv(G, 4 * K, "shared"), code: "EINVAL" },
    { name: "offset + size overflows u64", call: cv(2n ** 64n - 4096n, 8192n), code: "EINVAL" },
    { name: "size 2^64 - 4096", call: cv(4096n, 2n ** 64n - 4096n), code: "EINVAL" },
    // 5. alignment
    { name: "offset 0x800", call: cv(0x800, 4 * K), code: "EINVAL" },
    { name: "offset 1", call: cv(1, 4 * K), code: "EINVAL" },
    { name: "size 0x800", call: cv(0, 0x800), code: "EINVAL" },
    { name: "size 0x1800", call: cv(4 * K, 0x1800, "shared"), code: "EINVAL" },
    { name: "size 1", call: cv(0, 1), code: "EINVAL" },
    { name: "offset 0x800 to shared", call: cv(0x800, 4 * K, "shared"), code: "EINVAL" },
    // not numbers at all
    { name: "offset NaN", call: cv(NaN, 4 * K), code: "EINVAL" },
    { name: "size -4096", call: cv(0, -4096), code: "EINVAL" },
    { name: "size 4096.5", call: cv(0, 4096.5), code: "EINVAL" },
    { name: "target neither shared nor private", call: () => g.convert(0, 4 * K, "neither" as "shared"), code: "EINVAL" },
    // the fd
    { name: "closed fd", call: () => closed.convert(0, 4 * K, "private"), code: "EBADF" },
    { name: "closed fd, size 0", call: () => closed.convert(0, 0, "private"), code: "EBADF" },
  ];
  runTable(sim, "convert v2", rows, () => gmemState(g, [0, 1, 2, 3]));
  assert.equal(g.runs(), [{ start: 0, end: 1, shared: true }, { start: 1, end: 2, shared: false }, { start: 2, end: 4, shared: true }]);
  g.convert(0, 16 * K, "private");
  assert.is(g.countShared(), 0);
  // 4 KiB granularity on a HugeTLB file; its rows past the end still fail
  const h = sim.createGmem(4 * M, ["mmap", "hugetlb-2M"]);
  runTable(sim, "convert v2 hugetlb", [
    { name: "unaligned on hugetlb", call: () => h.convert(0x800, 4 * K, "private"), code: "EINVAL" },
    { name: "past the end on hugetlb", call: () => h.convert(4 * M - 4 * K, 8 * K, "private"), code: "EINVAL" },
  ], () => gmemState(h, [0, 512]));
  h.convert(0x1000, 4 * K, "private");
  assert.is(h.countShared(), h.npages - 1);
});

// ---- 2.3 [V4+] KVM_SET_MEMORY_ATTRIBUTES2 ------------------------------------------------------------------------

test("errno: convert v4 (2.3)", () => {
  const sim = newSim({ protocol: "v4" });
  const g = sim.createGmem(16 * K, ["mmap", "init-shared"]);
  g.convert(4 * K, 4 * K, "private");
  const closed = sim.createGmem(16 * K, ["mmap"]);
  closed.close();
  const cv = (offset: number | bigint, size: number | bigint, to: "shared" | "private" = "private",
              mode?: "zero" | "preserve") => () => g.convert(offset, size, to, mode ? { mode } : {});
  const rows: Row[] = [
    { name: "size 0 (unlike v2)", call: cv(0, 0), code: "EINVAL" },
    { name: "size 0 to shared", call: cv(0, 0, "shared"), code: "EINVAL" },
    { name: "size 0, unaligned offset", call: cv(0x800, 0), code: "EINVAL" },
    { name: "size 0, offset past i_size", call: cv(G, 0, "shared"), code: "EINVAL" },
    { name: "offset 0x800", call: cv(0x800, 4 * K), code: "EINVAL" },
    { name: "offset 1", call: cv(1, 4 * K), code: "EINVAL" },
    { name: "size 0x800", call: cv(0, 0x800), code: "EINVAL" },
    { name: "size 0x1800", call: cv(4 * K, 0x1800, "shared"), code: "EINVAL" },
    { name: "offset + size past i_size", call: cv(12 * K, 8 * K), code: "EINVAL" },
    { name: "offset at i_size", call: cv(16 * K, 4 * K), code: "EINVAL" },
    { name: "offset past i_size", call: cv(20 * K, 4 * K), code: "EINVAL" },
    { name: "size past i_size", call: cv(0, 20 * K), code: "EINVAL" },
    { name: "offset + size overflows u64", call: cv(2n ** 64n - 4096n, 8192n), code: "EINVAL" },
    { name: "zero mode to private", call: cv(0, 4 * K, "private", "zero"), code: "EOPNOTSUPP" },
    { name: "zero mode to private (already private)", call: cv(4 * K, 4 * K, "private", "zero"), code: "EOPNOTSUPP" },
    { name: "unknown mode", call: () => g.convert(0, 4 * K, "private", { mode: "scramble" as "zero" }), code: "EINVAL" },
    { name: "attribute other than private/shared", call: () => g.convert(0, 4 * K, "encrypted" as "shared"), code: "EINVAL" },
    { name: "closed fd", call: () => closed.convert(0, 4 * K, "shared"), code: "EBADF" },
    { name: "closed fd, size 0", call: () => closed.convert(0, 0, "shared"), code: "EBADF" },
    // sw supports PRESERVE both ways and ZERO to shared: these succeed (on a range already in that state: no-ops)
    { name: "preserve to shared on sw", call: cv(0, 4 * K, "shared", "preserve"), code: "0" },
    { name: "zero to shared on sw", call: cv(8 * K, 8 * K, "shared", "zero"), code: "0" },
    { name: "preserve to private on sw", call: cv(4 * K, 4 * K, "private", "preserve"), code: "0" },
  ];
  runTable(sim, "convert v4", rows, () => gmemState(g, [0, 1, 2, 3]));
  assert.equal(g.runs(), [{ start: 0, end: 1, shared: true }, { start: 1, end: 2, shared: false }, { start: 2, end: 4, shared: true }]);
});

for (const arch of ["tdx", "snp"] as const) {
  test(`errno: convert v4 content modes on ${arch} (2.3, 2.4)`, () => {
    const sim = newSim({ arch, protocol: "v4" });
    const g = sim.createGmem(16 * K, ["mmap"]); // v4 default: private
    g.convert(8 * K, 4 * K, "shared");
    runTable(sim, `convert v4 ${arch}`, [
      { name: "preserve to shared", call: () => g.convert(0, 4 * K, "shared", { mode: "preserve" }), code: "EOPNOTSUPP" },
      { name: "preserve to shared (already shared)", call: () => g.convert(8 * K, 4 * K, "shared", { mode: "preserve" }), code: "EOPNOTSUPP" },
      { name: "zero to private", call: () => g.convert(8 * K, 4 * K, "private", { mode: "zero" }), code: "EOPNOTSUPP" },
      { name: "size 0", call: () => g.convert(0, 0, "shared", { mode: "zero" }), code: "EINVAL" },
      { name: "zero to shared", call: () => g.convert(0, 4 * K, "shared", { mode: "zero" }), code: "0" },
    ], () => gmemState(g, [0, 1, 2, 3]));
    assert.is(g.countShared(), 2);
  });
}

// ---- 2.5 PUNCH_HOLE ---------------------------------------------------------------------------------------------

test("errno: punch (2.5)", () => {
  const sim = newSim();
  const g = sim.createGmem(16 * K, ["mmap"]);
  g.mmap();
  for (let i = 0; i < 4; i++) g.hostAccess(i * 4 * K, { write: i + 1 });
  const closed = sim.createGmem(16 * K, ["mmap"]);
  closed.close();
  const p = (offset: number | bigint, size: number | bigint) => () => g.punch(offset, size);
  const rows: Row[] = [
    { name: "size 1", call: p(0, 1), code: "EINVAL" },
    { name: "size 0xfff", call: p(0, 0xfff), code: "EINVAL" },
    { name: "size 0x1001", call: p(0, 0x1001), code: "EINVAL" },
    { name: "offset 1 size 1", call: p(1, 1), code: "EINVAL" },
    { name: "offset 1 size 0xfff", call: p(1, 0xfff), code: "EINVAL" },
    { name: "offset 1 size 0x1000", call: p(1, 0x1000), code: "EINVAL" },
    { name: "offset 1 size 0x1001", call: p(1, 0x1001), code: "EINVAL" },
    { name: "offset 0x1000 size 1", call: p(0x1000, 1), code: "EINVAL" },
    { name: "offset 0x1000 size 0xfff", call: p(0x1000, 0xfff), code: "EINVAL" },
    { name: "offset 0x1000 size 0x1001", call: p(0x1000, 0x1001), code: "EINVAL" },
    { name: "size 0", call: p(0, 0), code: "EINVAL" },
    { name: "size 0 past the end", call: p(16 * K, 0), code: "EINVAL" },
    { name: "offset -4096", call: p(-4096, 4 * K), code: "EINVAL" },
    { name: "offset NaN", call: p(NaN, 4 * K), code: "EINVAL" },
    { name: "size Infinity", call: p(0, Infinity), code: "EINVAL" },
    { name: "closed fd", call: () => closed.punch(0, 4 * K), code: "EBADF" },
    // at or past i_size: nothing to punch, success
    { name: "at i_size", call: p(16 * K, 4 * K), code: "0" },
    { name: "past i_size", call: p(20 * K, 4 * K), code: "0" },
    { name: "far past i_size", call: p(G, G), code: "0" },
  ];
  const state = () => gmemState(g, [0, 1, 2, 3]);
  runTable(sim, "punch", rows, state);
  assert.is(g.populated, 4, "nothing was punched so far");
  // a range running past the end is clamped: the last page goes, attributes stay
  const before = g.countShared();
  g.punch(12 * K, M);
  assert.is(g.populated, 3);
  assert.is(g.folio(3).state, "absent");
  assert.is(g.countShared(), before);
  assert.equal(g.hostAccess(12 * K), { result: "ok", value: 0 }, "punched memory reads zero");
  assert.equal(g.hostAccess(8 * K), { result: "ok", value: 3 });

  const h = sim.createGmem(4 * M, ["mmap", "hugetlb-2M"]);
  runTable(sim, "punch hugetlb", [
    { name: "offset 1", call: () => h.punch(1, 4 * K), code: "EINVAL" },
    { name: "size 0x800", call: () => h.punch(0x1000, 0x800), code: "EINVAL" },
    { name: "4 KiB inside a huge block", call: () => h.punch(0x1000, 4 * K), code: "0" },
  ], () => gmemState(h, [0, 512]));
});

// ---- 1.6 host mmap, faults and GUP pins ---------------------------------------------------------------------------

test("errno: host mmap, access, pin and unpin (1.6)", () => {
  const sim = newSim();
  const plain = sim.createGmem(16 * K, []);
  const hugePlain = sim.createGmem(2 * M, ["hugetlb-2M"]);
  const g = sim.createGmem(16 * K, ["mmap", "init-private"]);
  g.convert(0, 8 * K, "shared"); // pages 0, 1 shared; 2, 3 private
  const closed = sim.createGmem(16 * K, ["mmap"]);
  closed.close();
  const before: Row[] = [
    { name: "mmap without the mmap flag", call: () => plain.mmap(), code: "ENODEV" },
    { name: "mmap of a HugeTLB file without the mmap flag", call: () => hugePlain.mmap(), code: "ENODEV" },
    { name: "mmap of a closed fd", call: () => closed.mmap(), code: "EBADF" },
    { name: "host access before mmap", call: () => g.hostAccess(0), code: "EFAULT" },
    { name: "host store before mmap", call: () => g.hostAccess(4 * K, { write: 1 }), code: "EFAULT" },
    { name: "host access of a file that cannot be mmapped", call: () => plain.hostAccess(0), code: "EFAULT" },
    { name: "pin before mmap", call: () => g.pin(0, 4 * K), code: "EFAULT" },
  ];
  runTable(sim, "host before mmap", before, () => ({ g: gmemState(g, [0, 1, 2, 3]), plain: gmemState(plain) }));

  g.mmap();
  g.hostAccess(0, { write: 5 }); // page 0 faulted in and mapped
  g.pin(4 * K, 4 * K); // page 1 pinned
  const after: Row[] = [
    { name: "pin of a private page", call: () => g.pin(8 * K, 4 * K), code: "EFAULT" },
    { name: "pin of a shared and a private page", call: () => g.pin(4 * K, 8 * K), code: "EFAULT" },
    { name: "pin of a range ending in private pages", call: () => g.pin(0, 16 * K), code: "EFAULT" },
    { name: "pin at an unaligned offset", call: () => g.pin(1, 4 * K), code: "EINVAL" },
    { name: "pin of size 0", call: () => g.pin(0, 0), code: "EINVAL" },
    { name: "pin past the end", call: () => g.pin(12 * K, 8 * K), code: "EINVAL" },
    { name: "unpin of an unpinned page", call: () => g.unpin(0, 4 * K), code: "EINVAL" },
    { name: "unpin of a never-populated page", call: () => g.unpin(12 * K, 4 * K), code: "EINVAL" },
    { name: "unpin of a partly pinned range", call: () => g.unpin(0, 8 * K), code: "EINVAL" },
    { name: "unpin unaligned", call: () => g.unpin(4 * K + 1, 4 * K), code: "EINVAL" },
    { name: "mmap again", call: () => g.mmap(), code: "0" },
  ];
  runTable(sim, "host after mmap", after, () => gmemState(g, [0, 1, 2, 3]));
  assert.is(g.folio(1).pincount, 1);
  assert.equal(g.hostAccess(8 * K), { result: "SIGBUS" }, "a private page is not mappable to the host");
  g.unpin(4 * K, 4 * K);
  assert.is(outcome(() => g.unpin(4 * K, 4 * K)), "EINVAL", "unpinned twice");
  sim.checkInvariants();
});

// ---- IOMMU (SCENARIOS.md iommu.* rows, 4.2 / 4.3) ----------------------------------------------------------------

test("errno: iommu bind, map and unmap (sw)", () => {
  const sim = newSim();
  const g = sim.createGmem(4 * M, ["mmap", "init-private"]);
  g.convert(2 * M, 2 * M, "shared"); // [0, 2M) private, [2M, 4M) shared
  const g2 = sim.createGmem(4 * M, ["mmap", "init-private"]);
  const closed = sim.createGmem(4 * M, ["mmap", "init-private"]);
  closed.close();
  const io = sim.createIommu("gmem");
  io.bind(g);
  io.map(0, g, 0, M, true); // secure area [0, 1M)
  io.map(16 * M, g, 2 * M, M, false); // non-secure area [16M, 17M)
  const free = sim.createIommu("gmem");
  const pin = sim.createIommu("pin");
  const dead = sim.createIommu("gmem");
  dead.destroy();
  const map = (iova: number | bigint, gm: Gmem, offset: number | bigint, size: number | bigint, secure: boolean) =>
    () => io.map(iova, gm, offset, size, secure);
  const rows: Row[] = [
    // map: alignment and the file's end
    { name: "map unaligned iova", call: map(32 * M + 0x800, g, 0, 4 * K, true), code: "EINVAL" },
    { name: "map unaligned offset", call: map(32 * M, g, 1, 4 * K, true), code: "EINVAL" },
    { name: "map unaligned size", call: map(32 * M, g, 0, 0x1800, true), code: "EINVAL" },
    { name: "map size 0", call: map(32 * M, g, 0, 0, true), code: "EINVAL" },
    { name: "map past the file", call: map(32 * M, g, 3 * M, 2 * M, false), code: "EINVAL" },
    { name: "map at the file's end", call: map(32 * M, g, 4 * M, 4 * K, false), code: "EINVAL" },
    { name: "map offset NaN", call: map(32 * M, g, NaN, 4 * K, false), code: "EINVAL" },
    { name: "map iova -4096", call: map(-4096, g, 0, 4 * K, true), code: "EINVAL" },
    { name: "map a gmem the iommu is not bound to", call: map(32 * M, g2, 0, 4 * K, true), code: "EINVAL" },
    // overlaps in one table
    { name: "map overlapping the secure area", call: map(512 * 1024, g, M, 4 * K, true), code: "EEXIST" },
    { name: "map at the secure area's start", call: map(0, g, M, 8 * K, true), code: "EEXIST" },
    { name: "map straddling the secure area's end", call: map(M - 4 * K, g, M, 8 * K, true), code: "EEXIST" },
    { name: "map overlapping the non-secure area", call: map(16 * M + 4 * K, g, 3 * M, 4 * K, false), code: "EEXIST" },
    // shareability vs table (sw)
    { name: "secure map of shared pages", call: map(32 * M, g, 2 * M, 4 * K, true), code: "EACCES" },
    { name: "non-secure map of private pages", call: map(32 * M, g, 0, 4 * K, false), code: "EACCES" },
    { name: "secure map of a mixed range", call: map(32 * M, g, 2 * M - 4 * K, 8 * K, true), code: "EACCES" },
    { name: "non-secure map of a mixed range", call: map(32 * M, g, 2 * M - 4 * K, 8 * K, false), code: "EACCES" },
    // unmap covers whole areas
    { name: "unmap cutting the secure area", call: () => io.unmap(0, 4 * K, true), code: "ENOENT" },
    { name: "unmap of the area's tail", call: () => io.unmap(512 * 1024, M, true), code: "ENOENT" },
    { name: "unmap of nothing", call: () => io.unmap(64 * M, 4 * K, true), code: "ENOENT" },
    { name: "unmap in the other table", call: () => io.unmap(0, M, false), code: "ENOENT" },
    { name: "unmap cutting the non-secure area", call: () => io.unmap(16 * M, 8 * K, false), code: "ENOENT" },
    { name: "unmap unaligned", call: () => io.unmap(0x800, M, true), code: "EINVAL" },
    { name: "unmap size 0", call: () => io.unmap(0, 0, true), code: "EINVAL" },
    // bind
    { name: "bind a second gmem", call: () => io.bind(g2), code: "EBUSY" },
    { name: "bind the same gmem again", call: () => io.bind(g), code: "EEXIST" },
    { name: "bind in pin mode", call: () => pin.bind(g), code: "EINVAL" },
    { name: "bind a closed gmem", call: () => free.bind(closed), code: "EBADF" },
    { name: "bind not a gmem", call: () => free.bind({} as Gmem), code: "EINVAL" },
    { name: "unbind when not bound", call: () => free.unbind(), code: "EINVAL" },
    // pin mode maps through the host mapping
    { name: "pin mode: secure map", call: () => pin.map(0, g, 2 * M, 4 * K, true), code: "EINVAL" },
    { name: "pin mode: map before mmap", call: () => pin.map(0, g, 2 * M, 4 * K, false), code: "EFAULT" },
    // destroyed
    { name: "map on a destroyed iommu", call: () => dead.map(0, g, 2 * M, 4 * K, false), code: "EBADF" },
    { name: "bind on a destroyed iommu", call: () => dead.bind(g2), code: "EBADF" },
    { name: "unmap on a destroyed iommu", call: () => dead.unmap(0, 4 * K, false), code: "EBADF" },
  ];
  const state = () => ({ io: ioState(io), free: ioState(free), pin: ioState(pin), g: gmemState(g, [0, 256, 512, 768]),
    g2: gmemState(g2), mem: memState(sim) });
  runTable(sim, "iommu", rows, state);

  g.mmap();
  const pinRows: Row[] = [
    { name: "pin mode: map of a private page", call: () => pin.map(0, g, 0, 4 * K, false), code: "EFAULT" },
    { name: "pin mode: map of a mixed range", call: () => pin.map(0, g, 2 * M - 4 * K, 8 * K, false), code: "EFAULT" },
  ];
  runTable(sim, "iommu pin", pinRows, () => ({ pin: ioState(pin), g: gmemState(g, [0, 511, 512]) }));

  // the neighbours succeed
  io.map(M, g, M, 4 * K, true);
  io.unmap(0, M + 4 * K, true);
  io.map(32 * M, g, 2 * M, 4 * K, false);
  pin.map(0, g, 2 * M, 4 * K, false);
  assert.is(g.folio(512).pincount, 1);
  pin.unmap(0, 4 * K, false);
  assert.is(g.folio(512).pincount, 0);
  free.bind(g2);
  sim.checkInvariants();
});

test.run();
