// Invalid inputs, errno table (./errno/table): conversions - v2 CONVERT_SHARED/_PRIVATE (2.1), v4
// SET_MEMORY_ATTRIBUTES2 and its content modes (2.3, 2.4) - and PUNCH_HOLE (2.5).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { K, M, G, type Row, runTable, newSim, gmemState } from "./errno/table";

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

test.run();
