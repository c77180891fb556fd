// Test environment for Node: worker_threads workers, files read from the repository, the gmemsim command.
import { Worker } from "node:worker_threads";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SharedSimulator } from "../../bindings/index";

export const runtime = "node";

export function spawnWorker<T>(shared: SharedSimulator, job: unknown): Promise<T> {
  const h = startWorker<T>(shared, job);
  return h.done.finally(() => h.terminate());
}

/** A worker running `job`: its first progress message, its result, and a way to kill it at any moment. */
export function startWorker<T>(shared: SharedSimulator, job: unknown): WorkerHandle<T> {
  const w = new Worker(new URL("./worker-node.mjs", import.meta.url), { workerData: { shared, job } });
  let first!: (m: unknown) => void;
  const firstP = new Promise<unknown>((r) => { first = r; });
  const done = new Promise<T>((resolve, reject) => {
    w.on("message", (m: { ok?: boolean; value?: T; error?: string; progress?: unknown }) => {
      if ("progress" in m) { first(m.progress); return; }
      if (m.ok) resolve(m.value as T); else reject(new Error(m.error));
    });
    w.once("error", reject);
  });
  done.catch(() => {});
  return { first: firstP, done, terminate: async () => { await w.terminate(); } };
}

export interface WorkerHandle<T> { first: Promise<unknown>; done: Promise<T>; terminate(): Promise<void> }

export async function readText(rel: string): Promise<string> {
  return readFileSync(rel, "utf8");
}

// Temporary directories under os.tmpdir(), removed when the test process exits.
const tempDirs: string[] = [];
let cleanupArmed = false;
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), "gmemsim-test-"));
  tempDirs.push(d);
  if (!cleanupArmed) {
    cleanupArmed = true;
    process.once("exit", () => { for (const x of tempDirs) rmSync(x, { recursive: true, force: true }); });
  }
  return d;
}

/** A path `name` in a fresh directory under os.tmpdir() (written with `text` when given). */
export function tempFile(name: string, text?: string): string | null {
  const p = join(freshDir(), name);
  if (text !== undefined) writeFileSync(p, text);
  return p;
}

/**
 * Run `node bin/gmemsim.js ...args` from the repository root (the tests run there), `stdin` as its standard input
 * ("-" reads it), with `env` added to the environment.
 */
export function runCli(args: string[], stdin?: string, env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } | null {
  const r = spawnSync(process.execPath, [join(process.cwd(), "bin", "gmemsim.js"), ...args], {
    cwd: process.cwd(), input: stdin ?? "", encoding: "utf8", timeout: 60000, env: { ...process.env, ...env },
    maxBuffer: 256 * 2 ** 20,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run a bash command line from the repository root: its exit status and output. */
export function runShell(command: string, env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } | null {
  const r = spawnSync("bash", ["-c", command], { cwd: process.cwd(), encoding: "utf8", timeout: 120000, env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

import { mkdirSync as mkdirFailureDir } from "node:fs";

/** Write a fuzz failure's scenario file to .test-out/fuzz-failures/ (created when missing); returns its path. */
export function writeFailure(name: string, text: string): string | null {
  const dir = join(process.cwd(), ".test-out", "fuzz-failures");
  mkdirFailureDir(dir, { recursive: true });
  const path = join(dir, name.replace(/[^A-Za-z0-9._-]/g, "_"));
  writeFileSync(path, text);
  return path;
}

/** The published bundle dist/index.js (built by npm install / npm run build), as a user imports it. */
export async function importDist(): Promise<typeof import("../../bindings/index")> {
  const { pathToFileURL } = await import("node:url");
  const { resolve } = await import("node:path");
  return import(pathToFileURL(resolve("dist/index.js")).href);
}

/** The published gmemsim/view bundle dist/view.js, as a user imports it. */
export async function importDistView(): Promise<typeof import("../../bindings/view/index")> {
  const { pathToFileURL } = await import("node:url");
  const { resolve } = await import("node:path");
  return import(pathToFileURL(resolve("dist/view.js")).href);
}

/** Run a Node program of the repository (`node FILE ...args` from its root); its exit code and output. */
export function runNode(file: string, args: string[] = []): { code: number; stdout: string; stderr: string } | null {
  const r = spawnSync(process.execPath, [join(process.cwd(), file), ...args], { cwd: process.cwd(), encoding: "utf8", timeout: 60000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
