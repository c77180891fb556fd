// The post-setup state the explorer returns to before every schedule: the parts of the memory map a step can change,
// copied once and written back per schedule (never a full memory copy per step). What is saved:
//   the header page (allocator, pools, counters, ...) except the event sequence's head and the slots readers scan,
//   which only grow, so a reader keeps reading; the object table up to its high-water mark; this instance's block;
//   the page-map entries of the heap in use and the heap itself up to its top. (asc's static data is never written: the core has no
//   memory.data and keeps nothing in data segments but constants.) What a schedule used beyond the saved
//   top (heap pages, page-map entries, object slots) is zeroed, as a fresh memory would have it.
import * as L from "../../assembly/abi/layout";
import type { SimContext } from "../context";

export class Checkpoint {
  private readonly header: Uint8Array;
  private readonly objects: Uint8Array;
  private readonly instance: Uint8Array;
  private readonly pagemap: Uint8Array;
  private readonly heap: Uint8Array;
  private readonly heapTop: number;
  private readonly objNext: number;
  private readonly instanceBase: number;

  constructor(private readonly sim: SimContext) {
    const u8 = new Uint8Array(sim.memory.buffer);
    const u32 = sim.u32;
    this.heapTop = u32[L.H_HEAP_TOP >>> 2];
    this.objNext = u32[L.H_OBJ_NEXT >>> 2];
    this.instanceBase = sim.core.sim_scratch() >>> 0;
    this.header = u8.slice(L.HEADER_BASE, L.HEADER_BASE + L.HEADER_SIZE);
    this.objects = u8.slice(L.OBJ_TABLE, L.OBJ_TABLE + this.objNext * L.OBJ_SLOT_SIZE);
    this.instance = u8.slice(this.instanceBase, this.instanceBase + L.INSTANCE_SIZE);
    this.pagemap = u8.slice(pagemapAt(L.HEAP_BASE), pagemapAt(this.heapTop));
    this.heap = u8.slice(L.HEAP_BASE, this.heapTop);
  }

  /** Bytes a restore writes (what a schedule costs on top of its steps). */
  get bytes(): number {
    return this.header.length + this.objects.length + this.instance.length +
      this.pagemap.length + this.heap.length;
  }

  /** Put the memory back as it was when the checkpoint was taken (no call may be in flight). */
  restore(): void {
    const u8 = new Uint8Array(this.sim.memory.buffer);
    const u32 = this.sim.u32;
    const top = u32[L.H_HEAP_TOP >>> 2];
    const objNext = u32[L.H_OBJ_NEXT >>> 2];
    const ringHead = u32[L.RING_HEAD >>> 2], ringHi = u32[L.RING_HEAD_HI >>> 2], slots = u32[L.H_INSTANCES >>> 2];
    u8.set(this.header, L.HEADER_BASE);
    u32[L.RING_HEAD >>> 2] = ringHead;
    u32[L.RING_HEAD_HI >>> 2] = ringHi;
    u32[L.H_INSTANCES >>> 2] = slots; // (the slots readers scan for events only grow, like the head)
    u8.set(this.objects, L.OBJ_TABLE);
    if (objNext > this.objNext) u8.fill(0, L.OBJ_TABLE + this.objNext * L.OBJ_SLOT_SIZE, L.OBJ_TABLE + objNext * L.OBJ_SLOT_SIZE);
    u8.set(this.instance, this.instanceBase);
    u8.set(this.pagemap, pagemapAt(L.HEAP_BASE));
    u8.set(this.heap, L.HEAP_BASE);
    if (top > this.heapTop) {
      u8.fill(0, pagemapAt(this.heapTop), pagemapAt(top));
      u8.fill(0, this.heapTop, top);
    }
  }
}

/** The page-map entry of the heap page at address a. */
function pagemapAt(a: number): number {
  return L.PAGEMAP_BASE + (a >>> L.PAGE_SHIFT) * L.PAGEMAP_ENTRY;
}
