// KVM per VM: memslots bound to guest_memfd, the mmu_invalidate protocol (kvm_main.c), the private and shared
// tables on the shared walker, and the guest fault path of arch/x86/kvm/mmu/mmu.c (kvm_mmu_faultin_pfn +
// kvm_tdp_mmu_map).
import {
  VM_SEQ, VM_ENDS, VM_IN_PROGRESS, VM_FLAGS, VM_RANGE_START, VM_RANGE_END, VM_RANGE_VALID, VM_TLB_FLUSHES,
  VM_PT_PRIVATE, VM_PT_SHARED, VM_NSLOTS, VM_SLOTS, VM_SLOT_SIZE, VM_MAX_SLOTS, VM_HANDLE, VMF_DEAD,
  GI_NPAGES, GI_BITMAP, GI_FLAGS, GMEM_FLAG_V4, PAGE_SIZE, EV_KVM_INVALIDATE_BEGIN, EV_KVM_INVALIDATE_END,
  EV_KVM_ZAP, EV_KVM_TLB_FLUSH, EV_GUEST_FAULT, EV_GUEST_RETRY, EV_GUEST_MEMORY_FAULT_EXIT, EV_KVM_MAP,
  OBJ_INDEX_BITS, EV_ARCH_SEPT_DEMOTE, EV_ARCH_SEPT_AUG, EV_ARCH_SEPT_ACCEPT,
} from "./layout";
import { pageAlloc, pageFree } from "./alloc";
import { emit, countAdd, EVF_PRIVATE } from "./events";
import {
  TdpIter, ptInit, ptDestroy, ptMap, ptZapRange, ptWalkLeaf, spteLevel, sptePfn, ZAP_WHOLE, ZAP_DEMOTE,
  ptDemoteAt, ptZapLeaf, SPTE_STATE_MASK, spteState,
} from "./pagetable";
import { bitmapTest, bitmapSharedInBlock } from "./bitmap";
import {
  gmemBindAdd, gmemBindRemove, gmemGetPfn, gmemIsClosed, GETPFN_BLOCKED, guestRead, guestWrite, gmemLastPfn,
  gmemLastMaxOrder, isByteCount, gmemNbind, gmemBindVm, gmemBindSlot,
} from "./gmem";
import { archMaxPrivateLevel, isTdx, isSnp } from "./arch";
import { tdxZapPrivate, tdxInhibited, tdxAccept, tdxInhibit, SEPT_PENDING } from "./tdx";
import { rmpMakePrivate } from "./snp";
import { iommuRmpFlush } from "./iommu";
import { EINVAL, EEXIST, ENOMEM, EFAULT, EBADF, EIO } from "./errno";
import { checksOn, recordViolation, debugHook, DBG_SKIP_RETRY } from "./check";

// @ts-ignore: decorator
@inline export function vmPtPrivate(vm: u32): usize { return <usize>vm + VM_PT_PRIVATE; }
// @ts-ignore: decorator
@inline export function vmPtShared(vm: u32): usize { return <usize>vm + VM_PT_SHARED; }
// @ts-ignore: decorator
@inline export function vmSlot(vm: u32, slot: u32): usize { return <usize>vm + VM_SLOTS + <usize>slot * VM_SLOT_SIZE; }
// @ts-ignore: decorator
@inline export function vmIndex(vm: u32): u32 { return load<u32>(vm, VM_HANDLE) & ((1 << OBJ_INDEX_BITS) - 1); }
// slot fields
// @ts-ignore: decorator
@inline export function slotBase(s: usize): u32 { return load<u32>(s, 4); }
// @ts-ignore: decorator
@inline export function slotNpages(s: usize): u32 { return load<u32>(s, 8); }
// @ts-ignore: decorator
@inline export function slotPgoff(s: usize): u32 { return load<u32>(s, 16); }
// @ts-ignore: decorator
@inline export function slotInode(s: usize): u32 { return load<u32>(s, 20); }

export function vmCreate(): u32 {
  const vm = pageAlloc(0);
  if (vm == 0) return 0;
  ptInit(vmPtPrivate(vm));
  ptInit(vmPtShared(vm));
  return vm;
}

export function vmDestroy(vm: u32): void {
  for (let s: u32 = 0; s < <u32>VM_MAX_SLOTS; s++) {
    const sp = vmSlot(vm, s);
    if (load<u32>(sp) != 0) gmemBindRemove(slotInode(sp), vm, s);
  }
  ptDestroy(vmPtPrivate(vm));
  ptDestroy(vmPtShared(vm));
  pageFree(vm, 0);
}

