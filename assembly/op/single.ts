// Operations that are one atomic step: their arguments live in the op record (h0/h1 handles, f0.. byte quantities,
// a0.. numbers), and the step calls the mechanism. Probing says whether the step could start now: a step that
// needs a lock an operation in flight holds is blocked (it changes nothing).
import {
  OPK_GMEM_CREATE, OPK_GMEM_CLOSE, OPK_VM_CREATE, OPK_VM_DESTROY, OPK_VM_BIND, OPK_VM_UNBIND, OPK_HOST_MMAP,
  OPK_HOST_MUNMAP, OPK_HOST_ACCESS, OPK_HOST_PIN, OPK_HOST_UNPIN, OPK_IOMMU_CREATE, OPK_IOMMU_BIND,
  OPK_IOMMU_UNBIND, OPK_IOMMU_UNMAP, OPK_DMA, ST_DONE, ST_MORE, ST_BLOCKED, RESULT_BLOCKED, HOST_OK, HOST_SIGBUS,
} from "../abi/ops";
import { GI_HANDLE, GI_CLOSED, GI_NPAGES } from "../abi/records";
import { EBADF, EINVAL, ENOMEM, ENOSPC } from "../abi/errno";
import { OP_OBJ, OP_OBJ2, OP_END, opKind, opA, opF, opId, opFinish } from "../lib/oprec";
import { OBJ_T_GMEM, OBJ_T_VM, OBJ_T_IOMMU, objNew, objFree } from "../mm/objects";
import { pageFree } from "../mm/alloc";
import { fpTouch, RES_LOCK, RES_HOST, FP_WRITE } from "../lib/footprint";
import { gmemIsClosed, gmemIndex, gmemIsMmapped, isByteCount } from "../gmem/inode";
import { gmemInodeCreate, gmemInodeDestroy } from "../gmem/create";
import { invLockFree, invLockedWrite } from "../gmem/lock";
import { folioHostMapped } from "../gmem/refs";
import { gmemMmap, gmemMunmap, gmemHostFault, gmemPin, gmemUnpin } from "../gmem/host";
import { pageRead, pageWrite } from "../gmem/content";
import { vmCreate, vmFree, vmSlot, slotUsed, slotInode, VM_HANDLE, VM_MAX_SLOTS } from "../kvm/vm";
import { vmBind, vmUnbind, vmSlotsLockable } from "../kvm/memslot";
import { iommuCreate, ioGmem, IO_HANDLE } from "../iommu/domain";
import { iommuBind, iommuUnbind } from "../iommu/bind";
import { iommuUnmap } from "../iommu/map";
import { iommuDma, lastDmaValue } from "../iommu/dma";

/** Could the one step of op start now? (no side effect) */
export function singleRunnable(op: u32): bool {
  const k = opKind(op);
  const p = load<u32>(op, OP_OBJ), p2 = load<u32>(op, OP_OBJ2);
  if (k == OPK_VM_BIND) return p2 == 0 || invLockFree(p2);
  if (k == OPK_VM_UNBIND) {
    const slot = opA(op, 0);
    if (p == 0 || slot >= VM_MAX_SLOTS || !slotUsed(vmSlot(p, slot))) return true;
    return invLockFree(slotInode(vmSlot(p, slot)));
  }
  if (k == OPK_VM_DESTROY) return p == 0 || vmSlotsLockable(p);
  if (k == OPK_HOST_ACCESS) {
    if (p == 0 || !gmemIsMmapped(p) || !isByteCount(opF(op, 0))) return true;
    const index = <u32>(<u64>opF(op, 0) >> 12);
    return index >= load<u32>(p, GI_NPAGES) || folioHostMapped(p, index) || !invLockedWrite(p);
  }
  if (k == OPK_HOST_PIN) return p == 0 || !invLockedWrite(p);
  if (k == OPK_IOMMU_BIND) return p2 == 0 || invLockFree(p2);
  if (k == OPK_IOMMU_UNBIND) return p == 0 || ioGmem(p) == 0 || invLockFree(ioGmem(p));
  if (k == OPK_IOMMU_UNMAP) return p == 0 || ioGmem(p) == 0 || !invLockedWrite(ioGmem(p));
  return true;
}

