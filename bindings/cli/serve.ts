// gmemsim serve: serve the package's published files (package.json's "files", README, LICENSE) on the loopback
// interface with the headers that make its pages cross-origin isolated, e.g. examples/browser/index.html, which
// runs the seed flow with the published bundle. Runs until interrupted.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, EXIT, str, usageError, type Command } from "./command";
import { serve } from "./server";

/** The directory of the gmemsim package this code belongs to (its package.json names it). */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      try { if ((JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === "gmemsim") return dir; } catch { /* not ours */ }
    }
    if (dirname(dir) === dir) throw new CliError(EXIT.IO, "cannot find the gmemsim package's directory (no package.json above the command)");
  }
}

/** What the package publishes: its "files" entries (a directory with a trailing slash) and the files npm always adds. */
export function publicFiles(root: string): string[] {
  const pj = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { files?: string[] };
  const files = (pj.files ?? []).map((f) => f.replace(/^\.\//, "")).map((f) => {
    if (f.endsWith("/")) return f;
    return existsSync(join(root, f)) && !/\.[a-z0-9]+$/i.test(f) ? `${f}/` : f;
  });
  return [...new Set([...files, "package.json", "README.md", "LICENSE"])];
}

export const command: Command = {
  name: "serve",
  usage: "[--port N] [--host ADDRESS]",
  description: "Serve the package's published files (dist/, examples/, docs/, ...) with COOP/COEP headers, so pages are\n" +
    "cross-origin isolated and can hand the simulator's shared memory to workers; e.g. open the playground,\n" +
    "http://127.0.0.1:8080/playground/ (run an example, watch it in <gmem-view>, scrub, download its trace).\n" +
    "Loopback only unless --host says otherwise; requests must name localhost or an IP address as their Host. Runs until interrupted (Ctrl-C).\n" +
    "Exit status: 0 stopped by a signal, 2 bad usage, 3 the address cannot be used (a busy port, a port below 1024).",
  options: {
    port: { type: "string", short: "p", value: "N", help: "the port (default 8080; 0 picks a free one)" },
    host: { type: "string", value: "ADDRESS", help: "the address to listen on (default 127.0.0.1)" },
  },
  maxPositionals: 0,
  async run(args, io) {
    const portText = str(args.values.port) ?? "8080";
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw usageError(`--port must be a number in [0, 65535], not ${JSON.stringify(portText)}`);
    const port = Number(portText);
    const host = str(args.values.host) ?? "127.0.0.1";
    const root = packageRoot();
    let server;
    try {
      server = await serve({ root, allow: publicFiles(root), host, port });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "EADDRINUSE" ? `port ${port} is in use on ${host}: pick another with --port N (or --port 0 for any free one)`
        : code === "EACCES" ? `no permission to listen on ${host} port ${port} (ports below 1024 need privileges): pick another with --port N`
        : code === "EADDRNOTAVAIL" || code === "ENOTFOUND" ? `${host} is not an address of this machine`
        : (e as Error).message;
      throw new CliError(EXIT.IO, `cannot listen: ${why}`);
    }
    const addr = server.address();
    const shown = typeof addr === "object" && addr !== null ? `${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}` : `${host}:${port}`;
    io.out(`serving the published files of ${root} at http://${shown}/\n  the playground: http://${shown}/playground/\n  the example page: http://${shown}/examples/browser/index.html\n`);
    io.flush();
    await new Promise<void>((done) => {
      const stop = () => { server.close(); server.closeAllConnections(); done(); };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    return EXIT.OK;
  },
};
