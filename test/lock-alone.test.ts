// A lone instance takes its lock words with plain loads and stores (mm/sync.ts: nothing else runs model code until
// its call ends, an attach stops the world first). The words must still say the truth when company arrives: an op
// paused while alone holds its invalidate lock against a second instance, and one paused with company is released
// by a plain store once its instance is alone again. The release core: the debug core always locks atomically.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync } from "../bindings/index";
import * as R from "../assembly/abi/records";

const MiB = 2 ** 20;
function code(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as { code?: string }).code ?? String(e); }
  return undefined;
}

test("lock alone: a lock word taken alone holds against company, and one taken with company is freed alone", () => {
  const a = createSimulatorSync(undefined, { debug: false });
  const g = a.createGmem(4 * MiB, ["mmap", "init-private"]);
  const inv = (g as unknown as { inodeAddr(): number }).inodeAddr() + R.GI_INV_LOCK;
  const word = () => new Uint32Array(a.memory.buffer)[inv >>> 2] >>> 0;
  const p = g.convert(0, 4096, "shared", { pause: "after-lock" })!;
  assert.ok(word() !== 0, "the paused op holds the invalidate lock");
  const b = createSimulatorSync(a.module, { memory: a.memory, debug: false });
  const gb = b.openGmem(g.handle);
  assert.ok(code(() => gb.convert(8192, 4096, "shared")) !== undefined, "the second instance does not get it");
  a.resume(p);
  assert.is(word(), 0, "released with company");
  gb.convert(8192, 4096, "shared");
  const p2 = gb.convert(16384, 4096, "shared", { pause: "after-lock" })!;
  assert.ok(word() !== 0);
  b.detach();
  a.resume(p2); // alone again: the plain store releases it
  assert.is(word(), 0);
  g.convert(16384, 4096, "private");
  a.checkInvariants();
});

test.run();
