// The scenario-file parser, malformed files: every kind of malformed file is a ScenarioFormatError naming the exact
// step and field, with the messages it gives (JSON syntax, sizes, ops, fields, ids across steps).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { failure, PRE, file, conv, ga } from "./scenario-parse/helpers";

// Malformed files. PRE (./scenario-parse/helpers) defines g (gmem), vm and io at steps 0..2; most cases put the bad
// step at index 3.

const v4file = (...steps: unknown[]) => ({ ...file(...steps), config: { protocol: "v4" } });

export const BAD: [string, unknown, number | null, string][] = [
  // the file
  ["truncated JSON", '{"format": 1, "steps": [{"op": "vm.create", "id": "vm"}', null, "json"],
  ["empty text", "", null, "json"],
  ["trailing comma", '{"format": 1, "steps": [{"op": "vm.create", "id": "vm"},]}', null, "json"],
  ["top level is an array", [1], null, ""],
  ["format 2", { ...file(), format: 2 }, null, "format"],
  ["format missing", { name: "x", steps: PRE }, null, "format"],
  ["format as a string", { ...file(), format: "1" }, null, "format"],
  ["unknown top-level field", { ...file(), stepz: [] }, null, "stepz"],
  ["name not a string", { ...file(), name: 3 }, null, "name"],
  ["description not a string", { ...file(), description: ["a"] }, null, "description"],
  ["steps empty", { format: 1, steps: [] }, null, "steps"],
  ["steps missing", { format: 1 }, null, "steps"],
  ["steps not a list", { format: 1, steps: { op: "vm.create" } }, null, "steps"],
  ["config not an object", { ...file(), config: "tdx" }, null, "config"],
  ["config.arch unknown", { ...file(), config: { arch: "arm" } }, null, "config.arch"],
  ["config.protocol unknown", { ...file(), config: { protocol: "v3" } }, null, "config.protocol"],
  ["config.invariants not a boolean", { ...file(), config: { invariants: "yes" } }, null, "config.invariants"],
  ["config unknown field", { ...file(), config: { checks: true } }, null, "config.checks"],
  // one step on its own
  ["step not an object", file(5), 3, ""],
  ["op missing", file({ gmem: "g" }), 3, "op"],
  ["op not a string", file({ op: 7 }), 3, "op"],
  ["unknown op", file({ op: "covert", gmem: "g" }), 3, "op"],
  ["missing field", file(conv({ to: undefined })), 3, "to"],
  ["unknown step field", file({ op: "punch", gmem: "g", offset: 0, sise: "4K" }), 3, "sise"],
  ["unknown field on a check", file({ op: "check.invariants", vm: "vm" }), 3, "vm"],
  ["bad size string", file(conv({ size: "12Q" })), 3, "size"],
  ["lower-case unit", file(conv({ size: "4k" })), 3, "size"],
  ["size above 2^64-1 (hex)", file(conv({ size: "0x10000000000000000" })), 3, "size"],
  ["size above 2^64-1 (unit)", file(conv({ offset: "16777216T" })), 3, "offset"],
  ["negative number", file(conv({ offset: -4096 })), 3, "offset"],
  ["fraction number", file(conv({ size: 1.5 })), 3, "size"],
  ["fraction of a byte with unit", file(conv({ size: "0.3K" })), 3, "size"],
  ["JSON number past 2^53", '{"format":1,"steps":[{"op":"vm.create","id":"vm"},{"op":"guest.access","vm":"vm","gpa":18446744073709551615,"private":true}]}', 1, "gpa"],
  ["id not a string", file({ op: "vm.create", id: 7 }), 3, "id"],
  ["id empty", file({ op: "gmem.create", id: "", size: "4K" }), 3, "id"],
  ["boolean as a string", file(ga({ private: "yes" })), 3, "private"],
  ["unknown flag", file({ op: "gmem.create", id: "h", size: "4K", flags: ["mmap", "hugetlb-4M"] }), 3, "flags"],
  ["flags not a list", file({ op: "gmem.create", id: "h", size: "4K", flags: "mmap" }), 3, "flags"],
  ["bad level", file(ga({ level: "3M" })), 3, "level"],
  ["bad check.spte level", file({ op: "check.spte", vm: "vm", gpa: 0, table: "private", present: true, level: 2 }), 3, "level"],
  ["bad enum (to)", file(conv({ to: "secret" })), 3, "to"],
  ["bad iommu mode", file({ op: "iommu.create", id: "io2", mode: "none" }), 3, "mode"],
  ["slot negative", file({ op: "vm.unbind", vm: "vm", slot: -1 }), 3, "slot"],
  ["slot as a string", file({ op: "vm.unbind", vm: "vm", slot: "0" }), 3, "slot"],
  ["write is a boolean", file(ga({ write: true })), 3, "write"],
  ["write above 2^53", file({ op: "host.access", gmem: "g", offset: 0, write: "0x20000000000001" }), 3, "write"],
  ["value negative", file({ op: "dma", iommu: "io", iova: 0, secure: true, value: -1 }), 3, "value"],
  ["result of another op", file(conv({ expect: "mapped" })), 3, "expect"],
  ["guest result on host.access", file({ op: "host.access", gmem: "g", offset: 0, expect: "memory-fault" }), 3, "expect"],
  ["dma result misspelt", file({ op: "dma", iommu: "io", iova: 0, secure: false, expect: "iofault" }), 3, "expect"],
  ["\"ok\" on convert", file(conv({ expect: "ok" })), 3, "expect"],
  ["unknown errno", file(conv({ expect: "EWHATEVER" })), 3, "expect"],
  ["errno as a number", file(conv({ expect: -22 })), 3, "expect"],
  ["expect on a check", file({ op: "check.attr", gmem: "g", offset: 0, size: "4K", is: "shared", expect: "EINVAL" }), 3, "expect"],
  // (expect 0 on a check is allowed: "every step may carry expect", and a check's only result is that it holds)
  ["errorOffset on the wrong op", file({ op: "host.pin", gmem: "g", offset: 0, size: "4K", expect: "EINVAL", errorOffset: 0 }), 3, "errorOffset"],
  ["errorOffset without an errno", file(conv({ errorOffset: "4K" })), 3, "errorOffset"],
  ["errorOffset not a size", file({ op: "punch", gmem: "g", offset: 0, size: "4K", expect: "EAGAIN", errorOffset: "x" }), 3, "errorOffset"],
  ["mode on a v2 scenario", file(conv({ mode: "zero" })), 3, "mode"],
  ["bad convert mode", v4file(conv({ mode: "scramble" })), 3, "mode"],
  ["pause without as", file(conv({ pause: "after-execute" })), 3, "as"],
  ["as without pause", file(ga({ as: "x" })), 3, "as"],
  ["convert pause on guest.access", file(ga({ pause: "after-invalidate-begin", as: "x" })), 3, "pause"],
  ["pause on another op", file({ op: "host.pin", gmem: "g", offset: 0, size: "4K", pause: "after-execute", as: "x" }), 3, "pause"],
  ["inject count 0", file({ op: "inject", fault: "enomem-split", count: 0 }), 3, "count"],
  ["inject unknown fault", file({ op: "inject", fault: "enomem" }), 3, "fault"],
  ["check.folio bad order", file({ op: "check.folio", gmem: "g", offset: 0, order: 3 }), 3, "order"],
  ["check.folio negative refcount", file({ op: "check.folio", gmem: "g", offset: 0, order: 0, refcount: -1 }), 3, "refcount"],
  ["check.folio uptodate not a boolean", file({ op: "check.folio", gmem: "g", offset: 0, order: 0, uptodate: 1 }), 3, "uptodate"],
  ["check.events empty", file({ op: "check.events" }), 3, "sequence"],
  ["check.events empty lists", file({ op: "check.events", sequence: [], absent: [] }), 3, "sequence"],
  ["check.events sequence not a list", file({ op: "check.events", sequence: "gmem.lock" }), 3, "sequence"],
  ["check.events unknown kind", file({ op: "check.events", sequence: ["gmem.lock", "kvm.zapp"] }), 3, "sequence"],
  ["check.events matcher without kind", file({ op: "check.events", sequence: [{ table: "private" }] }), 3, "sequence"],
  ["check.events matcher field not scalar", file({ op: "check.events", sequence: [{ kind: "kvm.zap", start: [0] }] }), 3, "sequence"],
  ["check.events absent unknown kind", file({ op: "check.events", sequence: ["gmem.lock"], absent: ["nope"] }), 3, "absent"],
  ["check.stats non-integer", file({ op: "check.stats", "kvm.zap": 1.5 }), 3, "kvm.zap"],
  ["check.stats negative", file({ op: "check.stats", "folio.split": 0, "kvm.zap": -1 }), 3, "kvm.zap"],
  ["check.stats string value", file({ op: "check.stats", "kvm.zap": "2" }), 3, "kvm.zap"],
  // the steps together
  ["unknown gmem id", file({ op: "punch", gmem: "h", offset: 0, size: "4K" }), 3, "gmem"],
  ["unknown vm id", file({ op: "vm.bind", vm: "vm2", slot: 0, gpa: 0, size: "4M", gmem: "g", offset: 0 }), 3, "vm"],
  ["unknown gmem id in vm.bind", file({ op: "vm.bind", vm: "vm", slot: 0, gpa: 0, size: "4M", gmem: "gg", offset: 0 }), 3, "gmem"],
  ["unknown iommu id", file({ op: "dma", iommu: "io2", iova: 0, secure: true }), 3, "iommu"],
  ["unknown id in a check", file({ op: "check.iopte", iommu: "iox", iova: 0, secure: true, present: false }), 3, "iommu"],
  ["id of another kind", file({ op: "iommu.bind", iommu: "g", gmem: "g" }), 3, "iommu"],
  ["used before created", file({ op: "host.mmap", gmem: "h" }, { op: "gmem.create", id: "h", size: "4K" }), 3, "gmem"],
  ["created only by a failing create", file({ op: "gmem.create", id: "h", size: "4K", expect: "EINVAL" }, { op: "host.mmap", gmem: "h" }), 4, "gmem"],
  ["duplicate gmem id", file({ op: "gmem.create", id: "g", size: "4K" }), 3, "id"],
  ["duplicate vm id", file({ op: "vm.create", id: "w" }, { op: "vm.create", id: "w" }), 4, "id"],
  ["resume of unknown id", file({ op: "resume", id: "nope" }), 3, "id"],
  ["resume before the pause", file({ op: "resume", id: "p" }, conv({ pause: "after-execute", as: "p" })), 3, "id"],
  ["resume of a pause that failed", file(conv({ pause: "after-execute", as: "p", expect: "EINVAL" }), { op: "resume", id: "p" }), 4, "id"],
  ["resume twice", file(conv({ pause: "after-execute", as: "p" }), { op: "resume", id: "p" }, { op: "resume", id: "p" }), 5, "id"],
  ["duplicate pause name", file(conv({ pause: "after-execute", as: "p" }), ga({ pause: "after-faultin", as: "p" })), 4, "as"],
  ["resumed convert expecting an access result", file(conv({ pause: "after-execute", as: "p" }), { op: "resume", id: "p", expect: "mapped" }), 4, "expect"],
  ["resumed access expecting a host result", file(ga({ pause: "after-faultin", as: "p" }), { op: "resume", id: "p", expect: "SIGBUS" }), 4, "expect"],
  ["errorOffset on a resumed access", file(ga({ pause: "after-faultin", as: "p" }), { op: "resume", id: "p", expect: "EFAULT", errorOffset: 0 }), 4, "errorOffset"],
  ["resume result unknown", file(conv({ pause: "after-execute", as: "p" }), { op: "resume", id: "p", expect: "done" }), 4, "expect"],
];

