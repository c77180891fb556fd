// The object table: every guest_memfd, VM, IOMMU, standalone bitmap and page table, and every paused operation is
// named by a handle the table validates (type and generation), so a stale or forged handle from the outside is
// -EBADF, never a wild pointer. handle = index | generation << OBJ_INDEX_BITS (abi/layout.ts). A generation never
// wraps: a slot whose generation reaches OBJ_GEN_MAX is retired, so an old handle can never name a newer object.
import {
  OBJ_TABLE, OBJ_SLOT_SIZE, OBJ_MAX, OBJ_INDEX_BITS, OBJ_GEN_MAX, OS_TYPE, OS_FLAGS, OS_PTR, OS_NEXT, OS_GEN,
  H_OBJ_FREE, H_OBJ_NEXT, H_OBJ_LIVE, H_OBJ_LOCK,
} from "../abi/layout";
import { leafLock, leafUnlock } from "./sync";
import { heapBlockUsed } from "./alloc";
import { IMAGE_BAD_OBJ_TABLE, IMAGE_BAD_OBJ_FREE_LIST } from "../abi/consts";

// the kinds are ABI (views list objects by kind): defined in abi/consts.ts
import { OBJ_T_FREE, OBJ_T_OP } from "../abi/consts";
export { OBJ_T_FREE, OBJ_T_BITMAP, OBJ_T_PAGETABLE, OBJ_T_GMEM, OBJ_T_VM, OBJ_T_IOMMU, OBJ_T_OP } from "../abi/consts";

// @ts-ignore: decorator
@inline export function objSlot(idx: u32): usize { return <usize>OBJ_TABLE + <usize>idx * OBJ_SLOT_SIZE; }
// @ts-ignore: decorator
@inline export function objSlotType(idx: u32): u32 { return load<u8>(objSlot(idx), OS_TYPE); }
// @ts-ignore: decorator
@inline export function objSlotPtr(idx: u32): u32 { return load<u32>(objSlot(idx), OS_PTR); }
// @ts-ignore: decorator
@inline export function objIndex(handle: u32): u32 { return handle & ((1 << OBJ_INDEX_BITS) - 1); }

/** Allocate a slot for an object of `type` at ptr; its handle, or 0 when the table is full. */
export function objNew(type: u32, ptr: u32): u32 {
  leafLock(H_OBJ_LOCK);
  const h = objNewLocked(type, ptr);
  leafUnlock(H_OBJ_LOCK);
  return h;
}

function objNewLocked(type: u32, ptr: u32): u32 {
  let idx = load<u32>(H_OBJ_FREE);
  if (idx != 0) {
    store<u32>(H_OBJ_FREE, load<u32>(objSlot(idx), OS_NEXT));
  } else {
    idx = load<u32>(H_OBJ_NEXT);
    if (idx == 0) idx = 1;
    if (idx >= <u32>OBJ_MAX) return 0;
    store<u32>(H_OBJ_NEXT, idx + 1);
  }
  const s = objSlot(idx);
  const gen = load<u32>(s, OS_GEN) + 1;
  store<u8>(s, <u8>type, OS_TYPE);
  store<u8>(s, 0, OS_FLAGS);
  store<u32>(s, ptr, OS_PTR);
  store<u32>(s, 0, OS_NEXT);
  store<u32>(s, gen, OS_GEN);
  store<u32>(H_OBJ_LIVE, load<u32>(H_OBJ_LIVE) + 1);
  return idx | (gen << OBJ_INDEX_BITS);
}

/** The object's pointer if `handle` names a live object of `type`, else 0. */
export function objGet(handle: u32, type: u32): u32 {
  const idx = objIndex(handle);
  if (idx == 0 || type == OBJ_T_FREE) return 0;
  const s = objSlot(idx);
  if (<u32>load<u8>(s, OS_TYPE) != type) return 0;
  if (load<u32>(s, OS_GEN) != (handle >> OBJ_INDEX_BITS)) return 0;
  return load<u32>(s, OS_PTR);
}

/** Release the slot of a live handle; the generation stays, so the old handle no longer matches. */
export function objFree(handle: u32): void {
  leafLock(H_OBJ_LOCK);
  const idx = objIndex(handle);
  const s = objSlot(idx);
  store<u8>(s, <u8>OBJ_T_FREE, OS_TYPE);
  store<u32>(s, 0, OS_PTR);
  if (load<u32>(s, OS_GEN) < <u32>OBJ_GEN_MAX) { // else retired: never handed out again
    store<u32>(s, load<u32>(H_OBJ_FREE), OS_NEXT);
    store<u32>(H_OBJ_FREE, idx);
  }
  store<u32>(H_OBJ_LIVE, load<u32>(H_OBJ_LIVE) - 1);
  leafUnlock(H_OBJ_LOCK);
}

/** Highest slot index ever used + 1 (walks over the table stop here). */
// @ts-ignore: decorator
@inline export function objEnd(): u32 { const n = load<u32>(H_OBJ_NEXT); return n == 0 ? 1 : n; }

/**
 * The object table of an image a restore loaded (after heapCheck): 0, or the IMAGE_BAD_* found. Below H_OBJ_NEXT a
 * slot is free (no pointer) or live (a known kind, a generation, a pointer at an allocated heap block); above it
 * every slot is unused (zero); H_OBJ_LIVE counts the live ones; the free-slot list visits free, reusable slots only
 * and ends (it may not hold more nodes than there are such slots, so a loop is found). One pass plus a walk bounded
 * by the table size.
 */
export function objTableCheck(): u32 {
  const next = load<u32>(H_OBJ_NEXT);
  if (next > <u32>OBJ_MAX) return IMAGE_BAD_OBJ_TABLE;
  const end = objEnd();
  let live: u32 = 0, reusable: u32 = 0;
  for (let i: u32 = 1; i < <u32>OBJ_MAX; i++) {
    const s = objSlot(i);
    const type = <u32>load<u8>(s, OS_TYPE), gen = load<u32>(s, OS_GEN), ptr = load<u32>(s, OS_PTR);
    if (i >= end) {
      if (type != OBJ_T_FREE || gen != 0 || ptr != 0 || load<u32>(s, OS_NEXT) != 0) return IMAGE_BAD_OBJ_TABLE;
      continue;
    }
    if (type > OBJ_T_OP || gen > <u32>OBJ_GEN_MAX) return IMAGE_BAD_OBJ_TABLE;
    if (type == OBJ_T_FREE) {
      if (ptr != 0) return IMAGE_BAD_OBJ_TABLE;
      if (gen < <u32>OBJ_GEN_MAX) reusable++;
    } else {
      if (gen == 0 || !heapBlockUsed(ptr)) return IMAGE_BAD_OBJ_TABLE;
      live++;
    }
  }
  if (live != load<u32>(H_OBJ_LIVE)) return IMAGE_BAD_OBJ_TABLE;
  let listed: u32 = 0;
  for (let i = load<u32>(H_OBJ_FREE); i != 0; i = load<u32>(objSlot(i), OS_NEXT)) {
    if (++listed > reusable || i >= end) return IMAGE_BAD_OBJ_FREE_LIST;
    const s = objSlot(i);
    if (<u32>load<u8>(s, OS_TYPE) != OBJ_T_FREE || load<u32>(s, OS_GEN) >= <u32>OBJ_GEN_MAX) return IMAGE_BAD_OBJ_FREE_LIST;
  }
  return 0;
}
