// The ring protocol at random: a writer on b's slot emulated one step of assembly/lib/events.ts at a time (pending,
// the add or the lone compare-exchange, publishing the batch, the entry's plain stores, its position, the call's
// end), run at random loads of a reader and of its construction, some seeds near a 2^32 wrap of the head's low
// word, with a's real calls between reads: in order, none twice, none lost, the same as a reader that looks later.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { layout as L } from "../bindings/index";
import { pair, slotOf, reader } from "./harness/ring";

function rng(seed: number) { return () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; }; }

test("event ring fuzz: an emulated writer at random points of reads, 300 seeds", () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rand = rng(seed);
    const { a, b, ga, gb } = pair();
    const u32 = new Uint32Array(a.memory.buffer), u64 = new BigUint64Array(a.memory.buffer);
    const sb = slotOf(b);
    gb.convert(4096, 4096, "shared");
    const W = 8, base = (L.RING_ENTRIES + sb * L.RING_BYTES) >>> 2, wAt = (L.RING_WPOS + sb * L.CACHE_LINE) >>> 2;
    const w0 = Atomics.load(u32, wAt);
    const tmpl = u32.slice(base + ((w0 - 1) & (L.RING_SIZE - 1)) * W, base + ((w0 - 1) & (L.RING_SIZE - 1)) * W + W);
    // head near a wrap of the low word, sometimes
    if (seed % 2) { const h = u32[L.RING_HEAD >>> 2]; u32[L.RING_HEAD >>> 2] = (2 ** 32 - 16 * (1 + (seed % 5))) >>> 0; u32[(L.RING_HEAD >>> 2) + 1] = seed % 3; void h; }
    const resAt = (L.INSTANCE_BASE + sb * L.INSTANCE_SIZE + L.IN_RING_RES) >>> 3;
    const headAt = L.RING_HEAD >>> 3;
    // micro-steps of calls
    const steps: (() => void)[] = [];
    let next = 0, end = 0, hi = 0;
    const call = (n: number, alone: boolean) => {
      for (let e = 0; e < n; e++) {
        steps.push(() => {}); // marker
        const idx = steps.length - 1;
        steps[idx] = () => {
          if (next === end) {
            // reserve, split in micro-steps below by pushing front
            if (alone) {
              const h = Atomics.load(u64, headAt), lo = Number(h & 0xffffffffn);
              Atomics.store(u64, resAt, (BigInt(lo) << 32n) | BigInt((lo + 16) >>> 0));
              pendingRes.push(() => {
                if (Atomics.compareExchange(u64, headAt, h, h + 16n) === h) { next = lo; end = (lo + 16) >>> 0; hi = Number(h >> 32n); emit(); }
                else generalReserve();
              });
              return;
            }
            generalReserve();
            return;
          }
          emit();
        };
      }
      steps.push(() => { Atomics.store(u64, resAt, 0n); next = end = 0; });
    };
    const pendingRes: (() => void)[] = [];
    const generalReserve = () => {
      Atomics.store(u64, resAt, 1n);
      pendingRes.push(() => {
        const h = Atomics.add(u64, headAt, 16n), lo = Number(h & 0xffffffffn);
        next = lo; end = (lo + 16) >>> 0; hi = Number(h >> 32n);
        pendingRes.push(() => { Atomics.store(u64, resAt, (BigInt(lo) << 32n) | BigInt(end)); pendingRes.push(() => emit()); });
      });
    };
    const emit = () => {
      // plain stores, then (another micro-step) the position
      const w = Atomics.load(u32, wAt), at = base + (w & (L.RING_SIZE - 1)) * W;
      u32.set(tmpl, at); u32[at] = next; u32[at + 1] = (tmpl[1] & ~0xff00) | ((hi & 0xff) << 8);
      next = (next + 1) >>> 0;
      pendingRes.push(() => Atomics.store(u32, wAt, w + 1));
    };
    for (let c = 0; c < 4; c++) call(1 + Math.floor(rand() * 40), rand() < 0.5);
    let si = 0;
    const micro = () => {
      if (pendingRes.length) { pendingRes.shift()!(); return true; }
      if (si < steps.length) { steps[si++](); return true; }
      return false;
    };
    const real = Atomics.load;
    for (let i = Math.floor(rand() * 30); i > 0; i--) micro();
    const pc = rand();
    (Atomics as { load: unknown }).load = function (...args: unknown[]) {
      if (rand() < pc) { (Atomics as { load: unknown }).load = real; micro(); (Atomics as { load: unknown }).load = pcf; }
      return (real as (...x: unknown[]) => unknown).apply(Atomics, args);
    };
    const pcf = Atomics.load;
    const r = reader(a);
    (Atomics as { load: unknown }).load = real;
    const start = (r as unknown as { next: number }).next;
    const got: number[] = [];
    let lost = 0;
    for (let round = 0; round < 200; round++) {
      (Atomics as { load: unknown }).load = function (...args: unknown[]) {
        const v = (real as (...x: unknown[]) => unknown).apply(Atomics, args);
        return v;
      };
      const p = rand();
      (Atomics as { load: unknown }).load = function (...args: unknown[]) {
        if (rand() < p) { (Atomics as { load: unknown }).load = real; micro(); (Atomics as { load: unknown }).load = patched; }
        return (real as (...x: unknown[]) => unknown).apply(Atomics, args);
      };
      const patched = Atomics.load;
      const x = r.read();
      (Atomics as { load: unknown }).load = real;
      got.push(...x.events.map((e) => e.seq)); lost += x.lost;
      if (rand() < 0.3) ga.convert(0, 4096, rand() < 0.5 ? "shared" : "private");
      if (rand() < 0.5) micro();
    }
    while (micro());
    const x = r.read(); got.push(...x.events.map((e) => e.seq)); lost += x.lost;
    const all = reader(a, start).read().events.map((e) => e.seq).filter((q) => q >= start);
    assert.is(lost, 0, `seed ${seed}`);
    for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], `seed ${seed}: order at ${i}: ${got[i - 1]} ${got[i]}`);
    assert.equal(got, all, `seed ${seed}`);
    b.detach();
  }
});

test.run();
