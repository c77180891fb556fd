import { runJob } from "./jobs";

self.onmessage = (ev: MessageEvent) => {
  try {
    (self as unknown as Worker).postMessage({ ok: true, value: runJob(ev.data.shared, ev.data.job) });
  } catch (e) {
    (self as unknown as Worker).postMessage({ ok: false, error: `${(e as Error).name}: ${(e as Error).message}` });
  }
};
