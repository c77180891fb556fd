// The guest fault path of arch/x86/kvm/mmu/mmu.c as two atomic steps (kvm_mmu_page_fault -> kvm_mmu_faultin_pfn ->
// kvm_tdp_mmu_map, then the access itself):
//   faultin   an existing SPTE of the right kind serves the access (no fault); else snapshot mmu_invalidate_seq,
//             private/shared mismatch -> KVM_EXIT_MEMORY_FAULT, the lockless retry pre-check
//             (mmu_invalidate_retry_gfn_unsafe: the fault cannot progress while an invalidation of the gfn is in
//             flight: the step is blocked), kvm_gmem_get_pfn under the shared invalidate lock (blocked while a
//             conversion holds it), SNP's RMP prepare
//   install   under mmu_lock: is_page_fault_stale (mmu_invalidate_retry_gfn) -> RET_PF_RETRY, back to faultin;
//             else map at min(folio order, arch limit, lpage rules) and perform the access
// Op record: obj = vm, start = gfn, a0 private, a1 write, a2 value to write; seq, pfn, order (0xff: an SPTE was
// there already); a3 level used, end = value read; retries.
import {
  EV_GUEST_FAULT, EV_GUEST_RETRY, EV_GUEST_MEMORY_FAULT_EXIT, EV_KVM_MAP, EV_KVM_ZAP, EV_ARCH_SEPT_AUG,
  EV_ARCH_SEPT_ACCEPT, EVF_PRIVATE,
} from "../abi/events";
import { SG_KVM_RETRY, DBG_SKIP_RETRY, SEPT_PENDING } from "../abi/consts";
import {
  STEP_FAULTIN, STEP_INSTALL, ST_MORE, ST_DONE, ST_BLOCKED, GUEST_MAPPED, GUEST_MEMORY_FAULT, GUEST_RETRY,
} from "../abi/ops";
import { EFAULT, EIO, ENOMEM, EEXIST } from "../abi/errno";
import { OP_OBJ, OP_START, OP_END, OP_SEQ, OP_PFN, OP_ORDER, OP_RETRIES, opA, opSetA, opSetStep, opFinish } from "../lib/oprec";
import { emit } from "../lib/events";
import { fpTouch, RES_LOCK, FP_READ } from "../lib/footprint";
import { iterPush, iterPop } from "../lib/iter";
import { inThreadMode } from "../mm/instance";
import { safeguard, debugHook, checksOn, recordViolation, isTdx, isSnp } from "../lib/machine";
import {
  ptMap, ptWalkLeaf, ptZapRange, spteLevel, levelPages, ZAP_WHOLE, ZAP_KEEP_EMPTIED, SPTE_STATE_MASK,
} from "../lib/pagetable";
import { bitmapSharedInBlock } from "../lib/bitmap";
import { gmemIsShared, gmemBitmap } from "../gmem/inode";
import { invLockRead, invUnlockRead, invLockedWrite, pagesLock } from "../gmem/lock";
import { LW_MUST } from "../mm/sync";
import { gmemGetPfnLocked, gmemMappingOrder, getPfnLocks } from "../gmem/getpfn";
import { folioPfn } from "../gmem/folio";
import { pageRead, pageWrite } from "../gmem/content";
import { archMaxPrivateLevel, archPreparePrivate } from "../arch/arch";
import { tdxInhibited, tdxAccept } from "../arch/tdx";
import { vmPt, vmIndex, vmIsDead, vmSeq, slotForGfn, slotBase, slotNpages, slotPgoff, slotInode, slotIndex } from "./vm";
import { kvmInvalidationCovers, kvmRetryGfn, kvmFlushTlbs, mmuWrite } from "./mmu";

const MAX_RETRIES: u32 = 8; //     a run-through access gives up with GUEST_RETRY after this many stale installs
const ORDER_MAPPED: u32 = 0xff; // faultin found an SPTE: install only performs the access

/** Fill an op record for an access to gfn (private bit as given), storing `value` when write. */
export function faultInit(op: u32, vm: u32, gfn: u32, isPrivate: bool, write: bool, value: u32): void {
  store<u32>(op, vm, OP_OBJ);
  store<u32>(op, gfn, OP_START);
  opSetA(op, 0, isPrivate ? 1 : 0);
  opSetA(op, 1, write ? 1 : 0);
  opSetA(op, 2, value);
  opSetA(op, 3, 0);
  store<u32>(op, 0, OP_RETRIES);
  opSetStep(op, STEP_FAULTIN);
}

/** Level and value of a finished access. */
// @ts-ignore: decorator
@inline export function faultLevel(op: u32): u32 { return opA(op, 3); }
// @ts-ignore: decorator
@inline export function faultValue(op: u32): u32 { return load<u32>(op, OP_END); }

