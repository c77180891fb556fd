// Resolved at bundle time to env-node.ts or env-browser.ts (scripts/test.mjs sets the alias).
declare module "gmemsim-test-env" {
  import type { SharedSimulator } from "../../bindings/index";
  export const runtime: "node" | "browser";
  export function spawnWorker<T>(shared: SharedSimulator, job: unknown): Promise<T>;
  export function readText(rel: string): Promise<string>;
}
