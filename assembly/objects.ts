// The object table: every guest_memfd, VM, IOMMU, standalone bitmap and page table is named by a handle that the
// table validates (type and generation), so a stale or forged handle from the outside is -EBADF, never a wild
// pointer. handle = index | generation << OBJ_INDEX_BITS.
import {
  OBJ_TABLE, OBJ_SLOT_SIZE, OBJ_MAX, OBJ_INDEX_BITS, OBJ_T_FREE, H_OBJ_FREE, H_OBJ_NEXT, H_OBJ_LIVE,
} from "./layout";

// @ts-ignore: decorator
@inline function slotAt(idx: u32): usize { return <usize>OBJ_TABLE + <usize>idx * OBJ_SLOT_SIZE; }

/** Allocate a slot for an object of `type` at ptr; returns the handle, or 0 when the table is full. */
export function objNew(type: u32, ptr: u32): u32 {
  let idx = load<u32>(H_OBJ_FREE);
  if (idx != 0) {
    store<u32>(H_OBJ_FREE, load<u32>(slotAt(idx), 8));
  } else {
    idx = load<u32>(H_OBJ_NEXT);
    if (idx == 0) idx = 1;
    if (idx >= <u32>OBJ_MAX) return 0;
    store<u32>(H_OBJ_NEXT, idx + 1);
  }
  const s = slotAt(idx);
  let gen = <u32>load<u16>(s, 2) + 1;
  if (gen > 0xffff) gen = 1;
  store<u8>(s, <u8>type);
  store<u8>(s, 0, 1);
  store<u16>(s, <u16>gen, 2);
  store<u32>(s, ptr, 4);
  store<u32>(s, 0, 8);
  store<u32>(s, 0, 12);
  store<u32>(H_OBJ_LIVE, load<u32>(H_OBJ_LIVE) + 1);
  return idx | (gen << OBJ_INDEX_BITS);
}

/** The object's pointer if handle names a live object of `type`, else 0. */
export function objGet(handle: u32, type: u32): u32 {
  const idx = handle & ((1 << OBJ_INDEX_BITS) - 1);
  if (idx == 0 || idx >= <u32>OBJ_MAX) return 0;
  const s = slotAt(idx);
  if (<u32>load<u8>(s) != type || type == OBJ_T_FREE) return 0;
  if (<u32>load<u16>(s, 2) != (handle >> OBJ_INDEX_BITS)) return 0;
  return load<u32>(s, 4);
}

export function objIndex(handle: u32): u32 { return handle & ((1 << OBJ_INDEX_BITS) - 1); }

/** Release the slot of a live handle (the generation stays, so the old handle no longer matches). */
export function objFree(handle: u32): void {
  const idx = handle & ((1 << OBJ_INDEX_BITS) - 1);
  const s = slotAt(idx);
  store<u8>(s, <u8>OBJ_T_FREE);
  store<u32>(s, 0, 4);
  store<u32>(s, load<u32>(H_OBJ_FREE), 8);
  store<u32>(H_OBJ_FREE, idx);
  store<u32>(H_OBJ_LIVE, load<u32>(H_OBJ_LIVE) - 1);
}
