// `gmemsim serve` against hostile requests, run from a copy of the package in a directory whose path has a space:
// only the package's published files are served (not .git, node_modules, sources, dot files, nor anything a
// symbolic link leads to outside them); a Host that is a DNS name gets 421 (DNS rebinding); files are streamed, so
// readers that stop reading cost the server little memory; requests beyond the cap in flight get 503 and the server
// recovers; a busy port is a clear exit 3. Node only.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runtime, runShell } from "gmemsim-test-env";

type Net = typeof import("node:net");
type Cp = typeof import("node:child_process");
const nodeImport = <T>(name: string): Promise<T> => import(["node", name].join(":")) as Promise<T>; // bundles never load it

interface Reply { status: number; headers: string; bytes: number }

/** One raw HTTP/1.1 request (any Host header), read to its end. */
function get(net: Net, port: number, path: string, host = `127.0.0.1:${port}`, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", reject);
    s.on("end", () => {
      const all = Buffer.concat(chunks);
      const head = all.subarray(0, all.indexOf("\r\n\r\n")).toString("latin1");
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), headers: head, bytes: all.length - head.length - 4 });
    });
    s.write(`${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

function rssKiB(pid: number): number {
  const r = runShell(`grep VmRSS /proc/${pid}/status`)!;
  return Number(/(\d+)/.exec(r.stdout)?.[1] ?? 0);
}

test(`server: gmemsim serve serves the published files only, checks Host, streams, caps requests (${runtime})`, async () => {
  if (runtime !== "node") return;
  const net = await nodeImport<Net>("net");
  const cp = await nodeImport<Cp>("child_process");
  const setup = runShell(`set -e
    d="$(mktemp -d)/gmem sim pkg"; mkdir -p "$d"; cp -r package.json README.md LICENSE bin dist examples playground "$d"/
    mkdir -p "$d/.git" "$d/node_modules/x" "$d/assembly"; echo secret > "$d/.git/config"; echo secret > "$d/node_modules/x/index.js"
    echo secret > "$d/assembly/secret.ts"; echo secret > "$d/dist/.env"; ln -s ../assembly/secret.ts "$d/dist/escape.ts"
    ln -s /etc/passwd "$d/dist/passwd"; ln -s ../dist/index.js "$d/examples/index.js"
    head -c 14155776 /dev/urandom > "$d/dist/big.bin"; printf '%s' "$d"`)!;
  assert.is(setup.code, 0, setup.stderr);
  const dir = setup.stdout;
  const child = cp.spawn(process.execPath, [`${dir}/bin/gmemsim.js`, "serve", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer) => { out += d; const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out); if (m) resolve(+m[1]); });
      child.once("exit", (c) => reject(new Error(`gmemsim serve exited ${c} from a path with a space`)));
      timer = setTimeout(() => reject(new Error("no port within 10 s")), 10000);
    }).finally(() => clearTimeout(timer));
    const cases: [string, string | undefined, number][] = [
      ["/dist/index.js", undefined, 200], ["/examples/browser/index.html", undefined, 200], ["/playground/", undefined, 200],
      ["/playground/app.js", undefined, 200], ["/dist/examples.json", undefined, 200], ["/package.json", undefined, 200],
      ["/README.md", undefined, 200], ["/LICENSE", undefined, 200], ["/examples/", undefined, 404],
      ["/.git/config", undefined, 404], ["/%2egit/config", undefined, 404], ["/dist/../.git/config", undefined, 404],
      ["/dist/%2e%2e/.git/config", undefined, 404], ["/node_modules/x/index.js", undefined, 404],
      ["/assembly/secret.ts", undefined, 404], ["/dist/.env", undefined, 404], ["/dist/escape.ts", undefined, 404],
      ["/dist/passwd", undefined, 404], ["/examples/index.js", undefined, 404], ["/dist%2f..%2f.git/config", undefined, 404],
      ["/dist/index.js%00.html", undefined, 404], ["/%E0%A4%A", undefined, 400],
      ["/dist/index.js", `localhost:${port}`, 200], ["/dist/index.js", `[::1]:${port}`, 200], ["/dist/index.js", "127.0.0.1", 200],
      ["/dist/index.js", `evil.example:${port}`, 421], ["/dist/index.js", "attacker.test", 421], ["/dist/index.js", "", 421],
    ];
    for (const [path, host, status] of cases) {
      const r = await get(net, port, path, host);
      assert.is(r.status, status, `GET ${path} Host ${host ?? "127.0.0.1"}: ${r.headers.split("\r\n")[0]}`);
      if (status === 200) assert.match(r.headers, /Cross-Origin-Embedder-Policy: require-corp/);
      if (status !== 200) assert.ok(r.bytes < 100, `${path}: no file content in a refusal`);
    }
    assert.is((await get(net, port, "/package.json", undefined, "POST")).status, 405);
    const big = await get(net, port, "/dist/big.bin");
    assert.equal([big.status, big.bytes], [200, 14155776]);

    // 40 readers that never read: 32 stay in flight (the cap), the rest get 503; the server holds little memory
    const before = rssKiB(child.pid!);
    const stalled: import("node:net").Socket[] = [];
    const early: number[] = [];
    for (let i = 0; i < 40; i++) {
      const s = net.connect(port, "127.0.0.1");
      s.on("error", () => {});
      s.once("data", (d: Buffer) => { early.push(Number(/^HTTP\/1\.1 (\d+)/.exec(d.toString("latin1"))?.[1])); s.pause(); });
      s.write(`GET /dist/big.bin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      stalled.push(s);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const during = rssKiB(child.pid!);
    assert.is(early.filter((x) => x === 503).length, 8, `statuses: ${early.join(" ")}`);
    assert.is(early.filter((x) => x === 200).length, 32);
    assert.is((await get(net, port, "/package.json")).status, 503, "full: 503");
    assert.ok(during - before < 150 * 1024, `32 stalled 13.5 MB downloads grew the server by ${((during - before) / 1024).toFixed(0)} MiB`);
    for (const s of stalled) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    assert.is((await get(net, port, "/package.json")).status, 200, "recovered once the readers left");

    const busy = runShell(`node "${dir}/bin/gmemsim.js" serve --port ${port}`)!;
    assert.is(busy.code, 3);
    assert.match(busy.stderr, new RegExp(`gmemsim serve: cannot listen: port ${port} is in use on 127\\.0\\.0\\.1: pick another with --port N`));
    assert.not.match(busy.stderr, /\n\s+at /);
  } finally {
    child.kill();
    runShell(`rm -rf "$(dirname "${dir}")"`);
  }
});

test.run();
