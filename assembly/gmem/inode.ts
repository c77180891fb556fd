// The guest_memfd inode (struct gmem_inode): the physical memory of a confidential guest, shared by every VM's
// view of it. One 4 KiB record (layout GI_* in abi/records.ts); this module holds its accessors and the lowest
// helpers every other gmem module uses. Creation lives in gmem/create.ts (it needs the arch's per-inode state).
import {
  GI_NPAGES, GI_FLAGS, GI_BITMAP, GI_HANDLE, GI_CLOSED, GI_MMAPPED, GI_HOSTPTES, GI_BLOCK_SHIFT, GI_HUGE_ORDER,
  GI_INV_LOCK, GI_PAGES_LOCK,
} from "../abi/records";
import { GMEM_FLAG_MMAP, GMEM_GEN_V4 } from "../abi/consts";
import { objIndex } from "../mm/objects";
import { bitmapTest } from "../lib/bitmap";
import { lockingOn, holds, worldStopped } from "../mm/sync";
import { DEBUG } from "../lib/debug";

// @ts-ignore: decorator
@inline export function gmemNpages(gi: u32): u32 { return load<u32>(gi, GI_NPAGES); }
// @ts-ignore: decorator
@inline export function gmemBitmap(gi: u32): u32 { return load<u32>(gi, GI_BITMAP); }
// @ts-ignore: decorator
@inline export function gmemFlags(gi: u32): u32 { return load<u32>(gi, GI_FLAGS); }
// @ts-ignore: decorator
@inline export function gmemHasMmap(gi: u32): bool { return (load<u32>(gi, GI_FLAGS) & GMEM_FLAG_MMAP) != 0; }
// @ts-ignore: decorator
@inline export function gmemIsV4(gi: u32): bool { return (load<u32>(gi, GI_FLAGS) & GMEM_GEN_V4) != 0; }
/** The inode's handle index: how events and footprints name it. */
// @ts-ignore: decorator
@inline export function gmemIndex(gi: u32): u32 { return objIndex(load<u32>(gi, GI_HANDLE)); }
// @ts-ignore: decorator
@inline export function gmemIsClosed(gi: u32): bool { return load<u32>(gi, GI_CLOSED) != 0; }
// @ts-ignore: decorator
@inline export function gmemIsMmapped(gi: u32): bool { return load<u32>(gi, GI_MMAPPED) != 0; }
// @ts-ignore: decorator
@inline export function gmemIsShared(gi: u32, index: u32): bool { return bitmapTest(load<u32>(gi, GI_BITMAP), index); }
// @ts-ignore: decorator
@inline export function gmemHostPtes(gi: u32): u32 { return load<u32>(gi, GI_HOSTPTES); }
// @ts-ignore: decorator
@inline export function gmemHostPtesAdd(gi: u32, d: i32): void {
  if (DEBUG) assert(pagesHeld(gi), "host PTE count changed without the inode's page lock");
  store<u32>(gi, <u32>(<i32>load<u32>(gi, GI_HOSTPTES) + d), GI_HOSTPTES);
}
/** Does this thread hold the inode's page lock in its step (always true while alone on the memory)? */
export function pagesHeld(gi: u32): bool { return !lockingOn() || holds(<usize>gi + GI_PAGES_LOCK) || worldStopped(); }
/** log2 of the pages one folio block descriptor covers (9 or 18). */
// @ts-ignore: decorator
@inline export function blockShift(gi: u32): u32 { return load<u32>(gi, GI_BLOCK_SHIFT); }
/** HugeTLB folio order: 0 (4 KiB pages), 9 or 18. */
// @ts-ignore: decorator
@inline export function hugeOrder(gi: u32): u32 { return load<u32>(gi, GI_HUGE_ORDER); }
/** Address of the invalidate_lock word (mm/sync.ts rwsem). */
// @ts-ignore: decorator
@inline export function gmemInvLock(gi: u32): usize { return <usize>gi + GI_INV_LOCK; }

/** Is x a whole number in [0, 2^53]? (every byte quantity crosses the ABI as an f64) */
// @ts-ignore: decorator
@inline export function isByteCount(x: f64): bool {
  return x >= 0 && x <= 9007199254740992.0 && x == Math.floor(x);
}
