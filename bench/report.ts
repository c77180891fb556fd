// Outputs a person wants from a bench run: an SVG chart of the main cases and a Markdown table for the README,
// both generated from the JSON results (never typed by hand).
import type { BenchReport, CaseResult } from "./main";
import { summary } from "./main";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A horizontal bar chart: each case's ratio against its comparison (log scale), the target marked. */
export function chartSvg(rep: BenchReport): string {
  const rows: { label: string; value: number; target?: number; note: string }[] = [];
  const targetOf = (r: CaseResult): number | undefined => {
    const m = /(>=|<=)\s*([\d.]+)x/.exec(r.target ?? "");
    return m ? +m[2] : undefined;
  };
  for (const r of rep.cases) {
    if (r.ratio !== undefined && r.name !== "binding-overhead") {
      rows.push({ label: `${r.name} vs reference`, value: r.ratio, target: targetOf(r), note: `${r.ratio}x` });
    }
    const tf = r.extra?.timesFloor as number | undefined;
    if (tf !== undefined) rows.push({ label: `${r.name}: time / memory floor`, value: tf, target: 2, note: `${tf}x floor (target <= 2x)` });
  }
  const w = 900, rowH = 30, left = 330, top = 40, h = top + rows.length * rowH + 30;
  const max = Math.max(10, ...rows.map((r) => r.value), ...rows.map((r) => r.target ?? 0));
  const x = (v: number) => left + (Math.log10(Math.max(v, 0.1)) + 1) / (Math.log10(max) + 1) * (w - left - 120);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="13">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">gmemsim bench (${esc(rep.mode)}, ${esc(rep.date.slice(0, 10))}, node ${esc(rep.machine.node)}): ratios, log scale</text>`];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="10" y="${y + 18}">${esc(r.label)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 5}" width="${Math.max(1, x(r.value) - left)}" height="18" fill="#4a7bd0"/>`);
    parts.push(`<text x="${x(r.value) + 6}" y="${y + 18}">${esc(r.note)}</text>`);
    if (r.target !== undefined) parts.push(`<line x1="${x(r.target)}" x2="${x(r.target)}" y1="${y + 2}" y2="${y + 26}" stroke="#d04a4a" stroke-width="2"/>`);
  });
  parts.push(`<text x="10" y="${h - 8}" fill="#666">red line: target. Ratios: how many times faster than the comparison (floor rows: time / floor, lower is better).</text>`);
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
    lines.push(`| ${r.name} | ${r.what} | ${summary(r).replace(/\|/g, "/")} | ${r.target ?? "-"}${met} |`);
  }
  return lines.join("\n") + "\n";
}
