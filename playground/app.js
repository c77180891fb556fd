// The playground (served with COOP/COEP by `gmemsim serve`): pick, load or
// paste a scenario (a counterexample of `gmemsim explore` too: its paused ops and resumes are listed by the names
// that say their thread), run it with runScenario on a simulator a <gmem-view> shows, then scrub through the steps. The
// model is deterministic, so going back to step k is a replay of the scenario's first k + 1 steps on a fresh
// simulator (a snapshot per step would cost megabytes each). The Chrome trace of the run is a download away.
import { runScenario, createSimulatorSync, toChromeTrace } from "../dist/index.js";
import "../dist/view.js";

const $ = (id) => document.getElementById(id);
const view = $("view");
const status = (text, bad = false) => { $("status").textContent = text; $("status").classList.toggle("bad", bad); };
const state = { report: null, scenario: null, at: -1, replaying: 0, module: undefined };
/** A fresh simulator: the compiled core is reused, and 1 GiB of memory at most (scrubbing makes many). */
function freshSimulator(arch) {
  const sim = createSimulatorSync(state.module, { arch, maximumPages: 16384 });
  state.module = sim.module;
  return sim;
}

/** A step's place as gmemsim prints it: 3, conv[0], finally[1]. */
function place(s) {
  return s.section === "threads" ? `${s.thread}[${s.index}]` : s.section === "finally" ? `finally[${s.index}]` : String(s.index);
}

function showSteps(report) {
  const tbody = $("steps").tBodies[0];
  tbody.replaceChildren();
  report.steps.forEach((s, k) => {
    const tr = document.createElement("tr");
    tr.dataset.k = String(k);
    if (!s.ok) tr.className = "fail";
    // a paused op and its resumes say which op (an explorer counterexample names them thread.k) and where they stop
    const a = s.args ?? {};
    const who = a.as !== undefined ? ` as ${a.as}` : s.op === "resume" ? ` ${a.id}` : "";
    const op = `${s.op}${who}${a.pause !== undefined ? ` \u2192 ${a.pause}` : ""}`;
    for (const c of [place(s), op, s.ok ? String(s.result) : `${s.result} (expected ${s.expected})`]) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.appendChild(td);
    }
    tr.addEventListener("click", () => goTo(k));
    tbody.appendChild(tr);
  });
}

function showEvents(step) {
  const tbody = $("events").tBodies[0];
  tbody.replaceChildren();
  for (const e of step?.events ?? []) {
    const { kind, step: _s, seq: _q, ...fields } = e;
    const tr = document.createElement("tr");
    for (const c of [kind, Object.entries(fields).map(([k, v]) => `${k}=${v}`).join("  ")]) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
}

/** Show the model as it was after step k: replay the first k + 1 steps on a fresh simulator. */
async function goTo(k) {
  const rep = state.report;
  if (!rep) return;
  k = Math.max(0, Math.min(k, rep.steps.length - 1));
  const token = ++state.replaying;
  const sim = freshSimulator(rep.config.arch);
  const STOP = new Error("stop");
  let n = 0;
  try {
    await runScenario(state.scenario, { simulator: sim, onStep: () => { if (++n > k) throw STOP; } });
  } catch (e) { if (e !== STOP) { status(`replay failed: ${e.message}`, true); return; } }
  if (token !== state.replaying) return; // a later scrub won
  view.simulator = sim;
  state.at = k;
  $("scrub").value = String(k);
  $("at").textContent = `step ${k + 1} of ${rep.steps.length}: ${rep.steps[k].op}`;
  for (const tr of $("steps").tBodies[0].rows) tr.classList.toggle("sel", tr.dataset.k === String(k));
  $("steps").tBodies[0].rows[k]?.scrollIntoView({ block: "nearest" });
  showEvents(rep.steps[k]);
}

async function run() {
  let scenario;
  try { scenario = JSON.parse($("scenario").value); }
  catch (e) { status(`not JSON: ${e.message}`, true); return; }
  const animate = $("animate").checked;
  const arch = scenario?.config?.arch ?? "sw";
  const sim = freshSimulator(["sw", "tdx", "snp"].includes(arch) ? arch : "sw");
  view.simulator = sim;
  $("trace").hidden = true;
  status("running\u2026");
  let report;
  try {
    report = await runScenario(scenario, {
      simulator: sim,
      // with "animate", one step per animation frame or two: the view redraws after each
      onStep: animate ? () => new Promise((r) => setTimeout(r, 120)) : undefined,
    });
  } catch (e) {
    status(`${e.code === "EMALFORMED" ? "malformed" : "error"}: ${e.message}`, true);
    return;
  }
  state.report = report;
  state.scenario = scenario;
  showSteps(report);
  $("scrub").max = String(report.steps.length - 1);
  const f = report.failure;
  $("result").textContent = report.ok ? `PASS: ${report.steps.length} steps` :
    `FAIL at ${place(f)} (${f.op}): expected ${f.expected}, got ${f.got}`;
  const trace = URL.createObjectURL(new Blob([JSON.stringify(toChromeTrace(report))], { type: "application/json" }));
  $("trace").href = trace;
  $("trace").hidden = false;
  state.at = report.steps.length - 1;
  await goTo(state.at);
  status(report.ok ? "done: open the trace in ui.perfetto.dev or chrome://tracing" : "done, with a failed step", !report.ok);
  globalThis.__playgroundRuns = (globalThis.__playgroundRuns ?? 0) + 1;
}

async function main() {
  const examples = await (await fetch("../dist/examples.json")).json();
  for (const name of Object.keys(examples)) $("example").add(new Option(name.replace(/\.json$/, ""), name));
  const pick = new URLSearchParams(location.search).get("example") ?? "seed-to-shared-tdx.json";
  if (examples[pick]) $("example").value = pick;
  const load = () => { $("scenario").value = examples[$("example").value]; };
  load();
  $("load").addEventListener("click", load);
  $("example").addEventListener("change", load);
  $("file").addEventListener("change", async () => {
    const f = $("file").files?.[0];
    if (f) $("scenario").value = await f.text(); // e.g. a counterexample gmemsim explore wrote
  });
  $("run").addEventListener("click", run);
  $("scrub").addEventListener("input", () => goTo(Number($("scrub").value)));
  $("prev").addEventListener("click", () => goTo(state.at - 1));
  $("next").addEventListener("click", () => goTo(state.at + 1));
  status(`ready (cross-origin isolated: ${globalThis.crossOriginIsolated === true})`);
  globalThis.__playgroundReady = true;
}

main().catch((e) => status(`failed to start: ${e.message}`, true));