/** The memslot holding gfn, or 0. */
export function slotForGfn(vm: u32, gfn: u32): usize {
  for (let s: u32 = 0; s < <u32>VM_MAX_SLOTS; s++) {
    const sp = vmSlot(vm, s);
    if (load<u32>(sp) != 0 && gfn - slotBase(sp) < slotNpages(sp) && gfn >= slotBase(sp)) return sp;
  }
  return 0;
}

/**
 * KVM_SET_USER_MEMORY_REGION2 creating a guest_memfd-backed slot (kvm_set_memory_region + kvm_gmem_bind).
 * -EINVAL: slot number >= 32, gpa/size not page aligned, size 0, gpa past the model's 16 TiB, slot already in use
 * (gmem slots are immutable), offset unaligned or beyond the file, overlap in the file's index space with another
 * binding of this VM (v4: -EEXIST); -EEXIST: gpa range overlaps another slot; -EBADF: the gmem fd is closed.
 */
export function vmBind(vm: u32, slot: u32, gpa: f64, size: f64, gi: u32, offset: f64): i32 {
  if (slot >= <u32>VM_MAX_SLOTS) return -EINVAL;
  if (!isByteCount(gpa) || !isByteCount(size) || !isByteCount(offset)) return -EINVAL;
  const g = <u64>gpa, sz = <u64>size, off = <u64>offset;
  const mask = <u64>PAGE_SIZE - 1;
  if ((g & mask) != 0 || (sz & mask) != 0 || sz == 0) return -EINVAL;
  if (((g + sz) >> 12) > <u64>0xffffffff) return -EINVAL;
  const sp = vmSlot(vm, slot);
  if (load<u32>(sp) != 0) return -EINVAL;
  const base = <u32>(g >> 12), npages = <u32>(sz >> 12);
  for (let s: u32 = 0; s < <u32>VM_MAX_SLOTS; s++) {
    const o = vmSlot(vm, s);
    if (load<u32>(o) == 0) continue;
    if (<u64>base < <u64>slotBase(o) + slotNpages(o) && <u64>slotBase(o) < <u64>base + npages) return -EEXIST;
  }
  if (gmemIsClosed(gi)) return -EBADF;
  // kvm_gmem_bind
  if ((off & mask) != 0 || off + sz > (<u64>load<u32>(gi, GI_NPAGES) << 12)) return -EINVAL;
  const pgoff = <u32>(off >> 12);
  const v4 = (load<u32>(gi, GI_FLAGS) & GMEM_FLAG_V4) != 0;
  for (let s: u32 = 0; s < <u32>VM_MAX_SLOTS; s++) {
    const o = vmSlot(vm, s);
    if (load<u32>(o) == 0 || slotInode(o) != gi) continue;
    if (<u64>pgoff < <u64>slotPgoff(o) + slotNpages(o) && <u64>slotPgoff(o) < <u64>pgoff + npages) {
      return v4 ? -EEXIST : -EINVAL;
    }
  }
  if (!gmemBindAdd(gi, vm, slot)) return -ENOMEM;
  store<u32>(sp, 1);
  store<u32>(sp, base, 4);
  store<u32>(sp, npages, 8);
  store<u32>(sp, pgoff, 16);
  store<u32>(sp, gi, 20);
  store<u32>(vm, load<u32>(vm, VM_NSLOTS) + 1, VM_NSLOTS);
  return 0;
}

/** Delete a memslot: every SPTE of it is zapped (kvm_arch_flush_shadow_memslot), then the binding goes. */
export function vmUnbind(vm: u32, slot: u32, it: TdpIter): i32 {
  if (slot >= <u32>VM_MAX_SLOTS) return -EINVAL;
  const sp = vmSlot(vm, slot);
  if (load<u32>(sp) == 0) return -EINVAL;
  const base = slotBase(sp);
  kvmInvalidateBegin(vm);
  kvmInvalidateRangeAdd(vm, base, base + slotNpages(sp));
  emit(EV_KVM_INVALIDATE_BEGIN, 0, vmIndex(vm), base, base + slotNpages(sp), 0, 0);
  const r = kvmZapGfnRange(vm, it, base, base + slotNpages(sp), true, true);
  kvmInvalidateEnd(vm);
  emit(EV_KVM_INVALIDATE_END, 0, vmIndex(vm), base, base + slotNpages(sp), 0, 0);
  if (r < 0) return r;
  gmemBindRemove(slotInode(sp), vm, slot);
  memory.fill(sp, 0, VM_SLOT_SIZE);
  store<u32>(vm, load<u32>(vm, VM_NSLOTS) - 1, VM_NSLOTS);
  return 0;
}

