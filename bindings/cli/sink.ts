// What a file `gmemsim run` writes besides its report is (outputs.ts lists them): opened before the run (a path
// that cannot be written fails first, exit 3), told every step as it finishes, closed with the report; aborted,
// leaving nothing behind, when the run stops on an error.
import type { Scenario, Step } from "../scenario/types";
import type { RunReport, StepOutcome } from "../scenario/run";
import type { OptionSpec } from "./command";

export interface RunSink {
  step(step: Step, outcome: StepOutcome): void;
  end(report: RunReport): void;
  abort(): void;
}

export interface RunOutput {
  /** the option naming the file (`trace` for --trace) */
  option: string;
  spec: OptionSpec;
  open(path: string, scn: Scenario, tool: string): RunSink;
}
