// A device access through the IOMMU: the IO page-table walk (no lock: the hardware), then the memory the entry
// names. io-fault without an entry; on TDX a private page behind a non-secure entry is a host machine check (and a
// secure entry to a shared page faults: T=1 follows the S-EPT); on SNP the RMP check turns a wrong-kind access into
// a contained fault; sw faults likewise. A pin-mode entry to a frame truncation orphaned still reaches that frame.
import { DMA_OK, DMA_IO_FAULT, DMA_MACHINE_CHECK } from "../abi/ops";
import { IOMMU_MODE_PIN } from "../abi/consts";
import { EINVAL, ENOMEM } from "../abi/errno";
import { ptWalkLeaf, spteLevel, sptePfn, levelPages } from "../lib/pagetable";
import { bitmapTest } from "../lib/bitmap";
import { fpTouch, RES_LOCK, RES_CONTENT, FP_READ, FP_WRITE } from "../lib/footprint";
import { gmemBitmap, gmemIndex } from "../gmem/inode";
import { folioPfn } from "../gmem/folio";
import { orphanByPfn, orphanContent, orphanSetContent } from "../gmem/orphan";
import { pageRead, pageWrite, contentRead, contentWord } from "../gmem/content";
import { pagesLock } from "../gmem/lock";
import { archPrivateViaSharedIsFatal } from "../arch/arch";
import { IO_MODE, IO_DMA_MCE, ioPt, ioRead } from "./domain";
import { findArea, areaInode, areaPgoff, areaIova } from "./area";

let dmaValue: u32 = 0;
export function lastDmaValue(): u32 { return dmaValue; }

/** A device access at iova (byte address) through the secure or non-secure table: DMA_* or -errno. */
export function iommuDma(io: u32, iova: f64, secure: bool, doWrite: bool, value: u32): i32 {
  if (!(iova >= 0 && iova < 17592186044416.0 && iova == Math.floor(iova))) return -EINVAL;
  ioRead(io);
  const ivp = <u32>(<u64>iova >> 12);
  const sptep = ptWalkLeaf(ioPt(io, secure), ivp);
  if (sptep == 0) return DMA_IO_FAULT;
  const a = findArea(io, ivp, secure);
  if (a == 0) return DMA_IO_FAULT;
  const gi = areaInode(a);
  pagesLock(gi);
  const index = areaPgoff(a) + (ivp - areaIova(a));
  const e = load<u64>(sptep);
  const pfn = sptePfn(e) + (ivp & (<u32>levelPages(spteLevel(e)) - 1));
  fpTouch(gmemIndex(gi), RES_CONTENT, doWrite ? FP_WRITE : FP_READ);
  fpTouch(gmemIndex(gi), RES_LOCK, FP_READ); // the page's shareability decides the outcome
  if (load<u32>(io, IO_MODE) == IOMMU_MODE_PIN && folioPfn(gi, index) != pfn) {
    const o = orphanByPfn(gi, pfn); // a pinned frame truncation took out of the file
    if (o == 0) return DMA_IO_FAULT;
    dmaValue = contentRead(orphanContent(o), false); // a pin-mode entry is non-secure
    if (doWrite) orphanSetContent(o, contentWord(value, false));
    return DMA_OK;
  }
  const shared = bitmapTest(gmemBitmap(gi), index);
  if (!secure && !shared) {
    if (archPrivateViaSharedIsFatal()) {
      store<u32>(io, load<u32>(io, IO_DMA_MCE) + 1, IO_DMA_MCE);
      return DMA_MACHINE_CHECK;
    }
    return DMA_IO_FAULT;
  }
  if (secure && shared) return DMA_IO_FAULT; // T=1 follows the private side (SNP: the RMP check faults it)
  dmaValue = pageRead(gi, index, secure);
  if (doWrite && !pageWrite(gi, index, secure, value)) return -ENOMEM;
  return DMA_OK;
}
