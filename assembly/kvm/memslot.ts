// Memslots bound to a guest_memfd: KVM_SET_USER_MEMORY_REGION2 creating a gmem-backed slot (kvm_set_memory_region +
// kvm_gmem_bind) and deleting it (kvm_gmem_unbind + kvm_arch_flush_shadow_memslot). Both take the inode's
// invalidate lock; the VM's first slot on an inode registers the VM on the inode's notifier list, its last slot
// unregisters it.
import { PAGE_SIZE } from "../abi/layout";
import { EV_KVM_INVALIDATE_BEGIN, EV_KVM_INVALIDATE_END } from "../abi/events";
import { NOTIFIER_KVM, NOPS_KVM } from "../abi/consts";
import { RESULT_BLOCKED } from "../abi/ops";
import { EINVAL, EEXIST, ENOMEM, EBADF } from "../abi/errno";
import { emit } from "../lib/events";
import { gmemNpages, gmemIsV4, gmemIsClosed, isByteCount } from "../gmem/inode";
import { invLockWrite, invUnlockWrite, invLockFree } from "../gmem/lock";
import { notifierRegister, notifierUnregister, notifierHas } from "../gmem/notifier";
import {
  VM_NSLOTS, VM_MAX_SLOTS, VM_MMU_LOCK, vmSlotsEnd, vmSlot, vmIndex, slotUsed, slotBase, slotNpages, slotPgoff, slotInode,
  slotSet, slotClear,
} from "./vm";
import { kvmInvalidateBegin, kvmInvalidateRangeAdd, kvmInvalidateEnd, kvmZapSlotRange, kvmFlushTlbs, mmuWrite } from "./mmu";

/** Does any other memslot of the VM bind gi? */
function vmBindsInode(vm: u32, gi: u32, except: u32): bool {
  for (let s: u32 = 0; s < VM_MAX_SLOTS; s++) {
    if (s != except && slotUsed(vmSlot(vm, s)) && slotInode(vmSlot(vm, s)) == gi) return true;
  }
  return false;
}

/**
 * Create memslot `slot` of `size` bytes at `gpa`, backed by gi from `offset`. -EINVAL: slot number >= 32, gpa/size
 * not page aligned, size 0, gpa past the model's 16 TiB, slot already in use (gmem slots are immutable), offset
 * unaligned or beyond the file, overlap in the file's index space with another binding of this VM (v4: -EEXIST);
 * -EEXIST: the gpa range overlaps another slot; -EBADF: the gmem fd is closed; RESULT_BLOCKED: an operation holds
 * the invalidate lock.
 */
export function vmBind(vm: u32, slot: u32, gpa: f64, size: f64, gi: u32, offset: f64, owner: u32): i32 {
  if (slot >= VM_MAX_SLOTS) return -EINVAL;
  if (!isByteCount(gpa) || !isByteCount(size) || !isByteCount(offset)) return -EINVAL;
  const g = <u64>gpa, sz = <u64>size, off = <u64>offset;
  const mask = <u64>PAGE_SIZE - 1;
  if ((g & mask) != 0 || (sz & mask) != 0 || sz == 0) return -EINVAL;
  if (((g + sz) >> 12) > <u64>0xffffffff) return -EINVAL;
  const sp = vmSlot(vm, slot);
  if (slotUsed(sp)) return -EINVAL;
  const base = <u32>(g >> 12), npages = <u32>(sz >> 12);
  for (let s: u32 = 0; s < VM_MAX_SLOTS; s++) {
    const o = vmSlot(vm, s);
    if (!slotUsed(o)) continue;
    if (<u64>base < <u64>slotBase(o) + slotNpages(o) && <u64>slotBase(o) < <u64>base + npages) return -EEXIST;
  }
  if (gmemIsClosed(gi)) return -EBADF;
  // kvm_gmem_bind
  if ((off & mask) != 0 || off + sz > (<u64>gmemNpages(gi) << 12)) return -EINVAL;
  const pgoff = <u32>(off >> 12);
  for (let s: u32 = 0; s < VM_MAX_SLOTS; s++) {
    const o = vmSlot(vm, s);
    if (!slotUsed(o) || slotInode(o) != gi) continue;
    if (<u64>pgoff < <u64>slotPgoff(o) + slotNpages(o) && <u64>slotPgoff(o) < <u64>pgoff + npages) {
      return gmemIsV4(gi) ? -EEXIST : -EINVAL;
    }
  }
  if (!invLockWrite(gi, owner)) return RESULT_BLOCKED;
  let r: i32 = 0;
  if (!notifierHas(gi, vm) && !notifierRegister(gi, NOTIFIER_KVM, NOPS_KVM, vm, vmIndex(vm), <usize>vm + VM_MMU_LOCK)) r = -ENOMEM;
  else {
    slotSet(sp, base, npages, pgoff, gi);
    store<u32>(vm, load<u32>(vm, VM_NSLOTS) + 1, VM_NSLOTS);
  }
  invUnlockWrite(gi);
  return r;
}

/**
 * Delete a memslot: every SPTE of it is zapped under an invalidation of the slot's range, then the binding goes.
 * -EINVAL for a slot that is not in use; RESULT_BLOCKED while an operation holds the inode's invalidate lock.
 */
export function vmUnbind(vm: u32, slot: u32, owner: u32): i32 {
  if (slot >= VM_MAX_SLOTS) return -EINVAL;
  const sp = vmSlot(vm, slot);
  if (!slotUsed(sp)) return -EINVAL;
  const gi = slotInode(sp);
  if (!invLockWrite(gi, owner)) return RESULT_BLOCKED;
  const base = slotBase(sp), end = base + slotNpages(sp);
  mmuWrite(vm);
  kvmInvalidateBegin(vm);
  kvmInvalidateRangeAdd(vm, base, end);
  emit(EV_KVM_INVALIDATE_BEGIN, 0, vmIndex(vm), base, end, 0, 0);
  const r = kvmZapSlotRange(vm, sp, base, end, true, true);
  if (r > 0) kvmFlushTlbs(vm);
  kvmInvalidateEnd(vm);
  emit(EV_KVM_INVALIDATE_END, 0, vmIndex(vm), base, end, 0, 0);
  if (r >= 0) {
    slotClear(sp);
    store<u32>(vm, load<u32>(vm, VM_NSLOTS) - 1, VM_NSLOTS);
    if (!vmBindsInode(vm, gi, 0xffffffff)) notifierUnregister(gi, vm);
  }
  invUnlockWrite(gi);
  return r < 0 ? r : 0;
}

/** Could every memslot's inode lock be taken now (vm.destroy deletes them all in one step)? */
export function vmSlotsLockable(vm: u32): bool {
  for (let s: u32 = 0, n = vmSlotsEnd(vm); s < n; s++) {
    const sp = vmSlot(vm, s);
    if (slotUsed(sp) && !invLockFree(slotInode(sp))) return false;
  }
  return true;
}