// ---- the mmu_invalidate protocol (virt/kvm/kvm_main.c) ----------------------------------------------------------

/** kvm_mmu_invalidate_begin: in_progress++; the first begin resets the range to INVALID_GPA. */
export function kvmInvalidateBegin(vm: u32): void {
  const n = load<i32>(vm, VM_IN_PROGRESS) + 1;
  store<i32>(vm, n, VM_IN_PROGRESS);
  if (n == 1) store<u32>(vm, 0, VM_RANGE_VALID);
}

/** kvm_mmu_invalidate_range_add: ranges accumulate until every outstanding invalidation has ended. */
export function kvmInvalidateRangeAdd(vm: u32, start: u32, end: u32): void {
  if (load<u32>(vm, VM_RANGE_VALID) == 0) {
    store<u32>(vm, start, VM_RANGE_START);
    store<u32>(vm, end, VM_RANGE_END);
    store<u32>(vm, 1, VM_RANGE_VALID);
  } else {
    if (start < load<u32>(vm, VM_RANGE_START)) store<u32>(vm, start, VM_RANGE_START);
    if (end > load<u32>(vm, VM_RANGE_END)) store<u32>(vm, end, VM_RANGE_END);
  }
}

/** kvm_mmu_invalidate_end: seq++, then in_progress--. */
export function kvmInvalidateEnd(vm: u32): void {
  store<u32>(vm, load<u32>(vm, VM_SEQ) + 1, VM_SEQ);
  store<u32>(vm, load<u32>(vm, VM_ENDS) + 1, VM_ENDS);
  store<i32>(vm, load<i32>(vm, VM_IN_PROGRESS) - 1, VM_IN_PROGRESS);
}

/** mmu_invalidate_retry_gfn: must a fault that snapshotted mmuSeq retry for gfn? */
export function kvmRetryGfn(vm: u32, mmuSeq: u32, gfn: u32): bool {
  if (load<i32>(vm, VM_IN_PROGRESS) > 0) {
    if (load<u32>(vm, VM_RANGE_VALID) == 0) return true;
    if (gfn >= load<u32>(vm, VM_RANGE_START) && gfn < load<u32>(vm, VM_RANGE_END)) return true;
  }
  return load<u32>(vm, VM_SEQ) != mmuSeq;
}

/**
 * Zap the SPTEs of [start, end) in the private and/or shared table (kvm_mmu_unmap_gfn_range with attr_filter),
 * then flush remote TLBs once if anything went. Emits one kvm.zap per table that lost entries. Returns the
 * leaves removed, or -ENOMEM (a TDX demotion needed a table page).
 */
export function kvmZapGfnRange(vm: u32, it: TdpIter, start: u32, end: u32, priv: bool, shared: bool): i32 {
  let total: i32 = 0;
  if (priv) {
    let r: i32;
    if (isTdx()) {
      const sp = slotForGfn(vm, start);
      r = sp == 0 ? 0 : tdxZapPrivate(vm, vmIndex(vm), vmPtPrivate(vm), it, slotInode(sp), slotBase(sp), slotPgoff(sp), start, end);
    } else r = ptZapRange(vmPtPrivate(vm), it, <u64>start, <u64>end, ZAP_WHOLE); // non-TDX: a straddling leaf goes whole
    if (r < 0) return r;
    if (r > 0) { emit(EV_KVM_ZAP, EVF_PRIVATE, vmIndex(vm), start, end, <u32>r, 0); countAdd(EV_KVM_ZAP, <u32>r); }
    total += r;
  }
  if (shared) {
    const r = ptZapRange(vmPtShared(vm), it, <u64>start, <u64>end, ZAP_WHOLE);
    if (r < 0) return r;
    if (r > 0) { emit(EV_KVM_ZAP, 0, vmIndex(vm), start, end, <u32>r, 0); countAdd(EV_KVM_ZAP, <u32>r); }
    total += r;
  }
  if (total > 0) {
    store<u32>(vm, load<u32>(vm, VM_TLB_FLUSHES) + 1, VM_TLB_FLUSHES);
    emit(EV_KVM_TLB_FLUSH, 0, vmIndex(vm), 0, 0, 0, 0);
  }
  return total;
}

// ---- the guest fault path ---------------------------------------------------------------------------------------

