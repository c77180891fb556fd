// The host side of a guest_memfd: mmap, host faults (kvm_gmem_fault_user_mapping: shared pages only, 4 KiB only,
// zeroed on first touch), long-term GUP pins through the mapping (pin_user_pages(FOLL_LONGTERM), as VFIO type1
// does), and unmap_mapping_pages.
import { GI_MMAPPED, GI_NPAGES } from "../abi/records";
import { EV_HOST_MAP, EV_HOST_UNMAP, EV_HOST_PIN, EV_HOST_UNPIN } from "../abi/events";
import { HOST_OK, HOST_SIGBUS, RESULT_BLOCKED } from "../abi/ops";
import { EINVAL, EFAULT, ENODEV } from "../abi/errno";
import { emit } from "../lib/events";
import { fpTouch, RES_HOST, FP_WRITE } from "../lib/footprint";
import {
  gmemHasMmap, gmemIsMmapped, gmemIsShared, gmemIndex, gmemHostPtes, gmemHostPtesAdd, blockShift,
} from "./inode";
import { blockState, FB_SPLIT, folioOrder } from "./folio";
import { folioHostMapped, folioSetHostMap, folioRef, folioPins, folioIoPins, REF_PIN } from "./refs";
import { orphanFind, orphanUnpin } from "./orphan";
import { invLockRead, invUnlockRead, pagesLock } from "./lock";
import { GI_PAGES_LOCK } from "../abi/records";
import { releaseOne, LW_MAY, LW_MUST } from "../mm/sync";
import { gmemGetFolio, gmemPrepareFolio, getPfnLocks } from "./getpfn";

/** mmap of the guest_memfd (kvm_gmem_mmap): -ENODEV without the shared-capable (mmap) flag. */
export function gmemMmap(gi: u32): i32 {
  if (!gmemHasMmap(gi)) return -ENODEV;
  fpTouch(gmemIndex(gi), RES_HOST, FP_WRITE);
  store<u32>(gi, 1, GI_MMAPPED);
  return 0;
}

/** munmap of the whole file mapping: every host PTE goes. */
export function gmemMunmap(gi: u32): i32 {
  if (!gmemIsMmapped(gi)) return -EINVAL;
  gmemHostUnmapRange(gi, 0, load<u32>(gi, GI_NPAGES));
  store<u32>(gi, 0, GI_MMAPPED);
  return 0;
}

/** One page's fault under the held shared invalidate lock and page lock: HOST_OK, HOST_SIGBUS or -errno. */
export function gmemHostFaultHeld(gi: u32, index: u32): i32 {
  if (!gmemIsShared(gi, index)) return HOST_SIGBUS; // kvm_gmem_get_shared_folio: -EACCES -> VM_FAULT_SIGBUS
  // another thread's fault of the same page may have installed the PTE while this one waited for the locks
  // (finish_fault finds the PTE there and returns): nothing to do
  if (folioHostMapped(gi, index)) return HOST_OK;
  const r = gmemGetFolio(gi, index);
  if (r < 0) return r;
  if (folioOrder(gi, index) > 0) return HOST_SIGBUS; // WARN_ON_ONCE(folio_test_large(folio))
  gmemPrepareFolio(gi, index);
  folioSetHostMap(gi, index, true);
  gmemHostPtesAdd(gi, 1);
  emit(EV_HOST_MAP, 0, gmemIndex(gi), index, index + 1, 0, 0);
  return HOST_OK;
}

/**
 * A host access faults the page in if no PTE maps it. The fault holds the invalidate lock shared across lookup
 * and install (kvm_gmem_fault). HOST_OK, HOST_SIGBUS, RESULT_BLOCKED (a conversion holds the lock) or -errno
 * (-EFAULT: not mmapped).
 */
export function gmemHostFault(gi: u32, index: u32): i32 {
  if (!gmemIsMmapped(gi)) return -EFAULT;
  if (index >= load<u32>(gi, GI_NPAGES)) return HOST_SIGBUS;
  fpTouch(gmemIndex(gi), RES_HOST, FP_WRITE);
  if (!pagesLock(gi, LW_MAY)) return RESULT_BLOCKED;
  if (folioHostMapped(gi, index)) return HOST_OK; // a PTE maps it: no fault (the page lock stays for the access)
  releaseOne(<usize>gi + GI_PAGES_LOCK); // the fault takes the invalidate lock first, then the page lock again
  if (!invLockRead(gi)) return RESULT_BLOCKED;
  getPfnLocks(gi, false, LW_MUST);
  const r = gmemHostFaultHeld(gi, index);
  invUnlockRead(gi);
  return r;
}

/** unmap_mapping_pages over [start, end): drop every host PTE there; emits host.unmap; returns the count. */
export function gmemHostUnmapRange(gi: u32, start: u32, end: u32): u32 {
  let n: u32 = 0;
  fpTouch(gmemIndex(gi), RES_HOST, FP_WRITE);
  if (gmemHostPtes(gi) != 0) {
    const shift = blockShift(gi);
    let i = start;
    while (i < end) {
      const b = i >> shift;
      const blockEnd = (b + 1) << shift;
      const e = end < blockEnd ? end : blockEnd;
      if (blockState(gi, b) == FB_SPLIT) {
        for (let j = i; j < e; j++) {
          if (folioHostMapped(gi, j)) { folioSetHostMap(gi, j, false); n++; }
        }
      }
      i = e;
    }
    gmemHostPtesAdd(gi, -<i32>n);
  }
  emit(EV_HOST_UNMAP, 0, gmemIndex(gi), start, end, n, 0);
  return n;
}

/**
 * Long-term GUP pin of [start, end) through the host mapping: every page is faulted in under the shared
 * invalidate lock (a private page fails the whole pin with -EFAULT, nothing stays pinned), then pinned.
 * RESULT_BLOCKED while a conversion holds the lock.
 */
export function gmemPin(gi: u32, start: u32, end: u32): i32 {
  if (!gmemIsMmapped(gi)) return -EFAULT;
  fpTouch(gmemIndex(gi), RES_HOST, FP_WRITE);
  if (!invLockRead(gi)) return RESULT_BLOCKED;
  getPfnLocks(gi, false, LW_MUST);
  let r: i32 = 0;
  for (let i = start; i < end && r == 0; i++) {
    if (folioHostMapped(gi, i)) continue;
    const f = gmemHostFaultHeld(gi, i);
    if (f != HOST_OK) r = f == HOST_SIGBUS ? -EFAULT : f;
  }
  invUnlockRead(gi);
  if (r != 0) return r;
  for (let i = start; i < end; i++) folioRef(gi, i, REF_PIN, 1);
  emit(EV_HOST_PIN, 0, gmemIndex(gi), start, end, 0, 0);
  return 0;
}

/** unpin_user_pages of the pins host.pin took: -EINVAL (nothing changes) if a page in range has none. */
export function gmemUnpin(gi: u32, start: u32, end: u32): i32 {
  fpTouch(gmemIndex(gi), RES_HOST, FP_WRITE);
  if (!pagesLock(gi, LW_MAY)) return RESULT_BLOCKED;
  for (let i = start; i < end; i++) {
    if (folioPins(gi, i) <= folioIoPins(gi, i) && orphanFind(gi, i, false) == 0) return -EINVAL;
  }
  for (let i = start; i < end; i++) {
    if (folioPins(gi, i) > folioIoPins(gi, i)) folioRef(gi, i, REF_PIN, -1);
    else orphanUnpin(gi, orphanFind(gi, i, false), false);
  }
  emit(EV_HOST_UNPIN, 0, gmemIndex(gi), start, end, 0, 0);
  return 0;
}
