// guest_memfd inodes: the physical memory of a confidential guest. An inode owns its shareability bitmap and its
// filemap (folio.ts); the VMs' files (views), bindings and the conversion ioctls build on it.
import {
  GI_SIZE_LO, GI_SIZE_HI, GI_NPAGES, GI_FLAGS, GI_BITMAP, GI_INV_LOCK, GI_OBJ_SIZE, PAGE_SIZE,
  GMEM_FLAG_MMAP, GMEM_FLAG_INIT_SHARED, GMEM_FLAG_INIT_PRIVATE, GMEM_FLAG_HUGETLB_2M, GMEM_FLAG_HUGETLB_1G,
  GMEM_FLAG_V4, GMEM_FLAGS_VALID, GMEM_MAX_PAGES_LOG2,
} from "./layout";
import { pageAlloc, pageFree, orderFor } from "./alloc";
import { bitmapCreate, bitmapDestroy } from "./bitmap";
import { folioMapInit, folioMapDestroy } from "./folio";
import { EINVAL, ENOMEM } from "./errno";

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
  store<u32>(gi, <u32>sz, GI_SIZE_LO);
  store<u32>(gi, <u32>(sz >> 32), GI_SIZE_HI);
  store<u32>(gi, npages, GI_NPAGES);
  store<u32>(gi, flags, GI_FLAGS);
  store<u32>(gi, bm, GI_BITMAP);
  store<u32>(gi, 0, GI_INV_LOCK);
  return <i32>gi;
}

export function gmemInodeDestroy(gi: u32): void {
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
