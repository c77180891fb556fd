// Invalid inputs, errno table (./errno/table): host mmap, faults and GUP pins (KERNEL-PROTOCOL.md 1.6) and the
// IOMMU's bind, map and unmap (SCENARIOS.md iommu.* rows, 4.2 / 4.3).
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Gmem } from "../bindings/index";
import { K, M, type Row, outcome, runTable, newSim, memState, gmemState, ioState } from "./errno/table";

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
