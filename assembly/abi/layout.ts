// The memory map of gmemsim: every address the core uses comes from here, and the binding imports this same file
// (asc and esbuild both read it), so the two cannot drift. It holds only `export const NAME: u32 = <integer
// expression>;` lines with values below 2^31. Each region starts where the previous one ends (rounded up to its
// alignment), so regions cannot overlap. (Modelled on wasmboy's core/constants.ts.)
//
//   NULL_BASE      +-----------------------------------+  never written: address 0 means "none"
//   HEADER_BASE    | HEADER (4 KiB)                    |  magic, version, locks, allocator heads, pfn pools,
//                  |                                   |  injection, notifier ops, ring indices, counters
//   OBJ_TABLE      | OBJECT TABLE (OBJ_MAX x 16 B)     |  handle -> {type, generation, pointer}
//   INSTANCE_BASE  | INSTANCES (MAX_INSTANCES x 8 KiB) |  per attached instance: out-values, iterator frames,
//                  |                                   |  footprint, held locks, its own op record
//   RING_BASE      | EVENT RINGS (MAX_INSTANCES x     |  one per instance slot, written only by that instance,
//                  |   RING_SIZE x 32 B, + positions)  |  lock-free readable by any thread
//   MEMORY_BASE    | asc static data (64 KiB budget)   |  read-only; re-applied by every instantiation
//   PAGEMAP_BASE   | PAGE MAP (1 Mi x 4 B)             |  per 4 KiB page of memory: allocator state, PT occupancy
//   HEAP_BASE      | HEAP (4 KiB pages, buddy)         |  bitmaps, folio arrays, page tables, op records ...
//                  |   grows with memory.grow to 4 GiB |
//
// Structures that several instances (Node workers, Web Workers) share live only here, never in Wasm globals:
// globals are per instance (thread-local) and data segments are re-applied at every instantiation.

export const LAYOUT_MAGIC: u32 = 0x4d534d47; //          "GMSM" little-endian
export const LAYOUT_VERSION: u32 = 11;

export const PAGE_SHIFT: u32 = 12;
export const PAGE_SIZE: u32 = 4096;
export const WASM_PAGE_SHIFT: u32 = 16;
export const WASM_PAGE_SIZE: u32 = 65536;
export const MAX_WASM_PAGES: u32 = 65536; //             4 GiB, the wasm32 limit (Node 20, Chromium)

// ---- regions, each from the end of the previous one --------------------------------------------------------------
export const NULL_BASE: u32 = 0;
export const NULL_SIZE: u32 = PAGE_SIZE;

export const HEADER_BASE: u32 = NULL_BASE + NULL_SIZE;
export const HEADER_SIZE: u32 = PAGE_SIZE;

export const OBJ_TABLE: u32 = HEADER_BASE + HEADER_SIZE;
export const OBJ_SLOT_SIZE: u32 = 16;
export const OBJ_MAX: u32 = 4096;
export const OBJ_TABLE_SIZE: u32 = OBJ_MAX * OBJ_SLOT_SIZE;

export const INSTANCE_BASE: u32 = OBJ_TABLE + OBJ_TABLE_SIZE;
export const INSTANCE_SIZE: u32 = 16384;
export const MAX_INSTANCES: u32 = 64;
export const INSTANCES_SIZE: u32 = INSTANCE_SIZE * MAX_INSTANCES;

// Event rings (assembly/lib/events.ts): each instance slot writes its events into a ring of its own, so threads
// never write the same cache lines; a global sequence (RING_HEAD) orders them and readers merge the rings by it
// (as the kernel's per-cpu trace buffers are merged by timestamp). A ring's write position is here, not in the
// instance block: it only moves forward, also across an explorer checkpoint's restore and a slot's reuse.
export const CACHE_LINE: u32 = 64;
export const RING_BASE: u32 = INSTANCE_BASE + INSTANCES_SIZE;
export const RING_WPOS: u32 = RING_BASE; //                 u32 per slot, one cache line each: entries ever written
export const RING_ENTRY_SIZE: u32 = 32;
export const RING_SIZE: u32 = 16384; //                   entries per instance's ring (a power of two)
export const RING_BYTES: u32 = RING_SIZE * RING_ENTRY_SIZE; // one instance's ring
export const RING_ENTRIES: u32 = RING_WPOS + MAX_INSTANCES * CACHE_LINE; // the rings, slot after slot
export const RINGS_END: u32 = RING_ENTRIES + MAX_INSTANCES * RING_BYTES;
export const RING_FIRST_SEQ: u32 = RING_SIZE; //             the first event's sequence number (none is smaller)