/** Is a huge mapping of `level` at gfn allowed by the slot and the attributes (kvm_mmu_max_mapping_level)? */
function lpageAllowed(sp: usize, gi: u32, gfn: u32, level: u32, isPrivate: bool): bool {
  const n = <u32>levelPages(level);
  const g0 = gfn & ~(n - 1);
  const base = slotBase(sp);
  // the huge range lies inside the slot, and gfn -> index keeps its alignment (disallow_lpage otherwise)
  if (g0 < base || <u64>g0 + n > <u64>base + slotNpages(sp)) return false;
  if (((slotPgoff(sp) - base) & (n - 1)) != 0) return false;
  const i0 = g0 - base + slotPgoff(sp);
  // TDX: a block demoted after the guest accepted at 4 KiB never maps huge again (KVM_LPAGE_GUEST_INHIBIT)
  if (isPrivate && level == 2 && tdxInhibited(gi, i0)) return false;
  // KVM_LPAGE_MIXED_FLAG: the attributes must be uniform over the range
  const c = bitmapSharedInBlock(gmemBitmap(gi), i0, level == 3 ? 18 : 9);
  return c == 0 || c == n;
}

/** One atomic step of a guest access (probe: only say whether it can run now). */
export function faultStep(op: u32, step: u32, probe: bool): u32 {
  const vm = load<u32>(op, OP_OBJ);
  const gfn = load<u32>(op, OP_START);
  const isPrivate = opA(op, 0) != 0;
  if (step == STEP_FAULTIN) return faultIn(op, vm, gfn, isPrivate, probe);
  if (probe) return ST_MORE; // mmu_lock is only ever held inside a step
  return install(op, vm, gfn, isPrivate);
}

function faultIn(op: u32, vm: u32, gfn: u32, isPrivate: bool, probe: bool): u32 {
  if (vmIsDead(vm)) { if (!probe) opFinish(op, -EIO); return probe ? ST_MORE : ST_DONE; }
  const sp = slotForGfn(vm, gfn);
  const pflag: u32 = isPrivate ? EVF_PRIVATE : 0;
  if (sp == 0) {
    // no memslot: the gfn's attributes default to shared, so a private access mismatches (kvm_mmu_faultin_pfn:
    // KVM_EXIT_MEMORY_FAULT); a shared one is kvm_handle_noslot_fault's emulation, which the model does not do
    if (probe) return ST_MORE;
    if (isPrivate) {
      emit(EV_GUEST_FAULT, pflag, vmIndex(vm), gfn, 0, 0, 0);
      emit(EV_GUEST_MEMORY_FAULT_EXIT, pflag, vmIndex(vm), gfn, 0, 0, 0);
      opFinish(op, GUEST_MEMORY_FAULT);
    } else opFinish(op, -EFAULT);
    return ST_DONE;
  }
  fpTouch(vmIndex(vm), RES_LOCK, FP_READ);
  if (ptWalkLeaf(vmPt(vm, isPrivate), gfn) != 0) { // the access goes through the existing SPTE
    if (probe) return ST_MORE;
    store<u32>(op, ORDER_MAPPED, OP_ORDER);
    opSetStep(op, STEP_INSTALL);
    return ST_MORE;
  }
  const gi = slotInode(sp);
  const index = slotIndex(sp, gfn);
  const mismatch = isPrivate == gmemIsShared(gi, index);
  // a fault that can make no progress: RET_PF_RETRY until the invalidation ends, or get_pfn waiting for the lock
  const stuck = !mismatch && ((safeguard(SG_KVM_RETRY) && kvmInvalidationCovers(vm, gfn)) || invLockedWrite(gi));
  if (stuck && (probe || inThreadMode())) return ST_BLOCKED;
  if (probe) return ST_MORE;
  emit(EV_GUEST_FAULT, pflag, vmIndex(vm), gfn, 0, 0, 0);
  if (stuck) { // a call: the vCPU exits to the caller with the fault unresolved
    emit(EV_GUEST_RETRY, pflag, vmIndex(vm), gfn, 0, 0, 0);
    opFinish(op, GUEST_RETRY);
    return ST_DONE;
  }
  store<u32>(op, vmSeq(vm), OP_SEQ);
  if (mismatch) {
    // kvm_prepare_memory_fault_exit: gpa, size 4 KiB, flags (PRIVATE iff the access was private)
    emit(EV_GUEST_MEMORY_FAULT_EXIT, pflag, vmIndex(vm), gfn, 0, 0, 0);
    opFinish(op, GUEST_MEMORY_FAULT);
    return ST_DONE;
  }
  if (!invLockRead(gi)) return ST_BLOCKED; // a conversion took it since the look above (a call: "retry")
  if (!getPfnLocks(gi, isPrivate && isSnp(), LW_MUST)) return ST_BLOCKED;
  const r = gmemGetPfnLocked(gi, index);
  invUnlockRead(gi);
  if (r < 0) { opFinish(op, r); return ST_DONE; }
  if (isPrivate) archPreparePrivate(gi, index); // SNP: sev_gmem_prepare (RMPUPDATE, which flushes the IOTLB)
  store<u32>(op, folioPfn(gi, index), OP_PFN);
  store<u32>(op, gmemMappingOrder(gi, index), OP_ORDER);
  opSetStep(op, STEP_INSTALL);
  return ST_MORE;
}

