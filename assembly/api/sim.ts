// Exports about the machine as a whole: attaching an instance, settings (arch, checks, safeguards, injection),
// the violations of the last step, and the memory image for snapshots.
import {
  LAYOUT_MAGIC, LAYOUT_VERSION, H_MAGIC, H_VERSION, H_INIT, H_HEAP_TOP, HEAP_BASE, PAGEMAP_BASE, H_DEBUG, H_ARCH,
  H_SAFEGUARDS_OFF, H_CORRUPT, H_FAIL_ALLOC, PFN_LEAKED, STATIC_SIZE, MEMORY_BASE, MAX_INSTANCES, IN_STATE, IN_CALL,
  IN_HELD, H_DEAD, H_FREEZE, H_LIVE, RING_HEAD, RING_FIRST_SEQ, H_ALLOC_LOCK, H_OBJ_LOCK, H_PFN_LOCK,
  H_CHANGE_WAITERS, H_VIEW_HOLD, INSTANCE_BASE, INSTANCES_SIZE,
} from "../abi/layout";
import {
  INJ_KINDS, OUT_VIOLATIONS, OUT_WHERE, OUT_NVIOL, OUT_INFO, VIOLATIONS_MAX, IMAGE_BAD_HEADER, ARCH_SNP, CHECK_INFO_LEAVES,
  CHECK_INFO_ORPHANS,
} from "../abi/consts";
import { EBUSY, EINVAL, ENOMEM, ENOSPC, EOPNOTSUPP, ETIMEDOUT, EOWNERDEAD } from "../abi/errno";
import { setMayBlock } from "../mm/sync";
import { worldStop, worldStart, trapped } from "./bracket";
import { pfnPoolInit, pfnPoolCheck } from "../mm/pfn";
import { heapCheck } from "../mm/alloc";
import { instanceClaim, instanceRelease, instBase, instSlot, instBlock, out } from "../mm/instance";
import { countersFold, eventsClose } from "../lib/events";
import { objEnd, objSlotType, objTableCheck, OBJ_T_FREE } from "../mm/objects";
import { DEBUG } from "../lib/debug";
import { injectArm } from "../lib/inject";
import { violationCount, violationCode, violationWhere, violationsReset } from "../lib/machine";
import { kvmNotifierOpsInit } from "../kvm/notifier";
import { iommuHooksInit } from "../iommu/domain";
import { iommuSchemeZapInit } from "../iommu/scheme_zap";
import { iommuSchemeKeepInit } from "../iommu/scheme_keep";
import { checkAll, checkWork } from "../check/state";
import { iterReset } from "../lib/iter";
import { eventLayout, eventTablesInit } from "../lib/events";

/** Publish every consumer's notifier ops and the machine hooks (same table indices in every instance). */
function registerConsumers(): void {
  kvmNotifierOpsInit();
  iommuSchemeZapInit();
  iommuSchemeKeepInit();
  iommuHooksInit();
}

const INIT_WAIT_NS: i64 = 1000000; //   1 ms per wait
const INIT_WAITS: i32 = 2000; //        give up after ~2 s: the memory holds no live initialisation

/**
 * Attach this instance to the memory: the first instance initialises the header (the others wait for it, a bounded
 * time), every instance claims its own block. may_block: 0 on a browser's main thread. Returns the instance slot,
 * or -EINVAL (the memory holds another layout), -ETIMEDOUT (an initialisation never finished), -ENOSPC (every
 * instance slot is taken), -ENOMEM (the core's static data overlaps the page map).
 */
