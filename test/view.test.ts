// gmemsim/view: the frame model in every runtime (lanes per guest_memfd built from the lock-free queries), and in
// Chromium the <gmem-view> element itself, checked structurally: the colour under each lane at each page is the
// colour of what the model holds there, it changes after a conversion and only then, it keeps up with a simulator
// a worker drives while the page's animation frames keep coming, and keyboard, zoom and theming work.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSimulator, createSimulatorSync, type Simulator } from "../bindings/index";
import { buildFrame, segAt, GmemView, PALETTES, type Frame } from "../bindings/view/index";
import { spawnWorker, runtime, importDist, importDistView, runNode } from "gmemsim-test-env";

const MiB = 2 ** 20;

/** The seed's to-shared flow on TDX on page 1 of an 8 MiB guest_memfd, with a host mapping of the page. */
function seed(sim: Simulator = createSimulatorSync({ arch: "tdx", checks: true })) {
  const g = sim.createGmem(8 * MiB, ["mmap", "init-private", "hugetlb-2M"], "v2", { name: "g" });
  const vm = sim.createVm({ name: "vm" });
  vm.bind(0, 0, 8 * MiB, g, 0);
  const io = sim.createIommu("gmem", { name: "io" });
  io.bind(g);
  vm.access(0x1000, { private: true });
  io.map(0, g, 0, 2 * MiB, true);
  g.convert(0x1000, 4096, "shared");
  io.map(0x1000, g, 0x1000, 4096, false);
  g.mmap();
  g.hostAccess(0x1000);
  return { sim, g, vm, io };
}

const lane = (f: Frame, label: string) => f.sections[0].lanes.find((l) => l.label === label)!;

test(`view model: one section per guest_memfd, a lane per table that reaches it (${runtime})`, () => {
  const { sim } = seed();
  const f = buildFrame(sim, 0, 64, 640);
  assert.is(f.grain, 1);
  assert.equal(f.sections.map((s) => [s.gmem, s.pages]), [["g", 2048]]);
  assert.equal(f.sections[0].lanes.map((l) => l.label), ["shareability", "folios (2M)", "vm vm private", "vm vm shared",
    "iommu io secure", "iommu io non-secure", "host PTEs"]);
  assert.equal(lane(f, "shareability").segs.map((s) => [s.start, s.end, s.key]), [[0, 1, "private"], [1, 2, "shared"], [2, 64, "private"]]);
  assert.equal([segAt(lane(f, "vm vm private"), 0)?.key, segAt(lane(f, "vm vm private"), 1)], ["4K", undefined]);
  assert.equal(segAt(lane(f, "vm vm shared"), 1)?.key, undefined, "the guest has not touched page 1 as shared");
  assert.equal(lane(f, "iommu io non-secure").segs.map((s) => [s.start, s.end, s.key]), [[1, 2, "4K"]]);
  assert.equal(lane(f, "host PTEs").segs.map((s) => [s.start, s.end]), [[1, 2]]);
  assert.equal(lane(f, "folios (2M)").segs.map((s) => [s.start, s.end, s.key]), [[0, 64, "small"]]);
  // zoomed out over a 4 GiB guest_memfd: one query per bucket, 2 MiB summaries of shareability
  const big = sim.createGmem(4096 * MiB, ["mmap", "init-private", "hugetlb-2M"], "v2", { name: "big" });
  big.convert(512 * 4096 * 7, 4096 * 3, "shared");
  const wide = buildFrame(sim, 0, 1 << 20, 1000);
  const sh = wide.sections[1].lanes[0].segs;
  assert.ok(sh.length <= 5, `merged uniform buckets: ${sh.length}`);
  assert.equal(sh.find((s) => s.key === "mixed")!.start % 512, 0, "2 MiB-aligned summaries");
});

