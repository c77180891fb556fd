// The export list of the core, and nothing else: every export takes the simulator lock (or returns -EBUSY when
// it could only wait and may not), validates its arguments and handles, and returns 0 / a value / -errno.
// Numeric ABI: handles and page indices are u32 (crossing as i32); byte quantities are f64 whole numbers.
import {
  LAYOUT_MAGIC, LAYOUT_VERSION, H_MAGIC, H_VERSION, H_INIT, H_INSTANCES, H_HEAP_TOP, HEAP_BASE, PAGEMAP_BASE,
  SCRATCH_BASE, SCRATCH_SIZE, MAX_INSTANCES, S_OUT, S_ITER, ITER_SIZE, H_STEP, H_DEBUG,
  OBJ_T_BITMAP, OBJ_T_PAGETABLE, OBJ_T_GMEM, PT_OBJ_SIZE, BM_NPAGES, GI_NPAGES, GI_BITMAP,
  H_FAIL_ALLOC,
} from "./layout";
import { EBADF, EBUSY, EINVAL, ENOMEM, ENOSPC, EFAULT, EIO, EOPNOTSUPP, EAGAIN } from "./errno";
import { setMayBlock, simLock, simUnlock } from "./sync";
import { pageAlloc, pageAllocRaw, pageFree, orderFor } from "./alloc";
import { pfnPoolInit } from "./pfn";
import { objNew, objGet, objFree } from "./objects";
import {
  bitmapCreate, bitmapDestroy, bitmapAssign, bitmapTest, bitmapCountShared, bitmapNextDiff, bitmapSharedInBlock,
  bitmapBytes,
} from "./bitmap";
import {
  TdpIter, ptInit, ptMap, ptLookup, ptZapRange, ptDemote, ptDestroy, ptLeaves, ptTables, ptCountRange,
  sptePfn, spteLevel, spteState, ptLastZapStart, ptLastZapEnd,
} from "./pagetable";
import {
  folioAlloc, folioDescribe, splitFolio, mergeFolio, freeBlock, folioRef, folioMarkUptodate, folioLastBusyIndex,
  blockShift,
} from "./folio";
import { gmemInodeCreate, gmemInodeDestroy, gmemBindVm, gmemBindSlot, gmemGetFolio, gmemSplitBlock, gmemMergeBlock } from "./gmem";
import { hugeOrder as hugeOrderOf } from "./folio";
import { bitmapSharedInBlock } from "./bitmap";
import { DEBUG } from "./debug";
import { bitmapCountShared } from "./bitmap";
import {
  checkOk, checkBitmap, checkFolios, checkPagetable, lastViolationCode, lastViolationWhere, checkAll, checksOn,
  recordViolation,
} from "./check";
import {
  H_ARCH, H_CORRUPT, OBJ_T_VM, OBJ_T_OP, GI_HANDLE, GI_CLOSED, GI_NBIND, GI_NPAGES as GI_NP, VM_HANDLE, VM_FLAGS,
  VM_SLOTS, VM_SLOT_SIZE, VM_MAX_SLOTS, VM_IN_PROGRESS, VM_SEQ, VM_TLB_FLUSHES, OP_KIND, OP_PHASE, OP_GMEM,
  OP_START, OP_END, OP_FLAGS, OP_RESULT, OP_ERR_INDEX, OP_VM, OP_SEQ, OP_AUX, OP_AUX2, OP_SNAP, OP_SNAP_ORDER,
  OP_WASNOOP, OP_HANDLE, OPK_CONVERT, OPK_FAULT, H_COUNTERS, EV_KVM_ZAP, EV_GMEM_SET_ATTR, OP_INLINE_WORKS,
  OP_NWORKS,
  EV_FOLIO_SPLIT, EV_FOLIO_MERGE, EV_HOST_UNMAP, GI_INV_LOCK, INJ_SEPT_REMOVE_FAIL, ARCH_SNP, GI_BITMAP as GIB,
} from "./layout";
import {
  vmCreate, vmDestroy, vmBind, vmUnbind, slotForGfn, kvmFaultIn, kvmFaultFinish, kvmGuestAccess, faultSeq,
  faultPfn, faultOrder, lastAccessLevel, lastAccessValue, kvmSpteLevel, lastSptePfn, lastSpteState, ACCESS_MAPPED, ACCESS_RETRY,
  ACCESS_PAUSED, vmPtPrivate, vmPtShared, slotBase, slotNpages, slotPgoff, slotInode,
} from "./kvm";
import {
  gmemMmap, gmemMunmap, gmemHostFault, gmemPin, gmemUnpin, guestRead, guestWrite, HOST_OK, HOST_SIGBUS,
  GETPFN_BLOCKED, gmemLockedExclusive, gmemIsV4,
} from "./gmem";
import {
  convertValidate, convertInit, convertRun, convertRelease, gmemPunchHole, PH_DONE, PH_BEGIN, PH_PROCEED,
  PH_EXECUTE, PH_END, OPF_SHARED, OPF_V4, OPF_BEGUN,
} from "./convert";
import { injectArm } from "./inject";
import { folioHostMapped, folioPins } from "./folio";
import {
  iommuCreate, iommuDestroy, iommuBind, iommuUnbind, iommuMap, iommuUnmap, iommuDma, lastDmaValue, ioPt,
} from "./iommu";
import {
  OBJ_T_IOMMU as OBJ_T_IO, IO_HANDLE, IO_GMEM, IO_IOTLB_FLUSHES, IO_NAREAS, IO_DMA_MCE, IO_SEQ, IO_IN_PROGRESS,
  IO_MODE, PFN_LEAKED,
} from "./layout";
import { ptWalkLeaf } from "./pagetable";
import { orphanCount } from "./folio";
import { GI_NIOMMU, GI_NBLOCKS, IO_AREA_PTR, IO_AREA_SIZE, FB_PIN, FB_SPLIT } from "./layout";
import { blockAt, folioOrder, folioPfn, folioSetHostMap } from "./folio";
import { bitmapAssign } from "./bitmap";
import {
  FB_ORDER, FB_STATE, FB_HUGE, FB_REF, FB_FLAGS, FOLIO_UPTODATE, GI_HOSTPTES, GI_BINDS, GI_RMP,
} from "./layout";

// ---- per-instance state (Wasm globals are thread-local) ---------------------------------------------------------
let scratch: usize = 0;
let iterDepth: u32 = 0;

// @ts-ignore: decorator
@inline function out(i: u32, v: u32): void { store<u32>(scratch + S_OUT + (<usize>i << 2), v); }

function iterPush(): TdpIter {
  const it = changetype<TdpIter>(scratch + S_ITER + <usize>iterDepth * ITER_SIZE);
  iterDepth++;
  return it;
}
function iterPop(): void { iterDepth--; }

/**
 * Attach this instance to the memory: the first instance initialises the header (the others wait for it), every
 * instance gets its own scratch block. may_block: 0 on a browser's main thread. Returns the instance id, or
 * -EINVAL when the memory holds another layout, -ENOMEM if the static data overlaps the page map.
 */
