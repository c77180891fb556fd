// Test environment for a browser page: module Web Workers, files fetched from the loopback server.
import type { SharedSimulator } from "../../bindings/index";

export const runtime = "browser";

export function spawnWorker<T>(shared: SharedSimulator, job: unknown): Promise<T> {
  const h = startWorker<T>(shared, job);
  return h.done.finally(() => h.terminate());
}

/** A worker running `job`: its first progress message, its result, and a way to kill it at any moment. */
export function startWorker<T>(shared: SharedSimulator, job: unknown): WorkerHandle<T> {
  const w = new Worker(new URL("./worker-browser.js", import.meta.url), { type: "module" });
  let first!: (m: unknown) => void;
  const firstP = new Promise<unknown>((r) => { first = r; });
  const done = new Promise<T>((resolve, reject) => {
    w.onmessage = (ev: MessageEvent<{ ok?: boolean; value?: T; error?: string; progress?: unknown }>) => {
      if ("progress" in ev.data) { first(ev.data.progress); return; }
      if (ev.data.ok) resolve(ev.data.value as T); else reject(new Error(ev.data.error));
    };
    w.onerror = (ev) => reject(new Error(ev.message));
  });
  done.catch(() => {});
  w.postMessage({ shared, job });
  return { first: firstP, done, terminate: async () => { w.terminate(); } };
}

export interface WorkerHandle<T> { first: Promise<unknown>; done: Promise<T>; terminate(): Promise<void> }

export async function readText(rel: string): Promise<string> {
  const r = await fetch("/" + rel);
  if (!r.ok) throw new Error(`fetch /${rel}: ${r.status}`);
  return r.text();
}

/** No files of our own in a page. */
export function tempFile(_name: string, _text?: string): string | null {
  return null;
}

/** A page cannot run the gmemsim command: callers then check only the scenario parser. */
export function runCli(_args: string[], _stdin?: string, _env?: Record<string, string>): { code: number; stdout: string; stderr: string } | null {
  return null;
}

/** Nor a shell. */
export function runShell(_command: string, _env?: Record<string, string>): { code: number; stdout: string; stderr: string } | null {
  return null;
}

/** Fuzz failures are only written to disk in Node. */
export function writeFailure(_name: string, _text: string): string | null {
  return null;
}

/** The published bundle dist/index.js, loaded by the page as a user's page would. */
export async function importDist(): Promise<typeof import("../../bindings/index")> {
  const url = "/dist/" + "index.js"; // computed: the test bundle must not inline it
  return import(/* webpackIgnore: true */ url);
}

/** The published gmemsim/view bundle dist/view.js (it loads ./index.js beside it). */
export async function importDistView(): Promise<typeof import("../../bindings/view/index")> {
  const url = "/dist/" + "view.js";
  return import(/* webpackIgnore: true */ url);
}

/** A page runs no Node program. */
export function runNode(_file: string, _args?: string[]): { code: number; stdout: string; stderr: string } | null {
  return null;
}
