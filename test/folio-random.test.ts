// Random protocol operations on a HugeTLB-2M guest_memfd, the checker on after every step: the spare sub-array a
// merge keeps must stay all zero and the inode's busy-block count must equal a recount (check/struct.ts), in the
// debug core, whose sparePut and pageAlloc also assert the zeroes. Every kind of operation must succeed sometimes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulatorSync } from "../bindings/index";
import { rng } from "./harness/rng";

const MiB = 2 ** 20, M2 = 512;

for (const arch of ["sw", "tdx", "snp"] as const) {
  test(`folio random: conversions, pins, references, splits, merges and punches keep the folio summaries exact (${arch})`, () => {
    const sim = createSimulatorSync(undefined, { debug: true, checks: true, arch });
    const g = sim.createGmem(8 * MiB, ["mmap", "init-private", "hugetlb-2M"]);
    const vm = sim.createVm();
    vm.bind(0, 0, 8 * MiB, g, 0);
    g.mmap();
    const r = rng(arch.charCodeAt(0) * 7 + 1);
    const outcomes = new Map<string, number>();
    const pins: number[] = [], refs: number[] = [];
    for (let n = 0; n < 4000; n++) {
      const k = r.int(11), p = r.int(4 * M2), b = Math.floor(p / M2) * M2;
      const kinds = ["conv", "convblk", "host", "pin", "unpin", "ref", "split", "merge", "punch", "guest", "uptodate"];
      let outcome = "ok";
      try {
        switch (k) {
          case 0: g.convert(p * 4096, 4096 * (1 + r.int(3)), r.int(2) ? "shared" : "private"); break;
          case 1: g.convert(b * 4096, 2 * MiB, r.int(2) ? "shared" : "private"); break;
          case 2: g.hostAccess(p * 4096, r.int(2) ? { write: 1 + r.int(100) } : undefined); break;
          case 3: g.pin(p * 4096, 4096); pins.push(p); break;
          case 4: if (pins.length) g.unpin(pins.splice(r.int(pins.length), 1)[0] * 4096, 4096); break;
          case 5:
            if (r.int(3) === 0 || !refs.length) { g.ref(p, "transient", 1); refs.push(p); }
            else g.ref(refs.splice(r.int(refs.length), 1)[0], "transient", -1);
            break;
          case 6: g.splitFolio(p); break;
          case 7: g.mergeFolio(p); break;
          case 8: g.punch(b * 4096, 2 * MiB); break;
          case 9: vm.access(p * 4096, { private: r.int(2) === 1, write: r.int(2) ? 5 : undefined }); break;
          case 10: g.markUptodate(p); break;
        }
      } catch (e) {
        const c = (e as { code?: string }).code;
        if (c === undefined || c === "EINVARIANT" || c === "ENOTRECOVERABLE") throw e; // a violation or a trap
        outcome = c;
      }
      const key = `${kinds[k]}:${outcome}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (n % 50 === 0) g.check();
    }
    g.check();
    sim.checkInvariants();
    for (const kind of ["conv", "convblk", "pin", "unpin", "ref", "split", "merge", "punch", "guest"]) {
      assert.ok((outcomes.get(`${kind}:ok`) ?? 0) > 0, `${kind} never succeeded: ${[...outcomes].join(" ")}`);
    }
  });
}

test.run();
