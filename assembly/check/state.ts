// The invariants that can be read off the whole state at any point between atomic steps (KERNEL-PROTOCOL.md
// section 6): I1-I8, I10, I11, I13-I17, with the allowances an operation in flight needs (a conversion between
// set_attr and split, an invalidation in progress). I9, I12, I18-I20 are checked where they happen (check/post.ts,
// the fault's install).
//
// Cost: linear in the state's size. One pass over the object table finds the operations in flight (and which
// invalidate locks they hold); then each guest_memfd's bitmap and folio blocks, each VM's and IOMMU's tables are
// walked once. Per leaf the work is constant: the VM's memslot is one of VM_MAX_SLOTS, and an IO entry's area comes
// from a cursor that moves through the domain's areas (sorted by iova, iommu/area.ts) as the walk moves through the
// table, so a domain costs O(entries + areas), never entries x areas. So O(slots + bitmap words + blocks + pages in
// split blocks + table pages + areas); an entry on a truncated, still pinned frame finds its orphan record through
// the inode's pfn index (gmem/orphan.ts) in constant time. What it visited is reported (CHECK_INFO_* of abi/consts.ts):
// test/invariants-cost.test.ts counts it, bench/cases/check.ts (`checker`) times it.
import { GI_NPAGES, GI_HOSTPTES, GI_NBLOCKS, GI_HANDLE } from "../abi/records";
import { OPK_CONVERT, OPK_PUNCH } from "../abi/ops";
import { OBJ_T_GMEM, OBJ_T_VM, OBJ_T_IOMMU, OBJ_T_OP, objEnd, objSlotType, objSlotPtr, objGet } from "../mm/objects";
import { rwWriter } from "../mm/sync";
import { violationCount, violationCode, isTdx, isSnp } from "../lib/machine";
import { TdpIter, tdpIterStart, tdpIterNext, spteIsPresent, spteIsLeaf, spteLevel, sptePfn, spteState, ptRoot, levelPages } from "../lib/pagetable";
import { bitmapSharedInBlock, bitmapTest } from "../lib/bitmap";
import { iterPush, iterPop } from "../lib/iter";
import { OP_OBJ, opKind, opFlags, opId, opDone } from "../lib/oprec";
import { gmemBitmap, gmemInvLock, blockShift } from "../gmem/inode";
import { FB_STATE, FB_SUB, FB_HUGE, FB_SPLIT, FE_FLAGS, FE_SIZE, FOLIO_HOSTMAP, blockAt, ePresent, eUptodate, folioOrder, folioPfn, folioUptodate } from "../gmem/folio";
import { folioIoPins } from "../gmem/refs";
import { orphanByPfn, orphanIoPins } from "../gmem/orphan";
import { notifierCount, notifierClass, notifierOwner } from "../gmem/notifier";
import { CF_LOCKED } from "../gmem/convert";
import { NOTIFIER_KVM, SEPT_MAPPED, IOMMU_MODE_PIN, CHECK_INFO_LEAVES, CHECK_INFO_AREAS, CHECK_INFO_ORPHANS } from "../abi/consts";
import { archMaxPrivateLevel } from "../arch/arch";
import { rmpLevelOf } from "../arch/snp";
import { tdxInhibited } from "../arch/tdx";
import {
  VM_RANGE_START, VM_RANGE_END, VM_RANGE_VALID, VM_ENDS, VM_MAX_SLOTS, vmSlot, vmPt, vmSeq, vmInProgress, slotUsed,
  slotBase, slotNpages, slotPgoff, slotInode, slotForGfn,
} from "../kvm/vm";
import { IO_MODE, IO_IN_PROGRESS, IO_RANGE_START, IO_RANGE_END, IO_RANGE_VALID, ioPt } from "../iommu/domain";
import { areaFirst, nAreas, ioArea, areaInode, areaPgoff, areaIova, areaSecure, areaNpages } from "../iommu/area";
import { checkBitmap, checkFolios, fail } from "./struct";

// what the live operations hold, counted once per check
let liveOps: u32 = 0;
let liveConverts: u32 = 0;
let locksClaimed: u32 = 0; //  invalidate locks of live guest_memfds held by the live conversion or punch that took them
let locksHeld: u32 = 0; //     live guest_memfds whose invalidate lock is held exclusively
// what this check visited (CHECK_INFO_*)
let workLeaves: u32 = 0;
let workAreas: u32 = 0;
let workOrphans: u32 = 0;

