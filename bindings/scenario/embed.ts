// The package's runScenario (EMBEDDING.md): a parsed scenario object in, the report `gmemsim run --format json`
// prints out, in any runtime. It drives the same step generator as `gmemsim run` (./run.ts scenarioRun), awaits an
// onStep that returns a promise (a visualizer may animate each step), and between steps gives the event loop a
// turn now and then so a page stays responsive during a long run. Nothing here uses a Node API.
import { Simulator } from "../simulator";
import type { SimEvent } from "../events";
import { einval } from "../errors";
import { validateScenario, parseScenario } from "./parse";
import { scenarioRun, type RunReport, type StepOutcome } from "./run";
import type { Step, Scenario } from "./types";

export interface RunScenarioOptions {
  /** Called after every step with the step (as parsed), its outcome and the events it emitted; may return a promise. */
  onStep?: (step: Step, result: StepOutcome, events: SimEvent[]) => unknown;
  /** Run on this simulator (one a view is attached to) instead of a new one: its arch must match, or it must be empty. */
  simulator?: Simulator;
  /** Use the debug core for a new simulator (asserts kept). */
  debugCore?: boolean;
  /**
   * Keep every step's outcome in the report's `steps` (the default). false: `steps` stays empty, each outcome goes
   * to onStep only, and a run of any length holds one step at a time.
   */
  keepSteps?: boolean;
}

/** How long the runner keeps the thread before it lets the event loop run (ms). */
const SLICE_MS = 12;

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** A scenario object (or its JSON text) validated; ScenarioFormatError (code EMALFORMED) when it is malformed. */
function validated(scenario: unknown): Scenario {
  if (typeof scenario === "string") return parseScenario(scenario);
  return validateScenario(scenario);
}

/**
 * Run a scenario (SCENARIOS.md: the object JSON.parse gives for a scenario file, or the text itself) exactly as
 * `gmemsim run` does. Resolves to the report `gmemsim run --format json` prints (`ok`, the steps with their results
 * and events, the counters, the final state); rejects with an Error of code 'EMALFORMED' naming the step and field
 * when the scenario is malformed (nothing runs then).
 */
export async function runScenario(scenario: unknown, options: RunScenarioOptions = {}): Promise<RunReport> {
  if (typeof options !== "object" || options === null) throw einval("runScenario", "options are an object ({ onStep, simulator })");
  if (options.onStep !== undefined && typeof options.onStep !== "function") throw einval("runScenario", "onStep is a function");
  if (options.simulator !== undefined && !(options.simulator instanceof Simulator)) {
    throw einval("runScenario", "simulator is a Simulator (createSimulator / createSimulatorSync)");
  }
  const scn = validated(scenario);
  if (options.keepSteps !== undefined && typeof options.keepSteps !== "boolean") throw einval("runScenario", "keepSteps is a boolean");
  const run = scenarioRun(scn, { simulator: options.simulator, debugCore: options.debugCore, keepSteps: options.keepSteps });
  let since = Date.now();
  try {
    for (;;) {
      const r = run.next();
      if (r.done) return r.value;
      const { step, outcome } = r.value;
      const ack = options.onStep?.(step, outcome, outcome.events);
      if (ack !== undefined && typeof (ack as Promise<unknown>).then === "function") {
        await ack;
        since = Date.now();
      } else if (Date.now() - since > SLICE_MS) {
        await turn();
        since = Date.now();
      }
    }
  } finally {
    run.return(undefined as unknown as RunReport); // a throwing onStep: the caller's simulator gets its settings back
  }
}
