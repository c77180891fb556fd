// A VM (struct kvm): KVM's per-VM invalidation state (mmu_invalidate_seq, _in_progress, _range_start/_end), the
// private and shared tables on the one radix walker, and the memslots. One 4 KiB record:
//   +0 mmu_invalidate_seq u32      +4 invalidate_end calls u32 (I13: seq == ends)   +8 in_progress i32
//   +12 flags u32 (VMF_*)          +16 range_start u32 (gfn)     +20 range_end u32    +24 range valid u32
//   +28 remote TLB flushes u32     +32 private table (PT_OBJ_SIZE: S-EPT mirror / private NPT)
//   +64 shared table               +96 memslots in use u32       +100 own handle u32   +104 mmu_lock u32
//   +108 slots end u32 (highest used memslot + 1: what the slot loops scan)
//   +128 memslots, VM_SLOT_SIZE each:
//        +0 used u32, +4 base_gfn u32, +8 npages u32, +16 gmem pgoff u32, +20 inode u32
import { OBJ_INDEX_BITS, PAGE_SIZE } from "../abi/layout";
import { pageAlloc, pageFree } from "../mm/alloc";
import { ptInit, ptDestroy, PT_OBJ_SIZE } from "../lib/pagetable";
import { DEBUG } from "../lib/debug";

export const VM_SEQ: usize = 0;
export const VM_ENDS: usize = 4;
export const VM_IN_PROGRESS: usize = 8;
export const VM_FLAGS: usize = 12;
export const VM_RANGE_START: usize = 16;
export const VM_RANGE_END: usize = 20;
export const VM_RANGE_VALID: usize = 24;
export const VM_TLB_FLUSHES: usize = 28;
export const VM_PT_PRIVATE: usize = 32;
export const VM_PT_SHARED: usize = VM_PT_PRIVATE + PT_OBJ_SIZE;
export const VM_NSLOTS: usize = 96;
export const VM_HANDLE: usize = 100;
export const VM_MMU_LOCK: usize = 104;
export const VM_SLOTS_END: usize = 108;
export const VM_SLOTS: usize = 128;
export const VM_SLOT_SIZE: u32 = 32;
export const VM_MAX_SLOTS: u32 = 32;
export const VMF_DEAD: u32 = 1; //                  KVM_BUG_ON: the VM is dead

const SL_USED: usize = 0;
const SL_BASE: usize = 4;
const SL_NPAGES: usize = 8;
const SL_PGOFF: usize = 16;
const SL_INODE: usize = 20;

// @ts-ignore: decorator
@inline export function vmPtPrivate(vm: u32): usize { return <usize>vm + VM_PT_PRIVATE; }
// @ts-ignore: decorator
@inline export function vmPtShared(vm: u32): usize { return <usize>vm + VM_PT_SHARED; }
// @ts-ignore: decorator
@inline export function vmPt(vm: u32, isPrivate: bool): usize { return isPrivate ? vmPtPrivate(vm) : vmPtShared(vm); }
// @ts-ignore: decorator
@inline export function vmSlot(vm: u32, slot: u32): usize {
  if (DEBUG) assert(slot < VM_MAX_SLOTS, "vmSlot: slot number");
  return <usize>vm + VM_SLOTS + <usize>slot * VM_SLOT_SIZE;
}
/** The VM's handle index: how events and footprints name it. */
// @ts-ignore: decorator
@inline export function vmIndex(vm: u32): u32 { return load<u32>(vm, VM_HANDLE) & ((1 << OBJ_INDEX_BITS) - 1); }
// @ts-ignore: decorator
@inline export function vmIsDead(vm: u32): bool { return (load<u32>(vm, VM_FLAGS) & VMF_DEAD) != 0; }
// @ts-ignore: decorator
@inline export function vmMarkDead(vm: u32): void { store<u32>(vm, load<u32>(vm, VM_FLAGS) | VMF_DEAD, VM_FLAGS); }
// @ts-ignore: decorator
@inline export function vmSeq(vm: u32): u32 { return load<u32>(vm, VM_SEQ); }
// @ts-ignore: decorator
@inline export function vmInProgress(vm: u32): i32 { return load<i32>(vm, VM_IN_PROGRESS); }
// @ts-ignore: decorator
@inline export function vmTlbFlushes(vm: u32): u32 { return load<u32>(vm, VM_TLB_FLUSHES); }

