// The C-like floor of one random 4 KiB conversion, compiled on its own (build/floor.wasm, `--runtime stub`, its own
// unshared memory): the memory work a conversion of a page mapped in an SPTE and an IOPTE cannot avoid in the
// model's representation, with nothing else around it (no locks, events, notifiers, ops or checks):
//   1. the shareability bit: one read-modify-write of the bitmap word (gmem bitmap, 1 bit per 4 KiB page)
//   2. the SPTE: a 4-level radix walk (512 x 8-byte entries per table, as lib/pagetable.ts) to the leaf, then a
//      store to it (the zap)
//   3. the IOPTE: the same walk and store in a second, separately allocated table (the IOMMU's)
//   4. the folio entry: the 2 MiB block descriptor, then the page's 16-byte entry in its sub-array (gmem/folio.ts
//      FB_SIZE / FE_SIZE), read (the refcount check) and written (its flags)
// The tables are laid out the way the model's faults lay them out (allocated in gfn order, one tree after the
// other), so the walks miss the cache as the model's do. Exports: floor_setup(pages) then floor_run(n, seed) and
// floor_run_serial(n, seed).
// floor_run lets the processor overlap the misses of many conversions (nothing in one depends on the one before),
// which a conversion that is a call cannot do; floor_run_serial makes each conversion's page depend on what the
// previous one read (a value that is always 0, which the compiler cannot know), so conversions run one after another
// while the four accesses inside one still overlap: the floor for a caller that issues one conversion at a time.
const LEVELS: u32 = 4;
const FB_SIZE: u32 = 32;
const FE_SIZE: u32 = 16;

let bump: usize = 0;
let npages: u32 = 0;
let bitmap: usize = 0, blocks: usize = 0, rootA: usize = 0, rootB: usize = 0;

function alloc(bytes: usize): usize {
  const p = (bump + 4095) & ~<usize>4095;
  bump = p + bytes;
  const need = <i32>((bump + 0xffff) >> 16) - memory.size();
  if (need > 0 && memory.grow(need) < 0) unreachable();
  return p;
}

// @ts-ignore: decorator
@inline function indexAt(g: u32, level: u32): u32 { return (g >> (9 * (level - 1))) & 511; }

/** A tree with a 4 KiB leaf (present, pfn = gfn) for every page; its root. */
function buildTree(pages: u32): usize {
  const root = alloc(4096);
  let l3: usize = 0, l2: usize = 0, l1: usize = 0;
  for (let g: u32 = 0; g < pages; g++) {
    if ((g & ((1 << 27) - 1)) == 0) { l3 = alloc(4096); store<u64>(root + (indexAt(g, 4) << 3), <u64>l3 | 1); }
    if ((g & ((1 << 18) - 1)) == 0) { l2 = alloc(4096); store<u64>(l3 + (indexAt(g, 3) << 3), <u64>l2 | 1); }
    if ((g & 511) == 0) { l1 = alloc(4096); store<u64>(l2 + (indexAt(g, 2) << 3), <u64>l1 | 1); }
    store<u64>(l1 + (indexAt(g, 1) << 3), (<u64>g << 12) | 3);
  }
  return root;
}

export function floor_setup(pages: u32): void {
  bump = <usize>memory.size() << 16;
  npages = pages;
  // grow once: the bitmap, block descriptors and sub-arrays, and two trees' tables (one memory.grow per table
  // page would dominate the setup)
  const tables = <usize>1 + ((<usize>pages + (1 << 27) - 1) >> 27) + ((<usize>pages + (1 << 18) - 1) >> 18) + ((<usize>pages + 511) >> 9);
  const total = (<usize>pages >> 3) + ((<usize>pages >> 9) + 1) * (FB_SIZE + 512 * FE_SIZE) + 2 * tables * 4096 + (1 << 20);
  const need = <i32>((bump + total + 0xffff) >> 16) - memory.size();
  if (need > 0 && memory.grow(need) < 0) unreachable();
  // every byte is written once here, as the model writes its structures when it populates them: a page the
  // kernel has not backed yet would cost a page fault on first touch inside the timed runs
  const bmBytes = <usize>((pages + 63) >> 6) << 3;
  bitmap = alloc(bmBytes);
  memory.fill(bitmap, 0, bmBytes);
  const nb = (pages + 511) >> 9;
  blocks = alloc(<usize>nb * FB_SIZE);
  for (let b: u32 = 0; b < nb; b++) {
    const sub = alloc(512 * FE_SIZE);
    memory.fill(sub, 0, 512 * FE_SIZE);
    store<u32>(blocks + <usize>b * FB_SIZE, <u32>sub, 20);
  }
  rootA = buildTree(pages);
  rootB = buildTree(pages);
}

/** The walk to gfn's leaf entry (every level present: the setup mapped every page). */
// @ts-ignore: decorator
@inline function leafOf(root: usize, g: u32): usize {
  let t = root;
  for (let level = LEVELS; level > 1; level--) t = <usize>(load<u64>(t + (indexAt(g, level) << 3)) & ~<u64>4095);
  return t + (indexAt(g, 1) << 3);
}

/** n random conversions (xorshift32 from seed); a checksum, so nothing is optimised away. */
export function floor_run(n: u32, seed: u32): u32 {
  let s = seed | 1, sum: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    s ^= s << 13; s ^= s >> 17; s ^= s << 5;
    const g = s % npages;
    const w = bitmap + ((<usize>g >> 6) << 3);
    store<u64>(w, load<u64>(w) ^ (<u64>1 << (g & 63)));
    const a = leafOf(rootA, g);
    store<u64>(a, load<u64>(a) ^ 1);
    const b = leafOf(rootB, g);
    store<u64>(b, load<u64>(b) ^ 1);
    const e = <usize>load<u32>(blocks + <usize>(g >> 9) * FB_SIZE, 20) + <usize>(g & 511) * FE_SIZE;
    sum += load<u32>(e, 4);
    store<u16>(e, load<u16>(e, 12) ^ 1, 12);
  }
  return sum + <u32>load<u64>(leafOf(rootA, s % npages));
}

/** floor_run with each conversion's page depending on the previous conversion's reads (one at a time). */
export function floor_run_serial(n: u32, seed: u32): u32 {
  let s = seed | 1, sum: u32 = 0, dep: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    s ^= s << 13; s ^= s >> 17; s ^= s << 5;
    const g = (s + dep) % npages;
    const w = bitmap + ((<usize>g >> 6) << 3);
    const wv = load<u64>(w);
    store<u64>(w, wv ^ (<u64>1 << (g & 63)));
    const a = leafOf(rootA, g);
    const av = load<u64>(a);
    store<u64>(a, av ^ 1);
    const b = leafOf(rootB, g);
    const bv = load<u64>(b);
    store<u64>(b, bv ^ 1);
    const e = <usize>load<u32>(blocks + <usize>(g >> 9) * FB_SIZE, 20) + <usize>(g & 511) * FE_SIZE;
    const ev = load<u32>(e, 4);
    sum += ev;
    store<u16>(e, load<u16>(e, 12) ^ 1, 12);
    // bit 63 of an entry and bit 31 of a folio refcount are never set: 0, known only at run time
    dep = <u32>((wv & av & bv) >> 63) | (ev >> 31);
  }
  return sum + dep;
}