export function sim_attach(may_block: i32): i32 {
  setMayBlock(may_block != 0);
  if (__heap_base > <usize>PAGEMAP_BASE) return -ENOMEM;
  if (atomic.cmpxchg<u32>(H_INIT, 0, 1) == 0) {
    store<u32>(H_MAGIC, LAYOUT_MAGIC);
    store<u32>(H_VERSION, LAYOUT_VERSION);
    store<u32>(H_HEAP_TOP, HEAP_BASE);
    pfnPoolInit();
    atomic.store<u32>(H_INIT, 2);
    atomic.notify(H_INIT);
  } else {
    while (atomic.load<u32>(H_INIT) != 2) {
      if (may_block != 0) atomic.wait<u32>(H_INIT, 1, 1000000);
    }
  }
  if (load<u32>(H_MAGIC) != <u32>LAYOUT_MAGIC || load<u32>(H_VERSION) != <u32>LAYOUT_VERSION) return -EINVAL;
  const id = atomic.add<u32>(H_INSTANCES, 1);
  scratch = <usize>SCRATCH_BASE + <usize>(id % <u32>MAX_INSTANCES) * SCRATCH_SIZE;
  iterDepth = 0;
  return <i32>id;
}

/** Address of this instance's out-values (u32[32]); queries that return more than one value put them here. */
export function sim_scratch(): u32 { return <u32>scratch; }
export function sim_layout_version(): u32 { return LAYOUT_VERSION; }
export function sim_heap_base(): u32 { return <u32>__heap_base; }

/** Fail the n-th next heap allocation (1 = the next one); 0 turns it off. For exhaustion tests. */
export function sim_fail_alloc(n: u32): i32 {
  if (!simLock()) return -EBUSY;
  store<u32>(H_FAIL_ALLOC, n);
  simUnlock();
  return 0;
}

/** Turn the after-every-step checker on (1) or off (0). */
export function sim_set_checks(on: i32): i32 {
  if (!simLock()) return -EBUSY;
  store<u32>(H_DEBUG, on != 0 ? 1 : 0);
  simUnlock();
  return 0;
}

/** The violation found by the last check (invariant number; out[31] = the index / gfn where). Reading it clears
 * it: a violation is reported once, by the op that caused it. */
export function sim_last_violation(): u32 {
  out(31, lastViolationWhere());
  const c = lastViolationCode();
  checkOk();
  return c;
}

// @ts-ignore: decorator
@inline function stepDone(): void { store<u32>(H_STEP, load<u32>(H_STEP) + 1); }

// ---- standalone shareability bitmaps ----------------------------------------------------------------------------

/** A bitmap of npages (1 .. 2^31) indices, all shared or all private. Returns a handle or -errno. */
export function bitmap_create(npages: u32, shared: i32): i32 {
  if (npages == 0 || npages > 0x80000000) return -EINVAL;
  if (!simLock()) return -EBUSY;
  let r: i32;
  const bm = bitmapCreate(npages, shared != 0);
  if (bm == 0) r = -ENOMEM;
  else {
    const h = objNew(OBJ_T_BITMAP, bm);
    if (h == 0) { bitmapDestroy(bm); r = -ENOSPC; } else r = <i32>h;
  }
  stepDone();
  simUnlock();
  return r;
}

export function bitmap_destroy(h: u32): i32 {
  if (!simLock()) return -EBUSY;
  const bm = objGet(h, OBJ_T_BITMAP);
  let r: i32 = -EBADF;
  if (bm != 0) { bitmapDestroy(bm); objFree(h); r = 0; }
  simUnlock();
  return r;
}

/** Address of the bitmap header (layout BM_*) of a bitmap or guest_memfd handle, for typed views; 0 if bad. */
export function bitmap_ptr(h: u32): u32 { return bitmapOf(h); }

/** Set [start, end) shared (1) or private (0). -EINVAL if start > end or end > npages. */
export function bitmap_assign(h: u32, start: u32, end: u32, shared: i32): i32 {
  if (!simLock()) return -EBUSY;
  const bm = objGet(h, OBJ_T_BITMAP);
  let r: i32 = 0;
  if (bm == 0) r = -EBADF;
  else if (start > end || end > load<u32>(bm, BM_NPAGES)) r = -EINVAL;
  else bitmapAssign(bm, start, end, shared != 0);
  stepDone();
  simUnlock();
  return r;
}

/** The bitmap of a bitmap handle, or of a guest_memfd handle (read-only queries accept both); 0 if neither. */
function bitmapOf(h: u32): u32 {
  const bm = objGet(h, OBJ_T_BITMAP);
  if (bm != 0) return bm;
  const gi = objGet(h, OBJ_T_GMEM);
  return gi == 0 ? 0 : load<u32>(gi, GI_BITMAP);
}

/** 1 if index i is shared, 0 if private, -errno. */
export function bitmap_test(h: u32, i: u32): i32 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  if (i >= load<u32>(bm, BM_NPAGES)) return -EINVAL;
  return bitmapTest(bm, i) ? 1 : 0;
}

/** Shared indices in [start, end), or -errno. */
export function bitmap_count(h: u32, start: u32, end: u32): f64 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  if (start > end || end > load<u32>(bm, BM_NPAGES)) return -EINVAL;
  return <f64>bitmapCountShared(bm, start, end);
}

/** First index in [from, end) whose value is not `shared`, else end (the end of a run); or -errno. */
export function bitmap_next_diff(h: u32, from: u32, end: u32, shared: i32): f64 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  if (from > end || end > load<u32>(bm, BM_NPAGES)) return -EINVAL;
  return <f64>bitmapNextDiff(bm, from, end, shared != 0);
}

/** Shared indices in the huge block (order 9 or 18) holding index, in O(1); or -errno. */
export function bitmap_block_shared(h: u32, index: u32, order: u32): i32 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  if (index >= load<u32>(bm, BM_NPAGES) || (order != 9 && order != 18)) return -EINVAL;
  return <i32>bitmapSharedInBlock(bm, index, order);
}

export function bitmap_bytes(h: u32): f64 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  return <f64>bitmapBytes(bm);
}

/** Run the bitmap's I1 check; 0 or the invariant number (see sim_last_violation). */
export function bitmap_check(h: u32): i32 {
  const bm = bitmapOf(h);
  if (bm == 0) return -EBADF;
  checkOk();
  return <i32>checkBitmap(bm);
}

// ---- standalone page tables -------------------------------------------------------------------------------------

export function pt_create(): i32 {
  if (!simLock()) return -EBUSY;
  let r: i32;
  const pt = pageAlloc(orderFor(PT_OBJ_SIZE));
  if (pt == 0) r = -ENOMEM;
  else {
    ptInit(pt);
    const h = objNew(OBJ_T_PAGETABLE, pt);
    if (h == 0) { pageFree(pt, 0); r = -ENOSPC; } else r = <i32>h;
  }
  simUnlock();
  return r;
}

export function pt_destroy(h: u32): i32 {
  if (!simLock()) return -EBUSY;
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32 = -EBADF;
  if (pt != 0) { ptDestroy(pt); pageFree(pt, 0); objFree(h); r = 0; }
  simUnlock();
  return r;
}

/** Map gfn -> pfn at level 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB); state: software bits 0..7. */
export function pt_map(h: u32, gfn: u32, pfn: u32, level: u32, state: u32): i32 {
  if (!simLock()) return -EBUSY;
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else if (state > 7) r = -EINVAL;
  else r = ptMap(pt, gfn, pfn, level, state);
  stepDone();
  simUnlock();
  return r;
}