// asc's --memoryBase (scripts/build.mjs passes this value): static data lands here, read-only
export const MEMORY_BASE: u32 = (RINGS_END + WASM_PAGE_SIZE - 1) & ~(WASM_PAGE_SIZE - 1);
export const STATIC_SIZE: u32 = WASM_PAGE_SIZE; //        budget; sim_attach refuses a core whose __heap_base exceeds it

export const PAGEMAP_BASE: u32 = MEMORY_BASE + STATIC_SIZE;
export const PAGEMAP_ENTRY: u32 = 4; //                   u32 per 4 KiB page of the whole 4 GiB space
export const PAGEMAP_SIZE: u32 = (MAX_WASM_PAGES << (WASM_PAGE_SHIFT - PAGE_SHIFT)) * PAGEMAP_ENTRY;

export const HEAP_BASE: u32 = PAGEMAP_BASE + PAGEMAP_SIZE;
export const INITIAL_WASM_PAGES: u32 = ((HEAP_BASE + WASM_PAGE_SIZE - 1) >> WASM_PAGE_SHIFT) + 16;

// page map entry: bits 0-7 allocator state of a heap block head, bits 16-31 present entries of a page-table page
export const PAGEMAP_FREE: u32 = 0x80; //                 head of a free block (| order)
export const PAGEMAP_USED: u32 = 0x40; //                 head of an allocated block (| order)
export const PAGEMAP_PCP: u32 = 0xc0; //                  a free page on the per-cpu list (order 0, never a buddy)