export const ACCESS_MAPPED: i32 = 1;
export const ACCESS_MEMORY_FAULT: i32 = 2;
export const ACCESS_RETRY: i32 = 3; //   could not make progress: an invalidation of this gfn is in flight
export const ACCESS_HWPOISON: i32 = 4;
export const ACCESS_PAUSED: i32 = 5;

// Results of the last access (per instance): level used, value read.
let accessLevel: u32 = 0;
let accessValue: u32 = 0;
export function lastAccessLevel(): u32 { return accessLevel; }
export function lastAccessValue(): u32 { return accessValue; }

// @ts-ignore: decorator
@inline function levelMask(level: u32): u32 { return level == 3 ? 262143 : level == 2 ? 511 : 0; }

/** Is a huge mapping of `level` at gfn allowed by the slot and the attributes (kvm_mmu_max_mapping_level)? */
function lpageAllowed(sp: usize, gi: u32, gfn: u32, level: u32, isPrivate: bool): bool {
  const shift: u32 = level == 3 ? 18 : 9;
  const n: u32 = <u32>1 << shift;
  const g0 = gfn & ~(n - 1);
  const base = slotBase(sp);
  // the huge range lies inside the slot, and gfn -> index keeps its alignment (disallow_lpage otherwise)
  if (g0 < base || <u64>g0 + n > <u64>base + slotNpages(sp)) return false;
  if (((slotPgoff(sp) - base) & (n - 1)) != 0) return false;
  // KVM_LPAGE_MIXED_FLAG: the attributes must be uniform over the range
  const i0 = g0 - base + slotPgoff(sp);
  // TDX: a block demoted after the guest accepted at 4 KiB never maps huge again (KVM_LPAGE_GUEST_INHIBIT)
  if (isPrivate && level == 2 && tdxInhibited(gi, i0)) return false;
  const c = bitmapSharedInBlock(load<u32>(gi, GI_BITMAP), i0, shift);
  return c == 0 || c == n;
}

/**
 * A guest access to gpa (gfn) with the private bit as given (kvm_mmu_page_fault -> kvm_mmu_faultin_pfn ->
 * kvm_tdp_mmu_map, then the access itself). An existing SPTE of the right kind serves the access without a fault.
 * Returns ACCESS_* or -errno; the level used and the value read are in lastAccessLevel/Value.
 * pauseAfterFaultin: stop after the pfn was faulted in, before mmu_lock (the caller saves seq/pfn/order).
 */
export function kvmGuestAccess(vm: u32, it: TdpIter, gfn: u32, isPrivate: bool, doWrite: bool, value: u32): i32 {
  if (load<u32>(vm, VM_FLAGS) & VMF_DEAD) return -EIO;
  const sp = slotForGfn(vm, gfn);
  if (sp == 0) return -EFAULT;
  for (let attempt = 0; attempt < 8; attempt++) {
    const r = kvmFaultIn(vm, sp, gfn, isPrivate);
    if (r != 0) return r;
    const done = kvmFaultFinish(vm, it, sp, gfn, isPrivate, doWrite, value, faultSeq, faultPfn, faultOrder);
    if (done != ACCESS_RETRY) return done;
  }
  return ACCESS_RETRY;
}

// state carried from kvmFaultIn to kvmFaultFinish (per instance; a paused fault copies it to its op object)
export let faultSeq: u32 = 0;
export let faultPfn: u32 = 0;
export let faultOrder: u32 = 0;

/**
 * First half of a fault: the existing-SPTE fast path, the snapshot of mmu_invalidate_seq, the private/shared
 * mismatch check (-> KVM_EXIT_MEMORY_FAULT), the lockless retry pre-check and kvm_gmem_get_pfn. Returns 0 when
 * kvmFaultFinish must run (faultSeq/Pfn/Order set), else the access's result.
 */
