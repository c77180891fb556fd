// The operation engine: every operation a scenario thread may run is a state machine in an op record, and this is
// the one place that drives them. opRun runs steps until the op finishes, reaches its pause point, or cannot start
// its next step:
//   STOP_NEVER  a call: run to the end; a step that would wait for an operation in flight gives the result the
//               kernel gives such a caller (EBUSY, "retry", EAGAIN, EFAULT)
//   STEP_*      the same, but stop after that step (a scenario's `pause`)
//   STOP_ONE    one atomic step, as a thread (the explorer): a step that cannot start is RESULT_BLOCKED, nothing
//               changed, and the op stays
//   STOP_PROBE  nothing runs: RESULT_PAUSED if the next step could start now, RESULT_BLOCKED if not
// An op that must outlive the call (paused, or a thread's) moves from this instance's record to a heap record with
// a handle. Handles the op names are resolved again before every step (an object destroyed meanwhile: -EBADF).
import {
  OPK_CONVERT, OPK_PUNCH, OPK_GUEST_ACCESS, OPK_IOMMU_MAP, OPK_HOST_ACCESS, OPK_HOST_PIN, OPK_IOMMU_UNMAP,
  OPK_GMEM_CLOSE, OPK_VM_DESTROY, OPK_VM_BIND, OPK_VM_UNBIND, OPK_HOST_MMAP, OPK_HOST_MUNMAP, OPK_HOST_UNPIN,
  OPK_IOMMU_BIND, OPK_IOMMU_UNBIND, OPK_DMA, STEP_RUN, ST_MORE, ST_DONE, ST_BLOCKED, RESULT_PAUSED, RESULT_BLOCKED,
  STOP_NEVER, STOP_ONE, STOP_PROBE, GUEST_RETRY, HOST_RETRY, STEP_LOCK, STEP_INVALIDATE_END,
} from "../abi/ops";
import { EV_OP_STEP } from "../abi/events";
import { H_DEAD } from "../abi/layout";
import { OUT_OP, OUT_STEP, OUT_STATUS, OUT_RESULT, OUT_ERR_INDEX, OUT_LEVEL, OUT_VALUE } from "../abi/consts";
import { EBADF, EBUSY, EAGAIN, EFAULT, ENOMEM, ENOSPC, EOWNERDEAD } from "../abi/errno";
import {
  OP_KIND, OP_STEP, OP_ID, OP_HANDLE, OP_LAST, OP_OBJ, OP_OBJ2, OP_H0, OP_H1, OP_LIST, OP_LIST_ORDER, OP_INLINE,
  OP_LIST_INLINE, OP_RECORD_SIZE, opFlags, OP_ERR_INDEX, OP_SNAP, OP_POST, OP_POST_SIZE, OP_END, opKind, opStep,
  opResult, opFinish, opDone, opListRelease,
} from "../lib/oprec";
import { emit } from "../lib/events";
import { checksOn } from "../lib/machine";
import { pageAllocRaw, pageFree } from "../mm/alloc";
import { OBJ_T_GMEM, OBJ_T_VM, OBJ_T_IOMMU, OBJ_T_OP, objNew, objGet, objFree } from "../mm/objects";
import { instOpRecord, out, setThreadMode, setRunningOp, opIdNew } from "../mm/instance";
import { releaseHeld, lockingOn, LW_TRY, LW_MUST } from "../mm/sync";
import { notifierLockAll } from "../gmem/notifier";
import { pagesLock } from "../gmem/lock";
import { convertV2Step, convertV2Run, CF_V4 } from "../gmem/convert";
import { convertV4Step } from "../gmem/convert_v4";
import { punchStep } from "../gmem/truncate";
import { faultStep, faultLevel, faultValue } from "../kvm/fault";
import { mapStep } from "../iommu/map";
import { convertSnapshot, convertSnapshotRelease, convertPostConditions } from "../check/post";
import { singleStep } from "./single";
import { declareReach } from "./reach";

/** A fresh record for an op of `kind` in this instance's own record (moved to the heap only if it must persist). */
export function opBegin(kind: u32): u32 {
  const op = instOpRecord();
  memory.fill(op, 0, <usize>OP_INLINE);
  memory.fill(op + <u32>OP_POST, 0, <usize>OP_POST_SIZE); // no post-condition state left by the record's last op
  store<u32>(op, kind, OP_KIND);
  store<u32>(op, STEP_RUN, OP_STEP);
  store<u32>(op, OP_LIST_INLINE, OP_LIST_ORDER);
  store<u32>(op, 0xffffffff, OP_ERR_INDEX);
  store<u32>(op, 0, OP_SNAP);
  return op;
}

