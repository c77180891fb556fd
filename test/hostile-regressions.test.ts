// Hostile callers, regressions: the bugs the hostile sweep (test/hostile.test.ts) found, each as its own small test
// (I19/I20 false positives, a stale violation reported twice, forged snapshot headers).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, restoreSimulator, Gmem } from "../bindings/index";
import { K, M, pagesToRestore } from "./hostile/inputs";

// A regression found by the sweep above on the debug core (other seeds): the I19 post-condition compares global
// event counters, so a paused no-op conversion of one guest_memfd, resumed after a conversion of another one,
// is reported as changing something. Converting a range already in the target state is a no-op (I19), and the
// other file's conversion is not this one's doing.
test("hostile: a paused no-op conversion resumed after another file's conversion is not an I19 violation", () => {
  const sim = createSimulatorSync(undefined, { debug: true, checks: true });
  const a = sim.createGmem(16 * K, ["mmap"]);
  const b = sim.createGmem(16 * K, ["mmap"]);
  const op = a.convert(0, 4 * K, "shared", { pause: "after-invalidate-begin" }); // already shared: no work
  b.convert(0, 4 * K, "private");
  if (op !== undefined) sim.resume(op);
  assert.is(a.countShared(), 4);
  assert.is(b.countShared(), 3);
  sim.checkInvariants();
});

// Found by the sweep: a v2 conversion whose folio restructuring meets a reference the refcount check did not look
// at (a transient reference on another page of the huge block: the merge of a to-private conversion, or the huge
// folio's split of a to-shared one) fails, and the checker then flags the model's own answer (I20: an EAGAIN
// without an error_offset inside the range). The kernel would spin in folio_ref_freeze (KERNEL-PROTOCOL 7.1); the
// model refuses instead. Whichever answer it gives, it must not be one its own checker calls a violation, and the
// attributes must be unchanged (I18).
test("hostile: a conversion refused by the folio restructuring is not reported as an invariant violation", () => {
  const sim = createSimulatorSync(undefined, { debug: true, checks: true });
  const outcome = (f: () => unknown) => {
    try { f(); return "0"; } catch (e) { return `${(e as Error).name}:${String((e as { code?: unknown }).code)}`; }
  };
  const g = sim.createGmem(4 * M, ["mmap", "init-private", "hugetlb-2M"]);
  g.allocFolio(0);
  g.convert(0, 4 * K, "shared"); // block 0 split, page 0 shared
  g.ref(5, "transient", 1); // page 5 busy: the block cannot merge back
  const toPrivate = outcome(() => g.convert(0, 4 * K, "private"));
  assert.ok(!toPrivate.startsWith("InvariantError"), `to-private: ${toPrivate}`);
  if (toPrivate !== "0") assert.equal(g.runs(0, 512), [{ start: 0, end: 1, shared: true }, { start: 1, end: 512, shared: false }]);

  const h = sim.createGmem(4 * M, ["mmap", "init-private", "hugetlb-2M"]);
  h.allocFolio(0);
  h.ref(7, "transient", 1); // the huge folio is busy: it cannot split
  const toShared = outcome(() => h.convert(0, 4 * K, "shared"));
  assert.ok(!toShared.startsWith("InvariantError"), `to-shared: ${toShared}`);
  if (toShared !== "0") assert.is(h.countShared(), 0);
});

// Found by the sweep: after an op reported a violation (InvariantError), the next createGmem reported the same
// stale violation again - and the guest_memfd it had created was left without a handle to it. A violation is
// reported once, by the op that caused it.
test("hostile: a reported violation is not reported again by the next createGmem", () => {
  const sim = createSimulatorSync(undefined, { debug: true, checks: true });
  const g = sim.createGmem(16 * K, ["mmap", "init-private"]);
  const vm = sim.createVm();
  vm.bind(0, 0, 16 * K, g, 0);
  vm.access(0x1000, { private: true });
  sim.debugHook("force-work");
  let first: unknown;
  try { g.convert(0, 8 * K, "private"); } catch (e) { first = e; }
  assert.is((first as { invariant?: string } | undefined)?.invariant, "I19", "the hook makes the no-op conversion an I19 violation");
  const live = sim.memoryStats().liveObjects;
  let h: unknown;
  try { h = sim.createGmem(4 * K, []); } catch (e) { h = e; }
  assert.ok(h instanceof Gmem, `createGmem after a reported violation: ${h instanceof Error ? h.message : String(h)}`);
  assert.is(sim.memoryStats().liveObjects, live + 1);
});

// Found by the sweep: restoreSimulator must refuse a forged snapshot header or bad options with a coded error
// (EINVAL like its other refusals), not a SyntaxError/TypeError from JSON.parse or a property read.
test("hostile: restoreSimulator refuses forged snapshot headers and bad options with a coded error", () => {
  const sim = createSimulatorSync(undefined, {});
  sim.createGmem(16 * K, ["mmap"], "v2", { name: "a guest_memfd with a name" });
  const bytes = sim.snapshot();
  const nlen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(16, true);
  const withNames = (text: string) => {
    const b = bytes.slice();
    b.set(new TextEncoder().encode(text.padEnd(nlen, " ")), 32);
    return b;
  };
  const small = { maximumPages: pagesToRestore(bytes) };
  const cases: [string, () => unknown][] = [
    ["names that are not JSON", () => restoreSimulator(withNames("x"), small)],
    ["names that are not a list", () => restoreSimulator(withNames("{}"), small)],
    ["names that are a list of numbers", () => restoreSimulator(withNames("[1]"), small)],
    ["options null", () => restoreSimulator(bytes, null as never)],
    ["options a number", () => restoreSimulator(bytes, 5 as never)],
  ];
  for (const [what, f] of cases) {
    let err: unknown;
    try { f(); } catch (e) { err = e; }
    const code = (err as { code?: unknown } | undefined)?.code;
    assert.ok(err instanceof Error && !(err instanceof TypeError) && !(err instanceof SyntaxError) &&
      typeof code === "string" && code !== "", `${what}: ${err instanceof Error ? `${err.name}: ${err.message}` : "no error"}`);
  }
  restoreSimulator(bytes, small).checkInvariants(); // the real one restores
});

test.run();
