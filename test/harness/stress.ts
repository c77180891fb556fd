// Work for concurrent workers on one shared simulator: a seeded mix of the data-plane operations (conversions,
// punches, guest faults, IOMMU maps/unmaps and DMA, host accesses and pins) over objects the test made, some shared
// by every worker and some each worker's own; and an endless conversion loop for the kill test. Every failure must
// be an Error with a code the operation may give; anything else (a trap, a TypeError, an invariant) is returned.
import type { Simulator } from "../../bindings/index";
import { rng } from "./rng";

export interface MixedJob {
  kind: "mixed";
  seed: number;
  ops: number;
  /** handles: [gmem, vm, iommu] triples; `size` bytes each, the VM binds the gmem at gpa 0, the IOMMU is bound */
  sets: [number, number, number][];
  size: number;
}
export interface LoopJob { kind: "loop-convert"; gmem: number; pages: number }

const EXPECTED = new Set(["EAGAIN", "EBUSY", "EACCES", "EEXIST", "ENOENT", "EFAULT", "ENOMEM", "EINVAL"]);

export function mixedOps(sim: Simulator, job: MixedJob): { outcomes: Record<string, number>; unexpected: string[] } {
  const r = rng(job.seed);
  const outcomes: Record<string, number> = {};
  const unexpected: string[] = [];
  const sets = job.sets.map(([g, v, io]) => ({ g: sim.openGmem(g), v: sim.openVm(v), io: sim.openIommu(io) }));
  const pages = job.size / 4096;
  const note = (k: string) => { outcomes[k] = (outcomes[k] ?? 0) + 1; };
  for (let i = 0; i < job.ops; i++) {
    const s = sets[r.int(sets.length)];
    const page = r.int(pages), off = page * 4096;
    const op = r.int(9);
    try {
      switch (op) {
        case 0: case 1: s.g.convert(off, 4096 << r.int(2), r.int(2) ? "shared" : "private"); note("convert"); break;
        case 2: note(`access:${(s.v.access(off, { private: r.int(2) === 1, write: r.int(100) }) as { result: string }).result}`); break;
        case 3: s.io.map(off, s.g, off, 4096, r.int(2) === 1); note("map"); break;
        case 4: s.io.unmap(off, 4096, r.int(2) === 1); note("unmap"); break;
        case 5: note(`dma:${s.io.dma(off, r.int(2) === 1, { write: r.int(100) })}`); break;
        case 6: note(`host:${s.g.hostAccess(off, { write: r.int(100) }).result}`); break;
        case 7: if (r.int(4) === 0) { s.g.punch(off, 4096); note("punch"); } else { s.g.pin(off, 4096); s.g.unpin(off, 4096); note("pin"); } break;
        default: note(`spte:${s.v.spte(off, "private")?.level ?? "-"}`);
      }
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (e instanceof Error && typeof code === "string" && EXPECTED.has(code)) note(code);
      else unexpected.push(`op ${i} (${op}): ${e instanceof Error ? `${e.name} ${String(code)}: ${e.message}` : String(e)}`);
      if (unexpected.length > 20) break;
    }
  }
  return { outcomes, unexpected };
}

/** Convert pages of one gmem back and forth until terminated; posts a heartbeat every 256 conversions. */
export function convertLoop(sim: Simulator, job: LoopJob, post: (m: unknown) => void): never {
  const g = sim.openGmem(job.gmem);
  for (let i = 0; ; i++) {
    const p = i % job.pages;
    try { g.convert(p * 4096, 4096, (i / job.pages) % 2 < 1 ? "shared" : "private"); } catch { /* EAGAIN and the like */ }
    if ((i & 255) === 0) post({ beat: i });
  }
}