/** What the last checkAll visited: CHECK_INFO_LEAVES, _AREAS or _ORPHANS. */
export function checkWork(what: u32): u32 {
  return what == CHECK_INFO_LEAVES ? workLeaves : what == CHECK_INFO_AREAS ? workAreas : what == CHECK_INFO_ORPHANS ? workOrphans : 0;
}

/** Every invariant readable off the state now; 0 or the first violated one (all found are recorded). */
export function checkAll(): u32 {
  const before = violationCount();
  liveOps = 0; liveConverts = 0; locksClaimed = 0; locksHeld = 0;
  workLeaves = 0; workAreas = 0; workOrphans = 0;
  const end = objEnd();
  for (let i: u32 = 1; i < end; i++) {
    if (objSlotType(i) != OBJ_T_OP) continue;
    const op = objSlotPtr(i);
    if (opDone(op)) continue;
    liveOps++;
    const k = opKind(op);
    if (k != OPK_CONVERT && k != OPK_PUNCH) continue;
    liveConverts++;
    if ((opFlags(op) & CF_LOCKED) == 0) continue;
    // I14: a conversion that took its inode's invalidate lock holds it exclusively
    const gi = load<u32>(op, OP_OBJ);
    if (rwWriter(gmemInvLock(gi)) != (opId(op) & 0x7fffffff)) fail(14, 0);
    else if (objGet(load<u32>(gi, GI_HANDLE), OBJ_T_GMEM) == gi) locksClaimed++; // (op ids are unique: one per inode)
  }
  const it = iterPush();
  for (let i: u32 = 1; i < end; i++) {
    const t = objSlotType(i);
    const p = objSlotPtr(i);
    if (t == OBJ_T_GMEM) checkGmem(p);
    else if (t == OBJ_T_VM) checkVm(p, it);
    else if (t == OBJ_T_IOMMU) checkIommu(p, it);
  }
  iterPop();
  // I14: an invalidate lock held exclusively by nobody in flight (every held one is claimed by its own op, above)
  if (locksHeld != locksClaimed) fail(14, 0);
  return violationCount() > before ? violationCode(before) : 0;
}

function checkGmem(gi: u32): u32 {
  const bm = gmemBitmap(gi);
  let r = checkBitmap(bm);
  if (r != 0) return r;
  r = checkFolios(gi);
  if (r != 0) return r;
  const locked = rwWriter(gmemInvLock(gi)) != 0;
  if (locked) locksHeld++; // (claimed by an op in flight: checkAll compares the counts)
  const shift = blockShift(gi);
  const nb = load<u32>(gi, GI_NBLOCKS);
  let hostPtes: u32 = 0;
  for (let b: u32 = 0; b < nb; b++) {
    const blk = blockAt(gi, b);
    const st = <u32>load<u8>(blk, FB_STATE);
    if (st == FB_HUGE) {
      // I3: a huge folio never holds a shared index (a conversion in flight may be between set_attr and split)
      if (!locked && bitmapSharedInBlock(bm, b << shift, shift) != 0) return fail(3, b << shift);
    } else if (st == FB_SPLIT) {
      const sub = <usize>load<u32>(blk, FB_SUB);
      const nr = <u32>1 << shift;
      for (let k: u32 = 0; k < nr; k++) {
        const e = sub + <usize>k * FE_SIZE;
        if (!ePresent(gi, e) || !(load<u16>(e, FE_FLAGS) & FOLIO_HOSTMAP)) continue;
        const index = (b << shift) + k;
        hostPtes++;
        if (!eUptodate(blk, e)) return fail(5, index);         // I5: zero before expose
        if (!bitmapTest(bm, index)) return fail(6, index);      // I6: no private page in a host PTE
        if (rmpLevelOf(gi, index) != 0) return fail(10, index); // I10: a host-mapped pfn is RMP-unassigned
      }
    }
  }
  if (hostPtes != load<u32>(gi, GI_HOSTPTES)) return fail(6, 0);
  // I17: every KVM notifier record names a VM with a live memslot on this inode, inside i_size
  for (let i: u32 = 0, n = notifierCount(gi); i < n; i++) {
    if (notifierClass(gi, i) != NOTIFIER_KVM) continue;
    const vm = notifierOwner(gi, i);
    let bound = false;
    for (let s: u32 = 0; s < VM_MAX_SLOTS; s++) {
      const sp = vmSlot(vm, s);
      if (!slotUsed(sp) || slotInode(sp) != gi) continue;
      bound = true;
      if (<u64>slotPgoff(sp) + slotNpages(sp) > <u64>load<u32>(gi, GI_NPAGES)) return fail(17, slotPgoff(sp));
    }
    if (!bound) return fail(17, 0);
  }
  return 0;
}

