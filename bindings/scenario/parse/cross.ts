// The steps together, in the order they run (steps, each thread, finally): every id is created before use and
// visible where it is used (what `steps` creates, everyone sees; what a thread creates, its own later steps and
// `finally` see), no id is created twice, and a resume continues an operation that is paused at that point.
import { PAUSE_POINTS, GUEST_ACCESS_RESULTS, type Step, type StepOp, type Expect, type PausableOp } from "../types";
import { ScenarioFormatError, stepPlace } from "./error";
import { show, list, suggest } from "./helpers";

/** The lists of a scenario, read. */
export interface ScenarioLists {
  steps: Step[];
  threads: { name: string; steps: Step[] }[];
  finally: Step[];
}

type IdKind = "gmem" | "vm" | "iommu";
type Ids = Record<IdKind, Map<string, Step>>;
const ID_KINDS: readonly IdKind[] = ["gmem", "vm", "iommu"];
const CREATES: Partial<Record<StepOp, IdKind>> = { "gmem.create": "gmem", "vm.create": "vm", "iommu.create": "iommu" };
const PAUSABLE: readonly string[] = Object.keys(PAUSE_POINTS);
const RANK = { steps: 0, threads: 1, finally: 2 } as const;

/** An operation paused under a name: the step that paused it, and whether it is still paused. */
interface Paused {
  step: Step;
  op: PausableOp;
  open: boolean;
  /** the last resume of it */
  last: Step | null;
}

const where = (s: Step) => stepPlace(s.section, s.thread ?? null, s.index);

function fail(s: Step, field: string, detail: string): never {
  throw new ScenarioFormatError(s.index, field, detail, s.op, { section: s.section, thread: s.thread ?? null });
}

/** 1: a runs after b; -1: before; 0: the same step; null: in different threads (no order). */
function order(a: Step, b: Step): number | null {
  if (a.section !== b.section) return RANK[a.section] > RANK[b.section] ? 1 : -1;
  if (a.thread !== b.thread) return null;
  return Math.sign(a.index - b.index);
}

/** May the step end without an error? A create or a pause that can only fail defines nothing. */
function maySucceed(s: Step): boolean {
  if (!("expect" in s)) return true;
  const e = s.expect as Expect<string>;
  return e.kind === "any" ? e.of.some((x) => x.kind !== "errno") : e.kind !== "errno";
}

/** "EINVAL" or "EINVAL or ENOMEM": the errnos a step that can only fail expects. */
function errnos(s: Step): string {
  const e = (s as { expect: Expect<string> }).expect;
  return (e.kind === "any" ? e.of : [e]).map((x) => (x.kind === "errno" ? x.errno : "0")).join(" or ");
}

