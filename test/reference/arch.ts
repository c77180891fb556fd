// The confidential-computing rules (KERNEL-PROTOCOL 3): TDX's S-EPT (precise zapping by demotion, the 2 MiB
// inhibit, removal failures that kill the VM, clearing on removal and on accept) and SNP's RMP (2 MiB entries,
// sev_gmem_prepare on the first private fault, RMPUPDATE to shared with PSMASH, the mappings smashed with them).
import { LEVEL_PAGES, type Env } from "./types";
import type { Hit } from "./tables";
import { slotGfns, type RGmem, type BoundVm, type GTable } from "./gmem";
import { smashIo, smashIoTo } from "./iommu";

// ---- TDX -------------------------------------------------------------------------------------------------------

/** TDX: demote one huge private leaf; a demoted 2 MiB block never maps huge again (KVM_LPAGE_GUEST_INHIBIT) */
export function tdxDemote(t: GTable, x: Hit<RGmem>): void {
  if (x.level === 2) x.leaf.gm.inhibit2M[Math.floor(x.leaf.index / 512)] = true;
  t.demote(x.base, x.level);
}

/** TDX: demote every huge private leaf sticking out of [s, e); a demoted 2 MiB block never maps huge again */
export function demoteStraddling(t: GTable, s: number, e: number): void {
  for (;;) {
    const x = t.within(s, e).find((y) => y.level > 1 && (y.base < s || y.base + LEVEL_PAGES[y.level] > e));
    if (!x) return;
    tdxDemote(t, x);
  }
}

/** TDX: BLOCK/TRACK/REMOVE one private leaf, then clear its pages; a removal failure kills the VM */
export function septRemove(env: Env, v: BoundVm, x: Hit<RGmem>): void {
  if (env.take("sept-remove-fail")) {
    v.dead = true;
    v.priv.remove(x.base, x.level);
    return;
  }
  v.priv.remove(x.base, x.level);
  x.leaf.gm.zero(x.leaf.index, x.leaf.index + LEVEL_PAGES[x.level]);
}

/** TDX: TDH.MEM.PAGE.AUG + ACCEPT of pages [ibase, ibase + n): a page last written shared reads zero */
export function tdxAccept(g: RGmem, ibase: number, n: number): void {
  for (let k = ibase; k < ibase + n; k++) if (!g.enc[k]) { g.value[k] = 0; }
}

/** the largest private mapping level the arch allows for page i: sw 1 GiB, TDX 2 MiB, SNP the RMP entry's */
export function privateLevelLimit(env: Env, g: RGmem, i: number): number {
  return env.config.arch === "sw" ? 3 : env.config.arch === "tdx" ? 2 : Math.max(1, g.rmpLevel(i));
}

// ---- SNP -------------------------------------------------------------------------------------------------------

/** sev_gmem_prepare on the first private use */
export function snpPrepare(g: RGmem, i: number): void {
  if (g.rmpAssigned[i]) return;
  const c = Math.floor(i / 512);
  const cs = c * 512, ce = Math.min(g.npages, cs + 512);
  let whole = g.order[i] >= 9 && ce - cs === 512;
  if (whole) for (let k = cs; k < ce; k++) if (g.rmpAssigned[k]) { whole = false; break; }
  if (whole) {
    for (let k = cs; k < ce; k++) g.rmpAssigned[k] = true;
    g.rmp2M[c] = true;
  } else g.rmpAssigned[i] = true;
  // IO entries are never larger than the RMP entry of a pfn they map: the new entry smashes bigger ones
  for (const io of g.iommus) smashIoTo(io, g, cs, ce, whole ? 2 : 1);
}

/** make [s, e) unassigned; a 2 MiB entry partly inside is PSMASHed (NPT and IO entries smashed with it) */
export function snpMakeShared(g: RGmem, s: number, e: number): void {
  for (let c = Math.floor(s / 512); c * 512 < e; c++) {
    if (!g.rmp2M[c]) continue;
    const cs = c * 512, ce = cs + 512;
    if (s <= cs && ce <= e) { g.rmp2M[c] = false; for (let k = cs; k < ce; k++) g.rmpAssigned[k] = false; continue; }
    g.rmp2M[c] = false;
    psmashFollowers(g, cs, ce);
  }
  for (let k = s; k < e; k++) g.rmpAssigned[k] = false;
}

/** SNP PSMASH followers: NPT private leaves and IO entries mapping the 2 MiB chunk [cs, ce) go to 4 KiB */
function psmashFollowers(g: RGmem, cs: number, ce: number): void {
  for (const b of g.bindings) {
    const r = slotGfns(b.slot, cs, ce);
    if (!r) continue;
    const t = b.vm.priv;
    for (const x of t.within(r[0], r[1])) {
      if (x.level === 3) t.demote(x.base, 3);
    }
    for (const x of t.within(r[0], r[1])) if (x.level === 2) t.demote(x.base, 2);
  }
  for (const io of g.iommus) smashIo(io, g, cs, ce);
}
