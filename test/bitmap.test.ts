// The shareability bitmap against a naive per-bit model, on thousands of random ranges: word edges, 2 MiB and
// 1 GiB block edges, whole 1 GiB blocks.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync } from "../bindings/index";
import { rng } from "./harness/rng";

function naiveRuns(bits: Uint8Array, start: number, end: number) {
  const runs: { start: number; end: number; shared: boolean }[] = [];
  let i = start;
  while (i < end) {
    let j = i;
    while (j < end && bits[j] === bits[i]) j++;
    runs.push({ start: i, end: j, shared: bits[i] === 1 });
    i = j;
  }
  return runs;
}

test("bitmap: random ranges agree with a per-bit model (counts, runs, block counts, next_diff)", () => {
  const sim = createSimulatorSync(undefined, { checks: true });
  const npages = 3 * 262144 + 777; // three 1 GiB blocks and a ragged tail
  const bm = sim.createBitmap(npages);
  const naive = new Uint8Array(npages);
  const r = rng(0x5eed);
  const edge = () => {
    // favour interesting boundaries: words, 2 MiB, 1 GiB, the end
    const k = r.int(6);
    const base = k === 0 ? r.int(npages / 64) * 64 : k === 1 ? r.int(npages / 512) * 512
      : k === 2 ? r.int(4) * 262144 : k === 3 ? npages : r.int(npages + 1);
    return Math.max(0, Math.min(npages, base + (r.int(3) - 1) * r.int(2)));
  };
  for (let n = 0; n < 3000; n++) {
    let a = edge(), b = edge();
    if (a > b) [a, b] = [b, a];
    const shared = r.int(2) === 1;
    bm.assign(a, b, shared);
    naive.fill(shared ? 1 : 0, a, b);
    if (n % 50 === 0) {
      let s = edge(), e = edge();
      if (s > e) [s, e] = [e, s];
      let c = 0;
      for (let i = s; i < e; i++) c += naive[i];
      assert.is(bm.countShared(s, e), c, `count [${s},${e}) after ${n} ops`);
      assert.equal(bm.runs(s, e), naiveRuns(naive, s, e), `runs [${s},${e})`);
      const at = Math.min(npages - 1, s);
      let j = at;
      while (j < npages && naive[j] === naive[at]) j++;
      assert.is(bm.nextDiff(at, npages, naive[at] === 1), j);
      bm.check();
    }
  }
  // every block count
  const c2 = bm.counts2M();
  for (let b = 0; b < c2.length; b++) {
    let c = 0;
    for (let i = b * 512; i < Math.min(npages, (b + 1) * 512); i++) c += naive[i];
    assert.is(c2[b], c, `2M block ${b}`);
    assert.is(bm.blockShared(b * 512, 9), c);
  }
  const c1 = bm.counts1G();
  for (let g = 0; g < c1.length; g++) {
    let c = 0;
    for (let i = g * 262144; i < Math.min(npages, (g + 1) * 262144); i++) c += naive[i];
    assert.is(c1[g], c, `1G block ${g}`);
  }
  assert.is(bm.sharedTotal(), naive.reduce((s, x) => s + x, 0));
  // the words view is the bits themselves
  const words = bm.words();
  for (let i = 0; i < npages; i += 997) assert.is((words[i >>> 5] >>> (i & 31)) & 1, naive[i], `word bit ${i}`);
  bm.dispose();
});

test("bitmap: whole 1 GiB blocks and the empty range", () => {
  const sim = createSimulatorSync();
  const bm = sim.createBitmap(4 * 262144);
  bm.assign(262144, 3 * 262144, true);
  assert.is(bm.countShared(), 2 * 262144);
  assert.equal(bm.counts1G().slice(), Uint32Array.from([0, 262144, 262144, 0]));
  assert.equal(bm.runs(), [
    { start: 0, end: 262144, shared: false },
    { start: 262144, end: 786432, shared: true },
    { start: 786432, end: 1048576, shared: false },
  ]);
  bm.assign(100, 100, true); // empty: no change
  assert.is(bm.countShared(), 2 * 262144);
  assert.is(bm.nextDiff(262144, 4 * 262144, true), 786432);
  bm.check();
});

test("bitmap: created shared, then a single page flipped in a 1 GiB block", () => {
  const sim = createSimulatorSync();
  const bm = sim.createBitmap(262144 + 512, { shared: true });
  assert.is(bm.countShared(), 262144 + 512);
  bm.assign(4097, 4098, false);
  assert.is(bm.blockShared(4097, 9), 511);
  assert.is(bm.blockShared(4097, 18), 262143);
  assert.is(bm.blockShared(262144, 18), 512); // the ragged last 1 GiB block holds 512 pages
  assert.not.ok(bm.test(4097));
  assert.ok(bm.test(4096));
  assert.is(bm.nextDiff(0, bm.npages, true), 4097);
  bm.check();
});

test("bitmap: bad arguments are EINVAL / EBADF and change nothing", () => {
  const sim = createSimulatorSync();
  const bm = sim.createBitmap(1000);
  bm.assign(10, 20, true);
  const cases: [string, () => unknown, string][] = [
    ["end past npages", () => bm.assign(0, 1001, true), "EINVAL"],
    ["start > end", () => bm.assign(20, 10, true), "EINVAL"],
    ["negative", () => bm.assign(-1, 10, true), "EINVAL"],
    ["NaN", () => bm.assign(NaN, 10, true), "EINVAL"],
    ["fraction", () => bm.assign(1.5, 10, true), "EINVAL"],
    ["string", () => bm.assign("3" as unknown as number, 10, true), "EINVAL"],
    ["2^53", () => bm.countShared(0, 2 ** 53), "EINVAL"],
    ["test past end", () => bm.test(1000), "EINVAL"],
    ["block order", () => bm.blockShared(0, 10 as 9), "EINVAL"],
    ["zero pages", () => sim.createBitmap(0), "EINVAL"],
    ["too many pages", () => sim.createBitmap(2 ** 31 + 1), "EINVAL"],
    ["forged handle", () => sim.openBitmap(12345), "EBADF"],
  ];
  for (const [name, fn, code] of cases) {
    try { fn(); assert.unreachable(name); } catch (e) {
      assert.instance(e, Error, name);
      assert.is((e as { code?: string }).code, code, name);
    }
  }
  assert.is(bm.countShared(), 10);
  bm.check();
  bm.dispose();
  try { bm.assign(0, 1, true); assert.unreachable("disposed"); } catch (e) { assert.is((e as { code: string }).code, "EBADF"); }
});

test.run();
