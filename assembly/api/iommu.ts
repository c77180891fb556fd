// Exports on IOMMU domains: creation, binding to a guest_memfd, userspace maps and unmaps, device accesses, views.
import {
  OPK_IOMMU_CREATE, OPK_IOMMU_BIND, OPK_IOMMU_UNBIND, OPK_IOMMU_MAP, OPK_IOMMU_UNMAP, OPK_DMA,
} from "../abi/ops";
import {
  OUT_INFO, IO_INFO_IOTLB_FLUSHES, IO_INFO_AREAS, IO_INFO_MACHINE_CHECKS, IO_INFO_SEQ, IO_INFO_IN_PROGRESS,
  IO_INFO_SECURE_LEAVES, IO_INFO_NONSECURE_LEAVES, IO_INFO_PFN,
} from "../abi/consts";
import { EBADF, EBUSY, EINVAL } from "../abi/errno";
import { OBJ_T_IOMMU, OBJ_T_GMEM, objGet, objFree } from "../mm/objects";
import { out } from "../mm/instance";
import { OP_H0, OP_H1, opSetA, opSetF } from "../lib/oprec";
import { ptLeaves, ptWalkLeaf, spteLevel, sptePfn, levelPages } from "../lib/pagetable";
import { gmemIsClosed } from "../gmem/inode";
import {
  IO_MODE, IO_IOTLB_FLUSHES, IO_DMA_MCE, IO_HANDLE, ioPt, ioSeq, ioInProgress,
} from "../iommu/domain";
import { nAreas } from "../iommu/area";
import { iommuDestroyable, iommuDestroy } from "../iommu/bind";
import { mapInit } from "../iommu/map";
import { opBegin } from "../op/engine";
import { enter, leave, worldStop, worldStart } from "./bracket";
import { stopValid, runAndLeave, earlyResult } from "./ops";

