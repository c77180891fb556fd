// Drawing a Frame (./model.ts) on a 2D canvas, and the geometry the element needs for pointer and keyboard: a
// label gutter, per guest_memfd a header and its lanes, an axis of page indices, and the strip of recent events
// coloured by protocol phase. Colours come from a palette the element reads from CSS custom properties, so a page
// themes the view with CSS and prefers-color-scheme switches it.
import type { Frame, Lane } from "./model";

export type Palette = Record<string, string>;

/** Light and dark defaults; each key is also the CSS custom property --gmem-<key> that overrides it. */
export const PALETTES: { light: Palette; dark: Palette } = {
  light: {
    bg: "#ffffff", fg: "#1f2328", muted: "#6e7781", grid: "#d0d7de", cursor: "#cf222e",
    private: "#8250df", shared: "#1a7f37", mixed: "#bf8700",
    absent: "#eaeef2", huge: "#0969da", small: "#54aeff",
    "4K": "#54aeff", "2M": "#0969da", "1G": "#0a3069", blocked: "#cf222e", pending: "#fb8f44",
    lock: "#6e7781", invalidate_begin: "#bf8700", should_proceed: "#cf222e", execute_work: "#1a7f37",
    invalidate_end: "#0969da", remap: "#8250df", other: "#afb8c1",
  },
  dark: {
    bg: "#0d1117", fg: "#e6edf3", muted: "#8d96a0", grid: "#30363d", cursor: "#ff7b72",
    private: "#bc8cff", shared: "#3fb950", mixed: "#d29922",
    absent: "#21262d", huge: "#388bfd", small: "#79c0ff",
    "4K": "#79c0ff", "2M": "#388bfd", "1G": "#a5d6ff", blocked: "#ff7b72", pending: "#ffa657",
    lock: "#8d96a0", invalidate_begin: "#d29922", should_proceed: "#ff7b72", execute_work: "#3fb950",
    invalidate_end: "#388bfd", remap: "#bc8cff", other: "#484f58",
  },
};

export const GUTTER = 150;
export const LANE_H = 14;
const LANE_GAP = 3;
const HEADER_H = 18;
const AXIS_H = 18;
export const STRIP_H = 16;
const STRIP_LABEL_H = 16;
const STATE_LEGEND_H = 18;

/** Where a lane, or the event strip, sits on the canvas (CSS pixels). */
export interface LaneBox { section: number; lane: number; y: number; h: number; label: string; kind: string }
export interface Layout { lanes: LaneBox[]; plotX: number; plotW: number; stripY: number; height: number }

/** The boxes of every lane for a frame on a canvas `width` CSS pixels wide. */
export function layout(frame: Frame, width: number): Layout {
  const lanes: LaneBox[] = [];
  let y = AXIS_H;
  frame.sections.forEach((sec, si) => {
    y += HEADER_H;
    sec.lanes.forEach((l, li) => {
      lanes.push({ section: si, lane: li, y, h: LANE_H, label: l.label, kind: l.kind });
      y += LANE_H + LANE_GAP;
    });
    y += 4;
  });
  const stripY = y + STRIP_LABEL_H;
  return { lanes, plotX: GUTTER, plotW: Math.max(10, width - GUTTER - 8), stripY, height: stripY + STRIP_H + 6 + STATE_LEGEND_H };
}

/** Page index at CSS x, and the CSS x of page p. */
export function pageAt(frame: Frame, box: Layout, x: number): number {
  return frame.start + ((x - box.plotX) / box.plotW) * (frame.end - frame.start);
}
export function xOf(frame: Frame, box: Layout, p: number): number {
  return box.plotX + ((p - frame.start) / (frame.end - frame.start)) * box.plotW;
}

function mix(a: string, b: string, t: number): string {
  const pa = parseInt(a.slice(1), 16), pb = parseInt(b.slice(1), 16);
  const ch = (sh: number) => Math.round(((pa >> sh) & 255) * (1 - t) + ((pb >> sh) & 255) * t);
  return `rgb(${ch(16)}, ${ch(8)}, ${ch(0)})`;
}

function drawLane(ctx: CanvasRenderingContext2D, frame: Frame, box: Layout, lane: Lane, y: number, pal: Palette): void {
  ctx.fillStyle = pal.absent;
  ctx.fillRect(box.plotX, y, box.plotW, LANE_H);
  const pxPerPage = box.plotW / (frame.end - frame.start);
  for (const s of lane.segs) {
    const x0 = Math.max(box.plotX, xOf(frame, box, s.start));
    const x1 = Math.min(box.plotX + box.plotW, xOf(frame, box, s.end));
    if (x1 <= box.plotX || x0 >= box.plotX + box.plotW) continue;
    ctx.fillStyle = s.key === "mixed" ? mix(pal.private, pal.shared, s.shared ?? 0.5) : pal[s.key] ?? pal.other;
    ctx.fillRect(Math.floor(x0), y, Math.max(1, Math.ceil(x1) - Math.floor(x0)), LANE_H);
    if (s.state === 1 || s.state === 2) { // a blocked or pending S-EPT leaf: a band in its colour
      ctx.fillStyle = s.state === 1 ? pal.blocked : pal.pending;
      ctx.fillRect(Math.floor(x0), y + LANE_H - 4, Math.max(1, Math.ceil(x1) - Math.floor(x0)), 4);
    }
    // folio and leaf boundaries, where there is room to see them
    const unit = s.key === "huge" && s.order ? 1 << s.order : s.key === "2M" ? 512 : s.key === "1G" ? 1 << 18 : s.key === "4K" || s.key === "small" ? 1 : 0;
    if (unit > 0 && unit * pxPerPage >= 6) {
      ctx.fillStyle = pal.bg;
      for (let p = Math.ceil(s.start / unit) * unit; p < s.end; p += unit) {
        if (p > s.start) ctx.fillRect(Math.round(xOf(frame, box, p)), y, 1, LANE_H);
      }
    }
  }
  if (lane.truncated) { ctx.fillStyle = pal.cursor; ctx.fillRect(box.plotX + box.plotW - 3, y, 3, LANE_H); }
}

