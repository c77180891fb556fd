// Exports on VMs: creation, memslots, guest accesses, and views of KVM's tables and invalidation state.
import { OPK_VM_CREATE, OPK_VM_DESTROY, OPK_VM_BIND, OPK_VM_UNBIND, OPK_GUEST_ACCESS } from "../abi/ops";
import {
  OUT_INFO, VM_INFO_SEQ, VM_INFO_IN_PROGRESS, VM_INFO_TLB_FLUSHES, VM_INFO_PRIVATE_LEAVES, VM_INFO_SHARED_LEAVES,
  VM_INFO_LEAVES_4K, VM_INFO_LEAVES_2M, VM_INFO_LEAVES_1G, VM_INFO_PFN, VM_INFO_STATE,
} from "../abi/consts";
import { EBADF, EINVAL } from "../abi/errno";
import { OBJ_T_VM, objGet } from "../mm/objects";
import { out } from "../mm/instance";
import { OP_H0, OP_H1, opSetA, opSetF } from "../lib/oprec";
import { ptLeaves, ptWalkLeaf, spteLevel, sptePfn, spteState, levelPages } from "../lib/pagetable";
import { vmPt, vmSeq, vmInProgress, vmTlbFlushes } from "../kvm/vm";
import { faultInit } from "../kvm/fault";
import { opBegin } from "../op/engine";
import { enter, worldStop, worldStart } from "./bracket";
import { stopValid, runAndLeave, earlyResult } from "./ops";

export function vm_create(stop: u32): i32 {
  if (!stopValid(OPK_VM_CREATE, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  return runAndLeave(opBegin(OPK_VM_CREATE), stop);
}

/** Destroy the VM: every memslot is deleted (its SPTEs zapped) first. */
export function vm_destroy(h: u32, stop: u32): i32 {
  if (!stopValid(OPK_VM_DESTROY, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  const op = opBegin(OPK_VM_DESTROY);
  store<u32>(op, h, OP_H0);
  return runAndLeave(op, stop);
}

/** KVM_SET_USER_MEMORY_REGION2 with a guest_memfd (kvm/memslot.ts vmBind for the errors). */
export function vm_bind(h: u32, slot: u32, gpa: f64, size: f64, g: u32, offset: f64, stop: u32): i32 {
  if (!stopValid(OPK_VM_BIND, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  const op = opBegin(OPK_VM_BIND);
  store<u32>(op, h, OP_H0);
  store<u32>(op, g, OP_H1);
  opSetA(op, 0, slot);
  opSetF(op, 0, gpa);
  opSetF(op, 1, size);
  opSetF(op, 2, offset);
  return runAndLeave(op, stop);
}

export function vm_unbind(h: u32, slot: u32, stop: u32): i32 {
  if (!stopValid(OPK_VM_UNBIND, stop)) return -EINVAL;
  { const e = enter(); if (e != 0) return e; }
  const op = opBegin(OPK_VM_UNBIND);
  store<u32>(op, h, OP_H0);
  opSetA(op, 0, slot);
  return runAndLeave(op, stop);
}

/**
 * A guest access (load, or store of `value` when write != 0) to gpa with the private bit as given: GUEST_MAPPED,
 * GUEST_MEMORY_FAULT, GUEST_RETRY, or -errno; out OUT_LEVEL, OUT_VALUE. RESULT_PAUSED at a pause point.
 */
export function guest_access(h: u32, gpa: f64, priv: i32, write: i32, value: u32, stop: u32): i32 {
  if (!stopValid(OPK_GUEST_ACCESS, stop)) return -EINVAL;
  { const e = enter(false); if (e != 0) return e; }
  if (objGet(h, OBJ_T_VM) == 0) return earlyResult(-EBADF, stop);
  if (!(gpa >= 0 && gpa < 17592186044416.0 && gpa == Math.floor(gpa))) return earlyResult(-EINVAL, stop);
  const op = opBegin(OPK_GUEST_ACCESS);
  store<u32>(op, h, OP_H0);
  faultInit(op, 0, <u32>(<u64>gpa >> 12), priv != 0, write != 0, value);
  return runAndLeave(op, stop);
}

/** VM state for views: info VM_INFO_SEQ, _IN_PROGRESS, _TLB_FLUSHES, _PRIVATE_LEAVES, _SHARED_LEAVES. */
function vm_info_read(h: u32): i32 {
  const vm = objGet(h, OBJ_T_VM);
  if (vm == 0) return -EBADF;
  out(OUT_INFO + VM_INFO_SEQ, vmSeq(vm));
  out(OUT_INFO + VM_INFO_IN_PROGRESS, <u32>vmInProgress(vm));
  out(OUT_INFO + VM_INFO_TLB_FLUSHES, vmTlbFlushes(vm));
  const p = vmPt(vm, true), s = vmPt(vm, false);
  out(OUT_INFO + VM_INFO_PRIVATE_LEAVES, ptLeaves(p, 1) + ptLeaves(p, 2) + ptLeaves(p, 3));
  out(OUT_INFO + VM_INFO_SHARED_LEAVES, ptLeaves(s, 1) + ptLeaves(s, 2) + ptLeaves(s, 3));
  return 0;
}
/** vm_info_read with the world stopped: a whole read, never half of another thread's step. */
export function vm_info(h: u32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  const r = vm_info_read(h);
  worldStart();
  return r;
}

/** The SPTE for gpa in the private (1) or shared (0) table: its level (0 none); info VM_INFO_PFN, _STATE. */
function vm_spte_read(h: u32, gpa: f64, priv: i32): i32 {
  const vm = objGet(h, OBJ_T_VM);
  if (vm == 0) return -EBADF;
  if (!(gpa >= 0 && gpa < 17592186044416.0 && gpa == Math.floor(gpa))) return -EINVAL;
  const gfn = <u32>(<u64>gpa >> 12);
  const p = ptWalkLeaf(vmPt(vm, priv != 0), gfn);
  if (p == 0) { out(OUT_INFO + VM_INFO_PFN, 0); out(OUT_INFO + VM_INFO_STATE, 0); return 0; }
  const e = load<u64>(p);
  const level = spteLevel(e);
  out(OUT_INFO + VM_INFO_PFN, sptePfn(e) + (gfn & (<u32>levelPages(level) - 1)));
  out(OUT_INFO + VM_INFO_STATE, spteState(e));
  return <i32>level;
}
/** vm_spte_read with the world stopped: a whole read, never half of another thread's step. */
export function vm_spte(h: u32, gpa: f64, priv: i32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  const r = vm_spte_read(h, gpa, priv);
  worldStart();
  return r;
}

/** Leaves per level of the private (1) or shared (0) table: info VM_INFO_LEAVES_4K, _2M, _1G. */
function vm_leaves_read(h: u32, priv: i32): i32 {
  const vm = objGet(h, OBJ_T_VM);
  if (vm == 0) return -EBADF;
  const pt = vmPt(vm, priv != 0);
  out(OUT_INFO + VM_INFO_LEAVES_4K, ptLeaves(pt, 1));
  out(OUT_INFO + VM_INFO_LEAVES_2M, ptLeaves(pt, 2));
  out(OUT_INFO + VM_INFO_LEAVES_1G, ptLeaves(pt, 3));
  return 0;
}
/** vm_leaves_read with the world stopped: a whole read, never half of another thread's step. */
export function vm_leaves(h: u32, priv: i32): i32 {
  { const e = worldStop(); if (e != 0) return e; }
  const r = vm_leaves_read(h, priv);
  worldStart();
  return r;
}