export function kvmFaultIn(vm: u32, sp: usize, gfn: u32, isPrivate: bool): i32 {
  const pt = isPrivate ? vmPtPrivate(vm) : vmPtShared(vm);
  const vmi = vmIndex(vm);
  const pflag: u32 = isPrivate ? EVF_PRIVATE : 0;
  const sptep = ptWalkLeaf(pt, gfn);
  if (sptep != 0) {
    faultSeq = load<u32>(vm, VM_SEQ);
    faultPfn = sptePfn(load<u64>(sptep));
    faultOrder = 0xff; // marks "already mapped"
    return 0;
  }
  emit(EV_GUEST_FAULT, pflag, vmi, gfn, 0, 0, 0);
  const mmuSeq = load<u32>(vm, VM_SEQ);
  const gi = slotInode(sp);
  const index = gfn - slotBase(sp) + slotPgoff(sp);
  const shared = bitmapTest(load<u32>(gi, GI_BITMAP), index);
  if (isPrivate == shared) {
    // kvm_prepare_memory_fault_exit: gpa, size 4 KiB, flags (PRIVATE iff the access was private)
    emit(EV_GUEST_MEMORY_FAULT_EXIT, pflag, vmi, gfn, 0, 0, 0);
    return ACCESS_MEMORY_FAULT;
  }
  if (load<i32>(vm, VM_IN_PROGRESS) > 0 && kvmRetryGfn(vm, mmuSeq, gfn)) {
    emit(EV_GUEST_RETRY, pflag, vmi, gfn, 0, 0, 0);
    return ACCESS_RETRY;
  }
  const r = gmemGetPfn(gi, index);
  if (r == GETPFN_BLOCKED) { // the invalidate lock is held by a conversion in flight
    emit(EV_GUEST_RETRY, pflag, vmi, gfn, 0, 0, 0);
    return ACCESS_RETRY;
  }
  if (r < 0) return r;
  // SNP: sev_gmem_prepare / make_private on the first private use (RMPUPDATE, which flushes the IOTLB)
  if (isPrivate && isSnp() && rmpMakePrivate(gi, index)) iommuRmpFlush(gi);
  faultSeq = mmuSeq;
  faultPfn = gmemLastPfn();
  faultOrder = gmemLastMaxOrder();
  return 0;
}


/**
 * Second half: under mmu_lock, is_page_fault_stale (mmu_invalidate_retry_gfn) -> retry; else map at
 * min(folio order, arch limit, lpage rules) and perform the access.
 */
export function kvmFaultFinish(vm: u32, it: TdpIter, sp: usize, gfn: u32, isPrivate: bool, doWrite: bool, value: u32,
                               mmuSeq: u32, pfn: u32, order: u32): i32 {
  const pt = isPrivate ? vmPtPrivate(vm) : vmPtShared(vm);
  const gi = slotInode(sp);
  const index = gfn - slotBase(sp) + slotPgoff(sp);
  if (order != 0xff) {
    const stale = kvmRetryGfn(vm, mmuSeq, gfn);
    if (stale && !debugHook(DBG_SKIP_RETRY)) { // is_page_fault_stale
      emit(EV_GUEST_RETRY, isPrivate ? EVF_PRIVATE : 0, vmIndex(vm), gfn, 0, 0, 0);
      return ACCESS_RETRY;
    }
    // I12: no SPTE is installed for a gfn inside an in-progress invalidation or from a stale snapshot
    if (stale && checksOn()) recordViolation(12, gfn);
    let level: u32 = order >= 18 ? 3 : order >= 9 ? 2 : 1;
    if (isPrivate) { const a = archMaxPrivateLevel(gi, index); if (a < level) level = a; } else level = 1;
    while (level > 1 && !lpageAllowed(sp, gi, gfn, level, isPrivate)) level--;
    const tdxPrivate = isPrivate && isTdx();
    const st: u32 = tdxPrivate ? SEPT_PENDING : 0; // TDH.MEM.PAGE.AUG installs a PENDING leaf
    let r = ptMap(pt, gfn & ~(levelMask(level)), pfn - (gfn & levelMask(level)), level, st);
    if (r == -EEXIST && level > 1) {
      // smaller mappings already inside the huge range (from before a merge): the TDP MMU installs the huge leaf
      // over the lower-level table, whose leaves go (handle_removed_pt) and are flushed
      const g0 = gfn & ~(levelMask(level));
      const z = ptZapRange(pt, it, <u64>g0, <u64>g0 + levelMask(level) + 1, ZAP_WHOLE);
      if (z < 0) return z;
      emit(EV_KVM_ZAP, isPrivate ? EVF_PRIVATE : 0, vmIndex(vm), g0, g0 + levelMask(level) + 1, <u32>z, 0);
      countAdd(EV_KVM_ZAP, <u32>z);
      store<u32>(vm, load<u32>(vm, VM_TLB_FLUSHES) + 1, VM_TLB_FLUSHES);
      emit(EV_KVM_TLB_FLUSH, 0, vmIndex(vm), 0, 0, 0, 0);
      r = ptMap(pt, g0, pfn - (gfn & levelMask(level)), level, st);
    }
    if (r < 0) return r;
    emit(EV_KVM_MAP, isPrivate ? 1 : 0, vmIndex(vm), gfn, 0, level, 0);
    if (tdxPrivate) {
      // the guest accepts the page at the level KVM mapped it (TDG.MEM.PAGE.ACCEPT zeroes what it did not write)
      const n: u32 = level == 3 ? 262144 : level == 2 ? 512 : 1;
      const g0 = gfn & ~(n - 1);
      emit(EV_ARCH_SEPT_AUG, 0, vmIndex(vm), g0, 0, level, 0);
      tdxAccept(gi, index & ~(n - 1), n);
      const p = ptWalkLeaf(pt, gfn);
      if (p != 0) store<u64>(p, load<u64>(p) & ~SPTE_STATE_MASK); // PENDING -> MAPPED
      emit(EV_ARCH_SEPT_ACCEPT, 0, vmIndex(vm), g0, 0, level, 0);
    }
    accessLevel = level;
  } else {
    const sptep = ptWalkLeaf(pt, gfn);
    accessLevel = sptep != 0 ? spteLevel(load<u64>(sptep)) : 1;
  }
  accessValue = guestRead(gi, index, isPrivate);
  if (doWrite) {
    if (!guestWrite(gi, index, isPrivate, value)) return -ENOMEM;
  }
  return ACCESS_MAPPED;
}

