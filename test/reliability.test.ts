// Reliability regressions: inputs that once hung, crashed with a bare engine error, or let a stale handle reach a
// newer object. Every failure of the public API must be an Error with a string `.code`, returned in bounded time:
// corrupted snapshots, memories that hold no (or a half-initialised) gmemsim layout, handles forged past 2^32,
// names that are not strings, memories and modules that cannot hold the core, a slot reused 70,000 times. Also the
// loopback file server (gmemsim serve): a malformed percent-encoding is a 400 and it keeps serving. Runs in
// Node and in the browser (Node-only parts are guarded by `runtime`).
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  createSimulatorSync, restoreSimulator, compileCore, Vm, Gmem, Iommu, Bitmap, PageTable, layout, type Simulator,
} from "../bindings/index";
import { hash } from "../bindings/snapshot"; // the checksum, to reseal an edited image
import { spawnWorker, runtime } from "gmemsim-test-env";

const M = 2 ** 20;

type Coded = Error & { code?: unknown };

/** Run f, which must throw; the error and how long it took. */
function failure(what: string, f: () => unknown): { err: Coded; ms: number } {
  const t0 = performance.now();
  let err: unknown;
  let threw = false;
  try { f(); } catch (e) { err = e; threw = true; }
  const ms = performance.now() - t0;
  if (!threw) assert.unreachable(`${what}: returned instead of throwing`);
  return { err: err as Coded, ms };
}

/** f must throw an Error with `.code` === code (a string) within maxMs, never a bare engine or JS error. */
function expectCode(what: string, f: () => unknown, code: string, maxMs = 2000): Coded {
  const { err, ms } = failure(what, f);
  assert.ok(err instanceof Error, `${what}: threw a non-Error (${String(err)})`);
  const bare = err instanceof WebAssembly.RuntimeError || err instanceof WebAssembly.LinkError ||
    err instanceof WebAssembly.CompileError || err instanceof TypeError || err instanceof RangeError;
  assert.not.ok(bare, `${what}: a bare ${err.name}: ${err.message}`);
  assert.type(err.code, "string", `${what}: .code is a string (${err.name}: ${err.message})`);
  assert.is(err.code, code, `${what}: .code (${err.message})`);
  assert.ok(ms < maxMs, `${what}: took ${ms.toFixed(0)} ms (at most ${maxMs})`);
  return err;
}

// ---- 1. restoreSimulator on corrupted snapshot bytes -------------------------------------------------------------

// The snapshot format (bindings/snapshot.ts): a 32-byte header ("GMSNAP02", layout version @8, used @12, names
// length @16, protocol @20, checksum @24 over everything after the header), the names (JSON, padded to 4 bytes with
// spaces), then the memory image up to the heap top.
const SNAP_HEADER = 32;


/** Recompute the checksum of edited bytes (a copy at offset 0), so only the edit itself can be refused. */
function reseal(x: Uint8Array): Uint8Array {
  new DataView(x.buffer, x.byteOffset).setUint32(24, hash(x.subarray(SNAP_HEADER)), true);
  return x;
}

function namesLength(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset).getUint32(16, true);
}

/** Where the memory image starts. */
function imageStart(b: Uint8Array): number {
  return SNAP_HEADER + ((namesLength(b) + 3) & ~3);
}

function busySim(): { sim: Simulator; bytes: Uint8Array } {
  const sim = createSimulatorSync(undefined, { arch: "tdx" });
  const g = sim.createGmem(4 * M, ["mmap", "init-private", "hugetlb-2M"], "v2", { name: "g" });
  const vm = sim.createVm({ name: "vm" });
  vm.bind(0, 0, 4 * M, g, 0);
  vm.access(0x1000, { private: true, write: 5 });
  g.convert(0x3000, 0x1000, "shared");
  return { sim, bytes: sim.snapshot() };
}

