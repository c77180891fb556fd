#!/usr/bin/env node
// Drive Debian's headless Chromium on a page served WITHOUT COOP/COEP (not cross-origin isolated), the other case
// EMBEDDING.md names: <gmem-view> with `.simulator` on a simulator of the page's own thread must draw, redraw after
// a conversion, and sim.share() must refuse with EPERM. Prints one JSON line: what the page saw.
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = process.cwd();
const PAGE = `<!doctype html><meta charset="utf-8"><gmem-view style="width:700px"></gmem-view><script type="module">
  import { createSimulatorSync } from "/dist/index.js";
  import "/dist/view.js";
  const seen = { isolated: crossOriginIsolated, draws: [] };
  const sim = createSimulatorSync({ arch: "tdx" });
  const g = sim.createGmem(4 * 2 ** 20, ["mmap", "init-private", "hugetlb-2M"], "v2", { name: "g" });
  const view = document.querySelector("gmem-view");
  view.addEventListener("draw", () => {
    seen.draws.push(view.frame.sections[0].lanes[0].segs.map((s) => s.key).join(","));
    if (seen.draws.length === 1) g.convert(0, 4096, "shared");
    else {
      try { sim.share(); seen.share = "ok"; } catch (e) { seen.share = e.code; }
      globalThis.__seen = seen;
    }
  });
  view.simulator = sim;
</script>`;

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.route("http://plain.invalid/**", (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === "/") return route.fulfill({ contentType: "text/html", body: PAGE });
    return route.fulfill({ contentType: "text/javascript", body: readFileSync(join(root, path)) });
  });
  await page.goto("http://plain.invalid/");
  await page.waitForFunction(() => globalThis.__seen !== undefined, null, { timeout: 20000 });
  console.log(JSON.stringify({ ...(await page.evaluate(() => globalThis.__seen)), errors }));
} finally {
  await browser.close();
}
