// The command's conventions, one table row each: --help for every command, --version/-v from package.json,
// --flag=value and short options, "-" for standard input, the exit statuses (0 ok, 1 an expectation failed, 2 bad
// usage or malformed input, 3 a file that cannot be read or written), no stack trace for anything a user did,
// colour only on a terminal and never with NO_COLOR, control characters from a scenario never reaching the terminal,
// a closed pipe ending the output quietly, inputs capped in size. Node only (a page runs no command).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCli, runShell, tempFile, readText } from "gmemsim-test-env";

const doc = (steps: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ format: 1, name: "cli", steps, ...extra });
const OK = doc([{ op: "gmem.create", id: "g", size: "16K", flags: ["mmap"] }, { op: "convert", gmem: "g", offset: 0, size: "4K", to: "private" }]);
const FAILS = doc([{ op: "gmem.create", id: "g", size: "16K" }, { op: "convert", gmem: "g", offset: 0, size: "4K", to: "private", expect: "EINVAL" }]);
const STACK = /\n\s+at .+:\d+:\d+/;

interface Row {
  what: string;
  args: string[];
  stdin?: string;
  env?: Record<string, string>;
  code: number;
  out?: RegExp;
  err?: RegExp;
  noOut?: RegExp;
}

const pkgVersion = async () => (JSON.parse(await readText("package.json")) as { version: string }).version;