test("reliability: restoreSimulator refuses corrupted snapshot bytes with EINVAL, in bounded time", () => {
  const { bytes } = busySim();
  restoreSimulator(bytes).checkInvariants();
  const img = imageStart(bytes);
  const edit = (f: (x: Uint8Array, dv: DataView) => void): Uint8Array => {
    const x = bytes.slice();
    f(x, new DataView(x.buffer));
    return x;
  };
  const refuse = (what: string, bad: unknown) => expectCode(`restore(${what})`, () => restoreSimulator(bad as Uint8Array), "EINVAL", 2000);

  // damage the checksum sees
  refuse("a byte flipped in the middle", edit((x) => { x[x.length >> 1] ^= 0xff; }));
  refuse("a byte flipped in the image header", edit((x) => { x[img + layout.H_HEAP_TOP] ^= 0x10; }));
  refuse("a byte flipped in the names", edit((x) => { x[SNAP_HEADER] ^= 0x01; }));
  refuse("the last byte flipped", edit((x) => { x[x.length - 1] ^= 0x80; }));
  refuse("H_INIT = 1 (initialisation in progress), checksum not updated", edit((x, dv) => { dv.setUint32(img + layout.H_INIT, 1, true); }));
  // damage to the shape
  refuse("truncated to half", bytes.slice(0, bytes.length >> 1));
  refuse("truncated by 4 bytes", bytes.slice(0, bytes.length - 4));
  refuse("truncated by 1 byte", bytes.slice(0, bytes.length - 1));
  refuse("padded by 4 bytes", (() => { const x = new Uint8Array(bytes.length + 4); x.set(bytes); return x; })());
  refuse("only the header", bytes.slice(0, SNAP_HEADER));
  refuse("bad magic", edit((x) => { x[0] = 0x58; }));
  refuse("empty", new Uint8Array(0));
  refuse("ten zero bytes", new Uint8Array(10));
  refuse("an ArrayBuffer", bytes.slice().buffer);
  refuse("null", null);
  refuse("a string", "GMSNAP02");

  // edits with the checksum recomputed: the checks behind the checksum must refuse them on their own. The test's
  // copy of the checksum must be the binding's, or these cases prove nothing.
  const stored = new DataView(bytes.buffer, bytes.byteOffset).getUint32(24, true);
  assert.is(hash(bytes.subarray(SNAP_HEADER)), stored, "the stored checksum is the hash of the image");
  const sealed = (f: (x: Uint8Array, dv: DataView) => void) => reseal(edit(f));
  refuse("H_INIT = 1 (initialisation in progress), resealed", sealed((x, dv) => { dv.setUint32(img + layout.H_INIT, 1, true); }));
  refuse("H_INIT = 0, resealed", sealed((x, dv) => { dv.setUint32(img + layout.H_INIT, 0, true); }));
  refuse("H_INIT = 7, resealed", sealed((x, dv) => { dv.setUint32(img + layout.H_INIT, 7, true); }));
  refuse("bad magic, resealed", sealed((x) => { x[7] = 0x39; }));
  refuse("another layout version, resealed", sealed((x, dv) => { dv.setUint32(8, dv.getUint32(8, true) + 1, true); }));
  refuse("used larger than the bytes, resealed", sealed((x, dv) => { dv.setUint32(12, dv.getUint32(12, true) + 4, true); }));
  refuse("used = 2^32 - 4, resealed", sealed((x, dv) => { dv.setUint32(12, 0xfffffffc, true); }));
  refuse("names length past the end, resealed", sealed((x, dv) => { dv.setUint32(16, 0xfffffff0, true); }));
  refuse("layout magic wrong, resealed", sealed((x, dv) => { dv.setUint32(img + layout.H_MAGIC, 0x12345678, true); }));
  refuse("heap top not the image size, resealed", sealed((x, dv) => { dv.setUint32(img + layout.H_HEAP_TOP, layout.HEAP_BASE, true); }));
  refuse("names not JSON, resealed", sealed((x) => { x[SNAP_HEADER] = 0x7b; }));
  refuse("names of the wrong shape, resealed", sealed((x) => {
    x.set(new TextEncoder().encode("[1]".padEnd(namesLength(bytes), " ")), SNAP_HEADER);
  }));
  // nothing of the failed restores leaked into a good one
  const ok = restoreSimulator(bytes);
  ok.checkInvariants();
  assert.is(ok.arch, "tdx");
});

// ---- 2. attaching to a shared memory that holds no ready gmemsim layout -----------------------------------------

function memoryWithInit(value: number): WebAssembly.Memory {
  const memory = new WebAssembly.Memory({ initial: layout.INITIAL_WASM_PAGES, maximum: 65536, shared: true });
  Atomics.store(new Uint32Array(memory.buffer), layout.H_INIT >>> 2, value);
  return memory;
}