// ---- header fields ----------------------------------------------------------------------------------------------
export const H_MAGIC: u32 = HEADER_BASE + 0; //          u32
export const H_VERSION: u32 = HEADER_BASE + 4; //        u32
export const H_INIT: u32 = HEADER_BASE + 8; //           u32 0 fresh, 1 initialising, 2 ready
export const H_FREEZE: u32 = HEADER_BASE + 12; //        u32 0, or 1 + the slot of the instance stopping the world (api/bracket.ts)
export const H_INSTANCES: u32 = HEADER_BASE + 16; //     u32 one past the highest instance slot ever claimed (readers scan those)
export const H_DEBUG: u32 = HEADER_BASE + 20; //         u32 bit 0: run the invariant checker after every step
export const H_HEAP_TOP: u32 = HEADER_BASE + 24; //      u32 first heap byte never handed out
export const H_PAGES_USED: u32 = HEADER_BASE + 28; //    u32 heap pages allocated now
export const H_PAGES_PEAK: u32 = HEADER_BASE + 32; //    u32 high-water mark of H_PAGES_USED
export const H_OBJ_FREE: u32 = HEADER_BASE + 36; //      u32 head of the free object-slot list (0 = none)
export const H_OBJ_NEXT: u32 = HEADER_BASE + 40; //      u32 next never-used object slot
export const H_OBJ_LIVE: u32 = HEADER_BASE + 44; //      u32 live objects
export const H_FAIL_ALLOC: u32 = HEADER_BASE + 48; //    u32 fail the N-th next heap allocation (0 off)
export const H_DEAD: u32 = HEADER_BASE + 52; //          u32 0, or 1 + the slot of an instance that died in a call: EOWNERDEAD
export const H_ARCH: u32 = HEADER_BASE + 56; //          u32 ARCH_* of abi/consts.ts (one machine, one arch)
export const H_SAFEGUARDS_OFF: u32 = HEADER_BASE + 60; // u32 SG_* bits: safeguards switched off (config.disable)
export const H_CORRUPT: u32 = HEADER_BASE + 64; //       u32 the armed debug hook (DBG_*), debug builds only
export const H_ALLOC_LOCK: u32 = HEADER_BASE + 68; //    u32 mutex: the heap allocator and the pfn pools (a leaf lock)
export const H_OBJ_LOCK: u32 = HEADER_BASE + 72; //      u32 mutex: the object table's free list (a leaf lock)
export const H_LOCK_WAITS: u32 = HEADER_BASE + 76; //    u32 lock acquisitions that had to wait (contention, for the bench)
export const H_PFN_LOCK: u32 = HEADER_BASE + 80; //      u32 mutex: the pfn pools (a leaf lock; takes the allocator's inside)
export const H_LIVE: u32 = HEADER_BASE + 88; //          u32 instances attached now (one alone takes no step locks)
export const H_STEPS: u32 = HEADER_BASE + 84; //         u32 the highest step counter an instance left behind: a new
//                                                         instance counts on from it (so a restored image does too)
// allocator: one doubly linked free list per order
export const MAX_ORDER: u32 = 19; //                     2^19 pages = 2 GiB
export const H_FREE_HEADS: u32 = HEADER_BASE + 96; //    u32[MAX_ORDER + 1]
// allocator: freed single pages, not yet merged (mm/alloc.ts, the per-cpu page list)
export const H_PCP_HEAD: u32 = H_FREE_HEADS + (MAX_ORDER + 1) * 4; // u32 first page (link at +0), 0 = empty
export const H_PCP_COUNT: u32 = H_PCP_HEAD + 4; //       u32 pages on it
// modelled physical memory: three pfn pools (mm/pfn.ts)
export const H_PFN: u32 = H_PCP_COUNT + 4;
export const PFN_NEXT_SMALL: u32 = H_PFN + 0; //         u32 next never-used pfn of each pool
export const PFN_NEXT_2M: u32 = H_PFN + 4;
export const PFN_NEXT_1G: u32 = H_PFN + 8;
export const PFN_STACK_SMALL: u32 = H_PFN + 12; //       u32 freed-pfn stack page chain of each pool
export const PFN_STACK_2M: u32 = H_PFN + 16;
export const PFN_STACK_1G: u32 = H_PFN + 20;
export const PFN_USED_SMALL: u32 = H_PFN + 24; //        u32 frames of each pool in use now
export const PFN_USED_2M: u32 = H_PFN + 28;
export const PFN_USED_1G: u32 = H_PFN + 32;
export const PFN_LIMIT_SMALL: u32 = H_PFN + 36; //       u32 pool capacity (frames); past it -> ENOMEM
export const PFN_LIMIT_2M: u32 = H_PFN + 40;
export const PFN_LIMIT_1G: u32 = H_PFN + 44;
export const PFN_LEAKED: u32 = H_PFN + 48; //            u32 frames that could not be returned (TDX removal failure)
export const H_PFN_SIZE: u32 = 64;
// fault injection: remaining count per INJ_* kind
export const H_INJECT: u32 = H_PFN + H_PFN_SIZE; //      u32[INJ_KINDS]
export const H_INJECT_SIZE: u32 = 32;
// notifier ops (gmem/notifier.ts): per ops id, the table indices of its callbacks, written at every attach
export const H_NOTIFIER_OPS: u32 = H_INJECT + H_INJECT_SIZE;
export const NOTIFIER_OPS_MAX: u32 = 8; //               ops ids 1 .. NOTIFIER_OPS_MAX - 1
export const NOTIFIER_CALLBACKS: u32 = 8; //             u32 per callback (NCB_* of abi/consts.ts)
export const H_NOTIFIER_OPS_SIZE: u32 = NOTIFIER_OPS_MAX * NOTIFIER_CALLBACKS * 4;
// machine hooks: table indices of functions a lower layer calls up through (HOOK_* of abi/consts.ts)
export const H_HOOKS: u32 = H_NOTIFIER_OPS + H_NOTIFIER_OPS_SIZE;
export const HOOKS_MAX: u32 = 8;
// the event sequence: a u64 (8-aligned), low word first
// (on a cache line of its own: every call that writes events adds to it, and the lines around hold tables every
// step reads; sharing one would make the threads' caches fight over it)
export const RING_HEAD: u32 = (H_HOOKS + HOOKS_MAX * 4 + CACHE_LINE - 1) & ~(CACHE_LINE - 1); // u32 sequence numbers ever reserved (low word)
export const RING_HEAD_HI: u32 = RING_HEAD + 4; //       u32 laps of the low word
export const RING_HEAD_END: u32 = RING_HEAD + CACHE_LINE; // (the rest of the line stays empty)
// what views read without a lock (api/view.ts, bindings/state.ts): a reader sees whether anything changed by every
// attached instance's seqcount (IN_SEQ, odd inside a call that may change state) plus what detached ones left
// (H_CALLS_DONE); H_CHANGES is only a word to sleep on, moved at the end of a call when a reader sleeps there
export const H_CHANGES: u32 = RING_HEAD_END; //          u32 bumped + notified at a call's end while H_CHANGE_WAITERS > 0
export const H_CHANGE_WAITERS: u32 = H_CHANGES + 4; //   u32 readers asleep on H_CHANGES
export const H_VIEW_HOLD: u32 = H_CHANGES + 8; //        i32 readers asking writers to stay out while they read
export const H_CALLS_DONE: u32 = H_CHANGES + 12; //      u32 calls of instances that detached (their IN_SEQ / 2)
export const VIEW_HOLD_WAIT_NS: u32 = 10000000; //       the longest a writer that may block waits for them (10 ms)
// the debug core's lock-order report (LOCKDEP_* of abi/consts.ts), read by the binding when the core traps
export const H_LOCKDEP: u32 = H_CALLS_DONE + 4; //        u32[LOCKDEP_WORDS]
// world stops ever taken: a waiter that sees the same holder with the same count for DEAD_MS knows it died holding it
export const H_FREEZE_GEN: u32 = H_LOCKDEP + 4 * 5; //    u32 (api/bracket.ts)
// counters: one u64 per event kind, then extra counters (CTR_*), and per-kind sums of the `count` field
export const MAX_COUNTERS: u32 = 128;
export const H_COUNTERS: u32 = HEADER_BASE + 1024; //    u64[MAX_COUNTERS]
export const H_COUNT_SUMS: u32 = H_COUNTERS + MAX_COUNTERS * 8; // u64[MAX_COUNTERS]
// per event kind, which field (0..4 = a..e) holds its `count`, else 5: derived from the EVL_* layouts at attach
export const H_COUNT_SLOT: u32 = H_COUNT_SUMS + MAX_COUNTERS * 8; // u8[MAX_COUNTERS]
export const H_END: u32 = H_COUNT_SLOT + MAX_COUNTERS; //           must not pass HEADER_BASE + HEADER_SIZE

