// A page table's descriptor and per-table occupancy (lib/pagetable.ts): the offsets and the counters every part of the
// implementation adjusts.
//   descriptor (PT_OBJ_SIZE bytes, embedded wherever the owner wants): +0 root u32, +4 present leaves u32[3]
//   (4 KiB, 2 MiB, 1 GiB), +16 table pages in use u32
//   occupancy: per table page, its present entries, in bits 16-31 of its page-map entry (mm/alloc.ts)
import { pagemapEntry } from "../mm/alloc";

export const PT_ROOT: usize = 0;
export const PT_LEAVES: usize = 4;
export const PT_TABLES: usize = 16;
export const PT_OBJ_SIZE: u32 = 32;

// @ts-ignore: decorator
@inline export function occupancyAt(table: u32): usize { return pagemapEntry(table) + 2; }
// @ts-ignore: decorator
@inline export function occAdd(table: u32, d: i32): u32 {
  const n = <u32>(<i32>load<u16>(occupancyAt(table)) + d);
  store<u16>(occupancyAt(table), <u16>n);
  return n;
}
// @ts-ignore: decorator
@inline export function leavesAdd(pt: usize, level: u32, d: i32): void {
  const at = pt + PT_LEAVES + ((<usize>level - 1) << 2);
  store<u32>(at, <u32>(<i32>load<u32>(at) + d));
}
// @ts-ignore: decorator
@inline export function tablesAdd(pt: usize, d: i32): void {
  store<u32>(pt, <u32>(<i32>load<u32>(pt, PT_TABLES) + d), PT_TABLES);
}

// @ts-ignore: decorator
@inline export function ptRoot(pt: usize): u32 { return load<u32>(pt, PT_ROOT); }

export function ptInit(pt: usize): void {
  memory.fill(pt, 0, PT_OBJ_SIZE);
}

export function ptLeaves(pt: usize, level: u32): u32 {
  return load<u32>(pt + PT_LEAVES + ((<usize>level - 1) << 2));
}
export function ptTables(pt: usize): u32 { return load<u32>(pt, PT_TABLES); }