/** The object types of h0 / h1 per kind (0: none). */
function h0Type(kind: u32): u32 {
  if (kind == OPK_CONVERT || kind == OPK_PUNCH || kind == OPK_GMEM_CLOSE || kind == OPK_HOST_MMAP ||
      kind == OPK_HOST_MUNMAP || kind == OPK_HOST_ACCESS || kind == OPK_HOST_PIN || kind == OPK_HOST_UNPIN) return OBJ_T_GMEM;
  if (kind == OPK_GUEST_ACCESS || kind == OPK_VM_DESTROY || kind == OPK_VM_BIND || kind == OPK_VM_UNBIND) return OBJ_T_VM;
  if (kind == OPK_IOMMU_MAP || kind == OPK_IOMMU_UNMAP || kind == OPK_IOMMU_BIND || kind == OPK_IOMMU_UNBIND ||
      kind == OPK_DMA) return OBJ_T_IOMMU;
  return 0;
}
function h1Type(kind: u32): u32 {
  return kind == OPK_VM_BIND || kind == OPK_IOMMU_BIND || kind == OPK_IOMMU_MAP ? OBJ_T_GMEM : 0;
}

/** Resolve the op's handles into obj / obj2; false when one no longer names a live object. */
function resolve(op: u32): bool {
  const k = opKind(op);
  const t0 = h0Type(k), t1 = h1Type(k);
  let p: u32 = 0, p2: u32 = 0;
  if (t0 != 0) { p = objGet(load<u32>(op, OP_H0), t0); if (p == 0) return false; }
  if (t1 != 0) { p2 = objGet(load<u32>(op, OP_H1), t1); if (p2 == 0) return false; }
  store<u32>(op, p, OP_OBJ);
  store<u32>(op, p2, OP_OBJ2);
  return true;
}

/**
 * A conversion's before-image, which only the post-conditions read: taken for every op that may outlive this call
 * (a thread's, a paused one: an unchecked replay must leave what a checked run leaves), else only with checks on.
 */
function beforeImage(op: u32): void {
  if (load<u32>(op, OP_SNAP) == 0 && (checksOn() || load<u32>(op, OP_HANDLE) != 0)) convertSnapshot(op);
}

/** Run (or probe) the op's next step. */
function dispatch(op: u32, probe: bool): u32 {
  const k = opKind(op);
  const step = opStep(op);
  if (k == OPK_CONVERT) {
    if (step == STEP_LOCK && !probe) beforeImage(op);
    return (opFlags(op) & CF_V4) != 0 ? convertV4Step(op, step, probe) : convertV2Step(op, step, probe);
  }
  if (k == OPK_PUNCH) return punchStep(op, step, probe);
  if (k == OPK_GUEST_ACCESS) return faultStep(op, step, probe);
  if (k == OPK_IOMMU_MAP) return mapStep(op, step, probe);
  return singleStep(op, probe);
}

/** What a caller that cannot wait gets when an op's step would wait for an operation in flight. */
function legacyBlocked(kind: u32): i32 {
  if (kind == OPK_GUEST_ACCESS) return GUEST_RETRY;
  if (kind == OPK_HOST_ACCESS) return HOST_RETRY;
  if (kind == OPK_HOST_PIN) return -EFAULT;
  if (kind == OPK_IOMMU_MAP || kind == OPK_IOMMU_UNMAP) return -EAGAIN;
  return -EBUSY;
}

/** Move an instance-record op to a heap record with a handle; the heap op, or 0 (-ENOMEM / -ENOSPC). */
function persist(op: u32): u32 {
  if (load<u32>(op, OP_HANDLE) != 0) return op;
  const heap = pageAllocRaw(0);
  if (heap == 0) return 0;
  const h = objNew(OBJ_T_OP, heap);
  if (h == 0) { pageFree(heap, 0); return 0; }
  memory.copy(heap, op, OP_RECORD_SIZE);
  if (load<u32>(heap, OP_LIST_ORDER) == OP_LIST_INLINE && load<u32>(heap, OP_LIST) != 0) {
    store<u32>(heap, heap + <u32>OP_INLINE, OP_LIST);
  }
  store<u32>(heap, h, OP_HANDLE);
  return heap;
}

/** Release an op's record and what it owns (list, snapshot, handle). */
function release(op: u32): void {
  opListRelease(op);
  convertSnapshotRelease(op);
  const h = load<u32>(op, OP_HANDLE);
  if (h != 0) { objFree(h); pageFree(op, 0); }
}

/** The op's id: the invalidate lock's owner while it holds it, and the op.step events' id. */
function assignId(op: u32): void {
  if (load<u32>(op, OP_ID) == 0) store<u32>(op, opIdNew(), OP_ID);
}

/**
 * A conversion's or punch's steps after the lock step call into every consumer and change the folios: take every
 * consumer's lock and the page lock up front, in order (gmem/notifier.ts notifierLockAll). false: the machine is
 * dead (a holder died), or, in the explorer, a lock is held (never: no step holds them across steps there).
 */
function lockConsumers(op: u32, thread: bool): bool {
  const gi = load<u32>(op, OP_OBJ);
  const how = thread ? LW_TRY : LW_MUST;
  if (notifierLockAll(gi, how) && pagesLock(gi, how)) return true;
  releaseHeld();
  return false;
}

