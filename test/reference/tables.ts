// Page tables (KVM's private and shared SPTE tables, an IOMMU's secure and non-secure IO page tables): one Map per
// level, base page -> leaf. Plain, no radix tree. Generic in what a leaf maps (gmem.ts: a guest_memfd).
import { LEVEL_NAME, LEVEL_PAGES, type Leaves, type Orphan } from "./types";

/** what a leaf maps: page `index` of a guest_memfd, or (pin-mode IOMMU) a frame punched out from under it */
export interface Leaf<G> { gm: G; index: number; orphan?: Orphan }

/** a leaf found in a table: its level, base and target */
export interface Hit<G> { level: number; base: number; leaf: Leaf<G> }

export class Table<G> {
  readonly lv: Map<number, Leaf<G>>[] = [new Map(), new Map(), new Map(), new Map()];

  /** the leaf covering page p: its level, base and target */
  find(p: number): Hit<G> | null {
    for (let l = 1; l <= 3; l++) {
      const base = p - (p % LEVEL_PAGES[l]);
      const leaf = this.lv[l].get(base);
      if (leaf) return { level: l, base, leaf };
    }
    return null;
  }
  add(base: number, level: number, leaf: Leaf<G>): void { this.lv[level].set(base, leaf); }
  remove(base: number, level: number): void { this.lv[level].delete(base); }
  /** every leaf that maps a page in [s, e), in ascending order */
  within(s: number, e: number): Hit<G>[] {
    const out: Hit<G>[] = [];
    for (let l = 1; l <= 3; l++) {
      const L = LEVEL_PAGES[l];
      const first = s - (s % L);
      if ((e - first) / L < this.lv[l].size) {
        // a small range: look its candidate bases up (keeps a fault O(1) however many leaves exist)
        for (let base = first; base < e; base += L) { const leaf = this.lv[l].get(base); if (leaf) out.push({ level: l, base, leaf }); }
      } else {
        for (const [base, leaf] of this.lv[l]) if (base < e && base + L > s) out.push({ level: l, base, leaf });
      }
    }
    out.sort((a, b) => a.base - b.base);
    return out;
  }
  /** split the huge leaf at base into 512 leaves one level down */
  demote(base: number, level: number): void {
    const leaf = this.lv[level].get(base)!;
    this.lv[level].delete(base);
    const sub = LEVEL_PAGES[level - 1];
    for (let k = 0; k < 512; k++) this.lv[level - 1].set(base + k * sub, { gm: leaf.gm, index: leaf.index + k * sub });
  }
  count(): number { return this.lv[1].size + this.lv[2].size + this.lv[3].size; }
  clear(): void { for (const m of this.lv) m.clear(); }
  observe(): Leaves {
    const all: [number, number][] = [];
    for (let l = 1; l <= 3; l++) for (const base of this.lv[l].keys()) all.push([base, l]);
    all.sort((a, b) => a[0] - b[0]);
    const runs: [number, number, string][] = [];
    for (const [base, l] of all) {
      const last = runs[runs.length - 1];
      if (last && last[1] === base && last[2] === LEVEL_NAME[l]) last[1] = base + LEVEL_PAGES[l];
      else runs.push([base, base + LEVEL_PAGES[l], LEVEL_NAME[l]]);
    }
    return runs;
  }
}