/** An iommufd-like domain: mode IOMMU_MODE_PIN (today's VFIO / IOAS map) or IOMMU_MODE_GMEM (bound to a gmem). */
export function iommu_create(mode: u32, stop: u32): i32 {
  if (!stopValid(OPK_IOMMU_CREATE, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  const op = opBegin(OPK_IOMMU_CREATE);
  opSetA(op, 0, mode);
  return runAndLeave(op, stop);
}

/** Destroy the domain (every area revoked); -EBUSY while a conversion of its guest_memfd is in flight. */
export function iommu_destroy(h: u32): i32 {
  { const e = enter(); if (e != 0) return e; }
  const io = objGet(h, OBJ_T_IOMMU);
  let r: i32 = -EBADF;
  if (io != 0) {
    if (!iommuDestroyable(io)) r = -EBUSY;
    else { objFree(load<u32>(io, IO_HANDLE)); iommuDestroy(io); r = 0; }
  }
  return leave(r);
}

/** Bind the IOMMU fd to the guest_memfd (gmem mode): one registration, global to the fd. */
export function iommu_bind(h: u32, g: u32, stop: u32): i32 {
  if (!stopValid(OPK_IOMMU_BIND, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  const op = opBegin(OPK_IOMMU_BIND);
  store<u32>(op, h, OP_H0);
  store<u32>(op, g, OP_H1);
  return runAndLeave(op, stop);
}

export function iommu_unbind(h: u32, stop: u32): i32 {
  if (!stopValid(OPK_IOMMU_UNBIND, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  const op = opBegin(OPK_IOMMU_UNBIND);
  store<u32>(op, h, OP_H0);
  return runAndLeave(op, stop);
}

/** Map [offset, offset + size) of the guest_memfd at iova in the secure or non-secure table (iommu/map.ts). */
export function iommu_map(h: u32, iova: f64, g: u32, offset: f64, size: f64, secure: i32, stop: u32): i32 {
  if (!stopValid(OPK_IOMMU_MAP, stop)) return -EINVAL;
  { const e = enter(false); if (e != 0) return e; }
  const io = objGet(h, OBJ_T_IOMMU), gi = objGet(g, OBJ_T_GMEM);
  if (io == 0 || gi == 0 || gmemIsClosed(gi)) return earlyResult(-EBADF, stop); // the map names the gmem's fd
  const op = opBegin(OPK_IOMMU_MAP);
  const v = mapInit(op, io, iova, gi, offset, size, secure != 0);
  if (v != 0) return earlyResult(v, stop);
  store<u32>(op, h, OP_H0);
  store<u32>(op, g, OP_H1);
  return runAndLeave(op, stop);
}

export function iommu_unmap(h: u32, iova: f64, size: f64, secure: i32, stop: u32): i32 {
  if (!stopValid(OPK_IOMMU_UNMAP, stop)) return -EINVAL;
  { const e = enter(false); if (e != 0) return e; }
  const op = opBegin(OPK_IOMMU_UNMAP);
  store<u32>(op, h, OP_H0);
  opSetF(op, 0, iova);
  opSetF(op, 1, size);
  opSetA(op, 0, secure != 0 ? 1 : 0);
  return runAndLeave(op, stop);
}

/** A device access: DMA_OK, DMA_IO_FAULT, DMA_MACHINE_CHECK, or -errno; out OUT_VALUE = the value read. */
export function iommu_dma(h: u32, iova: f64, secure: i32, write: i32, value: u32, stop: u32): i32 {
  if (!stopValid(OPK_DMA, stop)) return -EINVAL;
  { const e = enter(false); if (e != 0) return e; }
  const op = opBegin(OPK_DMA);
  store<u32>(op, h, OP_H0);
  opSetF(op, 0, iova);
  opSetA(op, 0, secure != 0 ? 1 : 0);
  opSetA(op, 1, write != 0 ? 1 : 0);
  opSetA(op, 2, value);
  return runAndLeave(op, stop);
}

/** The IO page-table entry for iova: its level (0 none); info IO_INFO_PFN = pfn of the page. */
function iommu_iopte_read(h: u32, iova: f64, secure: i32): i32 {
  const io = objGet(h, OBJ_T_IOMMU);
  if (io == 0) return -EBADF;
  if (!(iova >= 0 && iova < 17592186044416.0 && iova == Math.floor(iova))) return -EINVAL;
  const ivp = <u32>(<u64>iova >> 12);
  const p = ptWalkLeaf(ioPt(io, secure != 0), ivp);
  if (p == 0) { out(OUT_INFO + IO_INFO_PFN, 0); return 0; }
  const e = load<u64>(p);
  const level = spteLevel(e);
  out(OUT_INFO + IO_INFO_PFN, sptePfn(e) + (ivp & (<u32>levelPages(level) - 1)));
  return <i32>level;
}
/** iommu_iopte_read with the world stopped: a whole read, never half of another thread's step. */
export function iommu_iopte(h: u32, iova: f64, secure: i32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  const r = iommu_iopte_read(h, iova, secure);
  worldStart();
  return r;
}

/** The domain's state for views (IO_INFO_*); returns its mode. */
function iommu_info_read(h: u32): i32 {
  const io = objGet(h, OBJ_T_IOMMU);
  if (io == 0) return -EBADF;
  out(OUT_INFO + IO_INFO_IOTLB_FLUSHES, load<u32>(io, IO_IOTLB_FLUSHES));
  out(OUT_INFO + IO_INFO_AREAS, nAreas(io));
  out(OUT_INFO + IO_INFO_MACHINE_CHECKS, load<u32>(io, IO_DMA_MCE));
  out(OUT_INFO + IO_INFO_SEQ, ioSeq(io));
  out(OUT_INFO + IO_INFO_IN_PROGRESS, <u32>ioInProgress(io));
  const s = ioPt(io, true), n = ioPt(io, false);
  out(OUT_INFO + IO_INFO_SECURE_LEAVES, ptLeaves(s, 1) + ptLeaves(s, 2) + ptLeaves(s, 3));
  out(OUT_INFO + IO_INFO_NONSECURE_LEAVES, ptLeaves(n, 1) + ptLeaves(n, 2) + ptLeaves(n, 3));
  return <i32>load<u32>(io, IO_MODE);
}
/** iommu_info_read with the world stopped: a whole read, never half of another thread's step. */
export function iommu_info(h: u32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  const r = iommu_info_read(h);
  worldStart();
  return r;
}