// memslot fields
// @ts-ignore: decorator
@inline export function slotUsed(s: usize): bool { return load<u32>(s, SL_USED) != 0; }
// @ts-ignore: decorator
@inline export function slotBase(s: usize): u32 { return load<u32>(s, SL_BASE); }
// @ts-ignore: decorator
@inline export function slotNpages(s: usize): u32 { return load<u32>(s, SL_NPAGES); }
// @ts-ignore: decorator
@inline export function slotPgoff(s: usize): u32 { return load<u32>(s, SL_PGOFF); }
// @ts-ignore: decorator
@inline export function slotInode(s: usize): u32 { return load<u32>(s, SL_INODE); }
/** kvm_gmem_get_index: the gmem index of gfn in slot s. */
// @ts-ignore: decorator
@inline export function slotIndex(s: usize, gfn: u32): u32 { return gfn - slotBase(s) + slotPgoff(s); }

/** Loops over a VM's memslots stop here: one past the highest slot in use. */
// @ts-ignore: decorator
@inline export function vmSlotsEnd(vm: u32): u32 { return load<u32>(vm, VM_SLOTS_END); }

// a slot's VM record (one page) and its number
// @ts-ignore: decorator
@inline function slotVm(s: usize): u32 { return <u32>(s & ~(<usize>PAGE_SIZE - 1)); }
// @ts-ignore: decorator
@inline function slotNumber(s: usize): u32 { return <u32>((s & (<usize>PAGE_SIZE - 1)) - VM_SLOTS) / VM_SLOT_SIZE; }

export function slotSet(s: usize, base: u32, npages: u32, pgoff: u32, gi: u32): void {
  const vm = slotVm(s);
  if (slotNumber(s) + 1 > vmSlotsEnd(vm)) store<u32>(vm, slotNumber(s) + 1, VM_SLOTS_END);
  store<u32>(s, 1, SL_USED);
  store<u32>(s, base, SL_BASE);
  store<u32>(s, npages, SL_NPAGES);
  store<u32>(s, pgoff, SL_PGOFF);
  store<u32>(s, gi, SL_INODE);
}

export function slotClear(s: usize): void {
  memory.fill(s, 0, VM_SLOT_SIZE);
  const vm = slotVm(s);
  let end = vmSlotsEnd(vm);
  while (end > 0 && !slotUsed(vmSlot(vm, end - 1))) end--;
  store<u32>(vm, end, VM_SLOTS_END);
}

export function vmCreate(): u32 {
  const vm = pageAlloc(0);
  if (vm == 0) return 0;
  ptInit(vmPtPrivate(vm));
  ptInit(vmPtShared(vm));
  return vm;
}

/** Free the VM's tables and record (its memslots are gone already). */
export function vmFree(vm: u32): void {
  ptDestroy(vmPtPrivate(vm));
  ptDestroy(vmPtShared(vm));
  pageFree(vm, 0);
}

/** The memslot holding gfn, or 0. */
export function slotForGfn(vm: u32, gfn: u32): usize {
  for (let s: u32 = 0, n = vmSlotsEnd(vm); s < n; s++) {
    const sp = vmSlot(vm, s);
    if (slotUsed(sp) && gfn >= slotBase(sp) && gfn - slotBase(sp) < slotNpages(sp)) return sp;
  }
  return 0;
}

/** [lo, hi) of the gmem index range [s, e) that slot sp binds; lo >= hi when none. Results via the two globals. */
let ovLo: u32 = 0;
let ovHi: u32 = 0;
export function slotOverlap(sp: usize, s: u32, e: u32): bool {
  const pg = slotPgoff(sp);
  const end = pg + slotNpages(sp);
  ovLo = s > pg ? s : pg;
  ovHi = e < end ? e : end;
  return ovLo < ovHi;
}
/** gfn of the overlap's first index (after slotOverlap). */
// @ts-ignore: decorator
@inline export function overlapGfnStart(sp: usize): u32 { return slotBase(sp) + ovLo - slotPgoff(sp); }
// @ts-ignore: decorator
@inline export function overlapGfnEnd(sp: usize): u32 { return slotBase(sp) + ovHi - slotPgoff(sp); }
// @ts-ignore: decorator
@inline export function overlapLo(): u32 { return ovLo; }
// @ts-ignore: decorator
@inline export function overlapHi(): u32 { return ovHi; }
