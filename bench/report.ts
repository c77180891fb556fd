// Outputs a person wants from a bench run: an SVG chart of the main cases and a Markdown table for the README,
// both generated from the JSON results (never typed by hand).
import type { BenchReport, CaseResult } from "./main";
import { fmt, summary } from "./main";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A horizontal bar chart, log scale: each case's ratio against its comparison and each floor ratio, with a whisker
 * from the lowest to the highest round, the target marked, and the absolute figures (median rate) beside the bar.
 */
export function chartSvg(rep: BenchReport): string {
  const rows: { label: string; value: number; lo?: number; hi?: number; target?: number; note: string }[] = [];
  const targetOf = (r: CaseResult, what: RegExp): number | undefined => {
    const m = what.exec(r.target ?? "");
    return m ? +m[1] : undefined;
  };
  const abs = (r: CaseResult) => r.opsPerSec !== undefined ? `; ${fmt(r.opsPerSec)} ${r.unit}` : "";
  for (const r of rep.cases) {
    if (r.ratio !== undefined) {
      const sp = r.ratioSpread;
      rows.push({ label: `${r.name} vs ${r.name === "workers" ? "1 worker" : r.name === "binding-overhead" ? "raw" : "reference"}`,
        value: r.ratio, lo: sp ? r.ratio * sp[0] : undefined, hi: sp ? r.ratio * sp[1] : undefined,
        target: targetOf(r, /(?:>=|<=)\s*([\d.]+)x (?:the reference|one worker|raw|the target)/) ?? (r.name === "binding-overhead" ? 1.5 : undefined),
        note: `${r.ratio}x${abs(r)}` });
    }
    const tf = r.extra?.timesFloor as number | undefined;
    if (tf !== undefined) {
      const sp = r.extra?.timesFloorSpread as [number, number] | undefined;
      const limit = targetOf(r, /<=\s*([\d.]+)x the (?:memory )?floor/) ?? 2;
      const warm = r.extra?.warmTimesFloor as number | undefined;
      rows.push({ label: `${r.name}: time / floor${warm !== undefined ? ", cold" : ""}`, value: tf, lo: sp ? tf * sp[0] : undefined,
        hi: sp ? tf * sp[1] : undefined, target: limit, note: `${tf}x floor (target <= ${limit}x)${r.ratio === undefined ? abs(r) : ""}` });
      if (warm !== undefined) {
        const ws = r.extra?.warmTimesFloorSpread as [number, number] | undefined;
        rows.push({ label: `${r.name}: time / floor, warm`, value: warm, lo: ws ? warm * ws[0] : undefined,
          hi: ws ? warm * ws[1] : undefined, target: limit, note: `${warm}x floor (target <= ${limit}x)` });
      }
    }
  }
  const w = 1000, rowH = 30, left = 330, top = 40, h = top + rows.length * rowH + 30;
  const max = Math.max(10, ...rows.map((r) => r.hi ?? r.value), ...rows.map((r) => r.target ?? 0));
  const x = (v: number) => left + (Math.log10(Math.max(v, 0.1)) + 1) / (Math.log10(max) + 1) * (w - left - 260);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="13">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">gmemsim bench (${esc(rep.mode)}, ${esc(rep.date.slice(0, 10))}, node ${esc(rep.machine.node)}, ` +
    `load ${esc((rep.machine.loadStart ?? []).join(" / "))}): ratios, log scale</text>`];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="10" y="${y + 18}">${esc(r.label)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 5}" width="${Math.max(1, x(r.value) - left)}" height="18" fill="#4a7bd0"/>`);
    if (r.lo !== undefined && r.hi !== undefined) {
      const [a, b] = [x(r.lo), x(r.hi)];
      parts.push(`<path d="M${a} ${y + 14}H${b}M${a} ${y + 9}V${y + 19}M${b} ${y + 9}V${y + 19}" stroke="#222" stroke-width="1.5" fill="none"/>`);
    }
    parts.push(`<text x="${Math.max(x(r.value), x(r.hi ?? r.value)) + 6}" y="${y + 18}">${esc(r.note)}</text>`);
    if (r.target !== undefined) parts.push(`<line x1="${x(r.target)}" x2="${x(r.target)}" y1="${y + 2}" y2="${y + 26}" stroke="#d04a4a" stroke-width="2"/>`);
  });
  parts.push(`<text x="10" y="${h - 8}" fill="#666">bar: median of the rounds; whisker: lowest to highest round; red line: target. ` +
    "vs rows: how many times faster than the comparison; floor rows: time / floor, lower is better.</text>");
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

/** The README table. */
export function markdownTable(rep: BenchReport): string {
  const lines = [
    `Measured by \`npm run bench\` (${rep.mode} mode) on ${rep.date.slice(0, 10)}: node ${rep.machine.node}, ` +
    `${rep.machine.cpus} x ${rep.machine.cpuModel}, load average ${(rep.machine.loadStart ?? []).join(" / ")} at the start, ` +
    `${rep.seconds} s. Regenerated from that run's JSON by \`npm run bench -- --update-readme\`. ` +
    "Results are medians of the rounds, with [min - max] of the rounds.",
    "",
    "| case | what | result | target |",
    "|---|---|---|---|",
  ];
  for (const r of rep.cases) {
    const met = r.met === undefined ? "" : r.met ? " (met)" : " (**not met**)";
    lines.push(`| ${r.name} | ${r.what} | ${summary(r, false).replace(/\|/g, "/")} | ${r.target ?? "-"}${met} |`);
  }
  return lines.join("\n") + "\n";
}
