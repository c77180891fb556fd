// A VM: memslots bound to guest_memfds, KVM's private and shared tables, guest accesses.
import * as C from "../../assembly/abi/consts";
import { STOP_NEVER, RESULT_PAUSED } from "../../assembly/abi/ops";
import { check, einval } from "../errors";
import { LEVEL_NAMES, SEPT_STATE_NAMES } from "../abi";
import { u32, f64, u32value, type SimContext } from "../context";
import { accessResult, pausedOp, stopFor, type GuestAccess, type PausedOp } from "../ops";
import { Gmem } from "./gmem";
import { listMemslots, mappingRuns, type Memslot, type MappingRun, type RangeOptions } from "../state";

export type SeptState = "mapped" | "blocked" | "pending" | "removed";

export class Vm {
  readonly sim: SimContext;
  readonly handle: number;
  /** Wrap a VM handle of `sim` (a whole number in [0, 2^32): a stale one is EBADF at its first use). */
  constructor(sim: SimContext, handle: number) {
    this.sim = sim;
    this.handle = u32("vm", "handle", handle); // a forged or stale handle is EBADF at its first use
  }
  /** KVM_SET_USER_MEMORY_REGION2: slot of `size` bytes at `gpa`, backed by gmem from `offset`. */
  bind(slot: number, gpa: number | bigint, size: number | bigint, gmem: Gmem, offset: number | bigint): void {
    const op = "vm.bind";
    if (!(gmem instanceof Gmem) || gmem.sim !== this.sim) throw einval(op, "gmem must be a Gmem of this simulator");
    this.sim.run(op, this.sim.core.vm_bind(this.handle, u32(op, "slot", slot), f64(gpa), f64(size), gmem.handle,
      f64(offset), STOP_NEVER));
  }
  unbind(slot: number): void {
    this.sim.run("vm.unbind", this.sim.core.vm_unbind(this.handle, u32("vm.unbind", "slot", slot), STOP_NEVER));
  }
  /**
   * A guest access to gpa, private or shared (the GPA's private bit), optionally storing `write`. With
   * pause: 'after-faultin' it stops after kvm_gmem_get_pfn, before mmu_lock, and returns a PausedOp.
   */
  access(gpa: number | bigint, opts: { private: boolean; write?: number; pause?: string }): GuestAccess | PausedOp {
    const op = "guest.access";
    if (typeof opts !== "object" || opts === null || typeof opts.private !== "boolean") {
      throw einval(op, "opts.private must be a boolean");
    }
    const stop = stopFor(op, opts.pause);
    const w = opts.write === undefined ? undefined : u32value(op, opts.write);
    const r = this.sim.afterStep(op, this.sim.core.guest_access(this.handle, f64(gpa), opts.private ? 1 : 0,
      w === undefined ? 0 : 1, w ?? 0, stop));
    if (r === RESULT_PAUSED) return pausedOp(this.sim, op);
    return accessResult(this.sim, op, r);
  }
  /**
   * The SPTE mapping gpa in the 'private' or 'shared' table, or null. On TDX a private leaf carries its S-EPT
   * state: 'mapped' (accepted), 'pending' (AUG'd, not accepted), 'blocked', 'removed'.
   */
  spte(gpa: number | bigint, table: "private" | "shared"): { level: "4K" | "2M" | "1G"; pfn: number; state: SeptState } | null {
    if (table !== "private" && table !== "shared") throw einval("vm.spte", "table must be 'private' or 'shared'");
    const level = check(this.sim.core.vm_spte(this.handle, f64(gpa), table === "private" ? 1 : 0), "vm.spte");
    if (level === 0) return null;
    const state = (SEPT_STATE_NAMES[this.sim.out(C.OUT_INFO + C.VM_INFO_STATE)] ?? "mapped") as SeptState;
    return { level: LEVEL_NAMES[level] as "4K", pfn: this.sim.out(C.OUT_INFO + C.VM_INFO_PFN), state };
  }
  /** mmu_invalidate_seq, in_progress, remote TLB flushes, and present leaves of both tables. */
  info(): { seq: number; inProgress: number; tlbFlushes: number; privateLeaves: number; sharedLeaves: number } {
    check(this.sim.core.vm_info(this.handle), "vm.info");
    const o = (i: number) => this.sim.out(C.OUT_INFO + i);
    return { seq: o(C.VM_INFO_SEQ), inProgress: o(C.VM_INFO_IN_PROGRESS) | 0, tlbFlushes: o(C.VM_INFO_TLB_FLUSHES),
      privateLeaves: o(C.VM_INFO_PRIVATE_LEAVES), sharedLeaves: o(C.VM_INFO_SHARED_LEAVES) };
  }
  /** Present leaves per level of the 'private' or 'shared' table. */
  leaves(table: "private" | "shared"): { "4K": number; "2M": number; "1G": number } {
    if (table !== "private" && table !== "shared") throw einval("vm.leaves", "table must be 'private' or 'shared'");
    check(this.sim.core.vm_leaves(this.handle, table === "private" ? 1 : 0), "vm.leaves");
    const o = (i: number) => this.sim.out(C.OUT_INFO + i);
    return { "4K": o(C.VM_INFO_LEAVES_4K), "2M": o(C.VM_INFO_LEAVES_2M), "1G": o(C.VM_INFO_LEAVES_1G) };
  }
  /** The memslots in use (lock-free). */
  memslots(): Memslot[] { return listMemslots(this.sim, this.handle); }
  /**
   * The 'private' or 'shared' table's leaves over gfns [start, end) as runs with pfn and level (lock-free: see
   * Simulator.readConsistent when another thread may be running the model).
   */
  mappings(table: "private" | "shared", start = 0, end = 2 ** 32, opts?: RangeOptions): MappingRun[] {
    if (table !== "private" && table !== "shared") throw einval("vm.mappings", "table must be 'private' or 'shared'");
    return mappingRuns(this.sim, "vm.mappings", table === "private" ? C.VIEW_TABLE_KVM_PRIVATE : C.VIEW_TABLE_KVM_SHARED,
      this.handle, start, end, opts);
  }
  /** Destroy the VM: every memslot is deleted (its SPTEs zapped) first. */
  destroy(): void {
    this.sim.run("vm.destroy", this.sim.core.vm_destroy(this.handle, STOP_NEVER));
  }
}