/** Run the one step of op; ST_DONE (the result in the record), or ST_BLOCKED (nothing changed). */
export function singleStep(op: u32, probe: bool): u32 {
  if (probe) return singleRunnable(op) ? ST_MORE : ST_BLOCKED;
  const k = opKind(op);
  const p = load<u32>(op, OP_OBJ), p2 = load<u32>(op, OP_OBJ2);
  let r: i32 = 0;
  if (k == OPK_GMEM_CREATE) r = gmemCreate(opF(op, 0), opA(op, 0));
  else if (k == OPK_VM_CREATE) r = vmNew();
  else if (k == OPK_IOMMU_CREATE) r = iommuNew(opA(op, 0));
  else if (k == OPK_GMEM_CLOSE) {
    if (gmemIsClosed(p)) r = -EBADF;
    else { fpTouch(gmemIndex(p), RES_LOCK, FP_WRITE); store<u32>(p, 1, GI_CLOSED); }
  } else if (k == OPK_VM_DESTROY) {
    if (!vmSlotsLockable(p)) return ST_BLOCKED;
    r = vmDestroy(p, opId(op));
  } else if (k == OPK_VM_BIND) r = vmBind(p, opA(op, 0), opF(op, 0), opF(op, 1), p2, opF(op, 2), opId(op));
  else if (k == OPK_VM_UNBIND) r = vmUnbind(p, opA(op, 0), opId(op));
  else if (k == OPK_HOST_MMAP) r = gmemIsClosed(p) ? -EBADF : gmemMmap(p);
  else if (k == OPK_HOST_MUNMAP) r = gmemMunmap(p);
  else if (k == OPK_HOST_ACCESS) r = hostAccess(op, p);
  else if (k == OPK_HOST_PIN || k == OPK_HOST_UNPIN) r = hostPin(p, opF(op, 0), opF(op, 1), k == OPK_HOST_UNPIN);
  else if (k == OPK_IOMMU_BIND) r = gmemIsClosed(p2) ? -EBADF : iommuBind(p, p2, opId(op));
  else if (k == OPK_IOMMU_UNBIND) r = iommuUnbind(p, opId(op));
  else if (k == OPK_IOMMU_UNMAP) r = iommuUnmap(p, opF(op, 0), opF(op, 1), opA(op, 0) != 0);
  else if (k == OPK_DMA) {
    r = iommuDma(p, opF(op, 0), opA(op, 0) != 0, opA(op, 1) != 0, opA(op, 2));
    store<u32>(op, lastDmaValue(), OP_END);
  } else r = -EINVAL;
  if (r == RESULT_BLOCKED) return ST_BLOCKED;
  opFinish(op, r);
  return ST_DONE;
}

/** KVM_CREATE_GUEST_MEMFD: a handle, or -errno. */
export function gmemCreate(size: f64, flags: u32): i32 {
  let r = gmemInodeCreate(size, flags);
  if (r > 0) {
    const h = objNew(OBJ_T_GMEM, <u32>r);
    if (h == 0) { gmemInodeDestroy(<u32>r); r = -ENOSPC; } else { store<u32>(<u32>r, h, GI_HANDLE); r = <i32>h; }
  }
  return r;
}

function vmNew(): i32 {
  const vm = vmCreate();
  if (vm == 0) return -ENOMEM;
  const h = objNew(OBJ_T_VM, vm);
  if (h == 0) { vmFree(vm); return -ENOSPC; }
  store<u32>(vm, h, VM_HANDLE);
  return <i32>h;
}

function iommuNew(mode: u32): i32 {
  if (mode > 1) return -EINVAL;
  const io = iommuCreate(mode);
  if (io == 0) return -ENOMEM;
  const h = objNew(OBJ_T_IOMMU, io);
  if (h == 0) { pageFree(io, 0); return -ENOSPC; }
  store<u32>(io, h, IO_HANDLE);
  return <i32>h;
}

/** Destroy a VM: every memslot is deleted (its SPTEs zapped) first. The caller checked vmSlotsLockable. */
export function vmDestroy(vm: u32, owner: u32): i32 {
  for (let s: u32 = 0; s < VM_MAX_SLOTS; s++) {
    if (slotUsed(vmSlot(vm, s))) vmUnbind(vm, s, owner);
  }
  objFree(load<u32>(vm, VM_HANDLE));
  vmFree(vm);
  return 0;
}

/**
 * A host load (and a store of a2 when a1) at byte offset f0 through the mmap: HOST_OK / HOST_SIGBUS, the value read
 * in the record's end slot; RESULT_BLOCKED while a conversion holds the invalidate lock.
 */
function hostAccess(op: u32, gi: u32): i32 {
  const offset = opF(op, 0);
  if (!(offset >= 0 && offset < 8796093022208.0 && offset == Math.floor(offset))) return -EINVAL;
  const index = <u32>(<u64>offset >> 12);
  const r = gmemHostFault(gi, index);
  if (r != HOST_OK) return r;
  fpTouch(gmemIndex(gi), RES_HOST, FP_WRITE);
  store<u32>(op, pageRead(gi, index, false), OP_END);
  if (opA(op, 0) != 0 && !pageWrite(gi, index, false, opA(op, 1))) return -ENOMEM;
  return HOST_OK;
}

/** Is x a whole page-aligned number of bytes below the model's 8 TiB? -> page index, else -1. */
function pageOf(x: f64): i64 {
  if (!(x >= 0 && x < 8796093022208.0 && x == Math.floor(x))) return -1;
  const v = <u64>x;
  if ((v & 4095) != 0) return -1;
  return <i64>(v >> 12);
}

/** Long-term pin (or unpin) of [offset, offset + size) through the host mapping. */
function hostPin(gi: u32, offset: f64, size: f64, unpin: bool): i32 {
  const s = pageOf(offset), n = pageOf(size);
  if (s < 0 || n <= 0 || s + n > <i64>load<u32>(gi, GI_NPAGES)) return -EINVAL;
  return unpin ? gmemUnpin(gi, <u32>s, <u32>(s + n)) : gmemPin(gi, <u32>s, <u32>(s + n));
}

