// KVM as a consumer of guest_memfd invalidations: one notifier record per VM bound to an inode (one gmem file per
// VM), whatever number of memslots bind it. Mirrors kvm_gmem_invalidate_begin / _end: for each memslot of the file
// overlapping the range, the first one takes KVM_MMU_LOCK and calls kvm_mmu_invalidate_begin, each adds its gfn
// range; zaps flush the VM's TLBs once; end calls kvm_mmu_invalidate_end once.
import {
  EV_KVM_INVALIDATE_BEGIN, EV_KVM_INVALIDATE_END, EV_KVM_RANGE_ADD,
} from "../abi/events";
import { NOPS_KVM, FILTER_PRIVATE, FILTER_SHARED } from "../abi/consts";
import { emit } from "../lib/events";
import { notifierOpsSet, notifierPrefetchSet } from "../gmem/notifier";
import { ptTouch } from "../lib/ptread";
import {
  vmSlotsEnd, vmSlot, vmIndex, slotUsed, slotInode, slotOverlap, overlapGfnStart, overlapGfnEnd, overlapLo,
  overlapHi, vmPtPrivate, vmPtShared,
} from "./vm";
import {
  mmuWrite, kvmInvalidateBegin, kvmInvalidateRangeAdd, kvmInvalidateEnd, kvmZapSlotRange, kvmFlushTlbs,
  kvmBreakHuge,
} from "./mmu";

// union of the gfn ranges of the VM's slots overlapping an index range (computed by spanOf)
let spanLo: u32 = 0;
let spanHi: u32 = 0;

/** The gfn span of the VM's memslots bound to gi that overlap [start, end); false when none does. */
function spanOf(vm: u32, gi: u32, start: u32, end: u32): bool {
  let any = false;
  spanLo = 0xffffffff; spanHi = 0;
  for (let s: u32 = 0, n = vmSlotsEnd(vm); s < n; s++) {
    const sp = vmSlot(vm, s);
    if (!slotUsed(sp) || slotInode(sp) != gi || !slotOverlap(sp, start, end)) continue;
    const gs = overlapGfnStart(sp), ge = overlapGfnEnd(sp);
    if (gs < spanLo) spanLo = gs;
    if (ge > spanHi) spanHi = ge;
    any = true;
  }
  return any;
}

/** kvm_gmem_invalidate_begin for one VM: begin once, range_add per overlapping memslot. */
function kvmGmemBegin(vm: u32, gi: u32, start: u32, end: u32, reason: u32): void {
  if (!spanOf(vm, gi, start, end)) return;
  mmuWrite(vm);
  kvmInvalidateBegin(vm);
  emit(EV_KVM_INVALIDATE_BEGIN, 0, vmIndex(vm), spanLo, spanHi, 0, 0);
  for (let s: u32 = 0, n = vmSlotsEnd(vm); s < n; s++) {
    const sp = vmSlot(vm, s);
    if (!slotUsed(sp) || slotInode(sp) != gi || !slotOverlap(sp, start, end)) continue;
    kvmInvalidateRangeAdd(vm, overlapGfnStart(sp), overlapGfnEnd(sp));
    emit(EV_KVM_RANGE_ADD, 0, vmIndex(vm), overlapGfnStart(sp), overlapGfnEnd(sp), 0, 0);
  }
}

/** Zap the SPTEs `filter` selects in every overlapping memslot, then one remote TLB flush. */
function kvmGmemInvalidate(vm: u32, gi: u32, start: u32, end: u32, reason: u32, filter: u32): i32 {
  let total: i32 = 0;
  for (let s: u32 = 0, n = vmSlotsEnd(vm); s < n; s++) {
    const sp = vmSlot(vm, s);
    if (!slotUsed(sp) || slotInode(sp) != gi || !slotOverlap(sp, start, end)) continue;
    const r = kvmZapSlotRange(vm, sp, overlapGfnStart(sp), overlapGfnEnd(sp), (filter & FILTER_PRIVATE) != 0,
      (filter & FILTER_SHARED) != 0);
    if (r < 0) { if (total > 0) kvmFlushTlbs(vm); return r; }
    total += r;
  }
  if (total > 0) kvmFlushTlbs(vm);
  return total;
}

/** kvm_gmem_invalidate_end for one VM: end once if any memslot overlapped. */
function kvmGmemEnd(vm: u32, gi: u32, start: u32, end: u32, reason: u32): void {
  if (!spanOf(vm, gi, start, end)) return;
  mmuWrite(vm);
  kvmInvalidateEnd(vm);
  emit(EV_KVM_INVALIDATE_END, 0, vmIndex(vm), spanLo, spanHi, 0, 0);
}

/** Before the backing of [first, first + n) shrinks: no private SPTE larger than `how`'s level stays over it. */
function kvmGmemRestructure(vm: u32, gi: u32, first: u32, n: u32, how: u32): void {
  let zapped: u32 = 0;
  for (let s: u32 = 0, ns = vmSlotsEnd(vm); s < ns; s++) {
    const sp = vmSlot(vm, s);
    if (!slotUsed(sp) || slotInode(sp) != gi || !slotOverlap(sp, first, first + n)) continue;
    zapped += kvmBreakHuge(vm, sp, overlapLo(), overlapHi(), how);
  }
  if (zapped > 0) kvmFlushTlbs(vm);
}

/** The SPTEs (both tables) an invalidation of [start, end) would zap, read (the caller bounds the range). */
function kvmGmemPrefetch(vm: u32, gi: u32, start: u32, end: u32): u64 {
  let x: u64 = 0;
  for (let s: u32 = 0, n = vmSlotsEnd(vm); s < n; s++) {
    const sp = vmSlot(vm, s);
    if (!slotUsed(sp) || slotInode(sp) != gi || !slotOverlap(sp, start, end)) continue;
    for (let g = overlapGfnStart(sp), ge = overlapGfnEnd(sp); g < ge; g++) {
      x += ptTouch(vmPtPrivate(vm), g) + ptTouch(vmPtShared(vm), g);
    }
  }
  return x;
}

/** Publish KVM's callbacks (every attach). */
export function kvmNotifierOpsInit(): void {
  notifierOpsSet(NOPS_KVM, kvmGmemBegin, kvmGmemInvalidate, kvmGmemEnd, kvmGmemRestructure);
  notifierPrefetchSet(NOPS_KVM, kvmGmemPrefetch);
}
