// The one-pass conversion (gmem/convert.ts convertV2Run, taken for a call with one instance attached) against the
// phase machine (the same conversion paused after its lock step and resumed, so the engine runs it step by step): random sequences of conversions, faults and IOMMU maps on two identical machines must give the same
// results, the same events (but the op.step events a pausable op adds) and the same state.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync, EventReader, type Simulator, type Gmem, type Vm, type Iommu } from "../bindings/index";

const MiB = 2 ** 20;

/** xorshift32 */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

interface Machine { sim: Simulator; g: Gmem; vm: Vm; io: Iommu; reader: EventReader }

function machine(arch: "sw" | "tdx" | "snp", huge: boolean, bytes: number): Machine {
  const sim = createSimulatorSync(undefined, { arch, checks: true });
  const reader = new EventReader(sim.memory, (k, i) => sim.nameOf(k, i));
  const g = sim.createGmem(bytes, huge ? ["mmap", "init-private", "hugetlb-2M"] : ["mmap", "init-private"]);
  const vm = sim.createVm();
  vm.bind(0, 0, bytes, g, 0);
  const io = sim.createIommu("gmem");
  io.bind(g);
  return { sim, g, vm, io, reader };
}

/** An action's outcome: the error code it threw, or "ok". */
function run(f: () => unknown): string {
  try { f(); return "ok"; } catch (e) { return (e as { code?: string }).code ?? String(e); }
}

function events(m: Machine) {
  const { events, lost } = m.reader.read();
  assert.is(lost, 0);
  // seq and step move with the op.step events and the extra call (the resume) of the phase machine's side
  return events.filter((e) => e.kind !== "op.step").map(({ seq: _seq, step: _step, ...rest }) => rest);
}

function state(m: Machine, npages: number) {
  const counters = Object.fromEntries(Object.entries(m.sim.counters()).filter(([k]) => !k.startsWith("op.")));
  return {
    bitmap: m.g.runs(0, npages),
    folios: m.g.folios(), private: m.vm.mappings("private"), shared: m.vm.mappings("shared"),
    secure: m.io.mappings(true), nonSecure: m.io.mappings(false), counters,
  };
}

for (const [arch, huge] of [["sw", false], ["sw", true], ["tdx", false], ["tdx", true], ["snp", false], ["snp", true]] as const) {
  test(`fast path: ${arch}${huge ? " hugetlb-2M" : ""}: random sequences give the phase machine's events and state`, () => {
    const bytes = 8 * MiB, np = bytes / 4096;
    const fast = machine(arch, huge, bytes), slow = machine(arch, huge, bytes);
    const next = rng(arch.length * 7 + (huge ? 1 : 0));
    let iova = 0;
    for (let i = 0; i < 400; i++) {
      const r = next();
      const kind = r % 8;
      let a: string, b: string;
      if (kind < 4) {
        // a conversion: a few pages, or a whole 2 MiB block
        const big = (r >>> 3) % 4 === 0;
        const p = big ? ((r >>> 5) % (np / 512)) * 512 : (r >>> 5) % np;
        const n = big ? 512 : 1 + ((r >>> 20) % Math.min(8, np - p));
        const to = (r >>> 28) & 1 ? "shared" : "private";
        a = run(() => fast.g.convert(p * 4096, n * 4096, to));
        b = run(() => { const op = slow.g.convert(p * 4096, n * 4096, to, { pause: "after-lock" }); if (op) slow.sim.resume(op); });
      } else if (kind < 7) {
        const p = (r >>> 3) % np, priv = (r >>> 30) & 1;
        a = run(() => fast.vm.access(p * 4096, { private: priv === 1 }));
        b = run(() => slow.vm.access(p * 4096, { private: priv === 1 }));
      } else {
        const p = (r >>> 3) % np, secure = (r >>> 30) & 1;
        a = run(() => fast.io.map(iova, fast.g, p * 4096, 4096, secure === 1));
        b = run(() => slow.io.map(iova, slow.g, p * 4096, 4096, secure === 1));
        iova += 4096;
      }
      assert.is(a, b, `step ${i}: results differ`);
      assert.equal(events(fast), events(slow), `step ${i}: events differ`);
      if (i % 50 === 49) assert.equal(state(fast, np), state(slow, np), `step ${i}: state differs`);
    }
    assert.equal(state(fast, np), state(slow, np));
    fast.sim.checkInvariants();
    slow.sim.checkInvariants();
  });
}

test("fast path: a conversion the phase machine would block (a paused op holds the lock) still gets EBUSY", () => {
  const m = machine("sw", false, 4 * MiB);
  const paused = m.g.convert(0, 4096, "shared", { pause: "after-lock" });
  assert.ok(paused);
  assert.is(run(() => m.g.convert(4096, 4096, "shared")), "EBUSY");
  m.sim.resume(paused!);
  assert.is(run(() => m.g.convert(4096, 4096, "shared")), "ok");
});

test.run();
