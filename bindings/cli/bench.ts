// gmemsim bench: the conversion-throughput benchmark (bench/main.ts), its results as JSON, an SVG chart and a
// Markdown table. Output files are opened before the run, so a path that cannot be written fails in a moment, not
// after half a minute.
import { createRequire } from "node:module";
import { cpus, loadavg } from "node:os";
import { CASES, runBench, setLoader, setMachine } from "../../bench/main";
import { chartSvg, markdownTable } from "../../bench/report";
import { EXIT, str, usageError, type Command } from "./command";
import { openOutput, safeText, type OutputFile } from "./io";

export const command: Command = {
  name: "bench",
  usage: "[--quick] [--filter NAME] [--json OUT] [--svg OUT] [--markdown OUT]",
  description: "Measure conversion throughput: each case's rate, its ratio against the reference model (measured in one\n" +
    "process, alternating sides) and its target. About 30 s in full, a few with --quick.\n" +
    `Cases: ${CASES.map((c) => c.name).join(", ")}.\n` +
    "Exit status: 0 done, 2 bad usage (an unknown option, a --filter that names no case), 3 an output file could not be written.",
  options: {
    quick: { type: "boolean", help: "short runs (for a smoke test; ratios are noisier)" },
    filter: { type: "string", value: "NAME", help: "only the cases whose name contains NAME" },
    json: { type: "string", value: "OUT", help: "write the results as JSON" },
    svg: { type: "string", value: "OUT", help: "write a chart of the ratios (SVG)" },
    markdown: { type: "string", value: "OUT", help: "write the results table (Markdown)" },
  },
  maxPositionals: 0,
  async run(args, io) {
    const filter = str(args.values.filter);
    if (filter !== undefined && !CASES.some((c) => c.name.includes(filter))) {
      throw usageError(`--filter ${JSON.stringify(filter)} names no case (cases: ${CASES.map((c) => c.name).join(", ")})`);
    }
    const files: { file: OutputFile; make: (rep: Parameters<typeof chartSvg>[0]) => string }[] = [];
    try {
      const want = (opt: string, make: (rep: Parameters<typeof chartSvg>[0]) => string) => {
        const path = str(args.values[opt]);
        if (path !== undefined) files.push({ file: openOutput(path), make });
      };
      want("json", (rep) => JSON.stringify(rep, null, 1) + "\n");
      want("svg", chartSvg);
      want("markdown", markdownTable);
      try {
        setLoader(createRequire(import.meta.url)("@assemblyscript/loader"));
      } catch { /* optional: the binding-overhead case says it is missing */ }
      const c = cpus();
      setMachine({ cpus: c.length, model: c[0]?.model ?? "unknown", loadavg });
      const clear = io.errIsTty ? "\r\x1b[K" : "";
      let lastProgress = 0;
      const rep = await runBench({
        quick: args.values.quick === true, filter,
        log: (m) => { if (clear) io.errTrusted(clear); io.out(m + "\n"); io.flush(); },
        progress: (line) => {
          const t = Date.now();
          if (clear) io.errTrusted(`${clear}${safeText(line.slice(0, 120))}`);
          else if (t - lastProgress > 3000) { io.err(line + "\n"); lastProgress = t; }
        },
      });
      if (clear) io.errTrusted(clear);
      for (const f of files) { f.file.write(f.make(rep)); f.file.close(); }
      const wrote = files.map((f) => f.file.path);
      io.out(`done in ${rep.seconds} s${wrote.length ? `; wrote ${wrote.join(", ")}` : ""}\n`);
      files.length = 0;
      return EXIT.OK;
    } finally {
      for (const f of files) f.file.abort();
    }
  },
};