function install(op: u32, vm: u32, gfn: u32, isPrivate: bool): u32 {
  mmuWrite(vm);
  const sp = slotForGfn(vm, gfn);
  if (sp == 0) { opFinish(op, -EFAULT); return ST_DONE; } // the slot went away between the steps
  const gi = slotInode(sp);
  pagesLock(gi); // the access, and TDX's accept state
  const index = slotIndex(sp, gfn);
  const pt = vmPt(vm, isPrivate);
  let level: u32;
  const existing = ptWalkLeaf(pt, gfn);
  if (load<u32>(op, OP_ORDER) == ORDER_MAPPED || existing != 0) {
    if (existing == 0) { opSetStep(op, STEP_FAULTIN); return ST_MORE; } // zapped since: fault again
    level = spteLevel(load<u64>(existing)); // RET_PF_SPURIOUS: another fault installed it
  } else {
    const mmuSeq = load<u32>(op, OP_SEQ);
    const stale = kvmRetryGfn(vm, mmuSeq, gfn);
    if (stale && safeguard(SG_KVM_RETRY) && !debugHook(DBG_SKIP_RETRY)) { // is_page_fault_stale
      emit(EV_GUEST_RETRY, isPrivate ? EVF_PRIVATE : 0, vmIndex(vm), gfn, 0, 0, 0);
      const n = load<u32>(op, OP_RETRIES) + 1;
      store<u32>(op, n, OP_RETRIES);
      if (n >= MAX_RETRIES) { opFinish(op, GUEST_RETRY); return ST_DONE; }
      opSetStep(op, STEP_FAULTIN); // RET_PF_RETRY: KVM re-enters the guest, which faults again
      return ST_MORE;
    }
    // I12: no SPTE is installed for a gfn inside an in-progress invalidation or from a stale snapshot
    if (stale && checksOn()) recordViolation(12, gfn);
    const r = mapLeaf(vm, sp, gi, index, gfn, isPrivate, load<u32>(op, OP_PFN), load<u32>(op, OP_ORDER));
    if (r < 0) { opFinish(op, r); return ST_DONE; }
    level = <u32>r;
  }
  opSetA(op, 3, level);
  store<u32>(op, pageRead(gi, index, isPrivate), OP_END);
  if (opA(op, 1) != 0 && !pageWrite(gi, index, isPrivate, opA(op, 2))) { opFinish(op, -ENOMEM); return ST_DONE; }
  opFinish(op, GUEST_MAPPED);
  return ST_DONE;
}

/** kvm_tdp_mmu_map: install the leaf for gfn at the largest level allowed; the level, or -errno. */
function mapLeaf(vm: u32, sp: usize, gi: u32, index: u32, gfn: u32, isPrivate: bool, pfn: u32, order: u32): i32 {
  const pt = vmPt(vm, isPrivate);
  let level: u32 = order >= 18 ? 3 : order >= 9 ? 2 : 1;
  if (isPrivate) { const a = archMaxPrivateLevel(gi, index); if (a < level) level = a; } else level = 1;
  while (level > 1 && !lpageAllowed(sp, gi, gfn, level, isPrivate)) level--;
  const n = <u32>levelPages(level);
  const g0 = gfn & ~(n - 1);
  const tdxPrivate = isPrivate && isTdx();
  const st: u32 = tdxPrivate ? SEPT_PENDING : 0; // TDH.MEM.PAGE.AUG installs a PENDING leaf
  let r = ptMap(pt, g0, pfn - (gfn & (n - 1)), level, st);
  if (r == -EEXIST && level > 1) {
    // a lower-level table inside the huge range (zaps keep tables): the TDP MMU installs the huge leaf over it,
    // and the table goes with whatever leaves it still has (handle_removed_pt), flushed if there were any; the
    // tables above it stay
    const it = iterPush();
    const z = ptZapRange(pt, it, <u64>g0, <u64>g0 + n, ZAP_WHOLE | ZAP_KEEP_EMPTIED);
    iterPop();
    if (z < 0) return z;
    if (z > 0) {
      emit(EV_KVM_ZAP, isPrivate ? EVF_PRIVATE : 0, vmIndex(vm), g0, g0 + n, <u32>z, 0);
      kvmFlushTlbs(vm);
    }
    r = ptMap(pt, g0, pfn - (gfn & (n - 1)), level, st);
  }
  if (r < 0) return r;
  emit(EV_KVM_MAP, isPrivate ? EVF_PRIVATE : 0, vmIndex(vm), gfn, 0, level, 0);
  if (tdxPrivate) {
    // the guest accepts the page at the level KVM mapped it (TDG.MEM.PAGE.ACCEPT zeroes what it did not write)
    emit(EV_ARCH_SEPT_AUG, 0, vmIndex(vm), g0, 0, level, 0);
    tdxAccept(gi, index & ~(n - 1), n);
    const p = ptWalkLeaf(pt, gfn);
    if (p != 0) store<u64>(p, load<u64>(p) & ~SPTE_STATE_MASK); // PENDING -> MAPPED
    emit(EV_ARCH_SEPT_ACCEPT, 0, vmIndex(vm), g0, 0, level, 0);
  }
  return <i32>level;
}

