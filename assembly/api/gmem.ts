// Exports on guest_memfds: creation and the fd's life, the host side (mmap, accesses, pins), conversion, punch.
// Ops a scenario thread may run take `stop` (abi/ops.ts STOP_* or a STEP_* pause point).
import { GI_CLOSED, GI_NBLOCKS, GI_NPAGES, GI_INV_LOCK } from "../abi/records";
import {
  OPK_GMEM_CREATE, OPK_GMEM_CLOSE, OPK_HOST_MMAP, OPK_HOST_MUNMAP, OPK_HOST_ACCESS, OPK_HOST_PIN, OPK_HOST_UNPIN,
  OPK_CONVERT, OPK_PUNCH, STOP_NEVER,
} from "../abi/ops";
import { OUT_ERR_INDEX } from "../abi/consts";
import { EBADF, EBUSY, EINVAL, EAGAIN } from "../abi/errno";
import { OBJ_T_GMEM, OBJ_T_IOMMU, objGet, objFree, objEnd, objSlotType, objSlotPtr } from "../mm/objects";
import { out } from "../mm/instance";
import { OP_H0, opSetA, opSetF } from "../lib/oprec";
import { blockShift } from "../gmem/inode";
import { blockAt, FB_STATE, FB_PIN, FB_MAP, FB_REF, FB_HUGE, FB_SPLIT } from "../gmem/folio";
import { orphanCount } from "../gmem/orphan";
import { notifierCount } from "../gmem/notifier";
import { gmemInodeDestroy } from "../gmem/create";
import { convertValidate, convertInit } from "../gmem/convert";
import { punchInit } from "../gmem/truncate";
import { nAreas, ioArea, areaInode } from "../iommu/area";
import { opBegin, opRun } from "../op/engine";
import { lastBusyIndex } from "../gmem/split";
import { enter, leave } from "./bracket";
import { stopValid, runAndLeave, earlyResult } from "./ops";

/** An op naming one guest_memfd (h0). */
function gmemOp(kind: u32, g: u32): u32 {
  const op = opBegin(kind);
  store<u32>(op, g, OP_H0);
  return op;
}

