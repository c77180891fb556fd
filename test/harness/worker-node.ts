import { parentPort, workerData } from "node:worker_threads";
import { runJob } from "./jobs";

try {
  parentPort!.postMessage({ ok: true, value: runJob(workerData.shared, workerData.job, (m) => parentPort!.postMessage({ progress: m })) });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: `${(e as Error).name}: ${(e as Error).message}` });
}