/** A recent event as the strip draws it. */
export interface StripEvent { kind: string; cls: string; text: string }

/** Draw the whole frame; `cursor` (a page index) draws a marker, `strip` the recent events (oldest first). */
export function drawFrame(ctx: CanvasRenderingContext2D, frame: Frame, box: Layout, width: number, pal: Palette,
                          strip: StripEvent[], cursor: number | null, font: string): void {
  ctx.fillStyle = pal.bg;
  ctx.fillRect(0, 0, width, box.height);
  ctx.font = font;
  ctx.textBaseline = "middle";
  // axis: page indices at a few ticks
  ctx.fillStyle = pal.muted;
  ctx.fillText(`pages ${Math.floor(frame.start)}-${Math.ceil(frame.end)}${frame.grain > 1 ? `, ${frame.grain}/bucket` : ""}`, 4, AXIS_H / 2);
  for (let k = 0; k <= 4; k++) {
    const x = box.plotX + (k / 4) * box.plotW;
    ctx.fillRect(Math.round(x), AXIS_H - 4, 1, 4);
    const p = Math.round(frame.start + (k / 4) * (frame.end - frame.start));
    ctx.textAlign = k === 0 ? "left" : k === 4 ? "right" : "center";
    ctx.fillText(String(p), x, AXIS_H / 2);
  }
  ctx.textAlign = "left";
  let li = 0;
  frame.sections.forEach((sec, si) => {
    const first = box.lanes.find((l) => l.section === si);
    const hy = (first ? first.y : AXIS_H + HEADER_H) - HEADER_H / 2 - 1;
    ctx.fillStyle = pal.fg;
    ctx.fillText(`guest_memfd ${sec.gmem}: ${sec.pages} pages, ${sec.protocol}`, 4, hy);
    for (const lane of sec.lanes) {
      const b = box.lanes[li++];
      ctx.fillStyle = pal.muted;
      ctx.fillText(lane.label.length > 22 ? lane.label.slice(0, 21) + "\u2026" : lane.label, 8, b.y + LANE_H / 2);
      drawLane(ctx, frame, box, lane, b.y, pal);
    }
  });
  if (cursor !== null && cursor >= frame.start && cursor < frame.end) {
    ctx.fillStyle = pal.cursor;
    ctx.fillRect(Math.round(xOf(frame, box, cursor)), AXIS_H, 1, box.stripY - STRIP_LABEL_H - AXIS_H);
  }
  // recent events, oldest on the left
  ctx.fillStyle = pal.muted;
  ctx.fillText("recent events", 4, box.stripY + STRIP_H / 2);
  const cell = stripCell(box, strip.length);
  strip.forEach((e, i) => {
    ctx.fillStyle = pal[e.cls] ?? pal.other;
    ctx.fillRect(box.plotX + i * cell, box.stripY, Math.max(1, cell - 1), STRIP_H);
  });
  // the phases' legend above the strip, the lanes' colours below it
  legend(ctx, pal, box.plotX, box.stripY - STRIP_LABEL_H + 8, PHASE_LEGEND);
  ctx.fillStyle = pal.muted;
  ctx.fillText("lanes", 4, box.stripY + STRIP_H + 6 + STATE_LEGEND_H / 2);
  legend(ctx, pal, box.plotX, box.stripY + STRIP_H + 6 + STATE_LEGEND_H / 2, STATE_LEGEND);
}

const PHASE_LEGEND: [string, string][] = [["lock", "lock"], ["invalidate_begin", "invalidate_begin"],
  ["should_proceed", "should_proceed"], ["execute_work", "execute_work"], ["invalidate_end", "invalidate_end"],
  ["remap", "step-4 remap"]];
const STATE_LEGEND: [string, string][] = [["private", "private"], ["shared", "shared"], ["mixed", "mixed"],
  ["absent", "absent"], ["huge", "huge folio"], ["4K", "4K folio / leaf"], ["2M", "2M leaf"], ["1G", "1G leaf"],
  ["blocked", "blocked"], ["pending", "pending"]];

/** One row of colour keys from x at height y (the middle of the row). */
function legend(ctx: CanvasRenderingContext2D, pal: Palette, x: number, y: number, keys: [string, string][]): void {
  for (const [k, label] of keys) {
    ctx.fillStyle = pal[k];
    ctx.fillRect(x, y - 4, 8, 8);
    ctx.fillStyle = pal.muted;
    ctx.fillText(label, x + 11, y);
    x += 16 + ctx.measureText(label).width;
  }
}

/** Width of one event cell of the strip. */
export function stripCell(box: Layout, n: number): number {
  return Math.max(2, Math.min(14, box.plotW / Math.max(1, n)));
}
