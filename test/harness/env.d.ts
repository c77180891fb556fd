// Resolved at bundle time to env-node.ts or env-browser.ts (scripts/test.mjs sets the alias).
declare module "gmemsim-test-env" {
  import type { SharedSimulator } from "../../bindings/index";
  export const runtime: "node" | "browser";
  export function spawnWorker<T>(shared: SharedSimulator, job: unknown): Promise<T>;
  /** A worker running `job`: `first` is its first progress message ({ attached: instanceId }), `done` its result;
   *  terminate() kills it wherever it is (as a tab closing or worker.terminate() would). */
  export function startWorker<T>(shared: SharedSimulator, job: unknown): { first: Promise<unknown>; done: Promise<T>; terminate(): Promise<void> };
  export function readText(rel: string): Promise<string>;
  /** Node: a path `name` in a fresh directory under os.tmpdir(), written with `text` when given. Browser: null. */
  export function tempFile(name: string, text?: string): string | null;
  /**
   * Node: run `node bin/gmemsim.js ...args` from the repository root with `stdin` as its standard input and `env`
   * added to its environment; its exit code and output. Browser: null (no command to run).
   */
  export function runCli(args: string[], stdin?: string, env?: Record<string, string>): { code: number; stdout: string; stderr: string } | null;
  /** Node: run a bash command line from the repository root. Browser: null. */
  export function runShell(command: string, env?: Record<string, string>): { code: number; stdout: string; stderr: string } | null;
  /**
   * Node: write a fuzz failure's scenario to .test-out/fuzz-failures/`name` (created when missing) and return the
   * path. Browser: null (nothing is written; the test prints the scenario instead).
   */
  export function writeFailure(name: string, text: string): string | null;
  /** The published bundle dist/index.js, imported as a user would (Node: file URL; browser: from the server). */
  export function importDist(): Promise<typeof import("../../bindings/index")>;
  /** Node: run `node FILE ...args` from the repository root; its exit code and output. Browser: null. */
  export function runNode(file: string, args?: string[]): { code: number; stdout: string; stderr: string } | null;
  /** The published gmemsim/view bundle dist/view.js (it imports ./index.js beside it). */
  export function importDistView(): Promise<typeof import("../../bindings/view/index")>;
}
