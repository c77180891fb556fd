// Test environment for Node: worker_threads workers, files read from the repository.
import { Worker } from "node:worker_threads";
import { readFileSync } from "node:fs";
import type { SharedSimulator } from "../../bindings/index";

export const runtime = "node";

export function spawnWorker<T>(shared: SharedSimulator, job: unknown): Promise<T> {
  const w = new Worker(new URL("./worker-node.mjs", import.meta.url), { workerData: { shared, job } });
  return new Promise((resolve, reject) => {
    w.once("message", (m: { ok: boolean; value?: T; error?: string }) => {
      if (m.ok) resolve(m.value as T); else reject(new Error(m.error));
      void w.terminate();
    });
    w.once("error", reject);
  });
}

export async function readText(rel: string): Promise<string> {
  return readFileSync(rel, "utf8");
}