test("view: gmemsim/view imports in any runtime and shares the binding of gmemsim (dist)", async () => {
  const view = await importDistView();
  const m = await importDist();
  assert.type(view.GmemView, "function");
  if (runtime === "node") { assert.is(typeof customElements, "undefined"); return; }
  // this page's test bundle defined <gmem-view> first; the bundle's own copy leaves it and can take another name
  assert.type(customElements.get("gmem-view"), "function");
  view.defineGmemView("gmem-view-dist");
  assert.is(customElements.get("gmem-view-dist"), view.GmemView);
  const el = document.createElement("gmem-view-dist") as InstanceType<typeof view.GmemView>;
  el.style.width = "700px";
  document.body.appendChild(el);
  try {
    el.simulator = seed(m.createSimulatorSync({ arch: "tdx" })).sim;
    await drawn(el);
    assert.ok(el.frame!.sections.length === 1, "the bundle's view draws a simulator of the bundle");
  } finally { el.remove(); }
});

if (runtime === "node") {
  test("view element: in a page that is not cross-origin isolated, .simulator draws and redraws (Chromium, from Node)", () => {
    const r = runNode("test/harness/unisolated-page.mjs")!;
    assert.is(r.code, 0, r.stderr);
    const seen = JSON.parse(r.stdout.trim().split("\n").pop()!) as { isolated: boolean; draws: string[]; share: string; errors: string[] };
    assert.equal(seen, { isolated: false, draws: ["private", "shared,private"], share: "EPERM", errors: [] });
  });
}

