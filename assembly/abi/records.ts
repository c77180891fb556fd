// Record layouts the binding reads through views (bitmaps, inodes). Records only the core touches keep their
// layout next to their accessors in the module that owns them.

// ---- shareability bitmap header (64 B, at the start of its own heap block) ---------------------------------------
// +0 npages u32, +4 words ptr u32 (u64 words, 1 bit per 4 KiB index, 1 = shared), +8 cnt2m ptr u32 (u16 per 2 MiB),
// +12 cnt1g ptr u32 (u32 per 1 GiB), +16 n2m u32, +20 n1g u32, +24 nwords u32, +28 heap orders of the two blocks
// (u8 header, u8 words), +32 shared u32 (total shared pages)
export const BM_NPAGES: u32 = 0;
export const BM_WORDS: u32 = 4;
export const BM_CNT2M: u32 = 8;
export const BM_CNT1G: u32 = 12;
export const BM_N2M: u32 = 16;
export const BM_N1G: u32 = 20;
export const BM_NWORDS: u32 = 24;
export const BM_ORDER: u32 = 28;
export const BM_SHARED: u32 = 32;
export const BM_HEADER_SIZE: u32 = 64;

// ---- guest_memfd inode (one 4 KiB page; gmem/inode.ts) ------------------------------------------------------------
export const GI_SIZE_LO: u32 = 0; //                     u32 i_size (bytes), low and high words
export const GI_SIZE_HI: u32 = 4;
export const GI_NPAGES: u32 = 8; //                      u32 i_size / 4 KiB
export const GI_FLAGS: u32 = 12; //                      u32 GMEM_FLAG_* | GMEM_GEN_V4
export const GI_BITMAP: u32 = 16; //                     u32 shareability bitmap
export const GI_BLOCKS: u32 = 20; //                     u32 folio block descriptors (gmem/folio.ts)
export const GI_NBLOCKS: u32 = 24; //                    u32
export const GI_BLOCK_SHIFT: u32 = 28; //                u32 9 or 18: pages per block descriptor
export const GI_HUGE_ORDER: u32 = 32; //                 u32 HugeTLB folio order: 0, 9 or 18
export const GI_BLOCKS_ORDER: u32 = 36; //               u32 heap order of the descriptor array
export const GI_INV_LOCK: u32 = 40; //                   u32 filemap invalidate_lock (mm/sync.ts rwsem word)
export const GI_POPULATED: u32 = 44; //                  u32 4 KiB pages that have a folio
export const GI_MMAPPED: u32 = 48; //                    u32 a host VMA maps the file
export const GI_CLOSED: u32 = 52; //                     u32 the fd was closed (the inode lives while bound)
export const GI_NNOTIFIER: u32 = 56; //                  u32 records in the notifier list
export const GI_HOSTPTES: u32 = 60; //                   u32 host PTEs present
export const GI_HANDLE: u32 = 64; //                     u32 own handle (events name objects by handle index)
export const GI_RMP: u32 = 68; //                        u32 SNP: bitmap of RMP-assigned pages, by index
export const GI_RMP2M: u32 = 72; //                      u32 SNP: 1 bit per 2 MiB chunk whose RMP entry is 2 MiB
export const GI_INHIBIT: u32 = 76; //                    u32 TDX: 1 bit per 2 MiB block demoted: never huge again
export const GI_ORPH: u32 = 80; //                       u32 orphan records (gmem/orphan.ts), array grown by doubling
export const GI_ORPH_N: u32 = 84; //                     u32 records in use
export const GI_ORPH_CAP: u32 = 88; //                   u32 capacity
export const GI_PAGES_LOCK: u32 = 92; //                 u32 the inode's page lock: folios, content, host PTEs, pins, RMP / accept state (mm/sync.ts LC_PAGES)
export const GI_BUSY_BLOCKS: u32 = 100; //                u32 blocks with a folio referenced beyond the filemap (gmem/folio.ts)
export const GI_SPARE_SUB: u32 = 96; //                   u32 a spare all-zero sub-array for the next split, or 0 (gmem/folio.ts)
export const GI_NOTIFIERS: u32 = 256; //                 the notifier list (gmem/notifier.ts records)
export const GI_NOTIFIER_SIZE: u32 = 32;
export const GI_NOTIFIER_MAX: u32 = 64;
export const GI_OBJ_SIZE: u32 = 4096;