/** Level of the leaf mapping gfn (0: none); out[0] = pfn of gfn itself, out[1] = state. */
export function pt_lookup(h: u32, gfn: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  const e = ptLookup(pt, gfn);
  if (e == 0) { out(0, 0); out(1, 0); return 0; }
  const level = spteLevel(e);
  const mask = <u32>((<u64>1 << (<u64>(9 * (level - 1)))) - 1);
  out(0, sptePfn(e) + (gfn & mask));
  out(1, spteState(e));
  return <i32>level;
}

/** Is x a whole number in [0, 2^32]? (gfn range ends cross as f64 so that 2^32 is expressible) */
// @ts-ignore: decorator
@inline function isGfnEnd(x: f64): bool { return x >= 0 && x <= 4294967296.0 && x == Math.floor(x); }

/**
 * Zap every leaf mapping a gfn in [start, end); partial: 0 zap a straddling huge leaf whole, 1 demote it first.
 * Returns the number of leaves removed (out[0], out[1] = zapped span as f64 halves: see pt_last_zap_*) or -errno.
 */
export function pt_zap(h: u32, start: f64, end: f64, partial: u32): i32 {
  if (!isGfnEnd(start) || !isGfnEnd(end) || start > end || partial > 1) return -EINVAL;
  if (!simLock()) return -EBUSY;
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else {
    const it = iterPush();
    r = ptZapRange(pt, it, <u64>start, <u64>end, partial);
    iterPop();
  }
  stepDone();
  simUnlock();
  return r;
}
export function pt_last_zap_start(): f64 { return <f64>ptLastZapStart(); }
export function pt_last_zap_end(): f64 { return <f64>ptLastZapEnd(); }

export function pt_demote(h: u32, gfn: u32, level: u32): i32 {
  if (!simLock()) return -EBUSY;
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else if (level != 2 && level != 3) r = -EINVAL;
  else r = ptDemote(pt, gfn, level);
  stepDone();
  simUnlock();
  return r;
}

/** Present leaves at level (1..3) by the counters; or -errno. */
export function pt_leaves(h: u32, level: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  if (level < 1 || level > 3) return -EINVAL;
  return <i32>ptLeaves(pt, level);
}

/** Table pages in use (root included). */
export function pt_tables(h: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  return <i32>ptTables(pt);
}

/** Present leaves in [start, end) counted by walking with the iterator. */
export function pt_count_range(h: u32, start: f64, end: f64): i32 {
  if (!isGfnEnd(start) || !isGfnEnd(end) || start > end) return -EINVAL;
  if (!simLock()) return -EBUSY;
  const pt = objGet(h, OBJ_T_PAGETABLE);
  let r: i32;
  if (pt == 0) r = -EBADF;
  else {
    const it = iterPush();
    r = <i32>ptCountRange(pt, it, <u64>start, <u64>end);
    iterPop();
  }
  simUnlock();
  return r;
}

export function pt_check(h: u32): i32 {
  const pt = objGet(h, OBJ_T_PAGETABLE);
  if (pt == 0) return -EBADF;
  checkOk();
  return <i32>checkPagetable(pt);
}

// ---- guest_memfd inodes: structures -----------------------------------------------------------------------------

/** Create a guest_memfd of size bytes with GMEM_FLAG_* flags; a handle or -errno (see gmemInodeCreate). */
export function gmem_create(size: f64, flags: u32): i32 {
  if (!simLock()) return -EBUSY;
  let r = gmemInodeCreate(size, flags);
  if (r > 0) {
    const h = objNew(OBJ_T_GMEM, <u32>r);
    if (h == 0) { gmemInodeDestroy(<u32>r); r = -ENOSPC; } else { store<u32>(<u32>r, h, GI_HANDLE); r = <i32>h; }
  }
  stepDone();
  simUnlock();
  return r;
}

export function gmem_destroy(h: u32): i32 {
  if (!simLock()) return -EBUSY;
  const gi = objGet(h, OBJ_T_GMEM);
  let r: i32 = -EBADF;
  if (gi != 0) {
    if (gmemInUse(gi)) r = -EBUSY; // still bound, mapped by an IOMMU, pinned, or held by an op
    else { gmemInodeDestroy(gi); objFree(h); r = 0; }
  }
  simUnlock();
  return r;
}

/** Address of the inode (layout GI_*) for views; 0 for a bad handle. */
export function gmem_ptr(h: u32): u32 { return objGet(h, OBJ_T_GMEM); }

/** Look a gmem handle up and check index < npages; the inode or 0 (then *err is set). */
let lastErr: i32 = 0;
function gmemIndex(h: u32, index: u32): u32 {
  const gi = objGet(h, OBJ_T_GMEM);
  if (gi == 0) { lastErr = -EBADF; return 0; }
  if (index >= load<u32>(gi, GI_NPAGES)) { lastErr = -EINVAL; return 0; }
  return gi;
}

/**
 * Put a folio for index into the filemap (kvm_gmem_get_folio: the whole huge block with HugeTLB, split at once
 * if the block holds a shared index). 0 or -errno; -EBUSY while a paused operation holds the inode.
 */
export function folio_alloc(h: u32, index: u32): i32 {
  if (!simLock()) return -EBUSY;
  const gi = gmemIndex(h, index);
  const r = gi == 0 ? lastErr : gmemLockedExclusive(gi) ? -EBUSY : gmemGetFolio(gi, index);
  stepDone();
  simUnlock();
  return r;
}

/** Describe the folio holding index into out[0..7] (see folioDescribe); returns the state or -errno. */
export function folio_describe(h: u32, index: u32): i32 {
  const gi = gmemIndex(h, index);
  if (gi == 0) return lastErr;
  return <i32>folioDescribe(gi, index, scratch + S_OUT);
}

/** Split the huge folio holding index to 4 KiB folios. 0 or -errno (-EAGAIN: out[0] = busy index). */
export function folio_split(h: u32, index: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const gi = gmemIndex(h, index);
  let r: i32;
  if (gi == 0) r = lastErr;
  else if (gmemLockedExclusive(gi)) r = -EBUSY;
  else { r = gmemSplitBlock(gi, index >> blockShift(gi)); if (r < 0) out(0, folioLastBusyIndex()); } // mappings first
  return stepEnd(r);
}

/** Merge the split HugeTLB block holding index back into one folio. 0 or -errno (-EAGAIN: out[0]). */
export function folio_merge(h: u32, index: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const gi = gmemIndex(h, index);
  let r: i32;
  if (gi == 0) r = lastErr;
  else if (gmemLockedExclusive(gi)) r = -EBUSY;
  else if (bitmapSharedInBlock(load<u32>(gi, GIB), index, blockShift(gi)) != 0) r = -EINVAL; // has some shared
  else if (load<u8>(blockAt(gi, index >> blockShift(gi)), FB_STATE) != FB_SPLIT || hugeOrderOf(gi) == 0) r = -EINVAL;
  else { r = gmemMergeBlock(gi, index >> blockShift(gi)); if (r < 0) out(0, folioLastBusyIndex()); }
  return stepEnd(r);
}

/**
 * Truncate the block holding index: fallocate(PUNCH_HOLE) over the whole block, so every VM's SPTEs, the IOMMUs'
 * entries and the host PTEs go first. 0 or -errno (-EAGAIN: out[0] = the index still referenced).
 */
export function folio_free_block(h: u32, index: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const gi = gmemIndex(h, index);
  let r: i32;
  if (gi == 0) r = lastErr;
  else {
    const shift = blockShift(gi);
    const it = iterPush();
    r = gmemPunchHole(gi, it, <f64>((<u64>(index >> shift) << shift) << 12), <f64>(<u64>1 << (<u64>shift + 12)));
    iterPop();
    if (r < 0) out(0, folioLastBusyIndex());
  }
  return stepEnd(r);
}

