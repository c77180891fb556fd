// --chrome-trace OUT.json: the run as Chrome Trace Event JSON (bindings/trace/chrome.ts), which Perfetto UI and
// chrome://tracing open: one track per guest_memfd, VM, IOMMU and the arch firmware, ops as slices, conversion
// phases nested inside them, events as instants with their fields as args. Written whole at the end of the run.
import { toChromeTrace } from "../trace/chrome";
import { openOutput } from "./io";
import type { RunOutput } from "./sink";

export const chromeTraceOutput: RunOutput = {
  option: "chrome-trace",
  spec: { type: "string", value: "OUT.json", help: "also write the run as a Chrome trace (Perfetto UI, chrome://tracing)" },
  open(path) {
    const file = openOutput(path); // opened first: a path that cannot be written fails before anything runs
    return {
      step: () => {},
      end(report) {
        file.write(JSON.stringify(toChromeTrace(report)) + "\n");
        file.close();
      },
      abort: () => file.abort(),
    };
  },
};