test(`scenario: ${BAD.length} malformed files each name the exact step and field`, () => {
  assert.ok(BAD.length >= 40);
  for (const [what, doc, step, field] of BAD) {
    const e = failure(doc);
    assert.instance(e, Error, what);
    assert.is(e.code, "EMALFORMED", what);
    assert.is(e.thread, null, what);
    if (step !== null) assert.is(e.section, "steps", what);
    assert.is(e.step, step, `${what}: step (${e.message})`);
    assert.is(e.field, field, `${what}: field (${e.message})`);
    const prefix = step === null ? "" : `step ${step}`;
    assert.ok(e.message.startsWith(prefix), `${what}: ${e.message}`);
    if (field !== "") assert.ok(e.message.includes(`field "${field}": `), `${what}: ${e.message}`);
  }
});

test("scenario: messages", () => {
  assert.is(failure(file(conv({ size: "12Q" }))).message,
    'step 3 (convert): field "size": "12Q" is not a size (a number, "0x..." or a number with K/M/G/T)');
  assert.match(failure(file(conv({ size: "0x10000000000000000" }))).message, /larger than 2\^64-1/);
  assert.match(failure(file({ op: "covert" })).message, /unknown op "covert" \(did you mean "convert"\?\)/);
  assert.match(failure(file({ op: "punch", gmem: "g", offset: 0, sise: "4K" })).message, /did you mean "size"/);
  assert.match(failure(file({ op: "host.mmap", gmem: "h" }, { op: "gmem.create", id: "h", size: "4K" })).message,
    /created only at step 4/);
  assert.match(failure(file({ op: "gmem.create", id: "g", size: "4K" })).message, /already defined at step 0/);
  const j = failure('{"format": 1,\n "steps": [');
  assert.is(j.step, null);
  assert.match(j.message, /^field "json": not valid JSON at line 2 column 12 \(position 25\)/);
  const json: [string, string][] = [
    ['{"format": 1, "steps": [{"op": "vm.create", "id": "vm"},]}', "line 1 column 57 (position 56): trailing comma before ']'"],
    ['{"format": 1 "steps": []}', "line 1 column 14 (position 13): expected ',' or '}' after a property value"],
    ["{format: 1}", "line 1 column 2 (position 1): expected a property name"],
    ['{"format": 01}', "line 1 column 13 (position 12): malformed number"],
    ['{"name": "a\tb"}', "line 1 column 12 (position 11): control character in a string"],
    ['{"format": 1}\n{}', "line 2 column 1 (position 14): unexpected text after the scenario"],
    ["{\n  \"steps\": [\n    'x'\n  ]\n}", "line 3 column 5 (position 19): unexpected \"'\" where a value belongs"],
  ];
  for (const [text, where] of json) {
    const e = failure(text);
    assert.is(e.field, "json", text);
    assert.ok(e.message.startsWith(`field "json": not valid JSON at ${where}`), e.message);
  }
  assert.match(failure('{"format":1,"steps":[{"op":"vm.create","id":"vm"},{"op":"guest.access","vm":"vm","gpa":18446744073709551615,"private":true}]}').message,
    /"gpa": 18446744073709552000 is not a size \(a JSON number above 2\^53-1 is not exact; write it as a string/);
  assert.match(failure(file({ op: "gmem.create", id: "h", size: "4K", flags: ["mmap", "hugetlb-4M"] })).message,
    /entry 1: "hugetlb-4M" is not a flag/);
});

test.run();