test(`reliability: attaching to a memory whose header is not a gmemsim layout throws .code (${runtime})`, () => {
  // H_INIT = 7: no initialisation state the core knows: refused at once, never waited on
  expectCode("attach (H_INIT = 7)", () => createSimulatorSync(undefined, { memory: memoryWithInit(7) }), "EINVAL", 3000);
  expectCode("attach (H_INIT = 7, mayBlock false)",
    () => createSimulatorSync(undefined, { memory: memoryWithInit(7), mayBlock: false }), "EINVAL", 3000);
  // H_INIT stuck at 1 (an initialisation that never finishes): the core waits about 2 s at most where it may block
  // (Node's main thread); on a page's main thread (mayBlock false by default) it gives up without waiting
  expectCode("attach (H_INIT stuck at 1)", () => createSimulatorSync(undefined, { memory: memoryWithInit(1) }), "ETIMEDOUT", 3500);
  expectCode("attach (H_INIT stuck at 1, mayBlock false)",
    () => createSimulatorSync(undefined, { memory: memoryWithInit(1), mayBlock: false }), "ETIMEDOUT", 1000);
  // asking to block where the thread cannot (a page's main thread) is refused before the core could trap
  if (runtime === "browser") {
    expectCode("attach (mayBlock true on a page)", () => createSimulatorSync({ mayBlock: true }), "EINVAL", 1000);
  } else {
    createSimulatorSync({ mayBlock: true }).detach();
  }
});

