// guest_memfd inodes: the physical memory of a confidential guest. An inode owns its shareability bitmap and its
// filemap (folio.ts); the VMs' files (views), bindings and the conversion ioctls build on it.
import {
  GI_SIZE_LO, GI_SIZE_HI, GI_NPAGES, GI_FLAGS, GI_BITMAP, GI_INV_LOCK, GI_OBJ_SIZE, PAGE_SIZE,
  GMEM_FLAG_MMAP, GMEM_FLAG_INIT_SHARED, GMEM_FLAG_INIT_PRIVATE, GMEM_FLAG_HUGETLB_2M, GMEM_FLAG_HUGETLB_1G,
  GMEM_FLAG_V4, GMEM_FLAGS_VALID, GMEM_MAX_PAGES_LOG2, GI_MMAPPED, GI_CLOSED, GI_NBIND, GI_HOSTPTES, GI_HANDLE,
  GI_BINDS, GI_BIND_SIZE, GI_MAX_BINDS, OBJ_INDEX_BITS, GI_NIOMMU, FB_HUGE, FB_SPLIT, INJ_ENOMEM_SPLIT, INJ_TRANSIENT_REF,
  EV_GMEM_LOCK, EV_GMEM_UNLOCK, EV_FOLIO_ALLOC, EV_FOLIO_SPLIT, EV_FOLIO_MERGE, EV_HOST_MAP, EV_HOST_UNMAP,
  EV_HOST_PIN, EV_HOST_UNPIN, EV_GMEM_ZERO,
} from "./layout";
import { pageAlloc, pageFree, orderFor } from "./alloc";
import { bitmapCreate, bitmapDestroy, bitmapTest, bitmapSharedInBlock } from "./bitmap";
import {
  folioMapInit, folioMapDestroy, folioAlloc, folioOrder, folioPfn, folioUptodate, folioMarkUptodate, blockShift,
  blockState, hugeOrder, splitFolio, mergeFolio, freeBlock, contentGet, contentSet, contentZero, CONTENT_ENC,
  folioHostMapped, folioSetHostMap, folioRef, folioPins, orphanFind, orphanUnpin, folioIoPins, orphanRelease,
  folioOnlyFilemapRefs,
} from "./folio";
import { iommuSmash } from "./iommu";
import { kvmSmashForSplit } from "./kvm";
import { emit, countAdd, EVF_SHARED } from "./events";
import { injectTake } from "./inject";
import { isSnp, isTdx } from "./arch";
import { rmpInit, rmpDestroy } from "./snp";
import { tdxInit, tdxDestroy } from "./tdx";
import { EINVAL, ENOMEM, EFAULT, ENODEV } from "./errno";

/** Is x a whole number in [0, 2^53]? (every byte quantity crosses the ABI as an f64) */
// @ts-ignore: decorator
@inline export function isByteCount(x: f64): bool {
  return x >= 0 && x <= 9007199254740992.0 && x == Math.floor(x);
}

/**
 * Create an inode (kvm_gmem_create + __kvm_gmem_create's inode setup). Returns the inode address (> 0) or -errno:
 * -EINVAL for a size that is 0, negative, not a whole number or not page aligned, for unknown or conflicting flags,
 * for init-private without mmap in v2 / init-shared without mmap in v4 (the non-default initial state needs the
 * shared-capable flag), for a HugeTLB size that is not a multiple of the huge page; -ENOMEM when the model's
 * structures do not fit (or the size exceeds the model's 8 TiB).
 */
