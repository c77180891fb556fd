#!/usr/bin/env node
// Regenerate docs/gmem-view.png, the README's picture of <gmem-view>: the playground (served by the loopback
// server) runs the seed's to-shared flow on TDX in Debian's headless Chromium, the view zooms to the first 48
// pages, and the element alone is captured. Usage: node scripts/screenshot.mjs [OUT.png] (builds dist/ if missing).
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(process.argv[2] ?? join(root, "docs/gmem-view.png"));
if (!existsSync(join(root, "dist/view.js"))) {
  const r = spawnSync(process.execPath, [join(root, "scripts/build.mjs"), "--no-types"], { stdio: "inherit" });
  if (r.status !== 0) process.exit(1);
}
// the file server of `gmemsim serve` (COOP/COEP), bundled on its own as the test runner does
const { build } = await import("esbuild");
const serverJs = join(root, "build/screenshot-server.mjs");
await build({ bundle: true, format: "esm", platform: "node", logLevel: "warning", entryPoints: [join(root, "bindings/cli/server.ts")], outfile: serverJs });
const { serve } = await import(pathToFileURL(serverJs).href);
const { chromium } = await import("playwright-core");
const server = await serve({ root, port: 0, allow: ["dist/", "build/", "examples/", "playground/"] });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1, colorScheme: "light" });
  await page.goto(`http://127.0.0.1:${server.address().port}/playground/index.html?example=seed-to-shared-tdx.json`);
  await page.waitForFunction(() => globalThis.__playgroundReady === true);
  await page.uncheck("#animate");
  await page.click("#run");
  await page.waitForFunction(() => globalThis.__playgroundRuns === 1);
  await page.evaluate(() => new Promise((done) => {
    const view = document.getElementById("view");
    view.addEventListener("draw", () => done(), { once: true });
    view.window = { start: 0, end: 48 };
  }));
  await page.locator("gmem-view").screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  server.close();
}
