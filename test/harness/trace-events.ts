// A reader of Chrome Trace Event JSON as the format's spec (and Perfetto's JSON importer) reads it: the object form
// { traceEvents: [...] }, every event's required fields by phase, thread names from metadata, and per track a tree
// of complete slices that must nest (a slice that starts inside another must end inside it, or the importer
// drops it). It throws on the first thing a viewer would reject and returns the tracks for tests to inspect.

export interface Slice { name: string; cat?: string; ts: number; dur: number; args: Record<string, unknown>; children: Slice[]; cname?: string }
export interface Instant { name: string; cat?: string; ts: number; args: Record<string, unknown> }
export interface Track { pid: number; tid: number; name: string; sortIndex?: number; slices: Slice[]; instants: Instant[] }
export interface ParsedTrace { process: string; tracks: Track[]; byName: Map<string, Track> }

const PHASES = new Set(["B", "E", "X", "i", "I", "C", "M", "b", "e", "n", "s", "t", "f", "P", "N", "O", "D"]);

function need(cond: unknown, what: string, ev: unknown): asserts cond {
  if (!cond) throw new Error(`trace event ${JSON.stringify(ev)}: ${what}`);
}

/** Parse and validate a Chrome trace (the JSON text or the parsed object). */
export function parseTrace(input: string | unknown): ParsedTrace {
  const doc = typeof input === "string" ? JSON.parse(input) : input;
  need(typeof doc === "object" && doc !== null && Array.isArray((doc as { traceEvents?: unknown }).traceEvents),
    "the document is { traceEvents: [...] }", typeof doc);
  const unit = (doc as { displayTimeUnit?: unknown }).displayTimeUnit;
  need(unit === undefined || unit === "ms" || unit === "ns", "displayTimeUnit is ms or ns", unit);
  const tracks = new Map<string, Track>();
  let process = "";
  const track = (pid: number, tid: number): Track => {
    const key = `${pid}:${tid}`;
    let t = tracks.get(key);
    if (!t) { t = { pid, tid, name: `${tid}`, slices: [], instants: [] }; tracks.set(key, t); }
    return t;
  };
  const flat: { t: Track; s: Slice }[] = [];
  for (const ev of (doc as { traceEvents: Record<string, unknown>[] }).traceEvents) {
    need(typeof ev === "object" && ev !== null, "an event is an object", ev);
    need(typeof ev.name === "string", "name is a string", ev);
    need(typeof ev.ph === "string" && PHASES.has(ev.ph), "ph is a known phase", ev);
    need(Number.isInteger(ev.pid) && Number.isInteger(ev.tid), "pid and tid are integers", ev);
    need(ev.args === undefined || (typeof ev.args === "object" && ev.args !== null), "args is an object", ev);
    const args = (ev.args ?? {}) as Record<string, unknown>;
    if (ev.ph === "M") {
      if (ev.name === "process_name") process = String(args.name);
      else if (ev.name === "thread_name") { need(typeof args.name === "string", "thread_name has args.name", ev); track(ev.pid as number, ev.tid as number).name = args.name as string; }
      else if (ev.name === "thread_sort_index") track(ev.pid as number, ev.tid as number).sortIndex = Number(args.sort_index);
      continue;
    }
    need(typeof ev.ts === "number" && Number.isFinite(ev.ts) && ev.ts >= 0, "ts is a finite number of microseconds", ev);
    const t = track(ev.pid as number, ev.tid as number);
    if (ev.ph === "X") {
      need(typeof ev.dur === "number" && ev.dur >= 0, "a complete event has dur >= 0", ev);
      const s: Slice = { name: ev.name as string, cat: ev.cat as string | undefined, ts: ev.ts as number, dur: ev.dur as number,
        args, children: [], ...(typeof ev.cname === "string" ? { cname: ev.cname } : {}) };
      flat.push({ t, s });
    } else if (ev.ph === "i" || ev.ph === "I") {
      need(ev.s === undefined || ev.s === "t" || ev.s === "p" || ev.s === "g", "an instant's scope is t, p or g", ev);
      t.instants.push({ name: ev.name as string, cat: ev.cat as string | undefined, ts: ev.ts as number, args });
    } else need(false, "this reader takes X, i and M events (what gmemsim writes)", ev);
  }
  // nest the slices of each track: sort by start, longer first; keep a stack of open slices
  const perTrack = new Map<Track, Slice[]>();
  for (const { t, s } of flat) { const a = perTrack.get(t) ?? []; a.push(s); perTrack.set(t, a); }
  for (const [t, list] of perTrack) {
    list.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
    const stack: Slice[] = [];
    for (const s of list) {
      while (stack.length && stack[stack.length - 1].ts + stack[stack.length - 1].dur <= s.ts) stack.pop();
      const parent = stack[stack.length - 1];
      if (parent) {
        need(s.ts + s.dur <= parent.ts + parent.dur, `slice ${s.name} at ${s.ts} overlaps ${parent.name} without nesting in it`, s);
        parent.children.push(s);
      } else t.slices.push(s);
      stack.push(s);
    }
  }
  const all = [...tracks.values()];
  const byName = new Map(all.map((t) => [t.name, t]));
  return { process, tracks: all, byName };
}