const ROWS: Row[] = [
  // help and version
  { what: "--help", args: ["--help"], code: 0, out: /^gmemsim \d+\.\d+\.\d+ - [^]*usage: gmemsim \[COMMAND\][^]*run[^]*bench[^]*demo[^]*serve[^]*exit status: 0 ok, 1/ },
  { what: "-h", args: ["-h"], code: 0, out: /usage: gmemsim/ },
  { what: "help", args: ["help"], code: 0, out: /usage: gmemsim/ },
  { what: "run --help", args: ["run", "--help"], code: 0, out: /^usage: gmemsim run \[FILE\.json \| -\][^]*Exit status: 0[^]*--format text\|json[^]*--trace OUT\.json/ },
  { what: "run -h", args: ["run", "-h"], code: 0, out: /^usage: gmemsim run/ },
  { what: "bench --help", args: ["bench", "--help"], code: 0, out: /^usage: gmemsim bench[^]*--filter NAME[^]*convert-4k-random/ },
  { what: "demo --help", args: ["demo", "--help"], code: 0, out: /^usage: gmemsim demo/ },
  { what: "serve --help", args: ["serve", "--help"], code: 0, out: /^usage: gmemsim serve[^]*--port N[^]*--host ADDRESS/ },
  { what: "--version", args: ["--version"], code: 0, out: /^gmemsim \d+\.\d+\.\d+\n$/ },
  { what: "-v", args: ["-v"], code: 0, out: /^gmemsim \d+\.\d+\.\d+\n$/ },
  // running
  { what: "no arguments: the seed", args: [], code: 0, out: /scenario: seed[^]*PASS: \d+ steps/ },
  { what: "a file without run", args: ["examples/to-shared-4k.json"], code: 0, out: /PASS: 24 steps/ },
  { what: "- reads standard input", args: ["run", "-"], stdin: OK, code: 0, out: /PASS: 2 steps/ },
  { what: "--format=json", args: ["run", "--format=json", "-"], stdin: OK, code: 0, out: /^\{"name":"cli"[^]*"ok":true/ },
  { what: "-f json", args: ["run", "-f", "json", "-"], stdin: OK, code: 0, out: /^\{"name":"cli"/ },
  { what: "options before the file", args: ["--format", "json", "-"], stdin: OK, code: 0, out: /^\{"name":"cli"/ },
  { what: "an expectation fails: 1", args: ["run", "-"], stdin: FAILS, code: 1, out: /FAILED at step 1 \(convert\)\n {2}expected: EINVAL\n {2}got: {6}0/ },
  // usage: 2
  { what: "unknown command", args: ["frobnicate"], code: 2, err: /unknown command "frobnicate" \(commands: run, explore, bench, demo, serve; nor is it a file/ },
  { what: "unknown option", args: ["run", "--frob"], code: 2, err: /gmemsim run: Unknown option '--frob' \(see gmemsim run --help\)/ },
  { what: "unknown short option", args: ["run", "-x"], code: 2, err: /Unknown option '-x'/ },
  { what: "an option without its value", args: ["run", "-", "--trace"], stdin: OK, code: 2, err: /--trace/ },
  { what: "a value that is not a choice", args: ["run", "-", "--format=yaml"], stdin: OK, code: 2, err: /--format must be one of text, json, not "yaml"/ },
  { what: "two files", args: ["run", "a.json", "b.json"], code: 2, err: /at most 1 argument; extra: "b.json"/ },
  { what: "demo takes no file", args: ["demo", "x"], code: 2, err: /takes no arguments/ },
  { what: "bench --filter that names no case", args: ["bench", "--filter", "nope"], code: 2, err: /--filter "nope" names no case \(cases: convert-4k-random/ },
  { what: "serve --port not a number", args: ["serve", "--port", "80a"], code: 2, err: /--port must be a number/ },
  // malformed input: 2
  { what: "not JSON", args: ["run", "-"], stdin: "{", code: 2, err: /malformed: field "json": not valid JSON at line 1 column 2/ },
  { what: "nested 10^5 deep", args: ["run", "-"], stdin: `{"format":1,"steps":[${"[".repeat(1e5)}${"]".repeat(1e5)}]}`, code: 2,
    err: /nested deeper than 64 lists and objects/ },
  { what: "a key written twice", args: ["run", "-"], stdin: '{"format":1,"steps":[{"op":"vm.create","id":"a","id":"b"}]}', code: 2,
    err: /step 0 \(vm\.create\): field "id": "id" is written twice in one object/ },
  { what: "check.stats naming Object.prototype", args: ["run", "-"], stdin: doc([{ op: "vm.create", id: "v" }, { op: "check.stats", constructor: 0 }]),
    code: 2, err: /step 1 \(check\.stats\): field "constructor": unknown counter/ },
  { what: "an unknown counter", args: ["run", "-"], stdin: doc([{ op: "vm.create", id: "v" }, { op: "check.stats", "kvm.zapp": 0 }]),
    code: 2, err: /field "kvm\.zapp": unknown counter[^]*did you mean "kvm\.zap"/ },
  { what: "inject count 2^53-1", args: ["run", "-"], stdin: doc([{ op: "inject", fault: "enomem-split", count: 2 ** 53 - 1 }]),
    code: 2, err: /field "count": 9007199254740991 is not an integer in \[1, 2\^32-1\]/ },
  { what: "malformed, as JSON", args: ["run", "-", "-f", "json"], stdin: "[]", code: 2, out: /^\{"ok":false,"malformed":true,"section":null,"thread":null,"step":null,"field":""/ },
  // files: 3
  { what: "an input that does not exist", args: ["run", "/nonexistent/x.json"], code: 3, err: /cannot read \/nonexistent\/x\.json: no such file or directory/ },
  { what: "an input that is a directory", args: ["run", "examples"], code: 3, err: /cannot read examples: it is a directory/ },
  { what: "a trace that cannot be written", args: ["run", "-", "--trace", "/nonexistent/dir/t.json"], stdin: OK, code: 3,
    err: /gmemsim run: cannot write \/nonexistent\/dir\/t\.json: no such file or directory/, noOut: /PASS/ },
  { what: "bench output that cannot be written", args: ["bench", "--quick", "--filter", "memory", "--json", "/nonexistent/r.json"], code: 3,
    err: /cannot write \/nonexistent\/r\.json/ },
  // what reaches the terminal
  { what: "control characters in names are escaped", args: ["run", "-"], code: 0,
    stdin: JSON.stringify({ format: 1, name: "a\u001b[2Jb\u009bc\u202ed", steps: [{ op: "vm.create", id: "v\u001b]0;x\u0007" }] }),
    out: /scenario: a\\u001b\[2Jb\\u009bc\\u202ed[^]*id=v\\u001b\]0;x\\u0007/, noOut: /[\u001b\u009b\u202e\u0007]/ },
  { what: "JSON output escapes what JSON.stringify leaves raw", args: ["run", "-", "-f", "json"], code: 0,
    stdin: JSON.stringify({ format: 1, name: "a\u009bb\u202ec", steps: [{ op: "vm.create", id: "v" }] }),
    out: /"name":"a\\u009bb\\u202ec"/, noOut: /[\u009b\u202e]/ },
  { what: "no colour when not a terminal", args: ["run", "-"], stdin: FAILS, code: 1, noOut: /\u001b/ },
];

test("cli: every convention of the table holds", async () => {
  const version = await pkgVersion();
  for (const row of ROWS) {
    const r = runCli(row.args, row.stdin, row.env);
    if (r === null) return;
    const where = `${row.what} (gmemsim ${row.args.join(" ").slice(0, 60)}): stdout ${JSON.stringify(r.stdout.slice(0, 400))} stderr ${JSON.stringify(r.stderr.slice(0, 400))}`;
    assert.is(r.code, row.code, where);
    if (row.out) assert.match(r.stdout, row.out, where);
    if (row.err) assert.match(r.stderr, row.err, where);
    if (row.noOut) assert.not.match(r.stdout, row.noOut, where);
    assert.not.match(r.stderr, STACK, `${where}: no stack trace`);
    if (row.what === "--version" || row.what === "-v") assert.is(r.stdout, `gmemsim ${version}\n`);
  }
});

test("cli: a path without .json runs without `run`; input is capped in size and must be UTF-8", () => {
  const plain = tempFile("scenario", OK);
  if (plain === null) return;
  const p = runCli([plain])!;
  assert.is(p.code, 0, p.stderr);
  assert.match(p.stdout, /PASS: 2 steps/);
  const zero = runCli(["run", "/dev/zero"])!;
  assert.is(zero.code, 2);
  assert.match(zero.stderr, /larger than 128 MiB, the most a scenario file may hold/);
  const bad = runShell("printf '{\"format\":1,\"name\":\"\\xff\"}' | node bin/gmemsim.js run -")!;
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /not UTF-8 text/);
});

test("cli: a closed pipe ends the output quietly; the status is still the run's", () => {
  const r = runShell("node bin/gmemsim.js run examples/to-shared-2m.json | head -1; echo \"status=${PIPESTATUS[0]}\"");
  if (r === null) return;
  assert.match(r.stdout, /^scenario: [^\n]*\nstatus=0\n$/);
  assert.is(r.stderr, "", "no EPIPE report");
  const f = runShell(`node bin/gmemsim.js run - <<'EOF' | head -c 10 >/dev/null; echo "status=\${PIPESTATUS[0]}"\n${FAILS}\nEOF`)!;
  assert.match(f.stdout, /status=1/);
  assert.is(f.stderr, "");
});

test("cli: colour on a terminal, none with NO_COLOR or TERM=dumb", () => {
  const tty = (env: string) => runShell(`${env} script -qec "node bin/gmemsim.js run examples/to-shared-4k.json" /dev/null`);
  const on = tty("TERM=xterm");
  if (on === null) return;
  assert.is(on.code, 0, on.stdout + on.stderr);
  assert.match(on.stdout, /\u001b\[32mok {2}\u001b\[39m/, "ok in green on a terminal");
  assert.match(on.stdout, /\u001b\[32mPASS: 24 steps\u001b\[39m/);
  for (const env of ["NO_COLOR=1 TERM=xterm", "TERM=dumb"]) {
    const off = tty(env)!;
    assert.match(off.stdout, /PASS: 24 steps/, env);
    assert.not.match(off.stdout, /\u001b/, `${env}: no escape at all`);
  }
  const empty = tty("NO_COLOR= TERM=xterm")!; // NO_COLOR set to "" does not count
  assert.match(empty.stdout, /\u001b\[32m/);
});

test("cli: a run that fails leaves no partial trace, and a trace is written whole", async () => {
  const out = tempFile("t.json");
  if (out === null) return;
  const bad = runCli(["run", "-", "--trace", out], "{")!;
  assert.is(bad.code, 2);
  const ls = runShell(`ls -A "$(dirname ${out})"`)!;
  assert.is(ls.stdout, "", "a malformed file writes no trace (nor a temporary file)");
  const good = runCli(["run", "-", "--trace", out], OK)!;
  assert.is(good.code, 0);
  assert.match(await readText(out), /^\{\n "format": 1,[^]*\n \]\n\}\n$/);
  assert.is(runShell(`ls -A "$(dirname ${out})"`)!.stdout, "t.json\n");
});

test("cli: a 10^6-step run streams its trace and its JSON report", async () => {
  const out = tempFile("long.json");
  if (out === null) return;
  // 10^6 conversions of one page back and forth, each with its events: a trace of ~340 MB, more than one string holds
  const steps = ['{"op":"gmem.create","id":"g","size":"8K","flags":["mmap"]}'];
  for (let i = 0; i < 1e6; i++) steps.push(`{"op":"convert","gmem":"g","offset":0,"size":"4K","to":"${i % 2 ? "shared" : "private"}"}`);
  const input = tempFile("in.json", `{"format":1,"name":"long","steps":[${steps.join(",")}]}`)!;
  const r = runShell(`node bin/gmemsim.js run ${input} --trace ${out} -f json | tail -c 2000; echo; echo "status=\${PIPESTATUS[0]}"; ` +
    `stat -c %s ${out}; tail -c 8000 ${out}`)!;
  assert.match(r.stdout, /"ok":true,"stats":\{[^]*\}\}\n\nstatus=0\n/, r.stderr.slice(0, 2000));
  const [, size] = /status=0\n(\d+)\n/.exec(r.stdout)!;
  assert.ok(+size > 300 * 2 ** 20, `a trace of ${size} bytes`);
  assert.match(r.stdout, /\n  \{"op":"check\.stats",[^\n]*\}\n \]\n\}\n$/, "the trace ends with its check of every counter");
  assert.is(r.stderr, "");
});

test.run();
