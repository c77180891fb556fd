/**
 * Everything `gmemsim` exports, plus the debug core (asserts kept, built with asc's debug target). Its factories use
 * the debug core unless told `{ debug: false }`, and the invariant checker runs after every step unless told
 * `{ checks: false }`. Importing this module is what puts the debug core's bytes in a program; the default entry
 * never carries them, and `{ debug: true }` there works once this module has been imported.
 * @module gmemsim/debug
 */
import debugBytes from "../build/debug.wasm";
import { provideDebugCore } from "./core";
import {
  createSimulator as createRelease, createSimulatorSync as createSyncRelease, restoreSimulator as restoreRelease,
  type Simulator,
} from "./simulator";
import type { SimulatorOptions } from "./context";
import type { CoreBytes } from "./core";

export * from "./index";

provideDebugCore(debugBytes);

function debugFirst<T extends object>(options: T | undefined): T {
  if (options === undefined) return { debug: true } as T;
  // anything that is not an options object goes on unchanged: the factory says EINVAL about it
  if (typeof options !== "object" || options === null || Array.isArray(options)) return options;
  return { debug: true, ...options };
}

/** createSimulator of `gmemsim`, with the debug core unless `options.debug` is false. */
export function createSimulator(options?: SimulatorOptions): Promise<Simulator> {
  return createRelease(debugFirst(options));
}

/** createSimulatorSync of `gmemsim`; without a module or bytes it compiles the debug core (unless `debug: false`). */
export function createSimulatorSync(options?: SimulatorOptions): Simulator;
export function createSimulatorSync(moduleOrBytes: WebAssembly.Module | CoreBytes | undefined, options?: SimulatorOptions): Simulator;
export function createSimulatorSync(first?: WebAssembly.Module | CoreBytes | SimulatorOptions, options?: SimulatorOptions): Simulator {
  if (arguments.length >= 2) return createSyncRelease(first as WebAssembly.Module | CoreBytes | undefined, debugFirst(options));
  if (first === undefined || (typeof first === "object" && first !== null && !(first instanceof WebAssembly.Module) &&
      !ArrayBuffer.isView(first) && !(first instanceof ArrayBuffer) && !Array.isArray(first))) {
    return createSyncRelease(debugFirst(first as SimulatorOptions | undefined));
  }
  return createSyncRelease(first as WebAssembly.Module | CoreBytes, { debug: true });
}

/** restoreSimulator of `gmemsim`, onto the debug core unless `options.debug` is false. */
export function restoreSimulator(bytes: Uint8Array, options?: Omit<SimulatorOptions, "memory" | "arch">): Simulator {
  return restoreRelease(bytes, debugFirst(options));
}