function checkVm(vm: u32, it: TdpIter): u32 {
  // I13: begin/end balance
  const inProgress = vmInProgress(vm);
  if (inProgress < 0) return fail(13, 0);
  if (liveOps == 0 && inProgress != 0) return fail(13, 0);
  if (vmSeq(vm) != load<u32>(vm, VM_ENDS)) return fail(13, 0);
  // I17: slots of one inode never overlap in index space
  for (let a: u32 = 0; a < VM_MAX_SLOTS; a++) {
    const sa = vmSlot(vm, a);
    if (!slotUsed(sa)) continue;
    for (let b = a + 1; b < VM_MAX_SLOTS; b++) {
      const sb = vmSlot(vm, b);
      if (!slotUsed(sb) || slotInode(sb) != slotInode(sa)) continue;
      const pa = slotPgoff(sa), pb = slotPgoff(sb);
      if (pa < pb + slotNpages(sb) && pb < pa + slotNpages(sa)) return fail(17, pa);
    }
  }
  for (let t: u32 = 0; t < 2; t++) {
    const isPrivate = t == 0;
    tdpIterStart(it, ptRoot(vmPt(vm, isPrivate)), 1, 0, <u64>1 << 32);
    while (it.valid) {
      const e = it.oldSpte;
      if (spteIsPresent(e) && spteIsLeaf(e)) {
        workLeaves++;
        const r = checkLeaf(vm, <u32>it.gfn, e, isPrivate, inProgress);
        if (r != 0) return r;
      }
      tdpIterNext(it);
    }
  }
  return 0;
}

/** One SPTE: I7/I8 (type), I5 (uptodate), I10, I11, I15 (mapping <= folio, right pfn), I16 (huge mapping rules). */
function checkLeaf(vm: u32, gfn: u32, e: u64, isPrivate: bool, inProgress: i32): u32 {
  const level = spteLevel(e);
  const n = <u32>levelPages(level);
  const sp = slotForGfn(vm, gfn);
  if (sp == 0) return fail(17, gfn); // an SPTE outside every memslot
  const base = slotBase(sp), npages = slotNpages(sp), pgoff = slotPgoff(sp), gi = slotInode(sp);
  // I16: a huge leaf lies inside its slot, keeps gfn -> index alignment, has uniform attributes, arch allows it
  if (level > 1) {
    if (<u64>gfn + n > <u64>base + npages) return fail(16, gfn);
    if (((gfn - base + pgoff) & (n - 1)) != 0) return fail(16, gfn);
  }
  const index = gfn - base + pgoff;
  const bm = gmemBitmap(gi);
  const inRange = inProgress > 0 && load<u32>(vm, VM_RANGE_VALID) != 0 &&
    gfn < load<u32>(vm, VM_RANGE_END) && <u64>gfn + n > <u64>load<u32>(vm, VM_RANGE_START);
  if (level > 1) {
    const c = bitmapSharedInBlock(bm, index, level == 3 ? 18 : 9);
    if (c != 0 && c != n && !inRange) return fail(16, gfn);
    if (isPrivate && level > archMaxPrivateLevel(gi, index)) return fail(isSnp() ? 10 : 16, gfn);
  }
  // I11 (TDX): no huge private mapping in a block demoted after a 4 KiB accept (no re-promotion)
  if (isTdx() && isPrivate && level == 2 && tdxInhibited(gi, index)) return fail(11, gfn);
  // I11 (TDX): between steps every S-EPT leaf is accepted (MAPPED): no PENDING, BLOCKED or REMOVED one is left
  if (isTdx() && isPrivate && spteState(e) != SEPT_MAPPED) return fail(11, gfn);
  // I15: the mapping lies in one folio of at least its size, at the folio's pfn
  const o = folioOrder(gi, index);
  if (o < 0) return fail(15, gfn);
  if (<u32>o < 9 * (level - 1)) return fail(15, gfn);
  if (folioPfn(gi, index) != sptePfn(e)) return fail(15, gfn);
  // I5: zero before expose
  if (!folioUptodate(gi, index)) return fail(5, gfn);
  // I10 (SNP): a pfn mapped private in the NPT is RMP-assigned (its level was checked above)
  if (isSnp() && isPrivate && !inRange && rmpLevelOf(gi, index) == 0) return fail(10, gfn);
  // I7 / I8: entry type matches the attribute (outside an in-progress invalidation of the gfn)
  const shared = bitmapTest(bm, index);
  if (!isPrivate && !shared && (isTdx() || isSnp())) return fail(7, gfn); // a private page behind a non-secure entry
  if (!inRange && (isPrivate == shared)) return fail(8, gfn);
  return 0;
}

