import { runJob } from "./jobs";

self.onmessage = (ev: MessageEvent) => {
  const post = (m: unknown) => (self as unknown as Worker).postMessage(m);
  try {
    post({ ok: true, value: runJob(ev.data.shared, ev.data.job, (m) => post({ progress: m })) });
  } catch (e) {
    post({ ok: false, error: `${(e as Error).name}: ${(e as Error).message}` });
  }
};