export function sim_attach(may_block: i32): i32 {
  setMayBlock(may_block != 0);
  if (__heap_base > <usize>(MEMORY_BASE + STATIC_SIZE) || __heap_base > <usize>PAGEMAP_BASE) return -ENOMEM;
  if (atomic.cmpxchg<u32>(H_INIT, 0, 1) == 0) {
    store<u32>(H_MAGIC, LAYOUT_MAGIC);
    store<u32>(H_VERSION, LAYOUT_VERSION);
    store<u32>(H_HEAP_TOP, HEAP_BASE);
    pfnPoolInit();
    eventTablesInit();
    store<u64>(RING_HEAD, <u64>RING_FIRST_SEQ);
    registerConsumers();
    atomic.store<u32>(H_INIT, 2);
    atomic.notify(H_INIT);
  } else {
    let tries: i32 = 0;
    for (;;) {
      const v = atomic.load<u32>(H_INIT);
      if (v == 2) break;
      if (v != 1) return -EINVAL; // not a gmemsim header at all
      if (++tries > INIT_WAITS) return -ETIMEDOUT;
      if (may_block != 0) atomic.wait<u32>(H_INIT, 1, INIT_WAIT_NS);
    }
  }
  if (load<u32>(H_MAGIC) != <u32>LAYOUT_MAGIC || load<u32>(H_VERSION) != <u32>LAYOUT_VERSION) return -EINVAL;
  if (!instanceClaim()) return -ENOSPC;
  // from now on calls take step locks (two instances are attached): wait until no call that started without them is
  // still running (a world stop), so no unlocked step ever runs beside another
  for (;;) { const w = worldStop(); if (w != -EBUSY) break; }
  worldStart();
  registerConsumers(); // idempotent: a restored image gets this build's table indices
  iterReset();
  return <i32>instSlot();
}

/**
 * An image a restore just loaded, checked before any instance attaches to it (a snapshot's hash only shows
 * accidents: whoever can change the bytes can recompute it). 0, or the IMAGE_BAD_* of abi/consts.ts found first:
 * the header at rest (no lock, world stop or death mark; no instance block; a known arch), then the heap allocator
 * (mm/alloc.ts heapCheck), the object table (mm/objects.ts) and the pfn pools (mm/pfn.ts). Every loop is bounded by
 * the image's size; nothing is written. Structures inside the objects are the invariant checker's (check/).
 */
export function sim_image_check(): u32 {
  if (load<u32>(H_FREEZE) != 0 || load<u32>(H_DEAD) != 0 || load<u32>(H_ALLOC_LOCK) != 0 || load<u32>(H_OBJ_LOCK) != 0 ||
      load<u32>(H_PFN_LOCK) != 0 || load<u32>(H_CHANGE_WAITERS) != 0 || load<u32>(H_VIEW_HOLD) != 0 || load<u32>(H_ARCH) > ARCH_SNP) {
    return IMAGE_BAD_HEADER;
  }
  for (let a: usize = INSTANCE_BASE; a < <usize>(INSTANCE_BASE + INSTANCES_SIZE); a += 8) if (load<u64>(a) != 0) return IMAGE_BAD_HEADER;
  let r = heapCheck();
  if (r == 0) r = objTableCheck();
  if (r == 0) r = pfnPoolCheck();
  return r;
}

/** Give this instance's block back (its counters go into the header first). */
export function sim_detach(): void {
  if (instBase() == 0) return;
  eventsClose(instBase());
  countersFold(instBase());
  instanceRelease();
}

/**
 * Another instance's thread is gone (its worker was terminated): reclaim its slot. If it died inside a call (or
 * holding a lock within a step), what it was doing is half done and no lock it held can be trusted: the machine is
 * marked dead and every later call fails with -EOWNERDEAD (returned here too). Otherwise its slot is freed and its
 * counters kept: 0. -EINVAL for this instance's own slot or a free one.
 */
export function sim_reap(slot: u32): i32 {
  if (slot >= <u32>MAX_INSTANCES || slot == instSlot()) return -EINVAL;
  const b = instBlock(slot);
  if (atomic.load<u32>(b + IN_STATE) == 0) return -EINVAL;
  if ((atomic.load<u32>(b + IN_CALL) & 1) != 0 || atomic.load<u32>(b + IN_HELD) != 0) {
    atomic.cmpxchg<u32>(H_DEAD, 0, slot + 1);
    if (atomic.load<u32>(H_FREEZE) == slot + 1) atomic.store<u32>(H_FREEZE, 0);
    eventsClose(b); // its thread is gone: it takes and writes no more, readers merge past its batch
    return -EOWNERDEAD;
  }
  eventsClose(b);
  countersFold(b);
  atomic.sub<u32>(H_LIVE, 1);
  atomic.store<u32>(b + IN_STATE, 0);
  return 0;
}

/** 0, or 1 + the slot of the instance that died inside a call (| 0x100 when a call trapped): the machine answers
 * -EOWNERDEAD (-ENOTRECOVERABLE) since. */
export function sim_dead(): u32 { return atomic.load<u32>(H_DEAD); }

/** The binding caught a trap out of this instance's last call: release what it held and mark the machine failed. */
export function sim_trapped(): void { trapped(); }