export function gmemInodeCreate(size: f64, flags: u32): i32 {
  if (!isByteCount(size) || size <= 0) return -EINVAL;
  if ((flags & ~(<u32>GMEM_FLAGS_VALID)) != 0) return -EINVAL;
  if ((flags & GMEM_FLAG_INIT_SHARED) && (flags & GMEM_FLAG_INIT_PRIVATE)) return -EINVAL;
  if ((flags & GMEM_FLAG_HUGETLB_2M) && (flags & GMEM_FLAG_HUGETLB_1G)) return -EINVAL;
  const v4 = (flags & GMEM_FLAG_V4) != 0;
  const nonDefault: u32 = v4 ? GMEM_FLAG_INIT_SHARED : GMEM_FLAG_INIT_PRIVATE;
  if ((flags & nonDefault) && !(flags & GMEM_FLAG_MMAP)) return -EINVAL;
  const sz = <u64>size;
  if ((sz & (<u64>PAGE_SIZE - 1)) != 0) return -EINVAL;
  const hugeOrd: u32 = (flags & GMEM_FLAG_HUGETLB_1G) ? 18 : (flags & GMEM_FLAG_HUGETLB_2M) ? 9 : 0;
  if (hugeOrd != 0 && (sz & ((<u64>PAGE_SIZE << hugeOrd) - 1)) != 0) return -EINVAL;
  const npages64 = sz >> 12;
  if (npages64 > (<u64>1 << GMEM_MAX_PAGES_LOG2)) return -ENOMEM;
  const npages = <u32>npages64;
  const shared = v4 ? (flags & GMEM_FLAG_INIT_SHARED) != 0 : (flags & GMEM_FLAG_INIT_PRIVATE) == 0;
  const gi = pageAlloc(orderFor(GI_OBJ_SIZE));
  if (gi == 0) return -ENOMEM;
  const bm = bitmapCreate(npages, shared);
  if (bm == 0) { pageFree(gi, orderFor(GI_OBJ_SIZE)); return -ENOMEM; }
  if (!folioMapInit(gi, npages, hugeOrd)) {
    bitmapDestroy(bm);
    pageFree(gi, orderFor(GI_OBJ_SIZE));
    return -ENOMEM;
  }
  store<u32>(gi, npages, GI_NPAGES);
  if ((isSnp() && !rmpInit(gi)) || (isTdx() && !tdxInit(gi))) {
    folioMapDestroy(gi);
    bitmapDestroy(bm);
    pageFree(gi, orderFor(GI_OBJ_SIZE));
    return -ENOMEM;
  }
  store<u32>(gi, <u32>sz, GI_SIZE_LO);
  store<u32>(gi, <u32>(sz >> 32), GI_SIZE_HI);
  store<u32>(gi, npages, GI_NPAGES);
  store<u32>(gi, flags, GI_FLAGS);
  store<u32>(gi, bm, GI_BITMAP);
  store<u32>(gi, 0, GI_INV_LOCK);
  return <i32>gi;
}

export function gmemInodeDestroy(gi: u32): void {
  orphanRelease(gi);
  rmpDestroy(gi);
  tdxDestroy(gi);
  folioMapDestroy(gi);
  bitmapDestroy(load<u32>(gi, GI_BITMAP));
  pageFree(gi, orderFor(GI_OBJ_SIZE));
}

// @ts-ignore: decorator
@inline export function gmemNpages(gi: u32): u32 { return load<u32>(gi, GI_NPAGES); }
// @ts-ignore: decorator
@inline export function gmemBitmap(gi: u32): u32 { return load<u32>(gi, GI_BITMAP); }
// @ts-ignore: decorator
@inline export function gmemFlags(gi: u32): u32 { return load<u32>(gi, GI_FLAGS); }
// @ts-ignore: decorator
@inline export function gmemHasMmap(gi: u32): bool { return (load<u32>(gi, GI_FLAGS) & GMEM_FLAG_MMAP) != 0; }

// @ts-ignore: decorator
@inline export function gmemIndex(gi: u32): u32 { return load<u32>(gi, GI_HANDLE) & ((1 << OBJ_INDEX_BITS) - 1); }
// @ts-ignore: decorator
@inline export function gmemIsClosed(gi: u32): bool { return load<u32>(gi, GI_CLOSED) != 0; }
// @ts-ignore: decorator
@inline export function gmemIsV4(gi: u32): bool { return (load<u32>(gi, GI_FLAGS) & GMEM_FLAG_V4) != 0; }
// @ts-ignore: decorator
@inline export function gmemIsShared(gi: u32, index: u32): bool { return bitmapTest(load<u32>(gi, GI_BITMAP), index); }

// ---- filemap_invalidate_lock ------------------------------------------------------------------------------------
// Only the exclusive holder persists across ops (a paused conversion); shared holders finish within their op, so
// "held exclusively" is what a shared taker would block on.
const LOCK_EXCL: u32 = 0xffffffff;

export function gmemLockedExclusive(gi: u32): bool { return load<u32>(gi, GI_INV_LOCK) == LOCK_EXCL; }

/** filemap_invalidate_lock: false when another operation holds it (the caller would block). */
export function gmemLockExclusive(gi: u32): bool {
  if (load<u32>(gi, GI_INV_LOCK) != 0) return false;
  store<u32>(gi, LOCK_EXCL, GI_INV_LOCK);
  emit(EV_GMEM_LOCK, 0, gmemIndex(gi), 0, 0, 0, 0);
  return true;
}

export function gmemUnlockExclusive(gi: u32): void {
  store<u32>(gi, 0, GI_INV_LOCK);
  emit(EV_GMEM_UNLOCK, 0, gmemIndex(gi), 0, 0, 0, 0);
}

