// Conversion (KERNEL-PROTOCOL 2): the v2 ioctl (KVM_GMEM_CONVERT_SHARED / _PRIVATE: invalidate, should_proceed,
// execute_work with best-effort rollback, HugeTLB split and merge) and the v4 one (KVM_SET_MEMORY_ATTRIBUTES2 with
// content modes), the refcount check, and PUNCH_HOLE (truncation, orphans of pinned frames).
import { PAGE, fail, num, Errno, type Env, type Orphan } from "./types";
import { vmsOver, slotGfns, type RGmem, type BoundVm } from "./gmem";
import { unmapHost } from "./host";
import { zapGmem } from "./kvm";
import { iommuCallback, smashIo, type RIommu } from "./iommu";
import { snpMakeShared, tdxDemote } from "./arch";

/** what conversion and punch see of the model: the environment and every IOMMU (pin-mode ones for orphans) */
export interface ConvertEnv extends Env { readonly iommus: ReadonlyMap<string, RIommu> }

export function convert(env: Env, g: RGmem, offB: bigint, sizeB: bigint, toShared: boolean, mode?: "zero" | "preserve"): void {
  if (g.closed) fail("EBADF");
  const off = num(offB), size = num(sizeB);
  if (!g.v4) {
    if (size === 0) return;
    if (!(off + size <= g.npages * PAGE)) fail("EINVAL");
    if (off % PAGE !== 0 || size % PAGE !== 0) fail("EINVAL");
    if (mode !== undefined) fail("EINVAL");
    convertV2(env, g, off / PAGE, (off + size) / PAGE, toShared);
  } else {
    // [V4+] kvm_gmem_set_attributes checks the arguments first (size 0, overflow, alignment, past i_size: -EINVAL);
    // the content mode only in __kvm_gmem_set_attributes, after filemap_invalidate_lock (RFC v4 13/44): an
    // unaligned request with an unsupported mode is -EINVAL, not -EOPNOTSUPP
    if (!(size > 0)) fail("EINVAL");
    if (!(off + size <= g.npages * PAGE)) fail("EINVAL");
    if (off % PAGE !== 0 || size % PAGE !== 0) fail("EINVAL");
    // !kvm_gmem_content_mode_is_supported(): r = -EOPNOTSUPP; *err_index = start (so error_offset = offset), and
    // before the "range already has the attributes" check, so an already-converted range fails the same way
    if (mode === "zero" && !toShared) fail("EOPNOTSUPP", off);
    if (mode === "preserve" && toShared && env.config.arch !== "sw") fail("EOPNOTSUPP", off);
    convertV4(env, g, off / PAGE, (off + size) / PAGE, toShared, mode);
  }
}