export function crossCheck(lists: ScenarioLists): void {
  const all: Step[] = [...lists.steps, ...lists.threads.flatMap((t) => t.steps), ...lists.finally];
  const newIds = (): Ids => ({ gmem: new Map(), vm: new Map(), iommu: new Map() });
  const common = newIds(); // visible to every later step
  const threadIds = new Map<string, Ids>(); // each thread's own, while threads are checked
  const paused = new Map<string, Paused>();

  const visible = (s: Step, kind: IdKind, id: string) =>
    common[kind].has(id) || (s.thread !== undefined && threadIds.get(s.thread)?.[kind].has(id) === true);
  const definedAt = (kind: IdKind, id: string): Step | undefined =>
    common[kind].get(id) ?? [...threadIds.values()].map((m) => m[kind].get(id)).find((x) => x !== undefined);

  function references(s: Step): void {
    for (const kind of ID_KINDS) {
      if (!(kind in s)) continue;
      const id = (s as unknown as Record<IdKind, string>)[kind];
      if (visible(s, kind, id)) continue;
      const creators = all.filter((t) => t !== s && CREATES[t.op] === kind && (t as { id: string }).id === id);
      const other = s.section === "threads" ? creators.find((t) => t.section === "threads" && t.thread !== s.thread) : undefined;
      if (other !== undefined) fail(s, kind, `${show(id)} is created in thread ${JSON.stringify(other.thread)}`);
      const later = creators.find((t) => order(t, s) === 1);
      const before = creators.find((t) => order(t, s) === -1);
      const why = later !== undefined ? `it is created only at ${where(later)}`
        : before !== undefined ? `${where(before)} expects ${errnos(before)} from creating it`
        : `no ${kind}.create step defines it`;
      fail(s, kind, `unknown ${kind} ${show(id)} (${why})`);
    }
  }

  function resume(s: Step): void {
    if (s.op !== "resume") return;
    const p = paused.get(s.id);
    if (p === undefined) {
      const pausers = all.filter((t) => "as" in t && t.as === s.id);
      const later = pausers.find((t) => order(t, s) === 1);
      const why = pausers.length === 0 ? `no step pauses as ${show(s.id)} (pause/as go on ${PAUSABLE.join(", ")})`
        : later !== undefined ? `it is paused only at ${where(later)}`
        : `${where(pausers[0])} expects ${errnos(pausers[0])}, so it never pauses`;
      fail(s, "id", `unknown paused operation ${show(s.id)} (${why})`);
    }
    if (!p.open) {
      const last = p.last!;
      const how = last.op === "resume" && last.pause !== undefined ? `it expects ${errnos(last)} there, so it does not stay paused`
        : "a resume without pause runs it to its end";
      fail(s, "id", `${show(s.id)} was already resumed at ${where(last)} (${how})`);
    }
    if (s.pause !== undefined) {
      const points: readonly string[] = PAUSE_POINTS[p.op];
      if (!points.includes(s.pause)) {
        fail(s, "pause", `${show(s.pause)} is not a pause point of ${p.op} (${show(s.id)} is paused at ${where(p.step)}): `
          + `${list(points)}${suggest(s.pause, points)}`);
      }
    }
    const e = s.expect as Expect<string>;
    (e.kind === "any" ? e.of : [e]).forEach((x, i) => {
      const at = e.kind === "any" ? `entry ${i}: ` : "";
      const from = `resumed from ${where(p.step)}`;
      if (x.kind === "result" && p.op !== "guest.access") {
        fail(s, "expect", `${at}${show(x.value)} is not a result of ${p.op} (${from}): 0 or an errno name`);
      }
      if (x.kind === "result" && !(GUEST_ACCESS_RESULTS as readonly string[]).includes(x.value)) {
        fail(s, "expect", `${at}${show(x.value)} is not a result of guest.access (${from}): ${list(GUEST_ACCESS_RESULTS)}`);
      }
      if (x.kind === "errno" && x.errorOffset !== undefined && p.op !== "convert" && p.op !== "punch") {
        fail(s, "errorOffset", `errorOffset is only for convert, punch and resume of a convert or punch (${where(p.step)} is ${/^[aeiou]/.test(p.op) ? "an" : "a"} ${p.op})`);
      }
    });
    p.open = s.pause !== undefined && maySucceed(s);
    p.last = s;
  }

  function define(s: Step): void {
    const kind = CREATES[s.op];
    if (kind !== undefined && maySucceed(s)) {
      const id = (s as { id: string }).id;
      const prev = definedAt(kind, id);
      if (prev !== undefined) fail(s, "id", `${kind} ${show(id)} is already defined at ${where(prev)}`);
      (s.thread === undefined ? common : threadIds.get(s.thread)!)[kind].set(id, s);
    }
    if (PAUSABLE.includes(s.op) && "as" in s && s.as !== undefined && maySucceed(s)) {
      const prev = paused.get(s.as);
      if (prev !== undefined) fail(s, "as", `${show(s.as)} already names the operation paused at ${where(prev.step)}`);
      paused.set(s.as, { step: s, op: s.op as PausableOp, open: true, last: null });
    }
  }

  const check = (s: Step) => {
    references(s); // first: a step never refers to what it defines
    resume(s);
    define(s);
  };
  for (const s of lists.steps) check(s);
  for (const t of lists.threads) {
    threadIds.set(t.name, newIds());
    for (const s of t.steps) check(s);
  }
  // finally sees what every thread created
  for (const m of threadIds.values()) for (const k of ID_KINDS) for (const [id, s] of m[k]) common[k].set(id, s);
  threadIds.clear();
  for (const s of lists.finally) check(s);
}
