// Hostile callers: the sweep of well over 100,000 garbage calls through every public method (./hostile/sweep.ts),
// on the release core (sw, tdx, snp) and on the debug core with the after-step checker.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sweep } from "./hostile/sweep";

// Hostile callers: well over 100,000 calls through the public API, each method of Simulator, Gmem, Vm, Iommu,
// Bitmap and PageTable picked by a seeded PRNG, with arguments that are often garbage (NaN, -1, 0.5, 2^53+2, 2^64,
// -0, Infinity, 2n**70n, strings, null, undefined, objects, arrays), on live, disposed/destroyed and forged
// handles, plus snapshot()/restoreSimulator() with forged snapshot headers. Every call must return or throw an
// Error with a non-empty string `.code` - never a WebAssembly.RuntimeError, a TypeError/RangeError/SyntaxError from
// the binding, an InvariantError, or a hang - and every 1,000 calls the invariant checker must find nothing. The
// sweep runs on the release core without the after-step checker (sw, tdx, snp) and on the debug core with it, which
// also checks the runtime invariants (I9, I12, I18-I20) on every call. Bugs it found have their own small tests in
// test/hostile-regressions.test.ts.
test("hostile: 100,000+ garbage calls over every public method keep the model whole (sw, tdx, snp)", () => {
  const runs = [
    { arch: "sw", protocol: "v2", calls: 45_000, seed: 1 },
    { arch: "tdx", protocol: "v4", calls: 25_000, seed: 2 },
    { arch: "snp", protocol: "v2", calls: 25_000, seed: 3 },
    { arch: "sw", protocol: "v2", calls: 10_000, seed: 4, debug: true },
    { arch: "tdx", protocol: "v4", calls: 5_000, seed: 5, debug: true },
    { arch: "snp", protocol: "v2", calls: 5_000, seed: 6, debug: true },
  ] as const;
  const total = { calls: 0, ok: 0, seconds: 0, codes: new Map<string, number>(), bad: [] as string[] };
  const per: string[] = [];
  for (const c of runs) {
    const debug = "debug" in c && c.debug;
    const s = sweep(c.arch, c.protocol, c.calls, c.seed, debug);
    assert.equal(s.uncalled, [], `${c.arch}: methods never called`);
    assert.ok(s.ok > s.calls / 5, `${c.arch}: enough calls succeed to reach deep states`);
    // the sweep reached the protocol's depths, not only its argument checks
    for (const k of ["gmem.set_attr", "kvm.zap", "guest.fault", "gmem.refcount_check"]) {
      assert.ok((s.counters[k] ?? 0) > 0, `${c.arch}: no ${k} event in the whole sweep`);
    }
    total.calls += s.calls;
    total.ok += s.ok;
    total.seconds += s.seconds;
    for (const [k, n] of s.codes) total.codes.set(k, (total.codes.get(k) ?? 0) + n);
    total.bad.push(...s.bad.map((b) => `${c.arch}/${c.protocol}: ${b}`));
    per.push(`${c.arch}/${c.protocol}${debug ? " debug+checks" : ""} ${s.calls}`);
  }
  const dist = [...total.codes.entries()].sort((a, b) => b[1] - a[1]).map(([c, k]) => `${c} ${k}`).join(", ");
  console.log(`    [hostile] ${total.calls} calls (${per.join(", ")}) in ${total.seconds.toFixed(1)} s: ok ${total.ok}, ${dist}` +
    `${total.bad.length ? `, WRONG ${total.bad.length}` : ""}`);
  assert.ok(total.calls >= 100_000);
  assert.is(total.bad.length, 0, `calls that threw the wrong thing:\n  ${total.bad.join("\n  ")}`);
});

test.run();