// ---- bindings: every memslot of every VM bound to this inode ----------------------------------------------------

// @ts-ignore: decorator
@inline export function gmemNbind(gi: u32): u32 { return load<u32>(gi, GI_NBIND); }
// @ts-ignore: decorator
@inline export function gmemBindVm(gi: u32, i: u32): u32 { return load<u32>(<usize>gi + GI_BINDS + <usize>i * GI_BIND_SIZE); }
// @ts-ignore: decorator
@inline export function gmemBindSlot(gi: u32, i: u32): u32 {
  return load<u32>(<usize>gi + GI_BINDS + <usize>i * GI_BIND_SIZE, 8);
}

export function gmemBindAdd(gi: u32, vm: u32, slot: u32): bool {
  const n = load<u32>(gi, GI_NBIND);
  if (n >= <u32>GI_MAX_BINDS) return false;
  const rec = <usize>gi + GI_BINDS + <usize>n * GI_BIND_SIZE;
  store<u32>(rec, vm);
  store<u32>(rec, slot, 8);
  store<u32>(gi, n + 1, GI_NBIND);
  return true;
}

export function gmemBindRemove(gi: u32, vm: u32, slot: u32): void {
  const n = load<u32>(gi, GI_NBIND);
  for (let i: u32 = 0; i < n; i++) {
    const rec = <usize>gi + GI_BINDS + <usize>i * GI_BIND_SIZE;
    if (load<u32>(rec) == vm && load<u32>(rec, 8) == slot) {
      const last = <usize>gi + GI_BINDS + <usize>(n - 1) * GI_BIND_SIZE;
      memory.copy(rec, last, GI_BIND_SIZE);
      memory.fill(last, 0, GI_BIND_SIZE);
      store<u32>(gi, n - 1, GI_NBIND);
      return;
    }
  }
}

// ---- folio restructuring with events and injected faults --------------------------------------------------------

/** Split the huge folio of block b (to-shared, or the huge-block rule at allocation); emits folio.split. */
export function gmemSplitBlock(gi: u32, b: u32): i32 {
  if (blockState(gi, b) != FB_HUGE) return 0;
  if (injectTake(INJ_ENOMEM_SPLIT)) return -ENOMEM; // the HVO vmemmap re-allocation failed
  // an injected transient reference: folio_ref_freeze spins until it is dropped (bounded in the model)
  injectTake(INJ_TRANSIENT_REF);
  const from = hugeOrder(gi);
  // mapping <= folio (I15): an IO entry larger than 4 KiB over the block is smashed before the split (on SNP the
  // callback keeps entries, so this is where they follow the folio; elsewhere the zap already made them exact)
  if (splitWouldSucceed(gi, b)) {
    const first = b << blockShift(gi);
    kvmSmashForSplit(gi, first, <u32>1 << from); // no SPTE larger than 4 KiB over the pieces
    if (load<u32>(gi, GI_NIOMMU) != 0) for (let c = first; c < first + (<u32>1 << from); c += 512) iommuSmash(gi, c);
  }
  const r = splitFolio(gi, b);
  if (r == 0) { emit(EV_FOLIO_SPLIT, 0, gmemIndex(gi), b << blockShift(gi), from, 0, 0); countAdd(EV_FOLIO_SPLIT, <u32>1 << from); }
  return r;
}

/** Only filemap references on the huge folio of block b (splitFolio would not refuse)? */
function splitWouldSucceed(gi: u32, b: u32): bool {
  return folioOnlyFilemapRefs(gi, b << blockShift(gi));
}

/** Merge a split HugeTLB block that is all private again (to-private); emits folio.merge. */
export function gmemMergeBlock(gi: u32, b: u32): i32 {
  if (hugeOrder(gi) == 0 || blockState(gi, b) != FB_SPLIT) return 0;
  const shift = blockShift(gi);
  if (bitmapSharedInBlock(load<u32>(gi, GI_BITMAP), b << shift, shift) != 0) return 0; // kvm_gmem_has_some_shared
  const r = mergeFolio(gi, b);
  if (r == 0) { emit(EV_FOLIO_MERGE, 0, gmemIndex(gi), b << shift, 0, hugeOrder(gi), 0); countAdd(EV_FOLIO_MERGE, <u32>1 << hugeOrder(gi)); }
  return r;
}

// ---- kvm_gmem_get_folio / kvm_gmem_get_pfn ----------------------------------------------------------------------

