// A small static file server for pages that run the simulator: it sends COOP/COEP so its pages are cross-origin
// isolated (SharedArrayBuffer and a shared WebAssembly.Memory can go to Web Workers). It serves only the paths it is
// given (`gmemsim serve`: the package's published files; the test runner: its bundles and fixtures), never a dot
// path (.git, .env) and never through a symbolic link that leads outside them; it answers only requests whose Host
// is localhost or an IP address (a DNS name pointing at it, as in DNS rebinding, gets 421), streams files rather
// than reading them whole, answers 503 beyond a number of requests in flight, and drops a response whose reader has
// read nothing for a while (so stalled readers cannot hold the slots for good).
import http from "node:http";
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { isIP } from "node:net";
import { extname, resolve, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm", ".json": "application/json; charset=utf-8", ".wat": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml", ".css": "text/css; charset=utf-8", ".md": "text/markdown; charset=utf-8",
  ".map": "application/json; charset=utf-8", ".txt": "text/plain; charset=utf-8",
};

export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
};

export interface ServeOptions {
  /** the directory the paths are relative to */
  root: string;
  /** what may be served: files ("README.md") and directories ("dist/", with the slash), relative to root */
  allow: readonly string[];
  /** the address to listen on (default 127.0.0.1) */
  host?: string;
  /** the port (default 8080; 0: any free port) */
  port?: number;
  /** requests answered at once; more get 503 (default 32) */
  maxInFlight?: number;
}

/** How long a response may make no progress (its reader reads nothing) before it is dropped. */
const IDLE_MS = 20_000;

/** Is the Host header one a browser sends for this server (not a DNS name someone pointed at it)? */
export function hostAllowed(header: string | undefined, listenHost: string): boolean {
  if (header === undefined || header === "") return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header);
  if (!m) return false;
  const name = m[1].toLowerCase();
  const bare = name.startsWith("[") ? name.slice(1, -1) : name;
  return name === "localhost" || isIP(bare) !== 0 || name === listenHost.toLowerCase();
}

/**
 * The request's path relative to the root ("dir/" asks for "dir/index.html"); "bad" when it does not decode (a
 * malformed %-escape), null when it holds a NUL, a backslash, or a "." or ".." segment.
 */
export function requestPath(url: string): string | "bad" | null {
  let path: string;
  try { path = decodeURIComponent(new URL(url, "http://x").pathname); } catch { return "bad"; }
  if (path.includes("\0") || path.includes("\\")) return null;
  const segs = path.split("/").filter((x) => x !== "");
  if (segs.some((x) => x === "." || x === "..")) return null;
  const rel = segs.join("/");
  return path.endsWith("/") ? (rel === "" ? "index.html" : `${rel}/index.html`) : rel;
}

function send(res: http.ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...ISOLATION_HEADERS, "Content-Type": "text/plain; charset=utf-8", ...extra });
  res.end(text + "\n");
}

/** Start serving; resolves once listening (rejects with the listen error: EADDRINUSE, EACCES, ...). */
export async function serve(opts: ServeOptions): Promise<http.Server> {
  const host = opts.host ?? "127.0.0.1";
  const maxInFlight = opts.maxInFlight ?? 32;
  const root = await realpath(resolve(opts.root));
  const allowed = opts.allow.map((a) => ({ path: a.replace(/\/+$/, ""), dir: a.endsWith("/") }));
  let inFlight = 0;

  async function answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "only GET and HEAD", { Allow: "GET, HEAD" });
    if (!hostAllowed(req.headers.host, host)) return send(res, 421, "this server answers only to localhost or an IP address");
    const rel = requestPath(req.url ?? "/");
    if (rel === "bad") return send(res, 400, "bad request");
    // allowed: an entry itself or a path below a directory entry, with no dot file or directory below it
    const entry = rel === null ? undefined
      : allowed.find((a) => rel === a.path || (a.dir && rel.startsWith(a.path + "/") && !/(^|\/)\./.test(rel.slice(a.path.length + 1))));
    if (rel === null || entry === undefined) return send(res, 404, "not found");
    let file: string;
    try {
      // the real path (symbolic links followed) must stay inside the entry's own real path
      const base = await realpath(resolve(root, entry.path));
      file = await realpath(resolve(root, rel));
      if (file !== base && !file.startsWith(base + sep)) return send(res, 404, "not found");
      if (base !== root && !base.startsWith(root + sep)) return send(res, 404, "not found");
      const st = await stat(file);
      if (!st.isFile()) return send(res, 404, "not found");
      res.writeHead(200, {
        ...ISOLATION_HEADERS, "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Content-Length": String(st.size),
      });
    } catch {
      return send(res, 404, "not found");
    }
    if (req.method === "HEAD") { res.end(); return; }
    await new Promise<void>((done) => {
      const stream = createReadStream(file);
      stream.on("error", () => { res.destroy(); done(); });
      res.on("close", () => { stream.destroy(); done(); });
      stream.pipe(res);
    });
  }

  const server = http.createServer((req, res) => {
    if (inFlight >= maxInFlight) {
      send(res, 503, "busy: too many requests at once", { "Retry-After": "1", Connection: "close" });
      return;
    }
    inFlight++;
    // a reader that stops reading holds its slot until the connection has been idle this long
    res.setTimeout(IDLE_MS, () => res.destroy());
    answer(req, res).catch(() => { if (!res.headersSent) send(res, 500, "internal error"); else res.destroy(); })
      .finally(() => { inFlight--; });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port ?? 8080, host, () => { server.off("error", fail); ok(); });
  });
  return server;
}
