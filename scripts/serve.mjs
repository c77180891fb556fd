// A loopback-only static file server that makes its pages cross-origin isolated (COOP + COEP), so
// SharedArrayBuffer and shared WebAssembly.Memory can be posted to Web Workers.
import http from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".wasm": "application/wasm", ".json": "application/json", ".wat": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml", ".css": "text/css",
};

export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
};

export function serve(root, port = 0) {
  const top = resolve(root);
  const server = http.createServer(async (req, res) => {
    let path;
    try { path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)); }
    catch { // a malformed percent-encoding or URL: the request is bad, the server goes on
      res.writeHead(400, ISOLATION_HEADERS);
      res.end("bad request");
      return;
    }
    const file = resolve(join(top, path.endsWith("/") ? path + "index.html" : path));
    if (file !== top && !file.startsWith(top + sep)) { // never outside the root
      res.writeHead(403, ISOLATION_HEADERS);
      res.end("forbidden");
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...ISOLATION_HEADERS, "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404, ISOLATION_HEADERS);
      res.end("not found");
    }
  });
  return new Promise((r) => server.listen(port, "127.0.0.1", () => r(server)));
}

// `node scripts/serve.mjs [port]`: serve the repository on 127.0.0.1 (e.g. examples/browser/index.html).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { fileURLToPath } = await import("node:url");
  const root = join(fileURLToPath(new URL(".", import.meta.url)), "..");
  const server = await serve(root, Number(process.argv[2] ?? 8080));
  console.log(`serving ${root} at http://127.0.0.1:${server.address().port}/ (examples/browser/index.html)`);
}