/**
 * The folio for index, allocated on first use; with HugeTLB, a huge block that has any shared index is split at
 * once (kvm_gmem_get_folio -> kvm_gmem_try_split_folio_in_filemap). 0 or -errno.
 */
export function gmemGetFolio(gi: u32, index: u32): i32 {
  if (folioOrder(gi, index) >= 0) return 0;
  const r = folioAlloc(gi, index);
  if (r < 0) return r;
  const shift = blockShift(gi);
  const ho = hugeOrder(gi);
  emit(EV_FOLIO_ALLOC, 0, gmemIndex(gi), ho != 0 ? (index >> shift) << shift : index, ho, 0, 0);
  if (ho != 0 && bitmapSharedInBlock(load<u32>(gi, GI_BITMAP), index, shift) != 0) {
    const s = gmemSplitBlock(gi, index >> shift);
    if (s < 0) { freeBlock(gi, index >> shift); return s; }
  }
  return 0;
}

/** Zero the folio holding index if it is not uptodate yet (folio_zero_user / clear_highpage), then mark it. */
export function gmemPrepareFolio(gi: u32, index: u32): void {
  if (folioUptodate(gi, index)) return;
  const o = folioOrder(gi, index);
  const n: u32 = <u32>1 << <u32>(o < 0 ? 0 : o);
  const first = index & ~(n - 1);
  contentZero(gi, first, first + n);
  folioMarkUptodate(gi, index);
  emit(EV_GMEM_ZERO, 0, gmemIndex(gi), first, first + n, 0, 0);
}

export const GETPFN_BLOCKED: i32 = -0x10000; // not an errno: the invalidate lock is held by an operation in flight

let lastPfn: u32 = 0;
let lastMaxOrder: u32 = 0;
export function gmemLastPfn(): u32 { return lastPfn; }
export function gmemLastMaxOrder(): u32 { return lastMaxOrder; }

/**
 * kvm_gmem_get_pfn [V2]: under the invalidate lock (shared), get or allocate the folio, zero it on first use, and
 * report pfn and max_order (= the folio's order if its huge block holds no shared index: kvm_gmem_mapping_order).
 * Returns the pfn as u32 via gmemLastPfn(): the i32 result is 0 / -errno / GETPFN_BLOCKED.
 */
export function gmemGetPfn(gi: u32, index: u32): i32 {
  if (gmemLockedExclusive(gi)) return GETPFN_BLOCKED;
  const gidx = gmemIndex(gi);
  emit(EV_GMEM_LOCK, EVF_SHARED, gidx, 0, 0, 0, 0);
  const r = gmemGetFolio(gi, index);
  if (r == 0) {
    gmemPrepareFolio(gi, index);
    lastPfn = folioPfn(gi, index);
    const o = folioOrder(gi, index);
    const shift = blockShift(gi);
    lastMaxOrder = (o > 0 && bitmapSharedInBlock(load<u32>(gi, GI_BITMAP), index, shift) == 0) ? <u32>o : 0;
  }
  emit(EV_GMEM_UNLOCK, EVF_SHARED, gidx, 0, 0, 0, 0);
  // the pfn goes back through lastPfn; r is 0 or -errno
  return r;
}

// ---- content as the guest and the host see it -------------------------------------------------------------------

/** What an access through a private (encrypted) or shared mapping reads from index. */
export function guestRead(gi: u32, index: u32, viaPrivate: bool): u32 {
  if (!folioUptodate(gi, index)) return 0;
  return contentRead(contentGet(gi, index), viaPrivate);
}

/** What an access through a private or shared mapping reads from a frame holding content word w. */
export function contentRead(w: u64, viaPrivate: bool): u32 {
  const v = <u32>w;
  if (v == 0) return 0;
  const enc = (w & CONTENT_ENC) != 0;
  // sw: no memory encryption. SNP / TDX: a value written through the other kind of mapping reads as ciphertext.
  if (enc != viaPrivate && (isSnp() || isTdx())) return v ^ 0xa5a5a5a5;
  return v;
}

export function guestWrite(gi: u32, index: u32, viaPrivate: bool, value: u32): bool {
  return contentSet(gi, index, contentWord(value, viaPrivate));
}

/** The content word a write of value through a private or shared mapping leaves. */
export function contentWord(value: u32, viaPrivate: bool): u64 {
  return value == 0 ? 0 : (<u64>value | (viaPrivate ? CONTENT_ENC : 0));
}

// ---- the host side: mmap, faults, GUP pins ----------------------------------------------------------------------

