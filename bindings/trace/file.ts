// Writing a Chrome trace file (Node only: `gmemsim run FILE --chrome-trace OUT.json`). The conversion itself is
// ./chrome.ts, which runs anywhere.
import { writeFileSync } from "node:fs";
import type { RunReport } from "../scenario/run";
import { toChromeTrace } from "./chrome";

/** Write the run as Chrome Trace Event JSON to `path` (what Perfetto UI and chrome://tracing open). */
export function writeChromeTrace(path: string, report: RunReport): void {
  writeFileSync(path, JSON.stringify(toChromeTrace(report)) + "\n");
}
