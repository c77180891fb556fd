// The playground page (playground/index.html, served by the loopback server with COOP/COEP) in Chromium: it loads
// the examples, runs one with the published bundles, shows it in <gmem-view>, scrubs back to a step by replaying,
// lists that step's events, and offers the run's Chrome trace as a download a Trace Event reader accepts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runtime } from "gmemsim-test-env";
import { parseTrace } from "./harness/trace-events";

type Win = Window & { __playgroundReady?: boolean; __playgroundRuns?: number };

function until(cond: () => boolean, what: string, timeout = 15000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const look = () => (cond() ? resolve() : Date.now() - t0 > timeout ? reject(new Error(`timed out: ${what}`)) : setTimeout(look, 20));
    look();
  });
}

if (runtime === "browser") {
  test("playground: run an example, watch it, scrub back a step, download the trace", async () => {
    const frame = document.createElement("iframe");
    frame.style.width = "1100px";
    frame.style.height = "900px";
    frame.src = "/playground/index.html?example=seed-to-shared-tdx.json";
    document.body.appendChild(frame);
    try {
      const w = () => frame.contentWindow as Win;
      await until(() => w()?.__playgroundReady === true, "the page is ready");
      const doc = frame.contentDocument!;
      const $ = <T extends HTMLElement>(id: string) => doc.getElementById(id) as T;
      assert.ok($<HTMLSelectElement>("example").options.length >= 20, "every example is listed");
      assert.match($<HTMLTextAreaElement>("scenario").value, /"arch": "tdx"/);
      $<HTMLInputElement>("animate").checked = false;
      $("run").click();
      await until(() => w().__playgroundRuns === 1, "the run finished");
      assert.match($("result").textContent!, /^PASS: \d+ steps$/);
      const rows = $<HTMLTableElement>("steps").tBodies[0].rows;
      const convert = Array.from(rows).findIndex((r) => r.cells[1].textContent === "convert");
      assert.ok(convert > 0);
      const view = $("view") as HTMLElement & { drawCount: number; frame: { sections: { gmem: string }[] } | null };
      await until(() => view.drawCount > 0 && view.frame !== null, "the view drew");
      assert.equal(JSON.stringify(view.frame!.sections.map((s) => s.gmem)), '["g"]', "(the frame is of the page's realm)");
      rows[convert].click();
      await until(() => rows[convert].classList.contains("sel"), "the convert step is selected");
      const events = Array.from($<HTMLTableElement>("events").tBodies[0].rows).map((r) => r.cells[0].textContent);
      assert.equal([events[0], events[events.length - 1]], ["gmem.lock", "gmem.unlock"]);
      assert.match($("at").textContent!, new RegExp(`^step ${convert + 1} of ${rows.length}: convert$`));
      $("prev").click();
      await until(() => rows[convert - 1].classList.contains("sel"), "one step back");
      const link = $<HTMLAnchorElement>("trace");
      assert.is(link.hidden, false);
      const trace = parseTrace(await (await fetch(link.href)).text());
      assert.ok(trace.byName.has("TDX module (S-EPT)") && trace.byName.has("gmem g"));
      // a scenario with a paused op (as an explorer counterexample has them): the list says which op stops where
      $<HTMLSelectElement>("example").value = "fault-race.json";
      $("load").click();
      $("run").click();
      await until(() => w().__playgroundRuns === 2, "the second run finished");
      const ops = Array.from($<HTMLTableElement>("steps").tBodies[0].rows).map((r) => r.cells[1].textContent);
      assert.ok(ops.some((o) => /^convert as \S+ \u2192 after-/.test(o!)) && ops.some((o) => /^resume \S+/.test(o!)), ops.join(" | "));
    } finally { frame.remove(); }
  });
}

test.run();