/** mmap of the guest_memfd (kvm_gmem_mmap): -ENODEV without the shared-capable (mmap) flag. */
export function gmemMmap(gi: u32): i32 {
  if (!(load<u32>(gi, GI_FLAGS) & GMEM_FLAG_MMAP)) return -ENODEV;
  store<u32>(gi, 1, GI_MMAPPED);
  return 0;
}

export const HOST_OK: i32 = 0;
export const HOST_SIGBUS: i32 = 1;

/**
 * A host access faults the page in if no PTE maps it (kvm_gmem_fault_user_mapping): shared pages only (private ->
 * SIGBUS), 4 KiB only, zeroed on first touch. 0, HOST_SIGBUS, GETPFN_BLOCKED or -errno (-EFAULT: not mmapped).
 */
export function gmemHostFault(gi: u32, index: u32): i32 {
  if (load<u32>(gi, GI_MMAPPED) == 0) return -EFAULT;
  if (index >= load<u32>(gi, GI_NPAGES)) return HOST_SIGBUS;
  if (folioHostMapped(gi, index)) return HOST_OK;
  if (gmemLockedExclusive(gi)) return GETPFN_BLOCKED;
  const gidx = gmemIndex(gi);
  emit(EV_GMEM_LOCK, EVF_SHARED, gidx, 0, 0, 0, 0);
  let r: i32 = HOST_OK;
  if (!gmemIsShared(gi, index)) r = HOST_SIGBUS; // kvm_gmem_get_shared_folio: -EACCES -> VM_FAULT_SIGBUS
  else {
    r = gmemGetFolio(gi, index);
    if (r == 0) {
      if (folioOrder(gi, index) > 0) r = HOST_SIGBUS; // WARN_ON_ONCE(folio_test_large(folio))
      else {
        gmemPrepareFolio(gi, index);
        folioSetHostMap(gi, index, true);
        store<u32>(gi, load<u32>(gi, GI_HOSTPTES) + 1, GI_HOSTPTES);
        emit(EV_HOST_MAP, 0, gidx, index, index + 1, 0, 0);
      }
    }
  }
  emit(EV_GMEM_UNLOCK, EVF_SHARED, gidx, 0, 0, 0, 0);
  return r;
}

/** unmap_mapping_pages over [start, end): drop every host PTE there; emits host.unmap; returns the count. */
export function gmemHostUnmapRange(gi: u32, start: u32, end: u32): u32 {
  let n: u32 = 0;
  if (load<u32>(gi, GI_HOSTPTES) != 0) {
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
    store<u32>(gi, load<u32>(gi, GI_HOSTPTES) - n, GI_HOSTPTES);
  }
  emit(EV_HOST_UNMAP, 0, gmemIndex(gi), start, end, n, 0);
  countAdd(EV_HOST_UNMAP, n);
  return n;
}

/** munmap of the whole file mapping. */
export function gmemMunmap(gi: u32): i32 {
  if (load<u32>(gi, GI_MMAPPED) == 0) return -EINVAL;
  gmemHostUnmapRange(gi, 0, load<u32>(gi, GI_NPAGES));
  store<u32>(gi, 0, GI_MMAPPED);
  return 0;
}

/**
 * Long-term GUP pin of [start, end) through the host mapping (pin_user_pages(FOLL_LONGTERM) as VFIO type1 does):
 * each page is faulted in (a private page fails the whole pin with -EFAULT, nothing stays pinned), then pinned.
 */
export function gmemPin(gi: u32, start: u32, end: u32): i32 {
  for (let i = start; i < end; i++) {
    const r = gmemHostFault(gi, i);
    if (r == HOST_OK) continue;
    return r == HOST_SIGBUS || r == GETPFN_BLOCKED ? -EFAULT : r;
  }
  for (let i = start; i < end; i++) folioRef(gi, i, 2, 1);
  emit(EV_HOST_PIN, 0, gmemIndex(gi), start, end, 0, 0);
  return 0;
}

/** unpin_user_pages: -EINVAL (nothing changes) if a page in range is not pinned. */
export function gmemUnpin(gi: u32, start: u32, end: u32): i32 {
  // only the pins host.pin took: a pin-mode IOMMU's pins go with iommu.unmap
  for (let i = start; i < end; i++) {
    if (folioPins(gi, i) <= folioIoPins(gi, i) && orphanFind(gi, i, false) == 0) return -EINVAL;
  }
  for (let i = start; i < end; i++) {
    if (folioPins(gi, i) > folioIoPins(gi, i)) folioRef(gi, i, 2, -1);
    else orphanUnpin(gi, orphanFind(gi, i, false), false);
  }
  emit(EV_HOST_UNPIN, 0, gmemIndex(gi), start, end, 0, 0);
  return 0;
}
