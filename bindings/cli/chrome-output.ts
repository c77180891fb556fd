// --chrome-trace OUT.json: the run as Chrome Trace Event JSON (bindings/trace/chrome.ts), which Perfetto UI and
// chrome://tracing open: one track per guest_memfd, VM, IOMMU and the arch firmware, ops as slices, conversion
// phases nested inside them, events as instants with their fields as args. Streamed to the file step by step (the
// tracks' names at the end), so a run of any length is traced without building it in memory.
import { ChromeTraceBuilder } from "../trace/chrome";
import { openOutput } from "./io";
import type { RunSink } from "./sink";
import type { RunOutput } from "./sink";

export const chromeTraceOutput: RunOutput = {
  option: "chrome-trace",
  spec: { type: "string", value: "OUT.json", help: "also write the run as a Chrome trace (Perfetto UI, chrome://tracing)" },
  open(path, scn): RunSink {
    const file = openOutput(path); // opened first: a path that cannot be written fails before anything runs
    const b = new ChromeTraceBuilder(scn.config);
    let first = true;
    file.write('{"traceEvents":[');
    const put = (events: unknown[]) => {
      let text = "";
      for (const e of events) { text += (first ? "" : ",") + JSON.stringify(e); first = false; }
      if (text) file.write(text);
    };
    return {
      step: (_step, outcome) => put(b.step(outcome)),
      end(report) {
        put(b.meta(report.name));
        const tail = JSON.stringify(b.tail(report));
        file.write(`],${tail.slice(1)}\n`);
        file.close();
      },
      abort: () => file.abort(),
    };
  },
};
