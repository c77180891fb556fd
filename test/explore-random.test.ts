// The explorer's reduction is only as sound as the footprints the core declares (assembly/op/reach.ts). Random small
// thread scenarios on every arch, explored twice, with and without the reduction: both must reach the same set of
// final states, and both must agree on whether any schedule breaks an invariant.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { exploreSync, type ScheduleEnd } from "../bindings/explore/index";
import { Gmem } from "../bindings/objects/gmem";
import { Vm } from "../bindings/objects/vm";
import { Iommu } from "../bindings/objects/iommu";
import { rng } from "./harness/rng";

const ERRNOS = [0, "EAGAIN", "EACCES", "EINVAL", "EFAULT", "ENOMEM", "EBUSY", "EEXIST", "ENOENT", "EIO", "ENODEV"];

type R = ReturnType<typeof rng>;

function op(r: R): Record<string, unknown> {
  const page = (n: number) => `0x${(r.int(n) * 4096).toString(16)}`;
  switch (r.int(7)) {
    case 0: return { op: "guest.access", vm: "vm", gpa: page(3), private: r.int(2) === 1, write: r.int(9),
      expect: ["mapped", "memory-fault", "retry", "hwpoison", ...ERRNOS] };
    case 1: return { op: "iommu.map", iommu: "io", iova: page(3), gmem: "g", offset: page(3), size: "4K", secure: r.int(2) === 1, expect: ERRNOS };
    case 2: return { op: "dma", iommu: "io", iova: page(3), secure: r.int(2) === 1, expect: ["ok", "io-fault", "machine-check", ...ERRNOS] };
    case 3: return { op: "host.access", gmem: "g", offset: page(3), write: r.int(9), expect: ["ok", "SIGBUS", "retry", ...ERRNOS] };
    case 4: return { op: "host.pin", gmem: "g", offset: page(3), size: "4K", expect: ERRNOS };
    case 5: return { op: "punch", gmem: "g", offset: page(3), size: "4K", expect: ERRNOS };
    default: return { op: "convert", gmem: "g", offset: page(3), size: r.int(3) === 0 ? "8K" : "4K", to: r.int(2) ? "shared" : "private", expect: ERRNOS };
  }
}

function scenario(seed: number, arch: string): string {
  const r = rng(seed);
  const flags = ["mmap", r.int(2) ? "init-shared" : "init-private"];
  if (r.int(3) === 0) flags.push("hugetlb-2M");
  const threads: Record<string, unknown[]> = {};
  const n = 2 + r.int(2);
  for (let t = 0; t < n; t++) threads[`t${t}`] = [...Array(1 + r.int(2))].map(() => op(r));
  return JSON.stringify({ format: 1, name: `random ${arch} ${seed}`, config: { arch, protocol: "v2" }, steps: [
    { op: "gmem.create", id: "g", size: "2M", flags },
    { op: "vm.create", id: "vm" },
    { op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "2M", gmem: "g", offset: 0 },
    { op: "iommu.create", id: "io", mode: "gmem" },
    { op: "iommu.bind", iommu: "io", gmem: "g" },
    { op: "host.mmap", gmem: "g" },
    { op: "guest.access", vm: "vm", gpa: 0, private: flags.includes("init-private"), expect: ["mapped", "memory-fault"] },
  ], threads, finally: [{ op: "check.invariants" }] });
}

function fingerprint(e: ScheduleEnd): string {
  const out: unknown[] = [e.schedule.filter((s) => s.result !== undefined).map((s) => `${s.thread}${s.opIndex}=${s.result}`).sort()];
  const g = new Gmem(e.simulator, e.ids.gmem.get("g")!);
  out.push(g.runs(), [0, 1, 2].map((i) => { const { pfn, ...f } = g.folio(i); void pfn; return f; }));
  const v = new Vm(e.simulator, e.ids.vm.get("vm")!);
  out.push([0, 1, 2].flatMap((i) => (["private", "shared"] as const).map((t) => v.spte(i * 4096, t)?.level ?? "-")));
  const io = new Iommu(e.simulator, e.ids.iommu.get("io")!);
  out.push([0, 1, 2].flatMap((i) => [true, false].map((s) => io.iopte(i * 4096, s)?.level ?? "-")));
  return JSON.stringify(out);
}

function finals(text: string, reduction: "none" | "sleep-sets") {
  const set = new Set<string>();
  const rep = exploreSync(text, { reduction, maxSchedules: 20000, onSchedule: (e) => set.add(fingerprint(e)) });
  return { set, rep };
}

export const SEEDS = 16;

for (const [ai, arch] of ["sw", "tdx", "snp"].entries()) {
  test(`explore (random, ${arch}): with and without the reduction, the same final states and the same verdict`, () => {
    let pruned = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const text = scenario(seed * 7919 + ai * 104729, arch);
      const full = finals(text, "none");
      const red = finals(text, "sleep-sets");
      const where = `${arch} seed ${seed}: ${text}`;
      assert.is(red.rep.ok, full.rep.ok, `${where}\n${full.rep.failure?.violation.message ?? red.rep.failure?.violation.message}`);
      if (!full.rep.ok) continue;
      assert.is(full.rep.mode, "exhaustive", where);
      assert.equal([...red.set].sort(), [...full.set].sort(), where);
      pruned += full.rep.schedules - red.rep.schedules;
    }
    assert.ok(pruned > 0, "the reduction pruned something over the sample");
  });
}

test.run();
