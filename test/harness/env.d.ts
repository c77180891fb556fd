// Resolved at bundle time to env-node.ts or env-browser.ts (scripts/test.mjs sets the alias).
declare module "gmemsim-test-env" {
  import type { SharedSimulator } from "../../bindings/index";
  export const runtime: "node" | "browser";
  export function spawnWorker<T>(shared: SharedSimulator, job: unknown): Promise<T>;
  export function readText(rel: string): Promise<string>;
  /** Node: a path `name` in a fresh directory under os.tmpdir(), written with `text` when given. Browser: null. */
  export function tempFile(name: string, text?: string): string | null;
  /**
   * Node: run `node bin/gmemsim.js ...args` from the repository root and collect its exit code and output; with
   * `stdin`, an argument "-" names a temporary file holding it. Browser: null (no command to run).
   */
  export function runCli(args: string[], stdin?: string): { code: number; stdout: string; stderr: string } | null;
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
