// The steps together: ids defined before use, no id defined twice, resume of a paused operation.
import { GUEST_ACCESS_RESULTS, type Step, type StepOp } from "../types";
import { ScenarioFormatError } from "./error";
import { show, list } from "./helpers";

type IdKind = "gmem" | "vm" | "iommu";
const ID_KINDS: readonly IdKind[] = ["gmem", "vm", "iommu"];
const CREATES: Partial<Record<StepOp, IdKind>> = { "gmem.create": "gmem", "vm.create": "vm", "iommu.create": "iommu" };

export function crossCheck(steps: Step[]): void {
  const defined: Record<IdKind, Map<string, number>> = { gmem: new Map(), vm: new Map(), iommu: new Map() };
  const paused = new Map<string, { index: number; op: "convert" | "guest.access"; resumed: number | null }>();
  function fail(s: Step, field: string, detail: string): never {
    throw new ScenarioFormatError(s.index, field, detail, s.op);
  }
  const failsAt = (s: Step) => "expect" in s && s.expect.kind === "errno";

  for (const s of steps) {
    // references first: a step never refers to what it defines
    for (const kind of ID_KINDS) {
      if (!(kind in s)) continue;
      const id = (s as unknown as Record<IdKind, string>)[kind];
      if (defined[kind].has(id)) continue;
      const later = steps.find((t) => t.op === `${kind}.create` && (t as { id: string }).id === id && t.index !== s.index);
      const why = later === undefined ? `no ${kind}.create step defines it`
        : later.index > s.index ? `it is created only at step ${later.index}`
        : `step ${later.index} expects ${(later as { expect: { errno: string } }).expect.errno} from creating it`;
      fail(s, kind, `unknown ${kind} ${show(id)} (${why})`);
    }
    if (s.op === "resume") {
      const p = paused.get(s.id);
      if (p === undefined) {
        const later = steps.find((t) => (t.op === "convert" || t.op === "guest.access") && t.as === s.id);
        const why = later === undefined ? `no convert or guest.access step pauses as ${show(s.id)}`
          : later.index > s.index ? `it is paused only at step ${later.index}`
          : `step ${later.index} expects an errno, so it never pauses`;
        fail(s, "id", `unknown paused operation ${show(s.id)} (${why})`);
      }
      if (p.resumed !== null) fail(s, "id", `${show(s.id)} was already resumed at step ${p.resumed}`);
      p.resumed = s.index;
      const e = s.expect;
      if (p.op === "convert") {
        if (e.kind === "result") fail(s, "expect", `${show(e.value)} is not a result of convert (resumed from step ${p.index}): 0 or an errno name`);
      } else {
        if (e.kind === "result" && !(GUEST_ACCESS_RESULTS as readonly string[]).includes(e.value)) {
          fail(s, "expect", `${show(e.value)} is not a result of guest.access (resumed from step ${p.index}): ${list(GUEST_ACCESS_RESULTS)}`);
        }
        if (e.kind === "errno" && e.errorOffset !== undefined) {
          fail(s, "errorOffset", `errorOffset is only for convert, punch and resume of a convert (step ${p.index} is a guest.access)`);
        }
      }
    }
    // then definitions
    const kind = CREATES[s.op];
    if (kind !== undefined && !failsAt(s)) {
      const id = (s as { id: string }).id;
      const prev = defined[kind].get(id);
      if (prev !== undefined) fail(s, "id", `${kind} ${show(id)} is already defined at step ${prev}`);
      defined[kind].set(id, s.index);
    }
    if ((s.op === "convert" || s.op === "guest.access") && s.as !== undefined && !failsAt(s)) {
      const prev = paused.get(s.as);
      if (prev !== undefined) fail(s, "as", `${show(s.as)} already names the operation paused at step ${prev.index}`);
      paused.set(s.as, { index: s.index, op: s.op, resumed: null });
    }
  }
}
