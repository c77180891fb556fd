// The final-state summary of a scenario run: shareability runs and folio counts per guest_memfd, leaves and
// invalidation state per VM.
import type { Simulator } from "../simulator";
import { Gmem } from "../objects/gmem";
import { Vm } from "../objects/vm";
import type { Objects } from "./actions";

export interface FinalState {
  gmems: { id: string; size: number; runs: { start: number; end: number; shared: boolean }[]; populated: number;
    folios: { huge: number; small: number } }[];
  vms: { id: string; private: Record<string, number>; shared: Record<string, number>; seq: number; tlbFlushes: number }[];
}

export function finalState(sim: Simulator, objs: Objects): FinalState {
  const out: FinalState = { gmems: [], vms: [] };
  for (const [id, h] of objs.gmem) {
    try {
      const g = new Gmem(sim, h);
      let huge = 0, small = 0;
      const step = g.hugeOrder === 0 ? 1 : 1 << g.hugeOrder;
      if (g.npages <= 1 << 22) {
        for (let i = 0; i < g.npages; i += step) {
          const f = g.folio(i);
          if (f.state === "huge") huge++;
          else if (f.state === "small") small += g.hugeOrder === 0 ? 1 : step;
        }
      }
      out.gmems.push({ id, size: g.size, runs: g.runs().slice(0, 64), populated: g.populated, folios: { huge, small } });
    } catch { /* destroyed */ }
  }
  for (const [id, h] of objs.vm) {
    try {
      const v = new Vm(sim, h);
      const info = v.info();
      out.vms.push({ id, private: v.leaves("private"), shared: v.leaves("shared"), seq: info.seq, tlbFlushes: info.tlbFlushes });
    } catch { /* destroyed */ }
  }
  return out;
}