// ---- object table slot --------------------------------------------------------------------------------------------
// +0 type u8, +1 flags u8, +4 ptr u32, +8 next free slot u32, +12 generation u32.
// handle = index | generation << OBJ_INDEX_BITS: always positive as an i32 (results of exports are handles, -errno,
// or the negative RESULT_* codes of abi/ops.ts); index 0 is never used, so handle 0 is never valid. A slot whose
// generation reaches OBJ_GEN_MAX is retired, never reused: a stale handle stays stale.
export const OBJ_INDEX_BITS: u32 = 12; //                OBJ_MAX = 1 << OBJ_INDEX_BITS
export const OBJ_GEN_MAX: u32 = (1 << (31 - OBJ_INDEX_BITS)) - 1;
export const OS_TYPE: u32 = 0;
export const OS_FLAGS: u32 = 1;
export const OS_PTR: u32 = 4;
export const OS_NEXT: u32 = 8;
export const OS_GEN: u32 = 12;

// ---- per-instance block (INSTANCE_SIZE bytes) ----------------------------------------------------------------------
export const IN_OUT: u32 = 0; //                         u32[OUT_SLOTS] out-values of the last query (OUT_* of abi/consts.ts)
export const OUT_SLOTS: u32 = 32;
export const IN_ITER: u32 = IN_OUT + OUT_SLOTS * 4; //   tdp_iter frames
export const ITER_SIZE: u32 = 96;
export const ITER_FRAMES: u32 = 4;
export const IN_FOOTPRINT: u32 = IN_ITER + ITER_SIZE * ITER_FRAMES; // u32 count, then (resource u32, mode u32) pairs
export const FOOTPRINT_MAX: u32 = 62;
export const IN_HELD: u32 = IN_FOOTPRINT + 8 + FOOTPRINT_MAX * 8; //   locks this instance holds: u32 count, (word, mode)
export const HELD_MAX: u32 = 127; // every consumer of an inode (GI_NOTIFIER_MAX) and then some
export const IN_STATE: u32 = IN_HELD + 8 + HELD_MAX * 8; // u32: 0 free slot, 1 attached
export const IN_VIOL: u32 = IN_STATE + 4; //              violations found in this step: u32 count, u32 where, u32[8] codes
export const IN_VIOL_SIZE: u32 = 40;
export const IN_CALL: u32 = (IN_VIOL + IN_VIOL_SIZE + 7) & ~7; // u32 calls entered + left: odd while inside an export
export const IN_SEQ: u32 = IN_CALL + 4; //                u32 this instance's seqcount for views: odd inside a call that may
//                                                          change state (a probe gives its count back), bindings/state.ts;
//                                                          beside IN_CALL in one u64, so a call marks both with one store
export const IN_RUNNING_OP: u32 = IN_SEQ + 4; //          u32 id of the op this instance is running (0: none)
export const IN_STEP: u32 = IN_RUNNING_OP + 4; //         u32 steps (mutating calls) this instance performed
export const IN_OP_SEQ: u32 = IN_STEP + 4; //             u32 ops this instance started (op id = slot + 1 << 24 | seq)
export const IN_RING_NEXT: u32 = IN_OP_SEQ + 4; //        u32 next sequence number of this call's batch (events/lib)
export const IN_RING_END: u32 = IN_RING_NEXT + 4; //      u32 end of the batch
export const IN_RING_HI: u32 = IN_RING_END + 4; //        u32 the batch's high word (a batch never straddles 2^32)
export const IN_RING_RES: u32 = (IN_RING_HI + 4 + 7) & ~7; // u64 the batch as readers see it: start << 32 | end
//                                                          while a call holds one, RING_RES_PENDING while it takes
//                                                          one, 0 between calls (readers merge up to it)
export const RING_RES_PENDING: u32 = 1; //                 as a u64: start 0, end 1 (a real batch is never one slot)
export const IN_COUNTERS: u32 = IN_RING_RES + 8; //       u64[MAX_COUNTERS] this instance's counters (folded into
//                                                          H_COUNTERS when it detaches), then u64[MAX_COUNTERS] sums
export const IN_COUNT_SUMS: u32 = IN_COUNTERS + MAX_COUNTERS * 8;
// records of this instance's last view query (api/view.ts: u32[4] each), up to the op record
export const IN_VIEW: u32 = (IN_COUNT_SUMS + MAX_COUNTERS * 8 + 15) & ~15;
export const VIEW_RECORD_SIZE: u32 = 16;
export const IN_OP: u32 = INSTANCE_SIZE - PAGE_SIZE; //   this instance's own op record (ops that run through in one call)
export const VIEW_RECORDS: u32 = (IN_OP - IN_VIEW) / VIEW_RECORD_SIZE;
export const IN_END: u32 = IN_VIEW + VIEW_RECORDS * VIEW_RECORD_SIZE; // = IN_OP: every field ends before the op record
