// AMD SEV-SNP: the RMP (arch/x86/kvm/svm/sev.c). Kept per guest_memfd index, which names one pfn while its folio
// lives: an "assigned" bit per 4 KiB page and a "2 MiB entry" bit per 2 MiB chunk. Every RMPUPDATE flushes the
// IOTLB of every IOMMU (HOOK_IOTLB_FLUSH_ALL); a 4 KiB update under a 2 MiB entry needs a PSMASH, and the NPT and IO
// entries over the chunk must never be larger than the RMP entry (I10): they follow through the notifier.
import { GI_RMP, GI_RMP2M, GI_NPAGES } from "../abi/records";
import { EV_ARCH_RMPUPDATE, EV_ARCH_PSMASH, EVF_PRIVATE } from "../abi/events";
import { HOOK_IOTLB_FLUSH_ALL, RESTRUCTURE_RMP } from "../abi/consts";
import { bitmapCreate, bitmapDestroy, bitmapTest, bitmapAssign, bitmapSharedInBlock, bitmapCountShared } from "../lib/bitmap";
import { emit } from "../lib/events";
import { hookCall } from "../lib/hooks";
import { folioPfn, folioOrder } from "../gmem/folio";
import { notifierRestructure } from "../gmem/notifier";

/** Create the RMP bitmaps of an inode. false on -ENOMEM. */
export function rmpInit(gi: u32): bool {
  const n = load<u32>(gi, GI_NPAGES);
  const a = bitmapCreate(n, false);
  if (a == 0) return false;
  const b = bitmapCreate((n + 511) >> 9, false);
  if (b == 0) { bitmapDestroy(a); return false; }
  store<u32>(gi, a, GI_RMP);
  store<u32>(gi, b, GI_RMP2M);
  return true;
}

export function rmpDestroy(gi: u32): void {
  const a = load<u32>(gi, GI_RMP);
  if (a == 0) return;
  bitmapDestroy(a);
  bitmapDestroy(load<u32>(gi, GI_RMP2M));
  store<u32>(gi, 0, GI_RMP);
  store<u32>(gi, 0, GI_RMP2M);
}

/** RMP entry level of index's pfn: 0 unassigned (shared), 1 a 4 KiB entry, 2 a 2 MiB entry. */
export function rmpLevelOf(gi: u32, index: u32): u32 {
  const a = load<u32>(gi, GI_RMP);
  if (a == 0 || !bitmapTest(a, index)) return 0;
  return bitmapTest(load<u32>(gi, GI_RMP2M), index >> 9) ? 2 : 1;
}

/**
 * The largest IO (or NPT) entry the RMP allows over index: an entry may not cover pfns with smaller RMP entries.
 * 3 when nothing in the 1 GiB block is assigned, 2 when the 2 MiB chunk is unassigned or one 2 MiB entry, else 1.
 */
export function rmpIoLevelLimit(gi: u32, index: u32): u32 {
  const a = load<u32>(gi, GI_RMP);
  if (a == 0) return 3;
  if (bitmapSharedInBlock(a, index, 18) == 0) return 3;
  if (bitmapSharedInBlock(a, index, 9) == 0 || bitmapTest(load<u32>(gi, GI_RMP2M), index >> 9)) return 2;
  return 1;
}

/**
 * sev_gmem_prepare on the first private use: assign the page; a 2 MiB entry when the folio is >= 2 MiB and the
 * whole 2 MiB pfn range is unassigned, else 4 KiB. Mappings over the chunk larger than the new entry are smashed to
 * it (a 1 GiB IO entry over a new 2 MiB entry goes to 2 MiB). The RMPUPDATE flushes every IOTLB.
 */
export function rmpMakePrivate(gi: u32, index: u32): void {
  const a = load<u32>(gi, GI_RMP);
  if (a == 0 || bitmapTest(a, index)) return;
  const o = folioOrder(gi, index);
  const chunk = index & ~511;
  if (o >= 9 && bitmapSharedInBlock(a, chunk, 9) == 0 && chunk + 512 <= load<u32>(gi, GI_NPAGES)) {
    bitmapAssign(a, chunk, chunk + 512, true);
    bitmapAssign(load<u32>(gi, GI_RMP2M), chunk >> 9, (chunk >> 9) + 1, true);
    emit(EV_ARCH_RMPUPDATE, EVF_PRIVATE, 0, folioPfn(gi, chunk), 512, 2, 0);
    notifierRestructure(gi, chunk, 512, RESTRUCTURE_RMP | 2);
  } else {
    bitmapAssign(a, index, index + 1, true);
    emit(EV_ARCH_RMPUPDATE, EVF_PRIVATE, 0, folioPfn(gi, index), 1, 1, 0);
    notifierRestructure(gi, chunk, 512, RESTRUCTURE_RMP | 1); // a 4 KiB entry under a huge mapping: down with it
  }
  hookCall(HOOK_IOTLB_FLUSH_ALL);
}

/**
 * sev_gmem_invalidate / the to-shared conversion: make [s, e) unassigned. A 2 MiB entry entirely inside goes in one
 * RMPUPDATE; one only partly inside is PSMASHed first, and the mappings over it are smashed with it. Every
 * RMPUPDATE flushes the IOTLB (once per call here). Returns the number of RMPUPDATEs.
 */
export function rmpMakeShared(gi: u32, s: u32, e: u32): u32 {
  const a = load<u32>(gi, GI_RMP);
  if (a == 0 || s >= e || bitmapCountShared(a, s, e) == 0) return 0;
  const b2 = load<u32>(gi, GI_RMP2M);
  let updates: u32 = 0;
  let i = s;
  while (i < e) {
    const chunk = i & ~511;
    const ce = chunk + 512 < e ? chunk + 512 : e;
    if (bitmapTest(b2, chunk >> 9)) {
      if (i == chunk && ce == chunk + 512) {
        bitmapAssign(a, chunk, chunk + 512, false);
        bitmapAssign(b2, chunk >> 9, (chunk >> 9) + 1, false);
        emit(EV_ARCH_RMPUPDATE, 0, 0, folioPfn(gi, chunk), 512, 2, 0);
        updates++;
        i = ce;
        continue;
      }
      bitmapAssign(b2, chunk >> 9, (chunk >> 9) + 1, false); // PSMASH: 1 -> 512 4 KiB entries
      emit(EV_ARCH_PSMASH, EVF_PRIVATE, 0, folioPfn(gi, chunk), 0, 2, 0);
      notifierRestructure(gi, chunk, 512, RESTRUCTURE_RMP | 1);
    }
    // 4 KiB RMPUPDATEs, one event per run of assigned pages
    let j = i;
    while (j < ce) {
      if (!bitmapTest(a, j)) { j++; continue; }
      let k = j;
      while (k < ce && bitmapTest(a, k)) k++;
      bitmapAssign(a, j, k, false);
      emit(EV_ARCH_RMPUPDATE, 0, 0, folioPfn(gi, j), k - j, 1, 0);
      updates++;
      j = k;
    }
    i = ce;
  }
  if (updates > 0) hookCall(HOOK_IOTLB_FLUSH_ALL);
  return updates;
}