/** Take (+1) or drop (-1) a reference of kind 0 (transient), 1 (host PTE), 2 (long-term pin). 0 or -errno. */
export function folio_ref(h: u32, index: u32, kind: u32, delta: i32): i32 {
  if (kind > 2 || (delta != 1 && delta != -1)) return -EINVAL;
  if (!simLock()) return -EBUSY;
  const gi = gmemIndex(h, index);
  const r = gi == 0 ? lastErr : folioRef(gi, index, kind, delta);
  stepDone();
  simUnlock();
  return r;
}

export function folio_mark_uptodate(h: u32, index: u32): i32 {
  if (!simLock()) return -EBUSY;
  const gi = gmemIndex(h, index);
  let r: i32 = 0;
  if (gi == 0) r = lastErr;
  else folioMarkUptodate(gi, index);
  simUnlock();
  return r;
}

/** Run I1 on the inode's bitmap and I2/I4 on its folios; 0 or the invariant number. */
export function gmem_check(h: u32): i32 {
  const gi = objGet(h, OBJ_T_GMEM);
  if (gi == 0) return -EBADF;
  checkOk();
  const r = checkBitmap(load<u32>(gi, GI_BITMAP));
  if (r != 0) return <i32>r;
  return <i32>checkFolios(gi);
}

// =================================================================================================================
// The protocol: VMs, host mappings, guest accesses, conversion, truncation. Every op below is one "step": it
// takes the simulator lock, bumps the step counter, and, with the checker on, ends with checkAll.
// =================================================================================================================

// @ts-ignore: decorator
@inline function stepBegin(): bool {
  if (!simLock()) return false;
  checkOk();
  iterDepth = 0;
  store<u32>(H_STEP, load<u32>(H_STEP) + 1);
  return true;
}

function stepEnd(r: i32): i32 {
  if (checksOn() && lastViolationCode() == 0) {
    const it = iterPush();
    checkAll(it);
    iterPop();
  }
  simUnlock();
  return r;
}

/** Whether any object exists (arch can change only on an empty machine). */
function anyLive(): bool {
  for (let i: u32 = 1; i < 4096; i++) if (load<u8>(<usize>0x2000 + <usize>i * 16) != 0) return true;
  return false;
}

/** Set the machine's arch: 0 sw, 1 tdx, 2 snp. -EBUSY once anything exists. */
export function sim_set_arch(a: u32): i32 {
  if (a > 2) return -EINVAL;
  if (!simLock()) return -EBUSY;
  let r: i32 = 0;
  if (load<u32>(H_ARCH) != a) { if (anyLive()) r = -EBUSY; else store<u32>(H_ARCH, a); }
  simUnlock();
  return r;
}
export function sim_arch(): u32 { return load<u32>(H_ARCH); }

/** Arm fault injection: kind 0 enomem-split, 1 enomem-store, 2 transient-ref, 3 sept-remove-fail. */
export function sim_inject(kind: u32, count: u32): i32 {
  if (kind > 3) return -EINVAL;
  if (!simLock()) return -EBUSY;
  injectArm(kind, count);
  simUnlock();
  return 0;
}

/** Debug builds: arm a corruption hook (DBG_* of check.ts) for the next op. Release: -EOPNOTSUPP. */
export function sim_debug_hook(which: u32): i32 {
  if (!DEBUG) return -EOPNOTSUPP;
  if (!simLock()) return -EBUSY;
  store<u32>(H_CORRUPT, which);
  simUnlock();
  return 0;
}

/** Run every invariant now; 0 or the invariant number (out[0], out[1] = where, via sim_last_violation). */
export function sim_check_all(): i32 {
  if (!simLock()) return -EBUSY;
  checkOk();
  const it = iterPush();
  const r = checkAll(it);
  iterPop();
  simUnlock();
  return <i32>r;
}

// ---- VMs --------------------------------------------------------------------------------------------------------

export function vm_create(): i32 {
  if (!stepBegin()) return -EBUSY;
  let r: i32;
  const vm = vmCreate();
  if (vm == 0) r = -ENOMEM;
  else {
    const h = objNew(OBJ_T_VM, vm);
    if (h == 0) { vmDestroy(vm); r = -ENOSPC; } else { store<u32>(vm, h, VM_HANDLE); r = <i32>h; }
  }
  return stepEnd(r);
}

export function vm_destroy(h: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const vm = objGet(h, OBJ_T_VM);
  let r: i32 = -EBADF;
  if (vm != 0) {
    // its memslots go first (each zaps its SPTEs); a slot whose inode is locked by a paused op blocks
    r = 0;
    for (let s: u32 = 0; s < <u32>VM_MAX_SLOTS; s++) {
      const sp = <usize>vm + VM_SLOTS + <usize>s * VM_SLOT_SIZE;
      if (load<u32>(sp) != 0 && gmemLockedExclusive(load<u32>(sp, 20))) r = -EBUSY;
    }
    if (r == 0) {
      const it = iterPush();
      for (let s: u32 = 0; s < <u32>VM_MAX_SLOTS; s++) {
        if (load<u32>(<usize>vm + VM_SLOTS + <usize>s * VM_SLOT_SIZE) != 0) vmUnbind(vm, s, it);
      }
      iterPop();
      vmDestroy(vm);
      objFree(h);
    }
  }
  return stepEnd(r);
}

/** KVM_SET_USER_MEMORY_REGION2 with a guest_memfd; see vmBind for the errors. -EBUSY while a paused op holds it. */
export function vm_bind(h: u32, slot: u32, gpa: f64, size: f64, g: u32, offset: f64): i32 {
  if (!stepBegin()) return -EBUSY;
  const vm = objGet(h, OBJ_T_VM);
  const gi = objGet(g, OBJ_T_GMEM);
  let r: i32;
  if (vm == 0) r = -EBADF;
  else if (gi == 0) r = -EBADF;
  else if (gmemLockedExclusive(gi)) r = -EBUSY; // kvm_gmem_bind takes the invalidate lock
  else r = vmBind(vm, slot, gpa, size, gi, offset);
  return stepEnd(r);
}

export function vm_unbind(h: u32, slot: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const vm = objGet(h, OBJ_T_VM);
  let r: i32;
  if (vm == 0) r = -EBADF;
  else if (slot >= <u32>VM_MAX_SLOTS) r = -EINVAL;
  else {
    const sp = <usize>vm + VM_SLOTS + <usize>slot * VM_SLOT_SIZE;
    if (load<u32>(sp) != 0 && gmemLockedExclusive(load<u32>(sp, 20))) r = -EBUSY;
    else {
      const it = iterPush();
      r = vmUnbind(vm, slot, it);
      iterPop();
    }
  }
  return stepEnd(r);
}

/** VM state for views: out[0] seq, out[1] in_progress, out[2] tlb flushes, out[3] private leaves, out[4] shared. */
export function vm_info(h: u32): i32 {
  const vm = objGet(h, OBJ_T_VM);
  if (vm == 0) return -EBADF;
  out(0, load<u32>(vm, VM_SEQ));
  out(1, <u32>load<i32>(vm, VM_IN_PROGRESS));
  out(2, load<u32>(vm, VM_TLB_FLUSHES));
  out(3, ptLeaves(vmPtPrivate(vm), 1) + ptLeaves(vmPtPrivate(vm), 2) + ptLeaves(vmPtPrivate(vm), 3));
  out(4, ptLeaves(vmPtShared(vm), 1) + ptLeaves(vmPtShared(vm), 2) + ptLeaves(vmPtShared(vm), 3));
  return 0;
}

