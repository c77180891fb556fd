// The host side of a guest_memfd: mmap, the host fault (kvm_gmem_fault_user_mapping), host accesses, GUP pins
// (host.pin and pin-mode IOMMUs) and the frames pins keep after a punch (orphans).
import { PAGE, GMEM_LIMIT_BYTES, fail, num, type StepResult, type Orphan } from "./types";
import type { RGmem } from "./gmem";

export function hostMmap(g: RGmem): void {
  if (g.closed) fail("EBADF");
  if (!g.mmapFlag) fail("ENODEV");
  g.mmapped = true;
}

export function hostMunmap(g: RGmem): void {
  if (!g.mmapped) fail("EINVAL");
  unmapHost(g, 0, g.npages);
  g.mmapped = false;
}

export function unmapHost(g: RGmem, s: number, e: number): number {
  let n = 0;
  for (let i = s; i < e; i++) if (g.hostPte[i]) { g.hostPte[i] = false; n++; }
  return n;
}

/** the host fault of index i (kvm_gmem_fault_user_mapping); false: SIGBUS */
export function hostFault(g: RGmem, i: number): boolean {
  if (!g.shared[i]) return false;
  if (g.hostPte[i]) return true;
  g.getFolio(i);
  g.prepare(i);
  g.hostPte[i] = true;
  return true;
}

export function hostAccess(g: RGmem, offB: bigint, w?: number): StepResult {
  const off = num(offB);
  if (!Number.isInteger(off) || off < 0 || off >= GMEM_LIMIT_BYTES) fail("EINVAL");
  if (!g.mmapped) fail("EFAULT");
  const i = Math.floor(off / PAGE);
  if (i >= g.npages) return { result: "SIGBUS" };
  if (!hostFault(g, i)) return { result: "SIGBUS" };
  const value = g.read(i, false);
  if (w !== undefined) g.write(i, w, false);
  return { result: "ok", value };
}

function pageRange(g: RGmem, offB: bigint, sizeB: bigint): [number, number] {
  const off = num(offB), size = num(sizeB);
  if (!(off % PAGE === 0) || !(size % PAGE === 0) || !(size > 0)) fail("EINVAL");
  const s = off / PAGE, e = s + size / PAGE;
  if (e > g.npages) fail("EINVAL");
  return [s, e];
}

export function hostPin(g: RGmem, offB: bigint, sizeB: bigint): void {
  const [s, e] = pageRange(g, offB, sizeB);
  if (!g.mmapped) fail("EFAULT");
  gupPin(g, s, e, g.pins);
}

/**
 * GUP through the host mapping: each page is faulted in, then pinned in `pins`; a private page fails the whole
 * pin (the pins taken so far are dropped, the faulted-in pages stay mapped).
 */
export function gupPin(g: RGmem, s: number, e: number, pins: number[]): void {
  for (let i = s; i < e; i++) {
    let ok = false;
    try { ok = hostFault(g, i); } catch (x) { for (let k = s; k < i; k++) pins[k]--; throw x; }
    if (!ok) { for (let k = s; k < i; k++) pins[k]--; fail("EFAULT"); }
    pins[i]++;
  }
}

export function hostUnpin(g: RGmem, offB: bigint, sizeB: bigint): void {
  const [s, e] = pageRange(g, offB, sizeB);
  // the page's own folio first, then a frame punched out from under a pin
  // only the pins host.pin took; an IOMMU's pins are not the user's to drop
  for (let i = s; i < e; i++) if (g.pins[i] === 0 && !g.orphans.some((o) => o.index === i && o.hostPins > 0)) fail("EINVAL");
  for (let i = s; i < e; i++) {
    if (g.pins[i] > 0) { g.pins[i]--; continue; }
    const o = g.orphans.find((x) => x.index === i && x.hostPins > 0)!;
    o.hostPins--;
    dropOrphan(g, o);
  }
}

/** the last pin of an orphaned frame is gone: the frame goes back to the pool */
export function dropOrphan(g: RGmem, o: Orphan): void {
  if (o.hostPins + o.ioPins === 0) g.orphans.splice(g.orphans.indexOf(o), 1);
}