/** Address of this instance's block (its out-values are at IN_OUT). */
export function sim_scratch(): u32 { return <u32>instBase(); }
export function sim_layout_version(): u32 { return LAYOUT_VERSION; }
/** An event kind's field layout as the core emits it (test/abi.test.ts: the binding decodes the same). */
export function sim_event_layout(kind: u32): u32 { return eventLayout(kind); }
export function sim_heap_base(): u32 { return <u32>__heap_base; }

/** Fail the n-th next heap allocation (1 = the next one); 0 turns it off. For exhaustion tests. */
export function sim_fail_alloc(n: u32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  store<u32>(H_FAIL_ALLOC, n);
  worldStart();
  return 0;
}

/** Turn the after-every-step checker on (1) or off (0). */
export function sim_set_checks(on: i32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  store<u32>(H_DEBUG, on != 0 ? 1 : 0);
  worldStart();
  return 0;
}

/** Switch safeguards off (SG_* bits set) or back on; config.disable. */
export function sim_set_safeguards_off(bits: u32): i32 {
  if (bits > 63) return -EINVAL;
  { const e = worldStop(); if (e != 0) return e; }
  store<u32>(H_SAFEGUARDS_OFF, bits);
  worldStart();
  return 0;
}
export function sim_safeguards_off(): u32 { return load<u32>(H_SAFEGUARDS_OFF); }

/**
 * The violations the last step found: the first invariant's number (0: none); out OUT_NVIOL = how many,
 * OUT_VIOLATIONS.. their numbers, OUT_WHERE = the index / gfn of the first. Reading them clears them.
 */
export function sim_last_violation(): u32 {
  const n = violationCount();
  out(OUT_NVIOL, n);
  out(OUT_WHERE, violationWhere());
  for (let i: u32 = 0; i < <u32>VIOLATIONS_MAX; i++) out(OUT_VIOLATIONS + i, violationCode(i));
  const first = violationCode(0);
  violationsReset();
  return first;
}

/** Whether any object exists (the arch can change only on an empty machine). */
function anyLive(): bool {
  for (let i: u32 = 1, n = objEnd(); i < n; i++) if (objSlotType(i) != OBJ_T_FREE) return true;
  return false;
}

/** Set the machine's arch: 0 sw, 1 tdx, 2 snp. -EBUSY once anything exists. */
export function sim_set_arch(a: u32): i32 {
  if (a > 2) return -EINVAL;
  { const e = worldStop(); if (e != 0) return e; }
  let r: i32 = 0;
  if (load<u32>(H_ARCH) != a) { if (anyLive()) r = -EBUSY; else store<u32>(H_ARCH, a); }
  worldStart();
  return r;
}
export function sim_arch(): u32 { return load<u32>(H_ARCH); }

/** Arm fault injection (INJ_* kinds). */
export function sim_inject(kind: u32, count: u32): i32 {
  if (kind >= <u32>INJ_KINDS) return -EINVAL;
  { const e = worldStop(); if (e != 0) return e; }
  injectArm(kind, count);
  worldStart();
  return 0;
}

/** Debug builds: arm a corruption hook (DBG_*) for the next op. Release: -EOPNOTSUPP. */
export function sim_debug_hook(which: u32): i32 {
  if (!DEBUG) return -EOPNOTSUPP;
  { const e = worldStop(); if (e != 0) return e; }
  store<u32>(H_CORRUPT, which);
  worldStart();
  return 0;
}

/**
 * Run every invariant now; 0 or the first one violated (sim_last_violation gives them all). Out OUT_INFO +
 * CHECK_INFO_*: what the check visited.
 */
export function sim_check_all(): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  violationsReset();
  iterReset();
  const r = checkAll();
  worldStart();
  for (let i: u32 = CHECK_INFO_LEAVES; i <= CHECK_INFO_ORPHANS; i++) out(OUT_INFO + i, checkWork(i));
  return <i32>r;
}

/** Frames the model had to leak (TDX removal failures, ...). */
export function sim_leaked(): u32 { return load<u32>(PFN_LEAKED); }

/** Take the simulator lock for a snapshot copy (the binding copies memory, then calls sim_thaw). */
export function sim_freeze(): i32 { return worldStop(); }
export function sim_thaw(): void { worldStart(); }
/** Bytes of memory that hold state: everything below the heap top. */
export function sim_used_bytes(): f64 { return <f64>load<u32>(H_HEAP_TOP); }
