// <gmem-view>: a live picture of the model for any page (EMBEDDING.md). `view.simulator = sim` shows a simulator of
// the same thread; `view.attach(sim.share())` one a worker drives. Either way the view only reads: the lock-free
// queries (bindings/state.ts), bracketed by the change seqcount - a read that a step overlapped is thrown away and
// tried again next frame - so the page's thread never takes the simulator lock and never waits for a worker.
// It redraws in the animation frame after the count moves and sleeps otherwise (Atomics.waitAsync on the count,
// which the step bracket wakes; a per-frame check of one word where waitAsync is missing).
import { createSimulatorSync, EventReader, eventClass, layout as L, type Simulator, type SharedSimulator } from "../index";
import { buildFrame, describeLane, type Frame } from "./model";
import {
  drawFrame, layout, pageAt, stripCell, PALETTES, GUTTER, type Layout, type LaneBox, type Palette, type StripEvent,
} from "./draw";

const Base = (globalThis.HTMLElement ?? class {}) as typeof HTMLElement;
const STRIP_EVENTS = 64;
const MIN_SPAN = 8; // pages across the whole width at the deepest zoom

const STYLE = `
:host { display: block; position: relative; font: 12px system-ui, sans-serif; min-height: 60px; outline: none; }
:host(:focus-visible) { box-shadow: 0 0 0 2px Highlight; }
canvas { display: block; width: 100%; touch-action: none; cursor: crosshair; }
.tip { position: absolute; z-index: 1; pointer-events: none; white-space: pre; padding: 4px 6px; border-radius: 4px;
  font: 11px ui-monospace, monospace; background: rgba(20, 20, 20, 0.9); color: #fff; display: none; max-width: 60ch; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
`;

export class GmemView extends Base {
  #sim: Simulator | null = null;
  #own = false; //                    the view made #sim (attach): it detaches it when done
  #canvas!: HTMLCanvasElement;
  #tip!: HTMLDivElement;
  #live!: HTMLDivElement;
  #win: { start: number; end: number } | null = null; // null: the whole axis
  #cursor: { page: number; lane: number } | null = null;
  #frame: Frame | null = null;
  #box: Layout | null = null;
  #drawn = -1; //                     change count of the frame on screen
  #dirty = true;
  #raf = 0;
  #waiting = false;
  #reader: EventReader | null = null;
  #strip: StripEvent[] = [];
  #draws = 0;
  #width = 0; //                      CSS width of the frame on screen
  #drag: { x: number; start: number; end: number } | null = null;
  #resize: ResizeObserver | null = null;
  #scheme: MediaQueryList | null = null;

  /** `color-scheme="dark"` or `"light"` overrides the page's prefers-color-scheme. */
  static get observedAttributes(): string[] { return ["color-scheme"]; }
  attributeChangedCallback(): void { this.redraw(); }

