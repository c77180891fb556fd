// Snapshots: the whole model state as bytes (a 32-byte header, the object names, the memory image up to the heap
// top without the event rings) and the checks a restore makes before it trusts them. A corrupted or foreign
// snapshot is refused with an Error whose .code says why, in time linear in its size: nothing it holds is run
// before its checksum matches, and no instance attaches before the core found its allocator, object table and pfn
// pools whole (checkImage: the checksum only shows accidents, whoever can change the bytes can recompute it).
import * as L from "../assembly/abi/layout";
import * as C from "../assembly/abi/consts";
import { ERRNO, GmemError, check, einval } from "./errors";
import type { SimContext, Protocol } from "./context";
import type { CoreExports } from "./core";

const MAGIC = "GMSNAP02";
const HEADER = 32;
/** The event rings (and their write positions), left out of images. */
const RINGS_BYTES = L.RINGS_END - L.RING_BASE;

/**
 * A word-wise hash of bytes (a multiple of 4 long): detects any accidental corruption of a snapshot (a deliberate
 * one can recompute it: the core checks the image's structures before anything attaches, sim_image_check).
 * @internal
 */
export function hash(bytes: Uint8Array): number {
  const w = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  let h = 0x811c9dc5 ^ bytes.byteLength;
  for (let i = 0; i < w.length; i++) {
    h = Math.imul(h ^ w[i], 0x01000193);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** The model's state as bytes (taken under the simulator lock, so no step is half done in it). */
export function takeSnapshot(sim: SimContext): Uint8Array {
  check(sim.core.sim_freeze(), "snapshot");
  try {
    const used = sim.core.sim_used_bytes();
    const text = new TextEncoder().encode(JSON.stringify(sim.nameEntries()));
    const nlen = (text.length + 3) & ~3;
    const outp = new Uint8Array(HEADER + nlen + used - RINGS_BYTES);
    const dv = new DataView(outp.buffer);
    for (let i = 0; i < 8; i++) outp[i] = MAGIC.charCodeAt(i);
    dv.setUint32(8, L.LAYOUT_VERSION, true);
    dv.setUint32(12, used, true);
    dv.setUint32(16, text.length, true);
    dv.setUint32(20, sim.protocol === "v4" ? 1 : 0, true);
    outp.fill(0x20, HEADER, HEADER + nlen); // names padded with spaces (valid JSON whitespace)
    outp.set(text, HEADER);
    // the memory image without the event rings: events are what happened, not state (a restored simulator's
    // readers start at the head, and its rings start empty)
    outp.set(new Uint8Array(sim.memory.buffer, 0, L.RING_BASE), HEADER + nlen);
    outp.set(new Uint8Array(sim.memory.buffer, L.RINGS_END, used - L.RINGS_END), HEADER + nlen + L.RING_BASE);
    // the copy was taken with the world stopped and this instance attached: neither belongs in the image, but the
    // instances' counters do (folded into the header's, as a detach would)
    dv.setUint32(HEADER + nlen + L.H_FREEZE, 0, true);
    foldCounters(dv, HEADER + nlen);
    outp.fill(0, HEADER + nlen + L.INSTANCE_BASE, HEADER + nlen + L.INSTANCE_BASE + L.INSTANCES_SIZE);
    // nor do the views reading this memory (asleep on the change count, or holding writers off)
    dv.setUint32(HEADER + nlen + L.H_CHANGE_WAITERS, 0, true);
    dv.setUint32(HEADER + nlen + L.H_VIEW_HOLD, 0, true);
    dv.setUint32(24, hash(outp.subarray(HEADER)), true);
    return outp;
  } finally {
    sim.core.sim_thaw();
  }
}

/** Add every attached instance's counters (IN_COUNTERS, IN_COUNT_SUMS, IN_SEQ) into the header's, in the image at `base`. */
function foldCounters(dv: DataView, base: number): void {
  for (let s = 0; s < L.MAX_INSTANCES; s++) {
    const b = base + L.INSTANCE_BASE + s * L.INSTANCE_SIZE;
    if (dv.getUint32(b + L.IN_STATE, true) === 0) continue;
    const steps = base + L.H_STEPS, st = dv.getUint32(b + L.IN_STEP, true);
    if (st > dv.getUint32(steps, true)) dv.setUint32(steps, st, true);
    const done = base + L.H_CALLS_DONE; // (the change count views read: bindings/state.ts)
    dv.setUint32(done, (dv.getUint32(done, true) + (dv.getUint32(b + L.IN_SEQ, true) >>> 1)) >>> 0, true);
    for (let k = 0; k < 2 * L.MAX_COUNTERS; k++) {
      const from = b + L.IN_COUNTERS + k * 8, to = base + L.H_COUNTERS + k * 8;
      dv.setBigUint64(to, dv.getBigUint64(to, true) + dv.getBigUint64(from, true), true);
    }
  }
}

export interface ParsedSnapshot { image: Uint8Array; names: [string, string][]; protocol: Protocol }

/** Check a snapshot's bytes: EINVAL (code) for anything that is not an intact snapshot of this layout. */
export function parseSnapshot(bytes: unknown): ParsedSnapshot {
  const op = "restore";
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER) throw einval(op, "not a snapshot");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(...bytes.subarray(0, 8)) !== MAGIC) throw einval(op, "not a gmemsim snapshot (of this format)");
  if (dv.getUint32(8, true) !== L.LAYOUT_VERSION) throw einval(op, "snapshot of another layout version");
  const used = dv.getUint32(12, true), tlen = dv.getUint32(16, true);
  const nlen = (tlen + 3) & ~3;
  if (HEADER + nlen + used - RINGS_BYTES !== bytes.length || used < L.HEAP_BASE || used % 4 !== 0 || used > 2 ** 32 - L.WASM_PAGE_SIZE) {
    throw einval(op, "truncated or padded snapshot");
  }
  const copy = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (hash(copy.subarray(HEADER)) !== dv.getUint32(24, true)) throw einval(op, "the snapshot is corrupted (checksum)");
  let names: unknown;
  try { names = JSON.parse(new TextDecoder().decode(bytes.subarray(HEADER, HEADER + tlen))); }
  catch { throw einval(op, "the snapshot's names are not JSON"); }
  if (!Array.isArray(names) || !names.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === "string" &&
      typeof e[1] === "string" && /^(gmem|vm|iommu):\d+$/.test(e[0]))) {
    throw einval(op, "the snapshot's names are malformed");
  }
  const image = bytes.subarray(HEADER + nlen);
  const idv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (idv.getUint32(L.H_MAGIC, true) !== L.LAYOUT_MAGIC || idv.getUint32(L.H_INIT, true) !== 2 ||
      idv.getUint32(L.H_HEAP_TOP, true) !== used) {
    throw einval(op, "the snapshot's header is not a ready gmemsim state");
  }
  return { image, names: names as [string, string][], protocol: dv.getUint32(20, true) === 1 ? "v4" : "v2" };
}