/** The SPTE for gpa in the private (1) or shared (0) table: its level (0 none); out[0] = pfn of the gfn. */
export function vm_spte(h: u32, gpa: f64, priv: i32): i32 {
  const vm = objGet(h, OBJ_T_VM);
  if (vm == 0) return -EBADF;
  if (!(gpa >= 0 && gpa < 17592186044416.0 && gpa == Math.floor(gpa))) return -EINVAL;
  const level = kvmSpteLevel(vm, <u32>(<u64>gpa >> 12), priv != 0);
  out(0, level != 0 ? lastSptePfn() : 0);
  out(1, level != 0 ? lastSpteState() : 0);
  return <i32>level;
}

/** Whole-table views for visualizers: 1 private / 0 shared leaves per level of a VM -> out[0..2]. */
export function vm_leaves(h: u32, priv: i32): i32 {
  const vm = objGet(h, OBJ_T_VM);
  if (vm == 0) return -EBADF;
  const pt = priv != 0 ? vmPtPrivate(vm) : vmPtShared(vm);
  out(0, ptLeaves(pt, 1)); out(1, ptLeaves(pt, 2)); out(2, ptLeaves(pt, 3));
  return 0;
}

// ---- guest accesses ---------------------------------------------------------------------------------------------

function newOp(kind: u32): u32 {
  const op = pageAllocRaw(0); // only the header and the post-condition fields need clearing, not the work list
  if (op == 0) return 0;
  memory.fill(op, 0, OP_INLINE_WORKS);
  memory.fill(<usize>op + OP_SNAP, 0, 4096 - OP_SNAP);
  const h = objNew(OBJ_T_OP, op);
  if (h == 0) { pageFree(op, 0); return 0; }
  store<u32>(op, kind, OP_KIND);
  store<u32>(op, h, OP_HANDLE);
  return op;
}

// This instance's op page for operations that run to the end within one call (no handle, never paused).
let instanceOp: u32 = 0;
function ownOp(kind: u32): u32 {
  if (instanceOp == 0) { instanceOp = pageAllocRaw(0); if (instanceOp == 0) return 0; }
  const op = instanceOp;
  memory.fill(op, 0, OP_INLINE_WORKS);
  memory.fill(<usize>op + OP_SNAP, 0, 4096 - OP_SNAP);
  store<u32>(op, kind, OP_KIND);
  return op;
}

function freeOp(op: u32): void {
  objFree(load<u32>(op, OP_HANDLE));
  pageFree(op, 0);
}

export const RESULT_PAUSED: i32 = 0x7000;

/**
 * A guest access (load, or store of `value` when write != 0) to gpa with the private bit as given. Returns
 * ACCESS_MAPPED (1), ACCESS_MEMORY_FAULT (2), ACCESS_RETRY (3), or -errno; out[1] = level, out[2] = value read.
 * pause != 0: stop after the pfn was faulted in (before mmu_lock): returns RESULT_PAUSED, out[0] = op handle.
 */
export function guest_access(h: u32, gpa: f64, priv: i32, write: i32, value: u32, pause: i32): i32 {
  if (!stepBegin()) return -EBUSY;
  const vm = objGet(h, OBJ_T_VM);
  let r: i32;
  if (vm == 0) r = -EBADF;
  else if (!(gpa >= 0 && gpa < 17592186044416.0 && gpa == Math.floor(gpa))) r = -EINVAL;
  else {
    const gfn = <u32>(<u64>gpa >> 12);
    const it = iterPush();
    if (pause == 0) r = kvmGuestAccess(vm, it, gfn, priv != 0, write != 0, value);
    else {
      const sp = slotForGfn(vm, gfn);
      if (load<u32>(vm, VM_FLAGS) & 1) r = -EIO;
      else if (sp == 0) r = -EFAULT;
      else {
        r = kvmFaultIn(vm, sp, gfn, priv != 0);
        if (r == 0) {
          const op = newOp(OPK_FAULT);
          if (op == 0) r = -ENOMEM;
          else {
            store<u32>(op, vm, OP_VM);
            store<u32>(op, gfn, OP_START);
            store<u32>(op, value, OP_END);
            store<u32>(op, faultSeq, OP_SEQ);
            store<u32>(op, faultPfn, OP_AUX);
            store<u32>(op, faultOrder | (priv != 0 ? 0x100 : 0) | (write != 0 ? 0x200 : 0), OP_AUX2);
            out(0, load<u32>(op, OP_HANDLE));
            r = RESULT_PAUSED;
          }
        }
      }
    }
    iterPop();
    out(1, lastAccessLevel());
    out(2, lastAccessValue());
  }
  return stepEnd(r);
}

// ---- host side --------------------------------------------------------------------------------------------------

export function gmem_mmap(g: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const gi = objGet(g, OBJ_T_GMEM);
  const r = gi == 0 || load<u32>(gi, GI_CLOSED) != 0 ? -EBADF : gmemMmap(gi);
  return stepEnd(r);
}

export function gmem_munmap(g: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const gi = objGet(g, OBJ_T_GMEM);
  const r = gi == 0 ? -EBADF : gmemMunmap(gi);
  return stepEnd(r);
}

/** Is x a whole number of bytes below the model's 8 TiB and page-aligned? -> page index, else -1. */
function pageOf(x: f64): i64 {
  if (!(x >= 0 && x < 8796093022208.0 && x == Math.floor(x))) return -1;
  const v = <u64>x;
  if ((v & 4095) != 0) return -1;
  return <i64>(v >> 12);
}

/**
 * A host load/store through the mmap at byte offset (any offset inside the page). Returns 0 ok, 1 SIGBUS,
 * 3 retry (the fault would wait for a conversion in flight), or -errno (-EFAULT: not mmapped); out[2] = value.
 */
export function host_access(g: u32, offset: f64, write: i32, value: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const gi = objGet(g, OBJ_T_GMEM);
  let r: i32;
  if (gi == 0) r = -EBADF;
  else if (!(offset >= 0 && offset < 8796093022208.0 && offset == Math.floor(offset))) r = -EINVAL;
  else {
    const index = <u32>(<u64>offset >> 12);
    r = gmemHostFault(gi, index);
    if (r == GETPFN_BLOCKED) r = ACCESS_RETRY;
    else if (r == HOST_OK) {
      out(2, guestRead(gi, index, false));
      if (write != 0 && !guestWrite(gi, index, false, value)) r = -ENOMEM;
    }
  }
  return stepEnd(r);
}

/** Long-term pin of [offset, offset + size) through the host mapping (VFIO type1). */
export function host_pin(g: u32, offset: f64, size: f64, unpin: i32): i32 {
  if (!stepBegin()) return -EBUSY;
  const gi = objGet(g, OBJ_T_GMEM);
  let r: i32;
  const s = pageOf(offset), n = pageOf(size);
  if (gi == 0) r = -EBADF;
  else if (s < 0 || n <= 0 || s + n > <i64>load<u32>(gi, GI_NP)) r = -EINVAL;
  else if (unpin != 0) r = gmemUnpin(gi, <u32>s, <u32>(s + n));
  else r = gmemPin(gi, <u32>s, <u32>(s + n));
  return stepEnd(r);
}