/** Settle a promise within ms, else { timedOut: true }. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: Error; timedOut?: boolean; ms: number }> {
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const r = await Promise.race([
    p.then((value) => ({ value }), (error: Error) => ({ error })),
    new Promise<{ timedOut: true }>((res) => { timer = setTimeout(() => res({ timedOut: true }), ms); }),
  ]);
  clearTimeout(timer);
  return { ...r, ms: performance.now() - t0 };
}

test(`reliability: a worker attaching to a half-initialised memory gives up within ~3 s (${runtime})`, async () => {
  // a worker may block (Atomics.wait), so this is the waiting path in a browser too
  const module = await compileCore();
  for (const [value, why] of [[7, /no gmemsim layout/], [1, /never finished/]] as const) {
    const r = await within(spawnWorker({ module, memory: memoryWithInit(value), flavor: "release" }, { kind: "info" }), 6000);
    assert.not.ok(r.timedOut, `H_INIT = ${value}: the worker's attach did not return within 6 s`);
    assert.ok(r.error, `H_INIT = ${value}: the worker attached (${JSON.stringify(r.value)})`);
    assert.match(r.error!.message, /^EnvironmentError: /, `H_INIT = ${value}: ${r.error!.message}`);
    assert.match(r.error!.message, why);
    assert.ok(r.ms < 4500, `H_INIT = ${value}: took ${r.ms.toFixed(0)} ms`);
  }
});

// ---- 3. handle generations -------------------------------------------------------------------------------------

test("reliability: a disposed bitmap's handle stays stale over 70,000 reuses of its slot", () => {
  const sim = createSimulatorSync();
  const first = sim.createBitmap(64);
  const slot = first.handle & ((1 << layout.OBJ_INDEX_BITS) - 1);
  first.dispose();
  const t0 = performance.now();
  let newest: Bitmap = first;
  let sameHandle = 0, otherSlot = 0, reached = 0;
  const ROUNDS = 70_000;
  for (let i = 0; i < ROUNDS; i++) {
    newest = sim.createBitmap(64);
    if ((newest.handle & ((1 << layout.OBJ_INDEX_BITS) - 1)) !== slot) otherSlot++;
    if (newest.handle === first.handle) sameHandle++;
    if ((i & 4095) === 4095 || i === ROUNDS - 1) { // now and then: the kept object must not reach the live one
      try { first.test(0); reached++; } catch (e) { if ((e as Coded).code !== "EBADF") throw e; }
    }
    if (i < ROUNDS - 1) newest.dispose();
  }
  const ms = performance.now() - t0;
  assert.is(otherSlot, 0, "the test needs every new bitmap in the same slot");
  assert.is(sameHandle, 0, "a new bitmap got the handle of the first one (the generation wrapped)");
  assert.is(reached, 0, "the first round's Bitmap reached a newer bitmap");
  assert.ok(ms < 5000, `${ROUNDS} rounds took ${ms.toFixed(0)} ms`);
  // the live bitmap is untouched by anything done through the stale object
  newest.assign(0, 8, true);
  expectCode("stale test", () => first.test(0), "EBADF");
  expectCode("stale assign", () => first.assign(0, 64, true), "EBADF");
  expectCode("stale countShared", () => first.countShared(), "EBADF");
  expectCode("stale dispose", () => first.dispose(), "EBADF");
  expectCode("reopen the stale handle", () => sim.openBitmap(first.handle), "EBADF");
  assert.is(newest.countShared(), 8);
  assert.is(sim.openBitmap(newest.handle).countShared(), 8);
  newest.dispose();
});

// ---- 4. forged handles -----------------------------------------------------------------------------------------

test("reliability: handles forged past 2^32 are EINVAL, unknown ones EBADF", () => {
  const sim = createSimulatorSync();
  const g = sim.createGmem(2 * M, ["mmap"]);
  const vm = sim.createVm();
  const io = sim.createIommu("gmem");
  const bm = sim.createBitmap(64);
  const pt = sim.createPageTable();
  const ctors: [string, (h: number) => unknown, number][] = [
    ["Vm", (h) => new Vm(sim, h), vm.handle],
    ["Gmem", (h) => new Gmem(sim, h), g.handle],
    ["Iommu", (h) => new Iommu(sim, h), io.handle],
    ["Bitmap", (h) => new Bitmap(sim, h), bm.handle],
    ["PageTable", (h) => new PageTable(sim, h), pt.handle],
  ];
  for (const [name, make, h] of ctors) {
    for (const forged of [h + 2 ** 32, h + 2 ** 33, h - 2 ** 32, -1, 0.5, NaN, Infinity]) {
      expectCode(`new ${name}(sim, ${forged})`, () => make(forged), "EINVAL");
    }
  }
  const opens: [string, (h: number) => unknown][] = [
    ["openVm", (h) => sim.openVm(h)], ["openGmem", (h) => sim.openGmem(h)], ["openIommu", (h) => sim.openIommu(h)],
    ["openBitmap", (h) => sim.openBitmap(h)], ["openPageTable", (h) => sim.openPageTable(h)],
  ];
  for (const [name, open] of opens) {
    expectCode(`${name}(12345)`, () => open(12345), "EBADF");
    expectCode(`${name}(2^32 + 12345)`, () => open(2 ** 32 + 12345), "EINVAL");
  }
  expectCode("openVm(a gmem's handle)", () => sim.openVm(g.handle), "EBADF");
  // the real objects are unharmed
  assert.is(sim.openVm(vm.handle).handle, vm.handle);
  sim.checkInvariants();
});

// ---- 5. object names -------------------------------------------------------------------------------------------

test("reliability: a name that is not a string is EINVAL and snapshots keep working", () => {
  const sim = createSimulatorSync();
  const throwing = { toJSON(): never { throw new Error("toJSON"); } };
  expectCode("createVm({ name: 10n })", () => sim.createVm({ name: 10n as unknown as string }), "EINVAL");
  expectCode("createVm({ name: throwing toJSON })", () => sim.createVm({ name: throwing as unknown as string }), "EINVAL");
  expectCode("createGmem(name: 10n)", () => sim.createGmem(2 * M, [], "v2", { name: 10n as unknown as string }), "EINVAL");
  expectCode("createGmem(name: throwing toJSON)",
    () => sim.createGmem(2 * M, [], "v2", { name: throwing as unknown as string }), "EINVAL");
  expectCode("createIommu(name: 5)", () => sim.createIommu("gmem", { name: 5 as unknown as string }), "EINVAL");
  expectCode("createIommu(name: a String object)",
    () => sim.createIommu("gmem", { name: new String("io") as unknown as string }), "EINVAL");
  const vm = sim.createVm({ name: "vm \u2028 é 😀" });
  const bytes = sim.snapshot();
  const r = restoreSimulator(bytes);
  assert.is(r.nameOf("vm", vm.handle & ((1 << layout.OBJ_INDEX_BITS) - 1)), "vm \u2028 é 😀");
  r.checkInvariants();
});

// ---- 6. memories and modules that cannot hold the core ---------------------------------------------------------

test("reliability: a memory or module that cannot hold the core is EINVAL, not a LinkError/CompileError", () => {
  expectCode("a non-shared memory",
    () => createSimulatorSync(undefined, { memory: new WebAssembly.Memory({ initial: layout.INITIAL_WASM_PAGES, maximum: 65536 }) }),
    "EINVAL");
  expectCode("a too-small shared memory",
    () => createSimulatorSync(undefined, { memory: new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }) }), "EINVAL");
  expectCode("a shared memory one page short",
    () => createSimulatorSync(undefined, {
      memory: new WebAssembly.Memory({ initial: layout.INITIAL_WASM_PAGES - 1, maximum: layout.INITIAL_WASM_PAGES - 1, shared: true }),
    }), "EINVAL");
  expectCode("not a memory", () => createSimulatorSync(undefined, { memory: {} as WebAssembly.Memory }), "EINVAL");
  expectCode("garbage bytes as the module", () => createSimulatorSync(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])), "EINVAL");
  expectCode("zero bytes as the module", () => createSimulatorSync(new ArrayBuffer(64)), "EINVAL");
  expectCode("a truncated core as the module", () => createSimulatorSync(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5])), "EINVAL");
});

test("reliability: a valid WebAssembly module that is not the gmemsim core is EINVAL, not a TypeError", () => {
  // the smallest valid module: "\0asm", version 1, no sections (no imports, no exports)
  const empty = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  expectCode("an empty module's bytes", () => createSimulatorSync(empty), "EINVAL");
  expectCode("an empty compiled module", () => createSimulatorSync(new WebAssembly.Module(empty)), "EINVAL");
});

// ---- counters --------------------------------------------------------------------------------------------------

test("reliability: <kind>.count is the sum of the count field of that kind's events (README, check.stats)", () => {
  const got: Record<string, number> = {}, want: Record<string, number> = {};
  for (const arch of ["sw", "snp", "tdx"] as const) {
    const sim = createSimulatorSync(undefined, { arch });
    const g = sim.createGmem(8 * M, ["mmap", "init-private", "hugetlb-2M"], "v2", { name: "g" });
    const vm = sim.createVm({ name: "vm" });
    vm.bind(0, 0, 8 * M, g, 0);
    const io = sim.createIommu("gmem", { name: "io" });
    io.bind(g);
    vm.access(0x1000, { private: true, write: 1 });
    vm.access(0x201000, { private: true, write: 2 });
    io.map(0, g, 0, 2 * M, true);
    io.map(0x400000, g, 0x200000, 0x3000, true);
    g.convert(0x3000, 0x2000, "shared");
    g.mmap();
    g.hostAccess(0x3000, { write: 3 });
    g.convert(0x3000, 0x2000, "private");
    io.unmap(0x400000, 0x3000, true);
    io.unmap(0, 2 * M, true);
    g.punch(0, 4 * M);
    const { events, lost } = sim.events.read();
    assert.is(lost, 0);
    const sums: Record<string, number> = {};
    for (const e of events) if (typeof e.count === "number") sums[e.kind] = (sums[e.kind] ?? 0) + e.count;
    const counters = sim.counters();
    for (const kind of Object.keys(sums)) {
      got[`${arch} ${kind}.count`] = counters[`${kind}.count`];
      want[`${arch} ${kind}.count`] = sums[kind];
    }
  }
  assert.equal(got, want, "counters <kind>.count (actual) vs the sum of the events' count fields (expected)");
});

// ---- 7. the test server -----------------------------------------------------------------------------------------

/** Node: run `gmemsim serve --port 0` (it prints its port); its origin and how to stop it. */
async function startServer(): Promise<{ origin: string; stop: () => void }> {
  const cpName = ["node", "child_process"].join(":"); // computed: only Node loads it, the bundles never do
  const cp = (await import(cpName)) as typeof import("node:child_process");
  const proc = (globalThis as unknown as { process: { execPath: string; cwd(): string } }).process;
  const child = cp.spawn(proc.execPath, [`${proc.cwd()}/bin/gmemsim.js`, "serve", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d: unknown) => {
        out += String(d);
        const m = /127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once("exit", (code: number | null) => reject(new Error(`gmemsim serve exited (${code}) before serving`)));
      timer = setTimeout(() => reject(new Error("gmemsim serve printed no port within 10 s")), 10000);
    });
    return { origin: `http://127.0.0.1:${port}`, stop: () => { child.kill(); } };
  } catch (e) {
    child.kill();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

test(`reliability: the test server answers a malformed percent-encoding with 400 and keeps serving (${runtime})`, async () => {
  // the browser's page is served by the same server code (scripts/test.mjs); Node starts `gmemsim serve`
  const server = runtime === "node" ? await startServer() : { origin: "", stop: () => {} };
  try {
    for (const bad of ["/%E0%A4%A", "/%", "/%zz/package.json", "/test/%C0%AF"]) {
      const r = await fetch(server.origin + bad);
      await r.arrayBuffer();
      assert.is(r.status, 400, `GET ${bad}`);
      const ok = await fetch(server.origin + "/package.json");
      assert.is(ok.status, 200, `GET /package.json after GET ${bad}`);
      assert.is((JSON.parse(await ok.text()) as { name: string }).name, "gmemsim");
    }
    const missing = await fetch(server.origin + "/no/such/file.json");
    await missing.arrayBuffer();
    assert.is(missing.status, 404);
  } finally {
    server.stop();
  }
});

test.run();
