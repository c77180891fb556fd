#!/usr/bin/env node
// npm run docs: regenerate what the documentation takes from the code.
//   docs/scenarios.md   the tables between <!-- generated:begin NAME --> and <!-- generated:end NAME -->: ops and
//                       their fields (from the parser's tables and the JSON Schema's required lists), event kinds and
//                       their fields, pause points, safeguards, errno names
//   docs/api/           the API reference of `gmemsim` and `gmemsim/debug` (TypeDoc + typedoc-plugin-markdown,
//                       from the doc comments of bindings/)
// With --check nothing is written: exit 1 naming what is out of date (scripts/test.mjs runs this).
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const check = process.argv.includes("--check");

// what each safeguard of config.disable switches off (one line each; a new safeguard without a line fails here)
const SAFEGUARD_DOCS = {
  "kvm-retry": "KVM's fault path installs without checking `mmu_invalidate_in_progress` and the sequence snapshot (`is_page_fault_stale`)",
  "iommu-block": "gmem-mode IOMMU maps go ahead while a conversion of their range is in flight (no begin/end blocking, no sequence check)",
  "iommu-callback": "guest_memfd does not call the IOMMU's invalidation callback",
  "refcount-check": "to-private skips the check for outstanding page references",
  "host-unmap": "to-private leaves the host's mappings of the range in place",
  "iommu-seq": "the gmem-mode IOMMU map does not re-check the invalidation sequence before it installs its entries",
};

async function tables() {
  const r = await build({
    stdin: {
      contents: `export { EVENT_NAMES, eventFields } from "./bindings/events";
        export { PAUSE_POINTS, ERRNOS, SAFEGUARDS } from "./bindings/scenario/types";
        export { SPECS, OPS } from "./bindings/scenario/parse/specs";
        export { scenarioSchema } from "./bindings/scenario/schema";`,
      resolveDir: root, loader: "ts",
    },
    bundle: true, format: "esm", write: false, logLevel: "warning", loader: { ".wasm": "empty" },
  });
  return import("data:text/javascript;base64," + Buffer.from(r.outputFiles[0].text).toString("base64"));
}

const code = (x) => `\`${x}\``;

function generated(m) {
  const schema = m.scenarioSchema();
  const byOp = new Map(schema.definitions.step.allOf.map((c) => [c.if.properties.op.const, c.then]));
  const ops = ["| op | fields (*optional*) | results besides 0 and errno names |", "|---|---|---|"];
  for (const op of m.OPS) {
    const s = byOp.get(op);
    const fields = m.SPECS[op].fields.map((f) => (s.required.includes(f) ? code(f) : `*${code(f)}*`));
    if (op === "check.stats") fields.push("*any counter name*");
    const extra = [...(m.SPECS[op].errorOffset ? ["*`errorOffset`*"] : [])];
    const results = m.SPECS[op].check ? "(a check: holds or fails)" : (m.SPECS[op].results ?? []).map(code).join(", ") || "-";
    ops.push(`| ${code(op)} | ${[...fields, ...extra].join(", ") || "-"} | ${results} |`);
  }
  const events = ["| kind | fields |", "|---|---|"];
  for (const k of m.EVENT_NAMES.filter(Boolean)) events.push(`| ${code(k)} | ${m.eventFields(k).map(code).join(", ") || "-"} |`);
  const pauses = ["| op | pause points, in the order the op passes them |", "|---|---|"];
  for (const [op, points] of Object.entries(m.PAUSE_POINTS)) pauses.push(`| ${code(op)} | ${points.map(code).join(", ")} |`);
  const safeguards = ["| name | switches off |", "|---|---|"];
  for (const s of m.SAFEGUARDS) {
    if (!SAFEGUARD_DOCS[s]) throw new Error(`scripts/docs.mjs: say in SAFEGUARD_DOCS what safeguard ${s} switches off`);
    safeguards.push(`| ${code(s)} | ${SAFEGUARD_DOCS[s]} |`);
  }
  return { ops: ops.join("\n"), events: events.join("\n"), pauses: pauses.join("\n"), safeguards: safeguards.join("\n"),
    errnos: m.ERRNOS.map(code).join(" ") };
}

function fill(text, blocks) {
  for (const [name, body] of Object.entries(blocks)) {
    const begin = `<!-- generated:begin ${name} -->`, end = `<!-- generated:end ${name} -->`;
    const i = text.indexOf(begin), j = text.indexOf(end);
    if (i < 0 || j < i) throw new Error(`docs/scenarios.md has no ${begin} ... ${end}`);
    text = text.slice(0, i + begin.length) + "\n" + body + "\n" + text.slice(j);
  }
  return text;
}

function typedoc(out) {
  const r = spawnSync(process.execPath, [join(root, "node_modules/typedoc/bin/typedoc"),
    "--plugin", "typedoc-plugin-markdown", "--entryPoints", "bindings/index.ts", "--entryPoints", "bindings/debug.ts", "--entryPoints", "bindings/view/index.ts",
    "--tsconfig", "tsconfig.json", "--out", out, "--readme", "none", "--excludeInternal", "--excludeExternals", "--disableSources",
    "--outputFileStrategy", "modules", "--intentionallyNotExported", "u32", "--logLevel", "Warn", "--name", "gmemsim API"],
    { encoding: "utf8" });
  if (r.status !== 0 || /\[warning\]|\[error\]/.test(r.stdout + r.stderr)) {
    throw new Error(`typedoc failed or warned:\n${r.stdout}${r.stderr}`);
  }
}

function tree(dir) {
  const out = new Map();
  const walk = (d) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p); else out.set(relative(dir, p), readFileSync(p, "utf8"));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

const stale = [];
const scenariosMd = "docs/scenarios.md";
const before = readFileSync(scenariosMd, "utf8");
const after = fill(before, generated(await tables()));
if (after !== before) { if (check) stale.push(scenariosMd); else writeFileSync(scenariosMd, after); }

const tmp = mkdtempSync(join(tmpdir(), "gmemsim-docs-"));
try {
  typedoc(tmp);
  const want = tree(tmp), have = tree("docs/api");
  const same = want.size === have.size && [...want].every(([f, t]) => have.get(f) === t);
  if (!same) {
    if (check) stale.push("docs/api/");
    else { rmSync("docs/api", { recursive: true, force: true }); cpSync(tmp, "docs/api", { recursive: true }); }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (check && stale.length) {
  console.log(`out of date: ${stale.join(", ")} (run npm run docs)`);
  process.exit(1);
}
console.log(check ? "docs: up to date" : "docs: docs/scenarios.md tables and docs/api/ regenerated");