/** the maximal runs of [s, e) whose value differs from the target */
function workList(g: RGmem, s: number, e: number, toShared: boolean): [number, number][] {
  const out: [number, number][] = [];
  for (let i = s; i < e; i++) {
    if (g.shared[i] === toShared) continue;
    const last = out[out.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  }
  return out;
}

function convertV2(env: Env, g: RGmem, s: number, e: number, toShared: boolean): void {
  const works = workList(g, s, e, toShared);
  if (works.length === 0) return;
  // invalidate_begin on every VM bound to each (huge-rounded) work
  const ended: BoundVm[][] = works.map((w) => { const [rs, re] = g.roundHuge(w[0], w[1]); return vmsOver(g, rs, re); });
  let err: Errno | null = null;
  try {
    // should_proceed
    for (const [ws, we] of works) {
      if (toShared) {
        zapGmem(env, g, ws, we, true, false);
        iommuCallback(env, g, ws, we, "to-shared");
        // SNP arch_make_shared (RMPUPDATE, PSMASH of a partly converted 2 MiB entry): not undone by a rollback
        if (env.config.arch === "snp") snpMakeShared(g, ws, we);
      } else {
        unmapHost(g, ws, we);
        zapGmem(env, g, ws, we, false, true);
        iommuCallback(env, g, ws, we, "to-private");
        refcountCheck(env, g, ws, we, true);
      }
    }
    // execute, with best-effort rollback
    let done = 0;
    try {
      for (const [ws, we] of works) {
        executeWork(env, g, ws, we, toShared);
        done++;
      }
    } catch (x) {
      // best-effort rollback: execute_work(work, !shared) from the head up to and including the failing work;
      // its failures (injected ones included) only WARN
      for (let k = 0; k <= done && k < works.length; k++) {
        try { executeWork(env, g, works[k][0], works[k][1], !toShared); } catch { /* WARN only */ }
      }
      throw x;
    }
  } catch (x) {
    if (!(x instanceof Errno)) throw x;
    err = x;
  }
  for (const vms of ended) for (const v of vms) v.seq++;
  if (err) throw err;
}

/** kvm_gmem_has_safe_refcount over the folios of [s, e): -EAGAIN with error_index at the first busy folio */
function refcountCheck(env: Env, g: RGmem, s: number, e: number, v2: boolean): void {
  const at = (i: number) => { const fs = g.folioRange(i)[0]; return (v2 ? fs : Math.max(s, fs)) * PAGE; };
  for (let i = s; i < e; i++) {
    if (g.order[i] >= 0 && g.busy(i)) fail("EAGAIN", at(i));
  }
  // an injected transient reference sits on the first folio of the range (at its start when there is none)
  if (env.take("transient-ref")) {
    for (let i = s; i < e; i++) if (g.order[i] >= 0) fail("EAGAIN", at(i));
    fail("EAGAIN", s * PAGE);
  }
}

/** kvm_gmem_execute_work: shareability first, then split (to-shared) / merge (to-private) the huge-rounded range */
function executeWork(env: Env, g: RGmem, s: number, e: number, toShared: boolean): void {
  if (env.take("enomem-store")) fail("ENOMEM");
  g.dirty = true;
  for (let i = s; i < e; i++) g.shared[i] = toShared;
  if (g.hugeOrder === 0) return;
  const [rs, re] = g.roundHuge(s, e);
  const doneBlocks: number[] = [];
  for (let b = rs; b < re; b += g.block) {
    if (toShared) {
      if (g.blockState(b) !== "huge") continue;
      if (env.take("enomem-split")) {
        // the inverse op on the blocks already processed
        for (const d of doneBlocks) mergeBlock(g, d);
        fail("ENOMEM");
      }
      splitBlock(env, g, b);
      doneBlocks.push(b);
    } else {
      if (g.blockState(b) !== "split" || g.blockHasShared(b)) continue;
      mergeBlock(g, b);
      doneBlocks.push(b);
    }
  }
}

function splitBlock(env: Env, g: RGmem, b: number): void {
  // an injected transient reference: folio_ref_freeze spins until it is dropped (bounded), then the split goes on
  env.take("transient-ref");
  // I15 (mapping <= folio): IO entries over the folio go to 4 KiB first (SNP keeps them across conversions, and
  // the callback of the others zaps only the converted pages)
  for (const io of g.iommus) smashIo(io, g, b, g.blockEnd(b));
  // and SPTEs: zap the huge ones mapping the folio before it is split ("Zap mappings before splitting backend
  // folios"); TDX demotes them instead (accepted private memory cannot simply be refaulted)
  for (const bd of g.bindings) {
    const r = slotGfns(bd.slot, b, g.blockEnd(b));
    if (!r) continue;
    const t = bd.vm.priv;
    for (;;) {
      const x = t.within(r[0], r[1]).find((y) => y.level > 1);
      if (!x) break;
      if (env.config.arch === "tdx") tdxDemote(t, x);
      else t.remove(x.base, x.level);
    }
  }
  g.dirty = true;
  for (let k = b; k < g.blockEnd(b); k++) g.order[k] = 0;
}
function mergeBlock(g: RGmem, b: number): void {
  g.dirty = true;
  for (let k = b; k < g.blockEnd(b); k++) { g.order[k] = g.hugeOrder; g.uptodate[k] = true; }
}

function convertV4(env: Env, g: RGmem, s: number, e: number, toShared: boolean, mode?: "zero" | "preserve"): void {
  if (workList(g, s, e, toShared).length === 0) {
    // kvm_gmem_range_has_attributes(): "Even if no update is required to attributes, the requested content mode is
    // applied" (RFC v4 13/44; api.rst: content modes apply to the entire requested range), then r = 0. ZERO (only
    // to-shared gets here) clears every page of the range. PRESERVE changes nothing on a range already in the
    // target state: what was last written keeps its meaning (the modelling choice for the no-op path)
    if (mode === "zero") g.zero(s, e);
    return;
  }
  if (env.take("enomem-store")) fail("ENOMEM", s * PAGE);
  if (!toShared) {
    unmapHost(g, s, e);
    refcountCheck(env, g, s, e, false);
  }
  // point of no return
  const vms = vmsOver(g, s, e);
  zapGmem(env, g, s, e, toShared, !toShared);
  iommuCallback(env, g, s, e, toShared ? "to-shared" : "to-private");
  if (toShared && env.config.arch === "snp") snpMakeShared(g, s, e);
  if (mode === "zero") g.zero(s, e);
  else if (mode === "preserve") for (let i = s; i < e; i++) g.enc[i] = !toShared;
  g.dirty = true;
  for (let i = s; i < e; i++) g.shared[i] = toShared;
  for (const v of vms) v.seq++;
}

// ---- punch hole --------------------------------------------------------------------------------------------

export function punch(env: ConvertEnv, g: RGmem, offB: bigint, sizeB: bigint): void {
  if (g.closed) fail("EBADF");
  const off = num(offB), size = num(sizeB);
  if (!(off % PAGE === 0) || !(size % PAGE === 0) || !(size > 0)) fail("EINVAL");
  const s = off / PAGE;
  const e = Math.min(g.npages, s + size / PAGE);
  if (s >= e) return;
  const [rs, re] = g.roundHuge(s, e);
  const vms = vmsOver(g, s, e);
  let err: Errno | null = null;
  zapGmem(env, g, s, e, true, true);
  unmapHost(g, s, e);
  iommuCallback(env, g, s, e, "truncate");
  try {
    if (g.hugeOrder === 0) {
      for (let i = s; i < e; i++) freePage(env, g, i);
    } else {
      for (let b = rs; b < re; b += g.block) {
        const be = g.blockEnd(b);
        if (s <= b && be <= e) {
          const st = g.blockState(b);
          if (st === "absent") continue;
          if (st === "split") {
            for (let k = b; k < be; k++) if (g.busy(k)) fail("EAGAIN");
          }
          g.dirty = true;
          for (let k = b; k < be; k++) { g.order[k] = -1; g.uptodate[k] = false; }
          g.zero(b, be);
          if (env.config.arch === "snp") snpMakeShared(g, b, be);
        } else {
          g.zero(Math.max(s, b), Math.min(e, be));
        }
      }
    }
  } catch (x) {
    if (!(x instanceof Errno)) throw x;
    err = x;
  }
  for (const v of vms) v.seq++;
  if (err) throw err;
}

function freePage(env: ConvertEnv, g: RGmem, i: number): void {
  if (g.order[i] < 0) return;
  if (g.pins[i] > 0 || g.ioPins[i] > 0) {
    // truncate_inode_folio removes a pinned page anyway: the pins keep the frame, and with it its content; the
    // pin-mode IOMMUs' entries go on pointing at it
    const o: Orphan = { index: i, hostPins: g.pins[i], ioPins: g.ioPins[i], value: g.value[i], enc: g.enc[i] };
    g.orphans.push(o);
    if (o.ioPins > 0) {
      for (const io of env.iommus.values()) {
        if (io.mode !== "pin") continue;
        for (const a of io.areas) {
          if (a.gm !== g || i < a.offset || i >= a.offset + a.npages) continue;
          const hit = io.nonSecure.find(a.iova + i - a.offset);
          if (hit && !hit.leaf.orphan && hit.leaf.index === i) hit.leaf.orphan = o;
        }
      }
    }
  }
  g.ioPins[i] = 0;
  g.pins[i] = 0;
  g.dirty = true;
  g.order[i] = -1;
  g.uptodate[i] = false;
  g.zero(i, i + 1);
  if (env.config.arch === "snp") snpMakeShared(g, i, i + 1);
}