  constructor() {
    super();
    if (typeof document === "undefined") return;
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style><canvas part="canvas" aria-hidden="true"></canvas><div class="tip" part="tooltip"></div><div class="sr" aria-live="polite"></div>`;
    this.#canvas = root.querySelector("canvas")!;
    this.#tip = root.querySelector(".tip")!;
    this.#live = root.querySelector(".sr")!;
    this.#canvas.addEventListener("pointermove", (e) => this.#pointer(e));
    this.#canvas.addEventListener("pointerdown", (e) => { this.#drag = { x: e.offsetX, ...this.#window() }; this.#canvas.setPointerCapture(e.pointerId); });
    this.#canvas.addEventListener("pointerup", () => { this.#drag = null; });
    this.#canvas.addEventListener("pointerleave", () => { this.#tip.style.display = "none"; });
    this.#canvas.addEventListener("wheel", (e) => this.#wheel(e), { passive: false });
    this.addEventListener("keydown", (e) => this.#key(e));
  }

  connectedCallback(): void {
    if (!this.hasAttribute("tabindex")) this.tabIndex = 0;
    if (!this.hasAttribute("role")) this.setAttribute("role", "figure");
    if (!this.hasAttribute("aria-label")) this.setAttribute("aria-label", "guest_memfd state: shareability, folios and mappings per page; arrow keys move, + and - zoom");
    this.#resize = new ResizeObserver(() => { if (this.clientWidth !== this.#width) this.redraw(); });
    this.#resize.observe(this);
    this.#scheme = matchMedia("(prefers-color-scheme: dark)");
    this.#scheme.addEventListener("change", this.#schemeChanged);
    this.redraw();
  }

  disconnectedCallback(): void {
    this.#resize?.disconnect();
    this.#scheme?.removeEventListener("change", this.#schemeChanged);
    if (this.#raf) cancelAnimationFrame(this.#raf);
    this.#raf = 0;
  }

  #schemeChanged = (): void => this.redraw();

  /** The simulator shown (one of this thread). */
  get simulator(): Simulator | null { return this.#sim; }
  set simulator(sim: Simulator | null) {
    if (sim !== null && (typeof sim !== "object" || typeof (sim as Simulator).changeCount !== "number")) {
      throw Object.assign(new TypeError("<gmem-view>.simulator takes a Simulator (createSimulator) or null"), { code: "EINVAL" });
    }
    this.#release();
    this.#use(sim, false);
  }

  /**
   * Show a simulator another thread drives: `shared` is what its `share()` returned. The view attaches its own
   * instance to that memory and only ever reads through it. Returns that instance (for queries of your own).
   */
  attach(shared: SharedSimulator): Simulator {
    const sim = createSimulatorSync(shared.module, { memory: shared.memory, debug: shared.flavor === "debug" });
    this.#release();
    this.#use(sim, true);
    return sim;
  }

  #use(sim: Simulator | null, own: boolean): void {
    this.#sim = sim;
    this.#own = own;
    this.#strip = [];
    this.#reader = null;
    if (sim) {
      const head = new EventReader(sim.memory, () => "").head();
      this.#reader = new EventReader(sim.memory, (k, i) => sim.nameOf(k, i), Math.max(0, head - STRIP_EVENTS));
    }
    this.redraw();
  }

  #release(): void {
    if (this.#own && this.#sim) this.#sim.detach();
    this.#sim = null;
    this.#own = false;
  }

  /** Page window shown: [start, end) of page indices (the whole axis until zoomed). */
  get window(): { start: number; end: number } { return this.#window(); }
  set window(w: { start: number; end: number }) { this.#setWindow(w.start, w.end); }
  /** Show the whole axis again. */
  fit(): void { this.#win = null; this.redraw(); }
  /** Zoom by `factor` (> 1 in) around page `at` (default: the middle). */
  zoom(factor: number, at?: number): void {
    const { start, end } = this.#window();
    const c = at ?? (start + end) / 2;
    this.#setWindow(c - (c - start) / factor, c + (end - c) / factor);
  }
  /** Frames drawn so far (a frame is drawn only when the model or the view changed). */
  get drawCount(): number { return this.#draws; }
  /** The frame on screen (lanes and their segments per guest_memfd), null before the first. */
  get frame(): Frame | null { return this.#frame; }
  /** The recent-events strip as drawn (oldest first): each event's kind and its fields as text. */
  get recentEvents(): string[] { return this.#strip.map((e) => e.text); }
  /** Where each lane is drawn (CSS pixels of the canvas). */
  get lanes(): LaneBox[] { return this.#box?.lanes ?? []; }
  /** What page p looks like in the section of lane `lane` (every lane of it, as the tooltip says). */
  describe(page: number, lane = 0): string {
    const f = this.#frame, box = this.#lanesOf(lane);
    if (!f || !box) return "";
    const sec = f.sections[box.section];
    const p = Math.floor(page);
    return [`guest_memfd ${sec.gmem} page ${p} (offset 0x${(p * 4096).toString(16)})`,
      ...sec.lanes.map((l) => describeLane(l, p, f.grain))].join("\n");
  }
  /** Draw again in the next animation frame even if the model did not change. */
  redraw(): void { this.#dirty = true; this.#wake(); }

  #lanesOf(lane: number): LaneBox | undefined { return this.#box?.lanes[Math.max(0, Math.min(lane, (this.#box?.lanes.length ?? 1) - 1))]; }

  #window(): { start: number; end: number } {
    return this.#win ? { ...this.#win } : { start: 0, end: this.#frame?.pages ?? Infinity };
  }
  #setWindow(start: number, end: number): void {
    const axis = this.#frame?.pages;
    if (axis === undefined) { this.#win = { start, end }; this.redraw(); return; } // clipped once the axis is known
    let span = Math.min(axis, Math.max(MIN_SPAN, end - start));
    let s = Math.max(0, Math.min(start, axis - span));
    if (span >= axis) { s = 0; span = axis; }
    this.#win = s === 0 && span === axis ? null : { start: s, end: s + span };
    this.redraw();
  }

  #wake(): void {
    if (this.#raf || !this.isConnected || typeof requestAnimationFrame === "undefined") return;
    this.#raf = requestAnimationFrame(() => { this.#raf = 0; this.#tick(); });
  }

  /** One animation frame: draw if the model or the view changed, from a read no step overlapped. */
  #tick(): void {
    const sim = this.#sim;
    if (!sim) { this.#paintEmpty(); return; }
    const c = sim.changeCount;
    if (c === this.#drawn && !this.#dirty) { this.#sleep(sim, c); return; }
    const width = Math.max(200, this.clientWidth || 600);
    const { start, end } = this.#win ?? { start: 0, end: Infinity };
    let frame: Frame | undefined;
    try { frame = sim.readConsistent(() => buildFrame(sim, start, end, Math.max(10, width - GUTTER - 8)), 2); }
    catch (e) {
      this.#drawn = c; // a read of a quiet model failed: say so, and wait for the next change
      this.dispatchEvent(new CustomEvent("error", { detail: e }));
      this.#sleep(sim, c);
      return;
    }
    if (frame === undefined) { this.#wake(); return; } // every read met a step: next frame
    if (this.#reader) {
      for (const e of this.#reader.read().events) {
        const { kind, step: _s, seq: _q, ...f } = e;
        void _s; void _q;
        this.#strip.push({ kind, cls: eventClass(kind), text: `${kind} ${Object.entries(f).map(([k, v]) => `${k}=${v}`).join(" ")}` });
      }
      if (this.#strip.length > STRIP_EVENTS) this.#strip.splice(0, this.#strip.length - STRIP_EVENTS);
    }
    this.#frame = frame;
    if (this.#win) this.#win = frame.start === 0 && frame.end === frame.pages ? null : { start: frame.start, end: frame.end };
    this.#paint(width);
    this.#drawn = c;
    this.#dirty = false;
    this.#sleep(sim, c);
  }

  /** Wait for the change count to move from c without blocking: Atomics.waitAsync, else look again next frame. */
  #sleep(sim: Simulator, c: number): void {
    if (this.#waiting) return;
    const waitAsync = (Atomics as { waitAsync?: (a: Int32Array, i: number, v: number, t?: number) => { async: boolean; value: Promise<string> | string } }).waitAsync;
    let i32: Int32Array | null = null;
    try { i32 = new Int32Array(sim.memory.buffer, 0, (L.HEADER_BASE + L.HEADER_SIZE) >>> 2); } catch { /* not shared */ }
    if (typeof waitAsync !== "function" || !i32) { this.#pollNext(); return; }
    const waiters = L.H_CHANGE_WAITERS >>> 2, word = L.H_CHANGES >>> 2;
    // register first, then look: a call that ends after the look sees a waiter and moves the word (bracket.ts)
    const w = Atomics.load(i32, word);
    Atomics.add(i32, waiters, 1);
    this.#waiting = true;
    const woke = () => { Atomics.sub(i32!, waiters, 1); this.#waiting = false; this.#wake(); };
    if (sim.changeCount !== c) { woke(); return; }
    let r: { async: boolean; value: Promise<string> | string };
    try { r = waitAsync(i32, word, w, 10000); }
    catch { Atomics.sub(i32, waiters, 1); this.#waiting = false; this.#pollNext(); return; } // (an engine's refusal)
    if (r.async) void (r.value as Promise<string>).then(woke); else woke();
  }
  #pollNext(): void {
    if (this.#raf || !this.isConnected) return;
    this.#raf = requestAnimationFrame(() => { this.#raf = 0; this.#tick(); });
  }

  #palette(): Palette {
    const forced = this.getAttribute("color-scheme");
    const dark = forced === "dark" || (forced !== "light" && (this.#scheme?.matches ?? false));
    const base = dark ? PALETTES.dark : PALETTES.light;
    const css = getComputedStyle(this);
    const pal: Palette = {};
    for (const [k, v] of Object.entries(base)) pal[k] = css.getPropertyValue(`--gmem-${k}`).trim() || v;
    return pal;
  }

  #paint(width: number): void {
    const f = this.#frame!;
    const box = layout(f, width);
    this.#box = box;
    const dpr = globalThis.devicePixelRatio || 1;
    this.#canvas.style.height = `${box.height}px`;
    this.#canvas.width = Math.round(width * dpr);
    this.#canvas.height = Math.round(box.height * dpr);
    const ctx = this.#canvas.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawFrame(ctx, f, box, width, this.#palette(), this.#strip, this.#cursor?.page ?? null, "11px system-ui, sans-serif");
    this.#draws++;
    this.#width = this.clientWidth;
    this.dispatchEvent(new CustomEvent("draw", { detail: { frame: f, draws: this.#draws } }));
  }

  #paintEmpty(): void {
    const ctx = this.#canvas?.getContext("2d");
    if (!ctx) return;
    this.#canvas.style.height = "60px";
    this.#canvas.width = Math.max(200, this.clientWidth || 600);
    this.#canvas.height = 60;
    ctx.fillStyle = this.#palette().muted;
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText("no simulator: set view.simulator or call view.attach(sim.share())", 8, 30);
  }

  #pointer(e: PointerEvent): void {
    const f = this.#frame, box = this.#box;
    if (!f || !box) return;
    if (this.#drag && e.buttons) {
      const dp = ((this.#drag.x - e.offsetX) / box.plotW) * (this.#drag.end - this.#drag.start);
      this.#setWindow(this.#drag.start + dp, this.#drag.end + dp);
      return;
    }
    let text = "";
    if (e.offsetY >= box.stripY && e.offsetX >= box.plotX) {
      const i = Math.floor((e.offsetX - box.plotX) / stripCell(box, this.#strip.length));
      text = this.#strip[i]?.text ?? "";
    } else {
      const lane = box.lanes.findIndex((l) => e.offsetY >= l.y - 2 && e.offsetY < l.y + l.h + 2);
      if (lane >= 0 && e.offsetX >= box.plotX) text = this.describe(pageAt(f, box, e.offsetX), lane);
    }
    this.#tip.textContent = text;
    this.#tip.style.display = text ? "block" : "none";
    this.#tip.style.left = `${Math.min(e.offsetX + 12, Math.max(0, this.clientWidth - 320))}px`;
    this.#tip.style.top = `${e.offsetY + 14}px`;
  }

  #wheel(e: WheelEvent): void {
    const f = this.#frame, box = this.#box;
    if (!f || !box) return;
    e.preventDefault();
    this.zoom(e.deltaY < 0 ? 1.25 : 0.8, pageAt(f, box, e.offsetX));
  }

  #key(e: KeyboardEvent): void {
    const f = this.#frame;
    if (!f) return;
    const { start, end } = this.#window();
    const span = end - start;
    const cur = this.#cursor ?? { page: Math.floor((start + end) / 2), lane: 0 };
    const step = Math.max(1, f.grain) * (e.shiftKey ? 16 : 1);
    const nLanes = this.lanes.length;
    let handled = true;
    switch (e.key) {
      case "ArrowLeft": cur.page = Math.max(0, cur.page - step); break;
      case "ArrowRight": cur.page = Math.min(f.pages - 1, cur.page + step); break;
      case "ArrowUp": cur.lane = Math.max(0, cur.lane - 1); break;
      case "ArrowDown": cur.lane = Math.min(Math.max(0, nLanes - 1), cur.lane + 1); break;
      case "+": case "=": this.zoom(2, cur.page); break;
      case "-": case "_": this.zoom(0.5, cur.page); break;
      case "PageUp": this.#setWindow(start - span * 0.8, end - span * 0.8); cur.page = Math.max(0, Math.floor(cur.page - span * 0.8)); break;
      case "PageDown": this.#setWindow(start + span * 0.8, end + span * 0.8); cur.page = Math.min(f.pages - 1, Math.floor(cur.page + span * 0.8)); break;
      case "Home": case "0": this.fit(); break;
      case "Escape": this.#cursor = null; this.#tip.style.display = "none"; this.redraw(); return;
      default: handled = false;
    }
    if (!handled) return;
    e.preventDefault();
    this.#cursor = cur;
    if (cur.page < start || cur.page >= end) this.#setWindow(cur.page - span / 2, cur.page + span / 2);
    const text = this.describe(cur.page, cur.lane);
    this.#live.textContent = text;
    const box = this.#lanesOf(cur.lane);
    if (box && this.#box && f) {
      this.#tip.textContent = text;
      this.#tip.style.display = "block";
      this.#tip.style.left = `${Math.min(this.#box.plotX + ((cur.page - f.start) / (f.end - f.start)) * this.#box.plotW + 8, Math.max(0, this.clientWidth - 320))}px`;
      this.#tip.style.top = `${box.y + box.h + 4}px`;
    }
    this.redraw();
  }
}

/** Define <gmem-view> once per realm (importing gmemsim/view does it; a second copy leaves the first in place). */
export function defineGmemView(name = "gmem-view"): void {
  if (typeof customElements !== "undefined" && !customElements.get(name)) customElements.define(name, GmemView);
}