/** Close the guest_memfd fd: later binds and fd ops are -EBADF; the memory lives while it is bound. */
export function gmem_close(g: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const gi = objGet(g, OBJ_T_GMEM);
  let r: i32 = 0;
  if (gi == 0 || load<u32>(gi, GI_CLOSED) != 0) r = -EBADF;
  else store<u32>(gi, 1, GI_CLOSED);
  return stepEnd(r);
}

// ---- conversion ---------------------------------------------------------------------------------------------------

/** With the checker on, remember what the post-conditions need (I18: the bits before; I19: was it a no-op). */
function snapshotBefore(op: u32, gi: u32, s: u32, e: u32, toShared: bool): void {
  store<u32>(op, 0, OP_SNAP);
  if (!checksOn()) return;
  const bm = load<u32>(gi, GIB);
  const n = e - s;
  store<u32>(op, bitmapCountShared(bm, s, e) == (toShared ? <u64>n : 0) ? 1 : 0, OP_WASNOOP);
  const order = orderFor(<u64>((n + 7) >> 3) + 8);
  const snap = pageAlloc(order);
  if (snap == 0) return; // no snapshot: I18 is not checked for this op
  for (let i: u32 = 0; i < n; i++) {
    if (bitmapTest(bm, s + i)) store<u8>(snap + (i >> 3), load<u8>(snap + (i >> 3)) | <u8>(<u32>1 << (i & 7)));
  }
  store<u32>(op, snap, OP_SNAP);
  store<u32>(op, order, OP_SNAP_ORDER);
}

/** I9, I18, I19, I20 once a conversion has returned. */
function postConditions(op: u32, it: TdpIter): void {
  if (!checksOn()) return;
  const gi = load<u32>(op, OP_GMEM);
  const s = load<u32>(op, OP_START), e = load<u32>(op, OP_END);
  const toShared = (load<u32>(op, OP_FLAGS) & OPF_SHARED) != 0;
  const r = load<i32>(op, OP_RESULT);
  const bm = load<u32>(gi, GIB);
  const snap = load<u32>(op, OP_SNAP);
  if (r == 0) {
    // I18 (success half): the whole range has the target attribute
    if (bitmapCountShared(bm, s, e) != (toShared ? <u64>(e - s) : 0)) { recordViolation(18, s); return; }
    // I19: converting a range already in the target state changes nothing: no work, no invalidation begun
    // (this op's own record: the global counters also move with other files' conversions while it is paused)
    if (load<u32>(op, OP_WASNOOP) != 0 && (load<u32>(op, OP_NWORKS) != 0 || (load<u32>(op, OP_FLAGS) & OPF_BEGUN) != 0)) {
      recordViolation(19, s);
      return;
    }
    // I9: after to-private no host PTE, pin or shared SPTE; after to-shared no private SPTE
    for (let i = s; i < e; i++) {
      if (!toShared && (folioHostMapped(gi, i) || folioPins(gi, i) != 0)) { recordViolation(9, i); return; }
    }
    const nb = load<u32>(gi, GI_NBIND);
    for (let k: u32 = 0; k < nb; k++) {
      const vm = gmemBindVm(gi, k);
      const sp = <usize>vm + VM_SLOTS + <usize>gmemBindSlot(gi, k) * VM_SLOT_SIZE;
      const pg = slotPgoff(sp);
      const lo = s > pg ? s : pg, hi = e < pg + slotNpages(sp) ? e : pg + slotNpages(sp);
      if (lo >= hi) continue;
      const pt = toShared ? vmPtPrivate(vm) : vmPtShared(vm);
      if (ptCountRange(pt, it, <u64>(slotBase(sp) + lo - pg), <u64>(slotBase(sp) + hi - pg)) != 0) {
        recordViolation(9, lo);
        return;
      }
    }
  } else if (snap != 0) {
    // I18 (failure half): attributes unchanged ([V2] by rollback, [V4] because every failure comes first)
    for (let i = s; i < e; i++) {
      const was = (load<u8>(snap + ((i - s) >> 3)) >> <u8>((i - s) & 7)) & 1;
      if ((was != 0) != bitmapTest(bm, i)) { recordViolation(18, i); return; }
    }
  }
  if (r == -EAGAIN) {
    // I20: error_offset inside the range ([V2]: a large folio's first index may precede it)
    const err = load<u32>(op, OP_ERR_INDEX);
    const lo = gmemIsV4(gi) ? s : s & ~((<u32>1 << blockShift(gi)) - 1);
    if (err < lo || err >= e) recordViolation(20, err);
  }
}

function releaseOp(op: u32): void {
  const snap = load<u32>(op, OP_SNAP);
  if (snap != 0) pageFree(snap, load<u32>(op, OP_SNAP_ORDER));
  store<u32>(op, 0, OP_SNAP);
  convertRelease(op);
}

/** out[1] = error_index (EAGAIN / v4 ENOMEM), out[0] = op handle when paused. */
function convertOutcome(op: u32, it: TdpIter, phase: u32): i32 {
  if (phase != PH_DONE) {
    out(0, load<u32>(op, OP_HANDLE));
    return RESULT_PAUSED;
  }
  postConditions(op, it);
  const r = load<i32>(op, OP_RESULT);
  out(1, load<u32>(op, OP_ERR_INDEX));
  releaseOp(op);
  if (op != instanceOp) freeOp(op);
  return r;
}

/**
 * KVM_GMEM_CONVERT_SHARED / _PRIVATE [V2] or KVM_SET_MEMORY_ATTRIBUTES2 [V4] (by the gmem's generation) on
 * [offset, offset + size). mode: 0 unspecified, 1 zero, 2 preserve (v4). stop_after: 4 (PH_DONE) to run through,
 * else the phase after which to pause. Returns 0, -errno (out[1] = error_index for -EAGAIN), or RESULT_PAUSED.
 */
export function gmem_convert(g: u32, offset: f64, size: f64, to_shared: i32, mode: u32, stop_after: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const gi = objGet(g, OBJ_T_GMEM);
  let r: i32;
  if (gi == 0 || load<u32>(gi, GI_CLOSED) != 0) r = -EBADF;
  else if (stop_after > PH_DONE) r = -EINVAL;
  else {
    r = convertValidate(gi, offset, size, to_shared != 0, mode);
    if (r == 1) r = 0;
    else if (r == 0) {
      // a conversion that runs through needs no handle: this instance's own op page serves it
      const op = stop_after == PH_DONE ? ownOp(OPK_CONVERT) : newOp(OPK_CONVERT);
      if (op == 0) r = -ENOMEM;
      else {
        const s = <u32>(<u64>offset >> 12), e = <u32>((<u64>offset + <u64>size) >> 12);
        convertInit(op, gi, s, e, to_shared != 0, mode);
        store<u32>(op, load<u32>(op, OP_HANDLE), OP_HANDLE);
        snapshotBefore(op, gi, s, e, to_shared != 0);
        const it = iterPush();
        r = convertOutcome(op, it, convertRun(op, it, stop_after));
        iterPop();
      }
    }
  }
  return stepEnd(r);
}