/**
 * IO page tables: every entry belongs to an area (I17), maps a present, uptodate folio at the right pfn and no
 * larger than it (I15, I5); outside an in-flight invalidation a non-secure entry maps only shared pages (I7: on
 * TDX a host machine check) and a secure one only private pages (I9), except on SNP, whose scheme keeps both and
 * instead bounds the entry by the RMP entry (I10); a pin-mode entry holds its GUP pin (I4).
 * Cost: one walk of each table, O(present entries + tables); a cursor over the domain's areas (sorted by (secure,
 * iova)) moves with the walk, and folio and orphan lookups are O(1): O(E + A) for E leaves and A areas (bench
 * `checker`: 4096 areas cost what one does).
 */
function checkIommu(io: u32, it: TdpIter): u32 {
  const pinMode = load<u32>(io, IO_MODE) == IOMMU_MODE_PIN;
  const na = nAreas(io);
  for (let t: u32 = 0; t < 2; t++) {
    const secure = t == 1;
    // the walk goes up in iova, and so do the table's areas: the cursor passes each area once
    let ai = areaFirst(io, secure);
    tdpIterStart(it, ptRoot(ioPt(io, secure)), 1, 0, <u64>1 << 32);
    while (it.valid) {
      const e = it.oldSpte;
      if (spteIsPresent(e) && spteIsLeaf(e)) {
        const iova = <u32>it.gfn;
        while (ai < na && areaSecure(ioArea(io, ai)) == secure && <u64>areaIova(ioArea(io, ai)) + areaNpages(ioArea(io, ai)) <= <u64>iova) {
          ai++;
          workAreas++;
        }
        let area: usize = 0;
        if (ai < na && areaSecure(ioArea(io, ai)) == secure && areaIova(ioArea(io, ai)) <= iova) area = ioArea(io, ai);
        workLeaves++;
        const r = checkIoLeaf(io, iova, e, secure, pinMode, area);
        if (r != 0) return r;
      }
      tdpIterNext(it);
    }
  }
  return 0;
}

/** One IO entry at iova, in `area` (the area of its table holding iova, or 0). */
function checkIoLeaf(io: u32, iova: u32, e: u64, secure: bool, pinMode: bool, area: usize): u32 {
  const level = spteLevel(e);
  const n = <u32>levelPages(level);
  if (area == 0 || <u64>iova + n > <u64>areaIova(area) + areaNpages(area) || areaSecure(area) != secure) return fail(17, iova);
  const gi = areaInode(area);
  const index = areaPgoff(area) + iova - areaIova(area);
  if (pinMode && folioPfn(gi, index) != sptePfn(e)) {
    // a truncated page the IOMMU's pin keeps: the entry must still point at that orphaned frame
    workOrphans++; // (a lookup in the inode's pfn index of orphans: constant time)
    const orphan = orphanByPfn(gi, sptePfn(e));
    if (orphan == 0 || orphanIoPins(orphan) == 0) return fail(15, iova);
    return 0;
  }
  const o = folioOrder(gi, index);
  if (o < 0 || <u32>o < 9 * (level - 1) || folioPfn(gi, index) != sptePfn(e)) return fail(15, iova);
  if (!folioUptodate(gi, index)) return fail(5, iova);
  const inFlight = load<i32>(io, IO_IN_PROGRESS) > 0 && load<u32>(io, IO_RANGE_VALID) != 0 &&
    index < load<u32>(io, IO_RANGE_END) && index + n > load<u32>(io, IO_RANGE_START);
  const shared = bitmapTest(gmemBitmap(gi), index);
  if (isSnp()) {
    const r = rmpLevelOf(gi, index);
    if (r != 0 && level > r) return fail(10, iova);
  } else if (!secure && !shared) {
    return fail(7, iova);
  } else if (secure && shared && !inFlight && liveConverts == 0) {
    return fail(9, iova);
  }
  if (pinMode && folioIoPins(gi, index) == 0) return fail(4, iova);
  return 0;
}