/** The SPTE mapping gpa in the private (or shared) table: level (0 none); pfn in *lastSptePfn. */
let sptePfnOut: u32 = 0;
let spteStateOut: u32 = 0;
export function lastSptePfn(): u32 { return sptePfnOut; }
export function lastSpteState(): u32 { return spteStateOut; }
export function kvmSpteLevel(vm: u32, gfn: u32, isPrivate: bool): u32 {
  const p = ptWalkLeaf(isPrivate ? vmPtPrivate(vm) : vmPtShared(vm), gfn);
  if (p == 0) return 0;
  const e = load<u64>(p);
  const level = spteLevel(e);
  const n: u32 = level == 3 ? 262144 : level == 2 ? 512 : 1;
  sptePfnOut = sptePfn(e) + (gfn & (n - 1));
  spteStateOut = spteState(e);
  return level;
}

/**
 * Before a folio of [first, first + n) (gmem indices) is split, no mapping larger than 4 KiB may stay over it
 * (I15; TDX v3's "Zap mappings before splitting backend folios"): for every VM bound there, a huge private SPTE
 * inside the range is demoted to 4 KiB on TDX (accepted memory cannot be refaulted) and zapped elsewhere.
 */
export function kvmSmashForSplit(gi: u32, first: u32, n: u32): void {
  const nb = gmemNbind(gi);
  for (let i: u32 = 0; i < nb; i++) {
    const vm = gmemBindVm(gi, i);
    const sp = vmSlot(vm, gmemBindSlot(gi, i));
    const pg = slotPgoff(sp);
    const lo = first > pg ? first : pg, hi = first + n < pg + slotNpages(sp) ? first + n : pg + slotNpages(sp);
    if (lo >= hi) continue;
    const pt = vmPtPrivate(vm);
    let zapped: u32 = 0;
    for (let idx = lo & ~511; idx < hi; idx += 512) {
      const gfn = slotBase(sp) + (idx < lo ? lo : idx) - pg;
      let p = ptWalkLeaf(pt, gfn);
      while (p != 0 && spteLevel(load<u64>(p)) >= 2) {
        const level = spteLevel(load<u64>(p));
        const g0 = gfn & ~(level == 3 ? 262143 : 511);
        if (isTdx()) {
          if (ptDemoteAt(pt, p) < 0) break;
          emit(EV_ARCH_SEPT_DEMOTE, 0, vmIndex(vm), g0, 0, level, 0);
          if (level == 2) tdxInhibit(gi, g0 - slotBase(sp) + pg);
          p = ptWalkLeaf(pt, gfn);
        } else {
          ptZapLeaf(pt, gfn);
          emit(EV_KVM_ZAP, EVF_PRIVATE, vmIndex(vm), g0, g0 + (level == 3 ? 262144 : 512), 1, 0);
          countAdd(EV_KVM_ZAP, 1);
          zapped++;
          break;
        }
      }
    }
    if (zapped > 0) {
      store<u32>(vm, load<u32>(vm, VM_TLB_FLUSHES) + 1, VM_TLB_FLUSHES);
      emit(EV_KVM_TLB_FLUSH, 0, vmIndex(vm), 0, 0, 0, 0);
    }
  }
}