/** Continue a paused op (conversion or guest access) to the end, or to the next stop_after phase (conversions). */
export function op_resume(h: u32, stop_after: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const op = objGet(h, OBJ_T_OP);
  let r: i32;
  if (op == 0) r = -EBADF;
  else {
    const it = iterPush();
    if (load<u32>(op, OP_KIND) == OPK_CONVERT) {
      r = convertOutcome(op, it, convertRun(op, it, stop_after > PH_DONE ? PH_DONE : stop_after));
    } else {
      const vm = load<u32>(op, OP_VM);
      const gfn = load<u32>(op, OP_START);
      const aux = load<u32>(op, OP_AUX2);
      const priv = (aux & 0x100) != 0, write = (aux & 0x200) != 0;
      const value = load<u32>(op, OP_END);
      const seq = load<u32>(op, OP_SEQ), pfn = load<u32>(op, OP_AUX);
      const sp = slotForGfn(vm, gfn);
      freeOp(op);
      if (sp == 0) r = -EFAULT;
      else {
        r = kvmFaultFinish(vm, it, sp, gfn, priv, write, value, seq, pfn, aux & 0xff);
        if (r == ACCESS_RETRY) r = kvmGuestAccess(vm, it, gfn, priv, write, value); // KVM re-enters the guest
      }
      out(1, lastAccessLevel());
      out(2, lastAccessValue());
    }
    iterPop();
  }
  return stepEnd(r);
}

/** fallocate(PUNCH_HOLE | KEEP_SIZE). */
export function gmem_punch(g: u32, offset: f64, size: f64): i32 {
  if (!stepBegin()) return -EBUSY;
  const gi = objGet(g, OBJ_T_GMEM);
  let r: i32;
  if (gi == 0 || load<u32>(gi, GI_CLOSED) != 0) r = -EBADF;
  else {
    const it = iterPush();
    r = gmemPunchHole(gi, it, offset, size);
    iterPop();
  }
  return stepEnd(r);
}

// ---- IOMMU ------------------------------------------------------------------------------------------------------

/** An iommufd-like domain: mode 0 pin (today's VFIO / IOAS map), 1 gmem (bound to a guest_memfd). */
export function iommu_create(mode: u32): i32 {
  if (mode > 1) return -EINVAL;
  if (!stepBegin()) return -EBUSY;
  let r: i32;
  const io = iommuCreate(mode);
  if (io == 0) r = -ENOMEM;
  else {
    const h = objNew(OBJ_T_IO, io);
    if (h == 0) { pageFree(io, 0); r = -ENOSPC; } else { store<u32>(io, h, IO_HANDLE); r = <i32>h; }
  }
  return stepEnd(r);
}

export function iommu_destroy(h: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const io = objGet(h, OBJ_T_IO);
  let r: i32 = -EBADF;
  if (io != 0) {
    const gi = load<u32>(io, IO_GMEM);
    if (gi != 0 && gmemLockedExclusive(gi)) r = -EBUSY;
    else { const it = iterPush(); iommuDestroy(io, it); iterPop(); objFree(h); r = 0; }
  }
  return stepEnd(r);
}

/** Bind the IOMMU fd to the guest_memfd (gmem mode): one registration, global to the fd. */
export function iommu_bind(h: u32, g: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const io = objGet(h, OBJ_T_IO);
  const gi = objGet(g, OBJ_T_GMEM);
  let r: i32;
  if (io == 0 || gi == 0 || load<u32>(gi, GI_CLOSED) != 0) r = -EBADF;
  else r = iommuBind(io, gi);
  return stepEnd(r);
}

export function iommu_unbind(h: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const io = objGet(h, OBJ_T_IO);
  let r: i32;
  if (io == 0) r = -EBADF;
  else { const it = iterPush(); r = iommuUnbind(io, it); iterPop(); }
  return stepEnd(r);
}

export function iommu_map(h: u32, iova: f64, g: u32, offset: f64, size: f64, secure: i32): i32 {
  if (!stepBegin()) return -EBUSY;
  const io = objGet(h, OBJ_T_IO);
  const gi = objGet(g, OBJ_T_GMEM);
  let r: i32;
  if (io == 0 || gi == 0 || load<u32>(gi, GI_CLOSED) != 0) r = -EBADF; // the map names the guest_memfd's fd
  else { const it = iterPush(); r = iommuMap(io, it, iova, gi, offset, size, secure != 0); iterPop(); }
  return stepEnd(r);
}

export function iommu_unmap(h: u32, iova: f64, size: f64, secure: i32): i32 {
  if (!stepBegin()) return -EBUSY;
  const io = objGet(h, OBJ_T_IO);
  let r: i32;
  if (io == 0) r = -EBADF;
  else { const it = iterPush(); r = iommuUnmap(io, it, iova, size, secure != 0); iterPop(); }
  return stepEnd(r);
}

/** A device access: 1 ok, 2 io-fault, 3 machine-check, or -errno; out[2] = value read. */
export function iommu_dma(h: u32, iova: f64, secure: i32, write: i32, value: u32): i32 {
  if (!stepBegin()) return -EBUSY;
  const io = objGet(h, OBJ_T_IO);
  let r: i32;
  if (io == 0) r = -EBADF;
  else { r = iommuDma(io, iova, secure != 0, write != 0, value); out(2, lastDmaValue()); }
  return stepEnd(r);
}

/** The IO page-table entry for iova: its level (0 none); out[0] = pfn of the page. */
export function iommu_iopte(h: u32, iova: f64, secure: i32): i32 {
  const io = objGet(h, OBJ_T_IO);
  if (io == 0) return -EBADF;
  if (!(iova >= 0 && iova < 17592186044416.0 && iova == Math.floor(iova))) return -EINVAL;
  const ivp = <u32>(<u64>iova >> 12);
  const p = ptWalkLeaf(ioPt(io, secure != 0), ivp);
  if (p == 0) { out(0, 0); return 0; }
  const e = load<u64>(p);
  const level = spteLevel(e);
  const n: u32 = level == 3 ? 262144 : level == 2 ? 512 : 1;
  out(0, sptePfn(e) + (ivp & (n - 1)));
  return <i32>level;
}

/** out[0] IOTLB flushes, [1] areas, [2] machine checks, [3] seq, [4] in_progress, [5] secure leaves, [6] non-secure. */
export function iommu_info(h: u32): i32 {
  const io = objGet(h, OBJ_T_IO);
  if (io == 0) return -EBADF;
  out(0, load<u32>(io, IO_IOTLB_FLUSHES));
  out(1, load<u32>(io, IO_NAREAS));
  out(2, load<u32>(io, IO_DMA_MCE));
  out(3, load<u32>(io, IO_SEQ));
  out(4, <u32>load<i32>(io, IO_IN_PROGRESS));
  const s = ioPt(io, true), n = ioPt(io, false);
  out(5, ptLeaves(s, 1) + ptLeaves(s, 2) + ptLeaves(s, 3));
  out(6, ptLeaves(n, 1) + ptLeaves(n, 2) + ptLeaves(n, 3));
  return <i32>load<u32>(io, IO_MODE);
}

/** Pages the model had to leak (TDX removal failures, ...). */
export function sim_leaked(): u32 { return load<u32>(PFN_LEAKED); }

// ---- debug: break one invariant on purpose ------------------------------------------------------------------------

/**
 * Debug builds only (release: -EOPNOTSUPP): corrupt the state so that invariant `inv` breaks, to show that the
 * checker finds and names it. h: a gmem handle (I1-I6, I14, I17: by index) or a VM handle (I7, I8, I10, I11,
 * I13, I15, I16: index = gfn); g: the gmem of that VM where needed.
 */
