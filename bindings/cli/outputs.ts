// Files `gmemsim run` can write besides its report, one option each (`--trace OUT.json`); each is one module
// implementing RunOutput (sink.ts) and one entry here.
import type { RunOutput } from "./sink";
import { traceOutput } from "./trace-output";
import { chromeTraceOutput } from "./chrome-output";

export type { RunOutput, RunSink } from "./sink";

export const RUN_OUTPUTS: readonly RunOutput[] = [
  traceOutput,
  chromeTraceOutput,
];
