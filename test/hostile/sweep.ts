// The hostile sweep behind test/hostile.test.ts: CALLS calls of seeded-random public methods with often-garbage
// arguments on live, dead and forged objects; every call must return or throw an Error with a string `.code`.
import * as assert from "uvu/assert";
import {
  createSimulatorSync, restoreSimulator, Gmem, Vm, Iommu, Bitmap, PageTable, type PausedOp,
} from "../../bindings/index";
import { rng } from "../harness/rng";
import { CHECK_EVERY_DEFAULT, SEED, K, M, G, GARBAGE, forgeries, knobs, viewMethods, pagesToRestore, type Sweep } from "./inputs";

export function sweep(arch: "sw" | "tdx" | "snp", protocol: "v2" | "v4", CALLS: number, seed: number, debug: boolean): Sweep {
  const CHECK_EVERY = knobs.HOSTILE_CHECK_EVERY ?? CHECK_EVERY_DEFAULT;
  const TRACE = knobs.HOSTILE_TRACE === true;
  // release core without the after-step checker for speed; or the debug core with it, which also checks the
  // runtime invariants (I9, I12, I18-I20) on every conversion
  const sim = createSimulatorSync(undefined, { checks: debug, debug, arch, protocol });
  const other = createSimulatorSync(undefined, { checks: false }); // objects of another simulator
  const r = rng((knobs.HOSTILE_SEED ?? SEED) ^ seed);
  const int = (n: number) => r.int(n);
  const chance = (p: number) => r.int(1 << 20) < p * (1 << 20);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const junk = () => pick(GARBAGE);
  /** a good value most of the time, garbage otherwise */
  const arg = (good: () => unknown, p = 0.8): unknown => (chance(p) ? good() : junk());

  // ---- object pools: live, dead (disposed/destroyed) and forged -------------------------------------------------
  const gmems: Gmem[] = [], vms: Vm[] = [], ious: Iommu[] = [], bms: Bitmap[] = [], pts: PageTable[] = [];
  const deadG: Gmem[] = [], deadV: Vm[] = [], deadI: Iommu[] = [], deadB: Bitmap[] = [], deadP: PageTable[] = [];
  const ops: PausedOp[] = [], doneOps: PausedOp[] = [];
  const bindings: { v: Vm; g: Gmem; gpa: number; n: number; first: number; slot: number }[] = [];
  const pins: { g: Gmem; i: number; n: number }[] = [];
  const iommuGmem = new Map<Iommu, Gmem>();
  const maps: { io: Iommu; iova: number; n: number; secure: boolean }[] = [];
  const forge = <T extends object>(cls: { prototype: T }, handle: number, extra: Record<string, unknown> = {}): T =>
    Object.assign(Object.create(cls.prototype) as T, { sim, handle, ...extra });
  const forgedG = [forge(Gmem, 0x7fffffff, { npages: 16 }), forge(Gmem, 12345, { npages: 1 << 20 }), forge(Gmem, 0, { npages: 0 })];
  const forgedV = [new Vm(sim, 0x7fffffff), new Vm(sim, 12345), new Vm(sim, 0)];
  const forgedI = [new Iommu(sim, 0x7fffffff), new Iommu(sim, 12345), new Iommu(sim, 0)];
  const forgedB = [new Bitmap(sim, 12345), new Bitmap(sim, 0x7fffffff), new Bitmap(sim, 0)];
  const forgedP = [new PageTable(sim, 12345), new PageTable(sim, 0x7fffffff), new PageTable(sim, 0)];
  const foreignG = other.createGmem(16 * K, ["mmap"], "v2", { name: "a guest_memfd of another simulator" });
  const foreignV = other.createVm({ name: "a VM of another simulator" });
  // snapshots: forgeries of a real one's header (made once: each is a few MiB); restores are heavy, so capped
  const { base, snapForgeries } = forgeries(other);
  let heavyRestores = 0;
  const restoreOpts = (bytes: Uint8Array) => (chance(0.8) ? { maximumPages: pagesToRestore(bytes) } : junk());

  /** a receiver or argument of class T: mostly live, sometimes dead, forged, cross-typed or foreign */
  function obj<T>(live: T[], dead: T[], forged: T[], cross: () => unknown, foreign?: T): T {
    const k = int(100);
    if (k < 80 && live.length) return pick(live);
    if (k < 88 && dead.length) return pick(dead);
    if (k < 94) return pick(forged);
    if (k < 97 && foreign !== undefined) return foreign;
    return cross() as T;
  }
  const anyHandleOf = (): number => {
    const all = [...gmems, ...vms, ...ious, ...bms, ...pts];
    return all.length ? pick(all).handle : 1;
  };
  const G_ = (): Gmem => obj(gmems, deadG, forgedG, () => forge(Gmem, anyHandleOf(), { npages: 64 }), foreignG);
  const V_ = (): Vm => obj(vms, deadV, forgedV, () => new Vm(sim, anyHandleOf()), foreignV);
  const I_ = (): Iommu => obj(ious, deadI, forgedI, () => new Iommu(sim, anyHandleOf()));
  const B_ = (): Bitmap => obj(bms, deadB, forgedB, () => new Bitmap(sim, anyHandleOf()));
  const P_ = (): PageTable => obj(pts, deadP, forgedP, () => new PageTable(sim, anyHandleOf()));
  /** a Gmem argument: any of the above, or not a Gmem at all */
  const gArg = (): unknown => (chance(0.9) ? G_() : junk());

  // ---- good-looking values ----------------------------------------------------------------------------------------
  const npagesOf = (g: Gmem) => (typeof g.npages === "number" && g.npages > 0 ? g.npages : 16);
  const index = (g: Gmem) => pick([0, 1, 511, 512, 262143, npagesOf(g) - 1, npagesOf(g), int(npagesOf(g) + 2)]);
  const byteOff = (g: Gmem) => (chance(0.9) ? index(g) * 4 * K : pick([0x800, 1, 4 * K - 1, 2 * M + 8]));
  const byteLen = (g: Gmem) => pick([0, 4 * K, 8 * K, 2 * M, 4 * M, npagesOf(g) * 4 * K, int(8) * 4 * K, G, 0x800]);
  const bigish = (x: number) => (chance(0.1) ? BigInt(x) : x);
  const gpa = () => pick([0, 4 * K, 2 * M, 4 * G, 4 * G + 2 * M, 8 * G, int(64) * 4 * K, int(8) * 2 * M]);
  const flagsV = () => {
    const fl = ["mmap", "init-shared", "init-private", "hugetlb-2M", "hugetlb-1G"];
    const out: unknown[] = [];
    for (const f of fl) if (chance(f === "mmap" ? 0.7 : f === "hugetlb-1G" ? 0.03 : 0.25)) out.push(f);
    if (chance(0.03)) out.push(junk());
    return out;
  };
  const gmemSize = (flags: unknown[]) => {
    if (flags.includes("hugetlb-1G")) return G;
    if (flags.includes("hugetlb-2M")) return pick([2 * M, 4 * M]);
    return pick([4 * K, 16 * K, 64 * K, 2 * M, 4 * M]);
  };
  const to = () => arg(() => pick(["shared", "private"]), 0.95);
  const convOpts = () => {
    if (chance(0.05)) return junk();
    const o: Record<string, unknown> = {};
    if (chance(0.3)) o.mode = arg(() => pick(["zero", "preserve"]));
    if (chance(0.05)) o.pause = arg(() => pick(["after-invalidate-begin", "after-should-proceed", "after-execute"]));
    return o;
  };
  const accessOpts = () => {
    if (chance(0.05)) return junk();
    const o: Record<string, unknown> = { private: arg(() => chance(0.5), 0.95) };
    if (chance(0.4)) o.write = arg(() => int(1000));
    if (chance(0.03)) o.pause = arg(() => "after-faultin");
    return o;
  };
  const writeOpts = () => (chance(0.05) ? junk() : chance(0.5) ? { write: arg(() => int(1000)) } : {});
  const secure = () => arg(() => chance(0.5), 0.9);
  const table = () => arg(() => pick(["private", "shared"]), 0.9);
  const gfn = () => pick([0, 1, 511, 512, 262144, int(1 << 20), 0xffffffff, int(4096)]);
  const level = () => arg(() => pick([1, 2, 3]), 0.85);

  const keep = <T>(pool: T[], x: unknown, cap: number, kill: (t: T) => void) => {
    pool.push(x as T);
    if (pool.length > cap) kill(pool[int(pool.length)]);
  };
  const disposeGmem = (g: Gmem) => {
    g.dispose();
    gmems.splice(gmems.indexOf(g), 1);
    deadG.push(g);
  };
  const destroyVm = (v: Vm) => { v.destroy(); vms.splice(vms.indexOf(v), 1); deadV.push(v); };
  const destroyIo = (i: Iommu) => { i.destroy(); ious.splice(ious.indexOf(i), 1); deadI.push(i); };
  const disposeBm = (b: Bitmap) => { b.dispose(); bms.splice(bms.indexOf(b), 1); deadB.push(b); };
  const disposePt = (p: PageTable) => { p.dispose(); pts.splice(pts.indexOf(p), 1); deadP.push(p); };
  const maybePaused = (x: unknown) => {
    if (x && typeof x === "object" && "handle" in x && "kind" in x) ops.push(x as PausedOp);
  };

  // ---- the methods -------------------------------------------------------------------------------------------------
  type M = [string, () => unknown];
  const S = (s: unknown) => s as never; // garbage goes where a typed parameter is
  const methods: M[] = [
    // Simulator
    ["sim.createGmem", () => {
      const fl = chance(0.9) ? flagsV() : junk();
      const size = arg(() => bigish(gmemSize(Array.isArray(fl) ? fl : [])), 0.85);
      const proto = chance(0.7) ? undefined : arg(() => pick(["v2", "v4"]), 0.8);
      const g = proto === undefined ? sim.createGmem(S(size), S(fl)) : sim.createGmem(S(size), S(fl), S(proto),
        S(chance(0.5) ? { name: arg(() => "g") } : junk()));
      keep(gmems, g, 10, (x) => disposeGmem(x));
    }],
    ["sim.createVm", () => keep(vms, sim.createVm(S(chance(0.9) ? {} : junk())), 6, destroyVm)],
    ["sim.createIommu", () => keep(ious, sim.createIommu(S(arg(() => pick(["pin", "gmem"]))), S(chance(0.9) ? {} : junk())), 6, destroyIo)],
    ["sim.createBitmap", () => keep(bms, sim.createBitmap(S(arg(() => pick([1, 64, 512, 4096, 262144 + 3, int(1 << 20)]))),
      S(chance(0.9) ? { shared: arg(() => chance(0.5)) } : junk())), 6, disposeBm)],
    ["sim.createPageTable", () => keep(pts, sim.createPageTable(), 6, disposePt)],
    ["sim.openGmem", () => { const g = sim.openGmem(S(arg(anyHandleOf, 0.5))); if (chance(0.1)) gmems.push(g); }],
    ["sim.openVm", () => sim.openVm(S(arg(anyHandleOf, 0.5)))],
    ["sim.openBitmap", () => sim.openBitmap(S(arg(anyHandleOf, 0.5)))],
    ["sim.openPageTable", () => sim.openPageTable(S(arg(anyHandleOf, 0.5)))],
    ["sim.inject", () => sim.inject(S(arg(() => pick(["enomem-split", "enomem-store", "transient-ref", "sept-remove-fail"]))),
      S(chance(0.5) ? undefined : arg(() => pick([0, 1, 2]))))],
    ["sim.failAllocation", () => sim.failAllocation(S(arg(() => pick([0, 1, 2, 5, 50]))))],
    ["sim.resume", () => {
      const k = int(10);
      const op = k < 6 && ops.length ? ops.splice(int(ops.length), 1)[0] : k < 8 && doneOps.length ? pick(doneOps)
        : k < 9 ? { handle: arg(anyHandleOf, 0.5), kind: pick(["convert", "access", junk()]), op: "x" } : junk();
      const res = sim.resume(S(op), S(chance(0.8) ? undefined : chance(0.5) ? { pause: arg(() => "after-execute") } : junk()));
      doneOps.push(op as PausedOp);
      if (doneOps.length > 16) doneOps.shift();
      if (res === op) ops.push(op as PausedOp);
    }],
    ["sim.checkInvariants", () => sim.checkInvariants()],
    // on the debug core these break invariants on purpose: there they only get arguments they must refuse
    ["sim.debugHook", () => debug ? sim.debugHook(S(pick(GARBAGE))) : sim.debugHook(S(arg(() => pick(["skip-rollback", "force-work", "skip-shared-zap", "bad-error-index", "skip-retry"]))))],
    ["sim.debugCorrupt", () => debug ? sim.debugCorrupt(S(pick(["", "I", "X1", "I1x", junk()])), S(G_()), 0)
      : sim.debugCorrupt(S(arg(() => `I${int(22)}`)), S(chance(0.5) ? G_() : V_()), S(arg(() => int(16))))],
    ["sim.leakedPages", () => sim.leakedPages()],
    ["sim.memoryStats", () => sim.memoryStats()],
    ["sim.counters", () => sim.counters()],
    ["sim.share", () => sim.share()],
    ["sim.events.read", () => sim.events.read()],
    ["sim.getters", () => [sim.arch, sim.checks, sim.step, sim.u32.length, sim.instanceId]],
    ["sim.snapshot", () => {
      if (heavyRestores >= 4 || !chance(0.05)) return sim.leakedPages();
      heavyRestores++;
      const bytes = sim.snapshot();
      const copy = restoreSimulator(bytes, S(restoreOpts(bytes)));
      copy.checkInvariants();
    }],
    ["restoreSimulator", () => {
      const x = pick(snapForgeries);
      const header = x instanceof Uint8Array && x.length === base.length && x[0] === base[0];
      if (header && heavyRestores >= 8) return;
      if (header) heavyRestores++;
      restoreSimulator(S(x), S(x instanceof Uint8Array ? restoreOpts(x) : junk()));
    }],
    ["sim.setChecks", () => { try { sim.setChecks(S(junk())); } finally { sim.setChecks(debug); } }],

    // Gmem: structures
    ["gmem.folio", () => { const g = G_(); return g.folio(S(arg(() => index(g)))); }],
    ["gmem.allocFolio", () => { const g = G_(); g.allocFolio(S(arg(() => index(g)))); }],
    ["gmem.splitFolio", () => { const g = G_(); g.splitFolio(S(arg(() => index(g)))); }],
    ["gmem.mergeFolio", () => { const g = G_(); g.mergeFolio(S(arg(() => index(g)))); }],
    ["gmem.freeBlock", () => { const g = G_(); g.freeBlock(S(arg(() => index(g)))); }],
    ["gmem.ref", () => { const g = G_(); g.ref(S(arg(() => index(g))), S(arg(() => pick(["transient", "map", "pin"]))), S(arg(() => pick([1, -1])))); }],
    ["gmem.markUptodate", () => { const g = G_(); g.markUptodate(S(arg(() => index(g)))); }],
    ["gmem.check", () => G_().check()],
    ["gmem.getters", () => { const g = G_(); return [g.size, g.hugeOrder, g.populated, g.protocol]; }],
    // Gmem: its bitmap
    ["gmem.test", () => { const g = G_(); return g.test(S(arg(() => index(g)))); }],
    ["gmem.countShared", () => { const g = G_(); return g.countShared(S(arg(() => index(g)))); }],
    ["gmem.countShared2", () => { const g = G_(); return g.countShared(S(arg(() => 0)), S(arg(() => index(g)))); }],
    ["gmem.nextDiff", () => { const g = G_(); return g.nextDiff(S(arg(() => index(g))), S(arg(() => npagesOf(g))), S(arg(() => chance(0.5)))); }],
    ["gmem.runs", () => { const g = G_(); return chance(0.5) ? g.runs() : g.runs(S(arg(() => index(g))), S(arg(() => npagesOf(g)))); }],
    ["gmem.blockShared", () => { const g = G_(); return g.blockShared(S(arg(() => index(g))), S(arg(() => pick([9, 18])))); }],
    ["gmem.views", () => { const g = G_(); return [g.words().length, g.counts2M().length, g.counts1G().length, g.sharedTotal(), g.bitmapBytes()]; }],
    // Gmem: the protocol
    ["gmem.mmap", () => G_().mmap()],
    ["gmem.munmap", () => G_().munmap()],
    ["gmem.hostAccess", () => { const g = G_(); return g.hostAccess(S(arg(() => bigish(byteOff(g)))), S(writeOpts())); }],
    ["gmem.pin", () => { const g = G_(); g.pin(S(arg(() => bigish(byteOff(g)))), S(arg(() => byteLen(g)))); }],
    ["gmem.unpin", () => { const g = G_(); g.unpin(S(arg(() => byteOff(g))), S(arg(() => byteLen(g)))); }],
    ["gmem.convert", () => {
      const g = G_();
      maybePaused(g.convert(S(arg(() => bigish(byteOff(g)))), S(arg(() => bigish(byteLen(g)))), S(to()), S(convOpts())));
    }],
    ["gmem.convert.whole", () => { const g = G_(); maybePaused(g.convert(0, npagesOf(g) * 4 * K, S(to()))); }],
    ["gmem.punch", () => { const g = G_(); g.punch(S(arg(() => byteOff(g))), S(arg(() => byteLen(g)))); }],
    ["gmem.close", () => { if (chance(0.1)) G_().close(); else pick([...deadG, ...forgedG]).close(); }],
    ["gmem.dispose", () => { const g = G_(); if (gmems.includes(g)) disposeGmem(g); else g.dispose(); }],

    // Vm
    ["vm.bind", () => {
      const v = V_(), g = gArg() as Gmem;
      const ok = g instanceof Gmem ? g : forgedG[0];
      v.bind(S(arg(() => int(34))), S(arg(gpa)), S(arg(() => bigish(byteLen(ok)))), g, S(arg(() => byteOff(ok))));
    }],
    ["vm.unbind", () => V_().unbind(S(arg(() => int(34))))],
    ["vm.access", () => maybePaused(V_().access(S(arg(gpa)), S(accessOpts())))],
    ["vm.spte", () => V_().spte(S(arg(gpa)), S(table()))],
    ["vm.info", () => V_().info()],
    ["vm.leaves", () => V_().leaves(S(table()))],
    ["vm.destroy", () => { const v = V_(); if (vms.includes(v)) destroyVm(v); else v.destroy(); }],

    // coherent calls (valid-looking argument tuples built from the state) so the sweep gets deep into the protocol
    ["good.bind", () => {
      if (!vms.length || !gmems.length) return;
      const v = pick(vms), g = pick(gmems), np = npagesOf(g);
      const slot = int(32), first = int(np), n = 1 + int(Math.min(np - first, chance(0.5) ? 1024 : np));
      v.bind(slot, slot * G, n * 4 * K, g, first * 4 * K);
      bindings.push({ v, g, gpa: slot * G, n, first, slot });
      if (bindings.length > 64) bindings.shift();
    }],
    ["good.unbind", () => { if (bindings.length) { const b = bindings.splice(int(bindings.length), 1)[0]; b.v.unbind(b.slot); } }],
    ["good.access", () => {
      if (!bindings.length) return;
      const b = pick(bindings), i = int(b.n);
      let priv = chance(0.5);
      try { priv = chance(0.9) ? !b.g.test(b.first + i) : priv; } catch { /* a disposed gmem */ }
      const o: Record<string, unknown> = { private: priv };
      if (chance(0.5)) o.write = int(1 << 16);
      if (chance(0.03)) o.pause = "after-faultin";
      maybePaused(b.v.access(b.gpa + i * 4 * K, S(o)));
    }],
    ["good.convert", () => {
      if (!gmems.length) return;
      const g = pick(gmems), np = npagesOf(g);
      const s0 = chance(0.3) ? int(np >> 9) << 9 : int(np);
      const n = chance(0.3) ? Math.min(512, np - s0) : 1 + int(Math.min(np - s0, 600));
      const o: Record<string, unknown> = {};
      if (g.protocol === "v4" && chance(0.5)) o.mode = pick(["zero", "preserve"]);
      if (chance(0.08)) o.pause = pick(["after-invalidate-begin", "after-should-proceed", "after-execute"]);
      maybePaused(g.convert(s0 * 4 * K, n * 4 * K, pick(["shared", "private"]), S(o)));
    }],
    ["good.host", () => {
      if (!gmems.length) return;
      const g = pick(gmems), np = npagesOf(g), i = int(np), k = int(4);
      if (k === 0) g.mmap();
      else if (k === 1) g.hostAccess(i * 4 * K + int(4 * K), chance(0.5) ? { write: int(1 << 16) } : undefined);
      else if (k === 2) { const n = 1 + int(Math.min(4, np - i)); g.pin(i * 4 * K, n * 4 * K); pins.push({ g, i, n }); }
      else if (pins.length) { const p = pins.splice(int(pins.length), 1)[0]; p.g.unpin(p.i * 4 * K, p.n * 4 * K); }
    }],
    ["good.punch", () => {
      if (!gmems.length) return;
      const g = pick(gmems), np = npagesOf(g), i = chance(0.3) ? int(np >> 9) << 9 : int(np);
      g.punch(i * 4 * K, (chance(0.3) ? 512 : 1 + int(8)) * 4 * K);
    }],
    ["good.iommu", () => {
      if (!ious.length || !gmems.length) return;
      const io = pick(ious);
      const bound = iommuGmem.get(io);
      const k = int(6);
      if (k === 0 || bound === undefined) {
        const g = pick(gmems);
        if (io.info().mode === "gmem") { io.bind(g); iommuGmem.set(io, g); }
        else iommuGmem.set(io, g);
        return;
      }
      const g = bound, np = npagesOf(g), i = int(np), n = 1 + int(Math.min(np - i, chance(0.3) ? 512 : 8));
      const iova = int(256) * 2 * M + i * 4 * K;
      if (k <= 3) {
        let sec = chance(0.5);
        try { sec = chance(0.8) ? !g.test(i) : sec; } catch { /* disposed */ }
        if (io.info().mode === "pin") { sec = false; if (chance(0.5)) g.mmap(); }
        io.map(iova, g, i * 4 * K, n * 4 * K, sec);
        maps.push({ io, iova, n, secure: sec });
        if (maps.length > 64) maps.shift();
      } else if (k === 4 && maps.length) {
        const m = maps.splice(int(maps.length), 1)[0];
        m.io.unmap(m.iova, m.n * 4 * K, m.secure);
      } else if (maps.length) {
        const m = pick(maps);
        m.io.dma(m.iova + int(m.n) * 4 * K, m.secure, chance(0.5) ? { write: int(1 << 16) } : undefined);
      }
    }],
    ["good.resume", () => { if (ops.length) { const op = ops.splice(int(ops.length), 1)[0]; if (sim.resume(op) === op) ops.push(op); } }],

    // Iommu
    ["iommu.bind", () => I_().bind(S(gArg()))],
    ["iommu.unbind", () => I_().unbind()],
    ["iommu.map", () => {
      const g = gArg() as Gmem;
      const ok = g instanceof Gmem ? g : forgedG[0];
      I_().map(S(arg(gpa)), g, S(arg(() => byteOff(ok))), S(arg(() => bigish(byteLen(ok)))), S(secure()));
    }],
    ["iommu.unmap", () => I_().unmap(S(arg(gpa)), S(arg(() => pick([4 * K, 2 * M, 4 * M, 16 * M, G, 0]))), S(secure()))],
    ["iommu.dma", () => I_().dma(S(arg(gpa)), S(secure()), S(writeOpts()))],
    ["iommu.iopte", () => I_().iopte(S(arg(gpa)), S(secure()))],
    ["iommu.info", () => I_().info()],
    ["iommu.destroy", () => { const i = I_(); if (ious.includes(i)) destroyIo(i); else i.destroy(); }],

    // Bitmap
    ["bitmap.assign", () => { const b = B_(); b.assign(S(arg(() => int(b.npages + 1))), S(arg(() => b.npages)), S(arg(() => chance(0.5)))); }],
    ["bitmap.test", () => { const b = B_(); return b.test(S(arg(() => int(b.npages + 1)))); }],
    ["bitmap.countShared", () => { const b = B_(); return b.countShared(S(arg(() => 0)), S(arg(() => b.npages))); }],
    ["bitmap.nextDiff", () => { const b = B_(); return b.nextDiff(S(arg(() => int(b.npages + 1))), S(arg(() => b.npages)), S(junk())); }],
    ["bitmap.runs", () => { const b = B_(); return b.runs(S(arg(() => 0, 0.95)), S(arg(() => Math.min(b.npages, 4096), 0.95))).length; }],
    ["bitmap.blockShared", () => B_().blockShared(S(arg(() => int(4096))), S(arg(() => pick([9, 18]))))],
    ["bitmap.views", () => { const b = B_(); return [b.words().length, b.counts2M().length, b.counts1G().length, b.sharedTotal(), b.bitmapBytes()]; }],
    ["bitmap.check", () => B_().check()],
    ["bitmap.dispose", () => { const b = B_(); if (bms.includes(b)) disposeBm(b); else b.dispose(); }],

    // PageTable
    ["pt.map", () => P_().map(S(arg(gfn)), S(arg(() => int(1 << 20))), S(level()), S(chance(0.9) ? undefined : junk()))],
    ["pt.map.huge", () => {
      const lv = pick([1, 2, 3]), n = lv === 3 ? 262144 : lv === 2 ? 512 : 1;
      P_().map(int(64) * n, int(64) * n, S(lv));
    }],
    ["pt.lookup", () => P_().lookup(S(arg(gfn)))],
    ["pt.zap", () => P_().zap(S(arg(gfn)), S(arg(gfn)), S(chance(0.8) ? pick(["zap", "demote"]) : junk()),
      S(chance(0.5) ? undefined : chance(0.6) ? { keepTables: arg(() => chance(0.5)) } : junk()))],
    ["pt.demote", () => P_().demote(S(arg(gfn)), S(arg(() => pick([2, 3]))))],
    ["pt.leaves", () => P_().leaves()],
    ["pt.tables", () => P_().tables()],
    ["pt.countRange", () => P_().countRange(S(arg(gfn)), S(arg(gfn)))],
    ["pt.check", () => P_().check()],
    ["pt.dispose", () => { const p = P_(); if (pts.includes(p)) disposePt(p); else p.dispose(); }],
    ...viewMethods({ sim, G_, V_, I_, P_, arg, chance, pick, int, junk, index, gfn, table, secure }),
  ];

  // ---- the sweep -------------------------------------------------------------------------------------------------
  const codes = new Map<string, number>();
  const perMethod = new Map<string, number>();
  const okPer = new Map<string, number>();
  const badSeen = new Map<string, { first: string; n: number }>();
  const recent: string[] = [];
  let calls = 0, ok = 0;
  const show = (e: unknown) => (e instanceof Error ? `${e.name}${"code" in e ? ` [${String((e as { code: unknown }).code)}]` : ""}: ${e.message}` : `non-Error ${String(e)}`);
  const t0 = Date.now();
  for (let n = 0; n < CALLS; n++) {
    const [name, run] = methods[int(methods.length)];
    calls++;
    perMethod.set(name, (perMethod.get(name) ?? 0) + 1);
    const stepBefore = sim.step;
    if (TRACE) console.log(`${n} ${name}`);
    try {
      run();
      ok++;
      okPer.set(name, (okPer.get(name) ?? 0) + 1);
      recent.push(`${n} ${name} ok`);
    } catch (e) {
      const code = e instanceof Error ? (e as { code?: unknown }).code : undefined;
      const wrong = !(e instanceof Error) || e instanceof WebAssembly.RuntimeError || e instanceof TypeError ||
        e instanceof RangeError || e instanceof SyntaxError || e instanceof ReferenceError ||
        typeof code !== "string" || code === "" || code === "EINVARIANT";
      recent.push(`${n} ${name} ${show(e)}`);
      if (TRACE && e instanceof WebAssembly.RuntimeError) console.log("TRAP", n, name, show(e), (e as Error).stack?.split("\n").slice(0, 8).join(" | "));
      if (wrong) {
        // one line per method and kind of failure, with the first call that showed it and how often it did
        const key = `${name}: ${show(e).slice(0, 120)}`;
        const seen = badSeen.get(key);
        if (seen) seen.n++;
        else badSeen.set(key, { first: `call ${n} (step ${stepBefore})`, n: 1 });
      } else codes.set(code as string, (codes.get(code as string) ?? 0) + 1);
    }
    if (recent.length > 40) recent.shift();
    if ((n + 1) % CHECK_EVERY === 0) {
      sim.failAllocation(0); // a pending injected allocation failure is not a broken invariant
      try {
        sim.checkInvariants();
      } catch (e) {
        assert.unreachable(`${arch}/${protocol}: after ${n + 1} calls: ${show(e)}\nlast calls:\n  ${recent.join("\n  ")}`);
      }
    }
  }
  if (knobs.HOSTILE_STATS) {
    console.log(`${arch}/${protocol}\n` + [...perMethod.entries()].map(([k, v]) => `${k} ${okPer.get(k) ?? 0}/${v}`).join("\n"));
    console.log(JSON.stringify(sim.counters()));
  }
  sim.failAllocation(0);
  sim.checkInvariants();
  const uncalled = methods.map(([name]) => name).filter((name) => !perMethod.has(name));
  const bad = [...badSeen.entries()].map(([k, v]) => `${k} (${v.n}x, first at ${v.first})`);
  return { calls, ok, codes, bad, uncalled, counters: sim.counters(), seconds: (Date.now() - t0) / 1000 };
}