export function sim_debug_corrupt(inv: u32, h: u32, index: u32, g: u32): i32 {
  if (!DEBUG) return -EOPNOTSUPP;
  if (!simLock()) return -EBUSY;
  let r: i32 = 0;
  const gi = objGet(h, OBJ_T_GMEM);
  const vm = objGet(h, OBJ_T_VM);
  if (inv == 1 && gi != 0) {
    // flip a bit behind the counts' back
    const bm = load<u32>(gi, GIB);
    const w = <usize>load<u32>(bm, 4) + (<usize>(index >> 6) << 3);
    store<u64>(w, load<u64>(w) ^ (<u64>1 << <u64>(index & 63)));
  } else if (inv == 2 && gi != 0) {
    store<u8>(blockAt(gi, index >> blockShift(gi)), 3, FB_ORDER);
  } else if (inv == 3 && gi != 0) {
    bitmapAssign(load<u32>(gi, GIB), index, index + 1, true);
  } else if (inv == 4 && gi != 0) {
    const blk = blockAt(gi, index >> blockShift(gi));
    if (load<u8>(blk, FB_STATE) == FB_HUGE) store<u32>(blk, load<u32>(blk, FB_REF) - 1, FB_REF);
    else r = -EINVAL;
  } else if (inv == 5 && gi != 0) {
    const blk = blockAt(gi, index >> blockShift(gi));
    if (load<u8>(blk, FB_STATE) == FB_HUGE) store<u16>(blk, load<u16>(blk, FB_FLAGS) & ~(<u16>FOLIO_UPTODATE), FB_FLAGS);
    else r = -EINVAL;
  } else if (inv == 6 && gi != 0) {
    if (folioOrder(gi, index) != 0) r = -EINVAL;
    else {
      folioSetHostMap(gi, index, true);
      store<u32>(gi, load<u32>(gi, GI_HOSTPTES) + 1, GI_HOSTPTES);
    }
  } else if (inv == 14 && gi != 0) {
    store<u32>(gi, 0xffffffff, GI_INV_LOCK);
  } else if (inv == 17 && gi != 0) {
    if (load<u32>(gi, GI_NBIND) == 0) r = -EINVAL; else store<u32>(<usize>gi + GI_BINDS, 31, 8);
  } else if (inv == 13 && vm != 0) {
    store<u32>(vm, load<u32>(vm, VM_SEQ) + 1, VM_SEQ);
  } else if ((inv == 7 || inv == 8 || inv == 11 || inv == 15 || inv == 16) && vm != 0) {
    // install a leaf the fault path would never install: 7 shared-table leaf for a private page, 8 private-table
    // leaf for a shared page, 11/15/16 a 2 MiB private leaf (over an inhibited block / 4 KiB folios / a slot edge)
    const sp = slotForGfn(vm, index);
    if (sp == 0) r = -EINVAL;
    else {
      const gj = slotInode(sp);
      const idx = index - slotBase(sp) + slotPgoff(sp);
      const level: u32 = inv == 7 || inv == 8 ? 1 : 2;
      const n: u32 = level == 2 ? 512 : 1;
      const pfn = folioPfn(gj, idx & ~(n - 1));
      const pt = inv == 7 ? vmPtShared(vm) : vmPtPrivate(vm);
      if (pfn == 0) r = -EINVAL;
      else {
        const it = iterPush();
        ptZapRange(pt, it, <u64>(index & ~(n - 1)), <u64>(index & ~(n - 1)) + n, 0);
        iterPop();
        r = ptMap(pt, index & ~(n - 1), pfn, level, 0);
      }
    }
  } else if (inv == 10 && vm != 0) {
    // SNP: the RMP forgets a page the NPT maps private
    const sp = slotForGfn(vm, index);
    if (sp == 0) r = -EINVAL;
    else {
      const gj = slotInode(sp);
      const rmp = load<u32>(gj, GI_RMP);
      if (rmp == 0) r = -EINVAL; else bitmapAssign(rmp, index - slotBase(sp) + slotPgoff(sp), index - slotBase(sp) + slotPgoff(sp) + 1, false);
    }
  } else r = -EINVAL;
  void g;
  simUnlock();
  return r;
}

// ---- snapshot support -------------------------------------------------------------------------------------------

/** Take the simulator lock for a snapshot copy (the binding copies memory, then calls sim_thaw). */
export function sim_freeze(): i32 {
  return simLock() ? 0 : -EBUSY;
}
export function sim_thaw(): void {
  simUnlock();
}
/** Bytes of memory that hold state: everything below the heap top. */
export function sim_used_bytes(): f64 {
  return <f64>load<u32>(H_HEAP_TOP);
}

// ---- benchmark support: the memory floor ----------------------------------------------------------------------------

/** A heap block for the benchmark's memory floor (bytes rounded up to a buddy block); its address or -errno. */
export function bench_block(bytes: f64): i32 {
  if (!isByteCountF(bytes) || bytes <= 0) return -EINVAL;
  if (!simLock()) return -EBUSY;
  const order = orderFor(<u64>bytes);
  const r = pageAlloc(order);
  simUnlock();
  if (r == 0) return -ENOMEM;
  benchBlock = r;
  benchBytes = <u32>(<u64>4096 << order);
  return <i32>r;
}

let benchBlock: u32 = 0;
let benchBytes: u32 = 0;

/** memory.fill of n bytes of this instance's bench block with v: the floor a conversion of n changed bytes costs. */
export function bench_fill(n: u32, v: u32): i32 {
  if (benchBlock == 0 || n > benchBytes) return -EINVAL;
  memory.fill(benchBlock, <u8>v, n);
  return 0;
}

/** A do-nothing export: the raw cost of a call across the boundary. */
export function bench_noop(a: u32): u32 { return a + 1; }

// @ts-ignore: decorator
@inline function isByteCountF(x: f64): bool { return x >= 0 && x <= 4294967296.0 && x == Math.floor(x); }

/** Does anything still hold the inode: a memslot, an IOMMU binding or area, a pin, an orphan, a paused op? */
function gmemInUse(gi: u32): bool {
  if (load<u32>(gi, GI_NBIND) != 0 || load<u32>(gi, GI_INV_LOCK) != 0 || load<u32>(gi, GI_NIOMMU) != 0) return true;
  if (orphanCount(gi) != 0) return true;
  for (let i: u32 = 1; i < 4096; i++) {
    const slot = <usize>0x2000 + <usize>i * 16;
    if (<u32>load<u8>(slot) != OBJ_T_IO) continue;
    const io = load<u32>(slot, 4);
    for (let k: u32 = 0, na = load<u32>(io, IO_NAREAS); k < na; k++) {
      const a = <usize>load<u32>(io, IO_AREA_PTR) + <usize>k * IO_AREA_SIZE;
      if (load<u32>(a) != 0 && load<u32>(a, 12) == gi) return true;
    }
  }
  const nb = load<u32>(gi, GI_NBLOCKS);
  for (let b: u32 = 0; b < nb; b++) {
    const blk = blockAt(gi, b);
    const st = load<u8>(blk, FB_STATE);
    if (st == FB_HUGE && (load<u32>(blk, FB_PIN) != 0 || load<u32>(blk, 16) != 0)) return true; // pins, mapcount
    if (st == FB_SPLIT && load<u32>(blk, FB_REF) != 0) return true; //                            busy 4 KiB folios
  }
  return false;
}
