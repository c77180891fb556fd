// Invalid inputs, errno table (./errno/table): the table runner itself, then KVM_CREATE_GUEST_MEMFD and
// kvm_gmem_bind / unbind (KERNEL-PROTOCOL.md 1.2), v2 and v4.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GmemError, type Simulator, type Gmem, type GmemFlag } from "../bindings/index";
import { K, M, G, type Row, runTable, newSim, memState, gmemState, vmState } from "./errno/table";

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

test.run();
