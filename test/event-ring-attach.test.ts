// Instances attaching while a reader runs (bindings/events.ts scans the slots ever claimed, H_INSTANCES): a third
// instance, new or in a detached one's slot, attaches and writes between every two loads of a read and of a
// reader's construction; every event is read once, in order.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync } from "../bindings/index";
import { pair, setAttrStarts, atReaderLoad, reader } from "./harness/ring";

test("event ring attach: a third instance attaching and writing between any two loads of a read", () => {
  for (const mode of ["new", "reuse"]) {
    for (let k = 0; ; k++) {
      const { a, b, ga, r } = pair();
      const probe = reader(a);
      let c: ReturnType<typeof createSimulatorSync> | undefined;
      if (mode === "reuse") b.detach();
      const restore = atReaderLoad(k, () => {
        c = createSimulatorSync(a.module, { memory: a.memory });
        const gc = c.openGmem(ga.handle);
        gc.convert(8192, 4096, "shared");
      });
      const first = r.read();
      const ran = restore();
      ga.convert(4096, 4096, "shared");
      const second = r.read();
      const all = probe.read().events;
      const got = [...first.events, ...second.events];
      assert.is(first.lost + second.lost, 0);
      assert.equal(got.map((e) => e.seq), all.map((e) => e.seq), `${mode} k=${k} ${JSON.stringify(setAttrStarts(got))} vs ${JSON.stringify(setAttrStarts(all))}`);
      c?.detach();
      if (!ran) { break; }
    }
  }
});

test("event ring attach: a third instance attaching and writing between any two loads of a reader's construction", () => {
  for (const mode of ["new", "reuse"]) {
    for (let k = 0; ; k++) {
      const { a, b, ga, r: probe } = pair();
      if (mode === "reuse") b.detach();
      let c: ReturnType<typeof createSimulatorSync> | undefined;
      const restore = atReaderLoad(k, () => {
        c = createSimulatorSync(a.module, { memory: a.memory });
        const gc = c.openGmem(ga.handle);
        gc.convert(8192, 4096, "shared");
      });
      const r = reader(a);
      const ran = restore();
      const start = (r as unknown as { next: number }).next;
      if (!c) c = createSimulatorSync(a.module, { memory: a.memory });
      c!.openGmem(ga.handle).convert(8192, 4096, "private");
      ga.convert(4096, 4096, "shared");
      const all = probe.read().events;
      const { events, lost } = r.read();
      assert.is(lost, 0);
      assert.equal(events.map((e) => e.seq), all.filter((e) => e.seq >= start).map((e) => e.seq), `${mode} ${k}`);
      c?.detach();
      if (!ran) { break; }
    }
  }
});

test.run();
