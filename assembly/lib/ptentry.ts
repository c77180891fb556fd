// A page-table entry (the encoding every table kind shares: KVM private / shared, IOMMU secure / non-secure).
// Entry (u64):
//   bit 0       PRESENT
//   bits 1-2    level - 1 of a leaf (0: 4 KiB, 1: 2 MiB, 2: 1 GiB)
//   bit 7       LEAF (the kernel's PS bit; set on every leaf, 4 KiB ones too)
//   bits 8-10   software state (TDX S-EPT: 0 mapped, 1 blocked, 2 pending, 3 removed)
//   bits 12-43  leaf: pfn;  non-leaf: address of the child table >> 12
export const PT_LEVELS: u32 = 4;

export const SPTE_PRESENT: u64 = 1;
export const SPTE_LEAF: u64 = 0x80;
export const SPTE_STATE_SHIFT: u64 = 8;
export const SPTE_STATE_MASK: u64 = 0x700;
const ADDR_MASK: u64 = 0xffffffff000; // bits 12-43

// @ts-ignore: decorator
@inline export function spteIsPresent(e: u64): bool { return (e & SPTE_PRESENT) != 0; }
// @ts-ignore: decorator
@inline export function spteIsLeaf(e: u64): bool { return (e & SPTE_LEAF) != 0; }
// @ts-ignore: decorator
@inline export function spteLevel(e: u64): u32 { return <u32>((e >> 1) & 3) + 1; }
// @ts-ignore: decorator
@inline export function sptePfn(e: u64): u32 { return <u32>(e >> 12); }
// @ts-ignore: decorator
@inline export function spteState(e: u64): u32 { return <u32>((e & SPTE_STATE_MASK) >> SPTE_STATE_SHIFT); }
// @ts-ignore: decorator
@inline export function spteChild(e: u64): u32 { return <u32>(e & ADDR_MASK); }
// @ts-ignore: decorator
@inline export function makeLeaf(pfn: u32, level: u32, state: u32): u64 {
  return SPTE_PRESENT | SPTE_LEAF | (<u64>(level - 1) << 1) | (<u64>state << SPTE_STATE_SHIFT) | (<u64>pfn << 12);
}
// @ts-ignore: decorator
@inline export function makeNonLeaf(table: u32): u64 { return SPTE_PRESENT | <u64>table; }
/** gfns covered by one entry of `level` (1 -> 1, 2 -> 512, 3 -> 262144, 4 -> 2^27). */
// @ts-ignore: decorator
@inline export function levelPages(level: u32): u64 { return <u64>1 << (<u64>(9 * (level - 1))); }
// @ts-ignore: decorator
@inline export function indexAt(gfn: u64, level: u32): u32 { return <u32>((gfn >> (<u64>(9 * (level - 1)))) & 511); }