// ---- the element, in a page -----------------------------------------------------------------------------------
function drawn(el: GmemView, timeout = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no draw")), timeout);
    el.addEventListener("draw", () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
const frames = (n: number) => new Promise<void>((r) => { let k = 0; const f = () => (++k >= n ? r() : requestAnimationFrame(f)); requestAnimationFrame(f); });

/** The colour at the middle of page p in the lane labelled `label`, as [r, g, b]. */
function pixel(el: GmemView, label: string, p: number): number[] {
  const f = el.frame!, box = el.lanes.find((l) => l.label === label)!;
  const canvas = el.shadowRoot!.querySelector("canvas")!;
  const plotW = canvas.width / (globalThis.devicePixelRatio || 1) - 158;
  const x = 150 + ((p + 0.5 - f.start) / (f.end - f.start)) * plotW;
  const dpr = globalThis.devicePixelRatio || 1;
  return [...canvas.getContext("2d")!.getImageData(Math.round(x * dpr), Math.round((box.y + box.h / 2) * dpr), 1, 1).data.slice(0, 3)];
}
const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 3);

function mount(width = 800): GmemView {
  const el = document.createElement("gmem-view") as GmemView;
  el.style.width = `${width}px`;
  el.setAttribute("color-scheme", "light");
  document.body.appendChild(el);
  return el;
}

if (runtime === "browser") {
  test("view element: every lane shows the model's colour at every page; a conversion changes it, nothing else redraws", async () => {
    const { sim, g } = seed(createSimulatorSync({ arch: "tdx" }));
    const el = mount();
    try {
      el.simulator = sim;
      el.window = { start: 0, end: 64 };
      await drawn(el);
      const pal = PALETTES.light;
      for (const l of el.frame!.sections[0].lanes) {
        for (let p = 0; p < 64; p++) {
          const s = segAt(l, p);
          const want = s ? (s.key === "mixed" ? null : pal[s.key]) : pal.absent;
          if (want) assert.ok(near(pixel(el, l.label, p), rgb(want)), `${l.label} page ${p}: ${pixel(el, l.label, p)} vs ${want}`);
        }
      }
      assert.ok(near(pixel(el, "shareability", 1), rgb(pal.shared)) && near(pixel(el, "shareability", 5), rgb(pal.private)));
      const draws = el.drawCount;
      await frames(10);
      assert.is(el.drawCount, draws, "nothing changed: nothing drawn");
      g.convert(5 * 4096, 4096, "shared");
      await drawn(el);
      assert.ok(near(pixel(el, "shareability", 5), rgb(pal.shared)), "page 5 turned shared on screen");
      assert.is(el.drawCount, draws + 1, "one draw for one change");
      const strip = el.recentEvents;
      assert.ok(strip.length > 0 && strip.length <= 64, `the strip shows the recent events (${strip.length})`);
      assert.match(strip[strip.length - 1], /^gmem\.unlock /, "the conversion's last event ends the strip");
      el.style.setProperty("--gmem-shared", "#ff0000");
      el.redraw();
      await drawn(el);
      assert.ok(near(pixel(el, "shareability", 5), [255, 0, 0]), "CSS custom properties theme the view");
      el.setAttribute("color-scheme", "dark");
      await drawn(el);
      assert.ok(near(pixel(el, "vm vm private", 1), rgb(PALETTES.dark.absent)), "the dark palette");
    } finally { el.remove(); }
  });

  test("view element: keyboard moves a cursor, zooms and announces the page's state", async () => {
    const { sim } = seed(createSimulatorSync({ arch: "tdx" }));
    const el = mount();
    try {
      el.simulator = sim;
      await drawn(el);
      assert.is(el.tabIndex, 0, "focusable");
      try { el.simulator = {} as Simulator; assert.unreachable("took a non-simulator"); } catch (e) { assert.is((e as { code: string }).code, "EINVAL"); }
      assert.is(el.simulator, sim, "a refused value leaves the simulator in place");
      el.focus();
      const key = (k: string) => el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
      key("+");
      const span = el.window.end - el.window.start;
      assert.ok(span < 2048 && span >= 1000, `zoomed in: ${span}`);
      key("Home");
      for (let i = 0; i < 3; i++) key("ArrowDown");
      key("ArrowLeft");
      const live = el.shadowRoot!.querySelector("[aria-live]")!.textContent!;
      assert.match(live, /guest_memfd g page \d+/);
      assert.match(live, /vm vm private: /);
      assert.match(el.describe(1, 0), /shareability: mixed \(33% shared\)/, "3 pages a bucket across the whole axis");
      el.window = { start: 0, end: 64 };
      await drawn(el);
      assert.match(el.describe(1, 0), /page 1 \(offset 0x1000\)\nshareability: shared\nfolios \(2M\): 4 KiB folio pfn 0x[0-9a-f]+\n/);
      assert.match(el.describe(1, 0), /vm vm private: not mapped\n.*\niommu io secure: not mapped\niommu io non-secure: 4K leaf/);
    } finally { el.remove(); }
  });

  test("view element: attached to a worker's simulator it keeps up while the page's frames keep coming", async () => {
    const sim = await createSimulator({ arch: "tdx" });
    const { g } = seed(sim);
    const el = mount();
    try {
      el.attach(sim.share());
      el.window = { start: 0, end: 256 };
      await drawn(el);
      const d0 = el.drawCount;
      let rafs = 0, maxGap = 0, last = performance.now(), running = true;
      const tick = () => { const t = performance.now(); maxGap = Math.max(maxGap, t - last); last = t; rafs++; if (running) requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
      const job = spawnWorker<{ rounds: number }>(sim.share(), { kind: "convert-loop", gmem: g.handle, offset: 0x40000, size: 0x40000, ms: 1500 });
      const { rounds } = await job;
      running = false;
      await frames(3);
      assert.ok(rounds > 20, `the worker converted (${rounds} rounds)`);
      assert.ok(rafs >= 30, `animation frames kept coming (${rafs} in 1.5 s)`);
      assert.ok(maxGap < 250, `no frame was held up (longest gap ${maxGap.toFixed(0)} ms)`);
      assert.ok(el.drawCount - d0 >= 5, `the view redrew as the model changed (${el.drawCount - d0} draws)`);
      const share = el.frame!.sections[0].lanes[0].segs;
      assert.ok(share.every((s) => s.key !== "mixed"), "never a torn picture");
      assert.ok(share.some((s) => s.start <= 64 && s.end >= 128 && s.key === "private"), "the loop ends private");
    } finally { el.remove(); }
  });
}

test.run();