/** KVM_CREATE_GUEST_MEMFD of size bytes with GMEM_FLAG_* flags (| GMEM_GEN_V4): a handle or -errno. */
export function gmem_create(size: f64, flags: u32, stop: u32): i32 {
  if (!stopValid(OPK_GMEM_CREATE, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  const op = opBegin(OPK_GMEM_CREATE);
  opSetF(op, 0, size);
  opSetA(op, 0, flags);
  return runAndLeave(op, stop);
}

/** Does anything still hold the inode: a memslot or IOMMU binding, an IOMMU area, a pin, an orphan, a lock? */
function gmemInUse(gi: u32): bool {
  if (notifierCount(gi) != 0 || load<u32>(gi, GI_INV_LOCK) != 0 || orphanCount(gi) != 0) return true;
  for (let i: u32 = 1, n = objEnd(); i < n; i++) {
    if (objSlotType(i) != OBJ_T_IOMMU) continue;
    const io = objSlotPtr(i);
    for (let k: u32 = 0, na = nAreas(io); k < na; k++) if (areaInode(ioArea(io, k)) == gi) return true;
  }
  for (let b: u32 = 0, nb = load<u32>(gi, GI_NBLOCKS); b < nb; b++) {
    const blk = blockAt(gi, b);
    const st = <u32>load<u8>(blk, FB_STATE);
    if (st == FB_HUGE && (load<u32>(blk, FB_PIN) != 0 || load<u32>(blk, FB_MAP) != 0)) return true;
    if (st == FB_SPLIT && load<u32>(blk, FB_REF) != 0) return true; // busy 4 KiB folios
  }
  return false;
}

/** Free an inode nothing holds any more; -EBUSY while something does. */
export function gmem_destroy(h: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const gi = objGet(h, OBJ_T_GMEM);
  let r: i32 = -EBADF;
  if (gi != 0) {
    if (gmemInUse(gi)) r = -EBUSY;
    else { gmemInodeDestroy(gi); objFree(h); r = 0; }
  }
  return leave(r);
}

/** Address of the inode (GI_* of abi/records.ts) for views; 0 for a bad handle. */
export function gmem_ptr(h: u32): u32 { return objGet(h, OBJ_T_GMEM); }

/** Close the fd: later binds and fd ops are -EBADF; the memory lives while it is bound. */
export function gmem_close(g: u32, stop: u32): i32 {
  if (!stopValid(OPK_GMEM_CLOSE, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  return runAndLeave(gmemOp(OPK_GMEM_CLOSE, g), stop);
}

export function gmem_mmap(g: u32, stop: u32): i32 {
  if (!stopValid(OPK_HOST_MMAP, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  return runAndLeave(gmemOp(OPK_HOST_MMAP, g), stop);
}

export function gmem_munmap(g: u32, stop: u32): i32 {
  if (!stopValid(OPK_HOST_MUNMAP, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  return runAndLeave(gmemOp(OPK_HOST_MUNMAP, g), stop);
}

/**
 * A host load (and store of `value` when write != 0) through the mmap at byte offset. HOST_OK, HOST_SIGBUS,
 * HOST_RETRY (a call: the fault would wait for a conversion in flight) or -errno (-EFAULT: not mmapped); out
 * OUT_VALUE = the value read.
 */
export function host_access(g: u32, offset: f64, write: i32, value: u32, stop: u32): i32 {
  if (!stopValid(OPK_HOST_ACCESS, stop)) return -EINVAL;
  { const e = enter(false); if (e != 0) return e; }
  const op = gmemOp(OPK_HOST_ACCESS, g);
  opSetF(op, 0, offset);
  opSetA(op, 0, write != 0 ? 1 : 0);
  opSetA(op, 1, value);
  return runAndLeave(op, stop);
}

/** Long-term pin (unpin != 0: unpin) of [offset, offset + size) through the host mapping (VFIO type1). */
export function host_pin(g: u32, offset: f64, size: f64, unpin: i32, stop: u32): i32 {
  const kind = unpin != 0 ? OPK_HOST_UNPIN : OPK_HOST_PIN;
  if (!stopValid(kind, stop)) return -EINVAL;
  { const e = enter(false); if (e != 0) return e; }
  const op = gmemOp(kind, g);
  opSetF(op, 0, offset);
  opSetF(op, 1, size);
  return runAndLeave(op, stop);
}

/**
 * KVM_GMEM_CONVERT_SHARED / _PRIVATE [V2] or KVM_SET_MEMORY_ATTRIBUTES2 [V4] (by the gmem's generation) of
 * [offset, offset + size). mode: MODE_* (v4). 0, -errno (OUT_ERR_INDEX = error_index), RESULT_PAUSED (OUT_OP).
 */
export function gmem_convert(g: u32, offset: f64, size: f64, to_shared: i32, mode: u32, stop: u32): i32 {
  if (!stopValid(OPK_CONVERT, stop)) return -EINVAL;
  { const e = enter(false); if (e != 0) return e; }
  const gi = objGet(g, OBJ_T_GMEM);
  out(OUT_ERR_INDEX, 0xffffffff);
  if (gi == 0 || load<u32>(gi, GI_CLOSED) != 0) return earlyResult(-EBADF, stop);
  const v = convertValidate(gi, offset, size, mode);
  if (v != 0) return earlyResult(v == 1 ? 0 : v, stop);
  const op = gmemOp(OPK_CONVERT, g);
  const s = <u32>(<u64>offset >> 12), e = <u32>((<u64>offset + <u64>size) >> 12);
  convertInit(op, gi, s, e, to_shared != 0, mode);
  return runAndLeave(op, stop);
}

/** fallocate(PUNCH_HOLE | KEEP_SIZE) of [offset, offset + size). */
export function gmem_punch(g: u32, offset: f64, size: f64, stop: u32): i32 {
  if (!stopValid(OPK_PUNCH, stop)) return -EINVAL;
  { const e = enter(false); if (e != 0) return e; }
  const gi = objGet(g, OBJ_T_GMEM);
  if (gi == 0 || load<u32>(gi, GI_CLOSED) != 0) return earlyResult(-EBADF, stop);
  const op = gmemOp(OPK_PUNCH, g);
  const v = punchInit(op, gi, offset, size);
  if (v != 0) return earlyResult(v == 1 ? 0 : v, stop);
  return runAndLeave(op, stop);
}

/** Truncate the whole block holding index (a punch of that block). -EAGAIN: OUT_ERR_INDEX = the busy index. */
export function folio_free_block(h: u32, index: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const gi = objGet(h, OBJ_T_GMEM);
  if (gi == 0) return leave(-EBADF);
  if (index >= load<u32>(gi, GI_NPAGES)) return leave(-EINVAL);
  const shift = blockShift(gi);
  const op = gmemOp(OPK_PUNCH, h);
  const first = (<u64>(index >> shift) << shift) << 12;
  punchInit(op, gi, <f64>first, <f64>(<u64>1 << (<u64>shift + 12)));
  const r = opRun(op, STOP_NEVER);
  if (r == -EAGAIN) out(OUT_ERR_INDEX, lastBusyIndex());
  return leave(r);
}