/**
 * Drive op (see the header). Returns the op's result when it finished (out OUT_RESULT too), RESULT_PAUSED (out
 * OUT_OP = its handle) when it stopped at `stop` with steps left, or RESULT_BLOCKED (thread: the next step cannot
 * start; probe: it cannot start now).
 */
export function opRun(op: u32, stop: u32): i32 {
  const thread = stop == STOP_ONE || stop == STOP_PROBE;
  setThreadMode(thread);
  if (stop != STOP_PROBE) out(OUT_STEP, STEP_RUN); // an op that fails before its first step names no earlier op's
  if (stop != STOP_NEVER && stop != STOP_PROBE && load<u32>(op, OP_HANDLE) == 0) {
    // it may outlive this call: give it its heap record now, before a step takes a lock it could not then keep
    const heap = persist(op);
    if (heap == 0) { opFinish(op, -ENOMEM); return finished(op); }
    op = heap;
  }
  if (stop != STOP_PROBE) { assignId(op); setRunningOp(load<u32>(op, OP_ID)); }
  // the op's objects may have gone between calls (never within one: no step frees another op's object)
  if (!resolve(op)) { opFinish(op, -EBADF); return finished(op); }
  if (fastConvert(op, stop)) return finished(op);
  for (;;) {
    if (stop == STOP_PROBE) {
      const st = dispatch(op, true);
      return st == ST_BLOCKED ? RESULT_BLOCKED : RESULT_PAUSED;
    }
    const step = opStep(op);
    if (thread) declareReach(op, step);
    const k = opKind(op);
    if ((k == OPK_CONVERT || k == OPK_PUNCH) && step != STEP_LOCK && !lockConsumers(op, thread)) {
      if (thread) { out(OUT_STATUS, ST_BLOCKED); return keep(op, true); }
      opFinish(op, -EOWNERDEAD);
      return finished(op);
    }
    const st = dispatch(op, false);
    releaseHeld(); // the step's locks: its end is where the kernel lets other threads in
    if (st == ST_BLOCKED) {
      if (thread) { out(OUT_STATUS, ST_BLOCKED); return keep(op, true); }
      // a call that cannot wait gets what the kernel gives such a caller; one whose wait found the holder dead, that
      opFinish(op, atomic.load<u32>(H_DEAD) != 0 ? -EOWNERDEAD : legacyBlocked(opKind(op)));
      return finished(op);
    }
    store<u32>(op, step, OP_LAST);
    out(OUT_STEP, step);
    // an op that runs across calls (a thread's, or one paused) names each step it ran in the trace
    if (load<u32>(op, OP_HANDLE) != 0) emit(EV_OP_STEP, 0, load<u32>(op, OP_ID), opKind(op), step, 0, 0);
    if (st == ST_DONE || opDone(op)) return finished(op);
    if (stop == STOP_ONE || stop == step) { out(OUT_STATUS, ST_MORE); return keep(op, false); }
  }
  return RESULT_BLOCKED; // (not reached)
}

/**
 * The common conversion in one pass (gmem/convert.ts convertV2Run): a v2 call that runs to the end, with one
 * instance attached (no step lock to take, nothing else can run between its steps) and not resumed. The same
 * snapshot and last step as the phase machine's; false: not that case, or the lock is held, and nothing changed.
 */
function fastConvert(op: u32, stop: u32): bool {
  if (stop != STOP_NEVER || opKind(op) != OPK_CONVERT || lockingOn() || (opFlags(op) & CF_V4) != 0 ||
      opStep(op) != STEP_LOCK || load<u32>(op, OP_HANDLE) != 0) return false;
  beforeImage(op);
  if (!convertV2Run(op)) return false;
  store<u32>(op, STEP_INVALIDATE_END, OP_LAST);
  out(OUT_STEP, STEP_INVALIDATE_END);
  return true;
}

/** The op continues later (it has its heap record and handle: opRun gave it one); out OUT_OP = its handle. */
function keep(op: u32, blocked: bool): i32 {
  out(OUT_OP, load<u32>(op, OP_HANDLE));
  return blocked ? RESULT_BLOCKED : RESULT_PAUSED;
}

/** The op finished: post-conditions, out-values, and its record goes. */
function finished(op: u32): i32 {
  const r = opResult(op);
  const k = opKind(op);
  if (k == OPK_CONVERT) convertPostConditions(op);
  if (k == OPK_GUEST_ACCESS) { out(OUT_LEVEL, faultLevel(op)); out(OUT_VALUE, faultValue(op)); }
  else if (k == OPK_HOST_ACCESS || k == OPK_DMA) out(OUT_VALUE, load<u32>(op, OP_END));
  out(OUT_STATUS, ST_DONE);
  out(OUT_RESULT, <u32>r);
  out(OUT_ERR_INDEX, load<u32>(op, OP_ERR_INDEX));
  release(op);
  return r;
}

/** The live op a handle names, or 0. */
export function opOf(h: u32): u32 { return objGet(h, OBJ_T_OP); }

/** Abandon a paused op (its locks are NOT released: only for ops that hold none, or on a dead machine). */
export function opAbandon(op: u32): void { release(op); }

