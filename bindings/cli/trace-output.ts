// --trace OUT.json: the run as a scenario file that `gmemsim run` replays (bindings/scenario/trace.ts says what
// it holds), streamed to the file step by step, so a run of any length is traced without building it in memory.
import { traceHeader, traceStep, traceFooter, type TraceJson } from "../scenario/trace";
import { openOutput } from "./io";
import type { RunOutput } from "./sink";

export const traceOutput: RunOutput = {
  option: "trace",
  spec: { type: "string", value: "OUT.json", help: "also write the run as a scenario file that `gmemsim run` replays" },
  open(path, scn, tool) {
    const file = openOutput(path);
    const header = JSON.stringify(traceHeader(scn, tool), null, 1);
    file.write(header.slice(0, header.lastIndexOf("}")).trimEnd() + ',\n "steps": [');
    let first = true;
    const put = (steps: TraceJson[]) => {
      for (const s of steps) {
        file.write(`${first ? "" : ","}\n  ${JSON.stringify(s)}`);
        first = false;
      }
    };
    return {
      step: (step, outcome) => put(traceStep(step, outcome)),
      end(report) {
        put(traceFooter(report));
        file.write("\n ]\n}\n");
        file.close();
      },
      abort: () => file.abort(),
    };
  },
};
