// AMD SEV-SNP: the RMP (arch/x86/kvm/svm/sev.c). Kept per guest_memfd index, which names one pfn while its folio
// lives: an "assigned" bit per 4 KiB page and a "2 MiB entry" bit per 2 MiB chunk. RMPUPDATE flushes the IOTLB;
// a partial conversion of a 2 MiB entry needs PSMASH, and NPT and IO entries must be smashed with it.
import { GI_RMP, GI_RMP2M, GI_NPAGES, EV_ARCH_RMPUPDATE, EV_ARCH_PSMASH } from "./layout";
import { bitmapCreate, bitmapDestroy, bitmapTest, bitmapAssign, bitmapSharedInBlock, bitmapCountShared } from "./bitmap";
import { folioPfn, folioOrder } from "./folio";
import { emit, EVF_PRIVATE } from "./events";
import { gmemNbind, gmemBindVm, gmemBindSlot } from "./gmem";
import { vmSlot, vmPtPrivate, slotBase, slotNpages, slotPgoff } from "./kvm";
import { ptWalkLeaf, ptDemoteAt, spteLevel } from "./pagetable";
import { iommuSmash } from "./iommu";

/** Create the RMP bitmaps of an inode (SNP machines only). false on -ENOMEM. */
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

// @ts-ignore: decorator
@inline export function rmpEnabled(gi: u32): bool { return load<u32>(gi, GI_RMP) != 0; }

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
 * whole 2 MiB pfn range is unassigned, else 4 KiB. Returns true if an RMPUPDATE happened (it flushes the IOTLB).
 */
export function rmpMakePrivate(gi: u32, index: u32): bool {
  const a = load<u32>(gi, GI_RMP);
  if (a == 0 || bitmapTest(a, index)) return false;
  const o = folioOrder(gi, index);
  const chunk = index & ~511;
  if (o >= 9 && bitmapSharedInBlock(a, chunk, 9) == 0 && chunk + 512 <= load<u32>(gi, GI_NPAGES)) {
    bitmapAssign(a, chunk, chunk + 512, true);
    bitmapAssign(load<u32>(gi, GI_RMP2M), chunk >> 9, (chunk >> 9) + 1, true);
    emit(EV_ARCH_RMPUPDATE, EVF_PRIVATE, 0, folioPfn(gi, chunk), 0, 2, 0);
  } else {
    bitmapAssign(a, index, index + 1, true);
    emit(EV_ARCH_RMPUPDATE, EVF_PRIVATE, 0, folioPfn(gi, index), 0, 1, 0);
    smashChunk(gi, chunk); // a 4 KiB RMP entry under a huge NPT or IO entry: the entry follows it down
  }
  return true;
}

/** PSMASH followers: the NPT (private table) and IO entries mapping the 2 MiB chunk are smashed to 4 KiB. */
function smashChunk(gi: u32, chunk: u32): void {
  const n = gmemNbind(gi);
  for (let i: u32 = 0; i < n; i++) {
    const vm = gmemBindVm(gi, i);
    const sp = vmSlot(vm, gmemBindSlot(gi, i));
    const pg = slotPgoff(sp);
    if (chunk < pg || chunk >= pg + slotNpages(sp)) continue;
    const gfn = slotBase(sp) + chunk - pg;
    const pt = vmPtPrivate(vm);
    let p = ptWalkLeaf(pt, gfn);
    while (p != 0 && spteLevel(load<u64>(p)) >= 2) {
      if (ptDemoteAt(pt, p) < 0) break;
      p = ptWalkLeaf(pt, gfn);
    }
  }
  iommuSmash(gi, chunk);
}

/**
 * sev_gmem_invalidate / the to-shared conversion: make [s, e) unassigned. A 2 MiB entry entirely inside goes in one
 * RMPUPDATE; one only partly inside is PSMASHed first, and the NPT and IO entries mapping it are smashed with it.
 * Returns the number of RMPUPDATEs (each flushes the IOTLB).
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
        emit(EV_ARCH_RMPUPDATE, 0, 0, folioPfn(gi, chunk), 0, 2, 0);
        updates++;
        i = ce;
        continue;
      }
      bitmapAssign(b2, chunk >> 9, (chunk >> 9) + 1, false); // PSMASH: 1 -> 512 4 KiB entries
      emit(EV_ARCH_PSMASH, EVF_PRIVATE, 0, folioPfn(gi, chunk), 0, 2, 0);
      smashChunk(gi, chunk);
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
  return updates;
}
