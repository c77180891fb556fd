// Creating and destroying an inode (kvm_gmem_create + __kvm_gmem_create's inode setup): the record, its
// shareability bitmap, its filemap, the arch's per-inode state.
import {
  GI_SIZE_LO, GI_SIZE_HI, GI_NPAGES, GI_FLAGS, GI_BITMAP, GI_OBJ_SIZE,
} from "../abi/records";
import {
  GMEM_FLAG_MMAP, GMEM_FLAG_INIT_SHARED, GMEM_FLAG_INIT_PRIVATE, GMEM_FLAG_HUGETLB_2M, GMEM_FLAG_HUGETLB_1G,
  GMEM_GEN_V4, GMEM_FLAGS_VALID, GMEM_MAX_PAGES_LOG2,
} from "../abi/consts";
import { PAGE_SIZE } from "../abi/layout";
import { EINVAL, ENOMEM } from "../abi/errno";
import { pageAlloc, pageFree, orderFor } from "../mm/alloc";
import { bitmapCreate, bitmapDestroy } from "../lib/bitmap";
import { isByteCount } from "./inode";
import { folioMapInit, folioMapDestroy } from "./folio";
import { orphanRelease } from "./orphan";
import { archInodeInit, archInodeDestroy } from "../arch/arch";

/**
 * A new inode of `size` bytes; its address (> 0) or -errno. -EINVAL for a size that is 0, negative, not a whole
 * number or not page aligned; for unknown or conflicting flags; for the non-default initial state without mmap
 * (init-private in v2 needs SUPPORT_SHARED; init-shared in v4 needs MMAP); for HugeTLB in v4 (order-0 folios only);
 * for a HugeTLB size that is not a multiple of the huge page. -ENOMEM when the model's structures do not fit or the
 * size exceeds the model's 8 TiB.
 */
export function gmemInodeCreate(size: f64, flags: u32): i32 {
  if (!isByteCount(size) || size <= 0) return -EINVAL;
  if ((flags & ~(<u32>GMEM_FLAGS_VALID)) != 0) return -EINVAL;
  if ((flags & GMEM_FLAG_INIT_SHARED) && (flags & GMEM_FLAG_INIT_PRIVATE)) return -EINVAL;
  if ((flags & GMEM_FLAG_HUGETLB_2M) && (flags & GMEM_FLAG_HUGETLB_1G)) return -EINVAL;
  const v4 = (flags & GMEM_GEN_V4) != 0;
  if (v4 && (flags & (GMEM_FLAG_HUGETLB_2M | GMEM_FLAG_HUGETLB_1G))) return -EINVAL;
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
  store<u32>(gi, npages, GI_NPAGES);
  if (!folioMapInit(gi, npages, hugeOrd)) {
    bitmapDestroy(bm);
    pageFree(gi, orderFor(GI_OBJ_SIZE));
    return -ENOMEM;
  }
  if (!archInodeInit(gi)) {
    folioMapDestroy(gi);
    bitmapDestroy(bm);
    pageFree(gi, orderFor(GI_OBJ_SIZE));
    return -ENOMEM;
  }
  store<u32>(gi, <u32>sz, GI_SIZE_LO);
  store<u32>(gi, <u32>(sz >> 32), GI_SIZE_HI);
  store<u32>(gi, flags, GI_FLAGS);
  store<u32>(gi, bm, GI_BITMAP);
  return <i32>gi;
}

export function gmemInodeDestroy(gi: u32): void {
  orphanRelease(gi);
  archInodeDestroy(gi);
  folioMapDestroy(gi);
  bitmapDestroy(load<u32>(gi, GI_BITMAP));
  pageFree(gi, orderFor(GI_OBJ_SIZE));
}
