// Operations as state machines (op/engine.ts): their kinds, their atomic steps, and the results they report.
// An operation runs as a sequence of atomic steps; each step ends where the kernel lets another thread in, and
// `pause: "after-<step>"` stops an operation after that step. The binding derives every name from this file:
// OPK_GUEST_ACCESS -> "guest.access" (first underscore -> '.', the rest -> '-'), STEP_INVALIDATE_BEGIN ->
// "invalidate-begin", GUEST_MEMORY_FAULT -> "memory-fault".

// ---- operation kinds (the scenario ops a thread may run) --------------------------------------------------------
export const OPK_GMEM_CREATE: u32 = 1;
export const OPK_GMEM_CLOSE: u32 = 2;
export const OPK_VM_CREATE: u32 = 3;
export const OPK_VM_DESTROY: u32 = 4;
export const OPK_VM_BIND: u32 = 5;
export const OPK_VM_UNBIND: u32 = 6;
export const OPK_GUEST_ACCESS: u32 = 7;
export const OPK_HOST_MMAP: u32 = 8;
export const OPK_HOST_MUNMAP: u32 = 9;
export const OPK_HOST_ACCESS: u32 = 10;
export const OPK_HOST_PIN: u32 = 11;
export const OPK_HOST_UNPIN: u32 = 12;
export const OPK_CONVERT: u32 = 13;
export const OPK_PUNCH: u32 = 14;
export const OPK_IOMMU_CREATE: u32 = 15;
export const OPK_IOMMU_BIND: u32 = 16;
export const OPK_IOMMU_UNBIND: u32 = 17;
export const OPK_IOMMU_MAP: u32 = 18;
export const OPK_IOMMU_UNMAP: u32 = 19;
export const OPK_DMA: u32 = 20;
export const OPK_KINDS: u32 = 21;

// ---- atomic steps -------------------------------------------------------------------------------------------------
export const STEP_RUN: u32 = 0; //                  the whole op (ops that are one atomic step)
export const STEP_LOCK: u32 = 1; //                 filemap_invalidate_lock (+ the work list: kvm_gmem_convert_range)
export const STEP_INVALIDATE_BEGIN: u32 = 2; //     invalidate_begin on every notifier (v4: begin + zap of the old kind)
export const STEP_SHOULD_PROCEED: u32 = 3; //       should_proceed: unmap, IOMMU callback, refcount check (punch: zap all)
export const STEP_EXECUTE: u32 = 4; //              execute_work: shareability, split / merge (punch: truncate)
export const STEP_INVALIDATE_END: u32 = 5; //       invalidate_end on every notifier, filemap_invalidate_unlock
export const STEP_FAULTIN: u32 = 6; //              guest fault: mmu_invalidate_seq snapshot, mismatch check, get_pfn
export const STEP_INSTALL: u32 = 7; //              under mmu_lock / the domain lock: re-check, install, access
export const STEP_GET_PFN: u32 = 8; //              gmem-mode IOMMU map: seq snapshot, pfns from guest_memfd + access check
export const STEP_KINDS: u32 = 9;

// Which steps each kind has (bit per STEP_*), in no particular order: OPS_<KIND> for OPK_<KIND>.
export const OPS_SINGLE: u32 = 1 << STEP_RUN;
export const OPS_CONVERT: u32 = (1 << STEP_LOCK) | (1 << STEP_INVALIDATE_BEGIN) | (1 << STEP_SHOULD_PROCEED) |
  (1 << STEP_EXECUTE) | (1 << STEP_INVALIDATE_END);
export const OPS_PUNCH: u32 = OPS_CONVERT;
export const OPS_GUEST_ACCESS: u32 = (1 << STEP_FAULTIN) | (1 << STEP_INSTALL);
export const OPS_IOMMU_MAP: u32 = (1 << STEP_GET_PFN) | (1 << STEP_INSTALL) | (1 << STEP_RUN); // pin mode: one step
// The steps an op can stop after with more to do (`pause: "after-<step>"`): OPS_PAUSE_<KIND>. A conversion's
// invalidate-end and a map's install always finish it; a guest access's install does not when the fault is stale.
export const OPS_PAUSE_CONVERT: u32 = (1 << STEP_LOCK) | (1 << STEP_INVALIDATE_BEGIN) | (1 << STEP_SHOULD_PROCEED) |
  (1 << STEP_EXECUTE);
export const OPS_PAUSE_PUNCH: u32 = OPS_PAUSE_CONVERT;
export const OPS_PAUSE_GUEST_ACCESS: u32 = OPS_GUEST_ACCESS;
export const OPS_PAUSE_IOMMU_MAP: u32 = 1 << STEP_GET_PFN;

// ---- how a step or a call ended -------------------------------------------------------------------------------------
export const ST_MORE: u32 = 0; //                   the op has more steps to run
export const ST_DONE: u32 = 1; //                   the op finished; its result is in OP_RESULT
export const ST_BLOCKED: u32 = 2; //                the step could not start (a lock or an invalidation is held); no change
// Results of an export beyond handles, access results and -errno (negative, below the errno range -4095..-1, so
// no handle or result can be mistaken for them): the op stopped at its pause point (out OUT_OP = its handle), or
// its next step cannot start now.
export const RESULT_PAUSED: i32 = -0x10000;
export const RESULT_BLOCKED: i32 = -0x10001;
// stop_after values of the step-running exports: a STEP_* (stop after that step), or one of these
export const STOP_NEVER: u32 = 0x100; //            run to the end
export const STOP_ONE: u32 = 0x101; //              run exactly one atomic step (the explorer)
export const STOP_PROBE: u32 = 0x102; //            run nothing: could the next step start now? (RESULT_PAUSED: yes)

// ---- results of accesses --------------------------------------------------------------------------------------------
export const GUEST_MAPPED: i32 = 1; //              the access went through a mapping
export const GUEST_MEMORY_FAULT: i32 = 2; //        KVM_EXIT_MEMORY_FAULT
export const GUEST_RETRY: i32 = 3; //               the fault could not make progress (an invalidation is in flight)
export const GUEST_HWPOISON: i32 = 4;
export const HOST_OK: i32 = 0;
export const HOST_SIGBUS: i32 = 1;
export const HOST_RETRY: i32 = 3; //                the fault would wait for a conversion in flight
export const DMA_OK: i32 = 1;
export const DMA_IO_FAULT: i32 = 2;
export const DMA_MACHINE_CHECK: i32 = 3; //         TDX: a private page through a non-secure entry