/** Copy an image into a fresh memory (grown to fit); the event rings it leaves out stay zero (empty). */
export function loadImage(memory: WebAssembly.Memory, image: Uint8Array): void {
  const pages = Math.ceil((image.length + RINGS_BYTES) / L.WASM_PAGE_SIZE);
  const have = memory.buffer.byteLength / L.WASM_PAGE_SIZE;
  if (pages > have) {
    try { memory.grow(pages - have); } catch { throw new GmemError(ERRNO.ENOMEM, "restore", "the image does not fit"); }
  }
  const u8 = new Uint8Array(memory.buffer);
  u8.set(image.subarray(0, L.RING_BASE));
  u8.set(image.subarray(L.RING_BASE), L.RINGS_END);
}

/** What sim_image_check found wrong (IMAGE_BAD_* of assembly/abi/consts.ts), for the error message. */
const IMAGE_PROBLEMS: Record<number, string> = {
  [C.IMAGE_BAD_HEADER]: "a lock, world stop, death mark or instance block is not at rest, or the arch is unknown",
  [C.IMAGE_BAD_HEAP_TOP]: "the heap top is not a page inside memory",
  [C.IMAGE_BAD_PAGE_MAP]: "the page map does not tile the heap with aligned blocks",
  [C.IMAGE_BAD_FREE_LIST]: "a heap free list leaves the free blocks, loops or misses one",
  [C.IMAGE_BAD_PAGES_USED]: "the allocated-page count disagrees with the page map",
  [C.IMAGE_BAD_OBJ_TABLE]: "an object-table slot has an impossible kind, generation or pointer",
  [C.IMAGE_BAD_OBJ_FREE_LIST]: "the object table's free-slot list leaves the free slots or loops",
  [C.IMAGE_BAD_PFN_POOL]: "a pfn pool's watermark, count or freed-pfn stack is impossible",
};

/** The core's structural check of a loaded image, before anything attaches: EINVAL naming what is wrong. */
export function checkImage(core: CoreExports): void {
  const bad = core.sim_image_check() >>> 0;
  if (bad !== 0) throw einval("restore", `the snapshot's state is corrupted: ${IMAGE_PROBLEMS[bad] ?? `image check ${bad}`}`);
}
