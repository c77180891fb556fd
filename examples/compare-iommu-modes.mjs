// Compare today's pin-mode IOMMU (VFIO type1 / IOMMU_IOAS_MAP: GUP pins through the host mapping, no callback)
// with the seed's gmem-mode IOMMU (bound to the guest_memfd, no references, invalidation callback in step 2 of
// every conversion) on the same conversion workload, and print what each costs.
//
//   node examples/compare-iommu-modes.mjs [--arch sw|tdx|snp] [--conversions N] [--seed S] [--checks]
//
// Workload (identical for every column, same PRNG seed): a 64 MiB HugeTLB-2M guest_memfd (v2) bound to one VM at
// gpa 0. [16M, 64M) is guest-private memory, [0, 16M) a shared DMA window (bounce buffers) that userspace maps in
// the non-secure IOMMU table at iova = offset, in 2 MiB areas, at boot. Then N random 4 KiB pages of the window
// are converted, back and forth (shared -> private -> shared). Before each conversion the guest touches
// the page in its current kind and, if it is shared, the device DMAs to it, so KVM and the IOMMU hold entries the
// conversion has to deal with. Only window pages are converted: outside it both modes do exactly the same.
//
// Columns (KERNEL-PROTOCOL 4.1, 4.2, 4.4; section 7 case 2):
//   pin/retry  pin mode; the VMM converts first and, on EAGAIN (error_offset = first pinned page), unmaps the DMA
//              area holding that page (iommufd/type1 unmap whole areas), re-maps the still-shared rest of the area,
//              and retries ("userspace cleans up and retries", 2.2). After to-shared it maps the page (map-after).
//   pin/RDM    pin mode with QEMU's RamDiscardManager order (4.4): notify_discard (unmap the area, re-map the rest)
//              *before* to-private, notify_populate (map) *after* to-shared. No EAGAIN, same IOMMU work.
//   gmem       the seed's proposal: guest_memfd's callback zaps the wrong-kind IO entries inside the conversion
//              (leaving a hole in the area); userspace only does step 4 (map the page in the table of its new kind,
//              which fills the hole). No unmaps, no EAGAIN.
import { createSimulatorSync, GmemError } from "../dist/index.js";

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const ARCH = opt("arch", "sw");
const CONVERSIONS = Number(opt("conversions", "64"));
const SEED = Number(opt("seed", "1"));
const CHECKS = argv.includes("--checks"); // run the invariant checker after every step (slower)

const K = 4096, M = 1 << 20;
const SIZE = 64 * M, WINDOW = 16 * M, AREA = 2 * M;
const WPAGES = WINDOW / K;

/** xorshift32: the same page sequence for every column */
function prng(seed) {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

function run(mode) {
  const sim = createSimulatorSync(undefined, { arch: ARCH, checks: CHECKS });
  const g = sim.createGmem(SIZE, ["mmap", "init-private", "hugetlb-2M"], "v2", { name: "g" });
  const vm = sim.createVm({ name: "vm" });
  vm.bind(0, 0, SIZE, g, 0);
  g.convert(0, WINDOW, "shared");                       // the DMA window
  g.mmap();
  const io = sim.createIommu(mode === "gmem" ? "gmem" : "pin", { name: "io" });
  if (mode === "gmem") io.bind(g);

  // The VMM's view of its non-secure DMA areas (pin mode): [start, end) page ranges, all shared and pinned.
  const areas = [];
  const mapArea = (s, e) => { io.map(s * K, g, s * K, (e - s) * K, false); areas.push([s, e]); };
  for (let s = 0; s < WPAGES; s += AREA / K) mapArea(s, s + AREA / K);

  const shared = new Uint8Array(WPAGES).fill(1);
  const rnd = prng(SEED);
  const before = sim.counters();
  let conversions = 0, eagain = 0, dmaWrong = 0, toPriv = 0;

  /** pin mode: drop the area holding page p and re-map its other pages (they are all still shared) */
  const punchArea = (p) => {
    const i = areas.findIndex(([s, e]) => p >= s && p < e);
    if (i < 0) return false;
    const [s, e] = areas[i];
    areas.splice(i, 1);
    io.unmap(s * K, (e - s) * K, false);
    if (p > s) mapArea(s, p);
    if (p + 1 < e) mapArea(p + 1, e);
    return true;
  };
  /** gmem mode, step 4: map the page in the table of its new kind (fills the callback's hole in an area) */
  const step4 = (p, secure) => {
    try { io.map(p * K, g, p * K, K, secure); }
    catch (err) { if (!(err instanceof GmemError && err.code === "EEXIST")) throw err; } // snp: nothing was zapped
  };

  const priv = []; // window pages the workload made private, in order
  for (let n = 0; n < CONVERSIONS; n++) {
    // back and forth: half of the time (when there is one) a page made private earlier goes back to shared
    let p;
    if (priv.length > 0 && rnd() % 2 === 0) p = priv.splice(rnd() % priv.length, 1)[0];
    else do p = rnd() % WPAGES; while (shared[p] === 0);
    const toPrivate = shared[p] === 1;
    if (toPrivate) priv.push(p);
    // the guest and the device use the page in its current kind
    vm.access(p * K, { private: !toPrivate, write: n + 1 });
    if (toPrivate && io.dma(p * K, false).result !== "ok") dmaWrong++;  // a shared page is DMA-mapped in every mode

    if (toPrivate) {
      if (mode === "pin-rdm") punchArea(p);             // notify_discard: unmap before to-private
      for (;;) {
        try { g.convert(p * K, K, "private"); break; }
        catch (err) {
          if (!(err instanceof GmemError) || err.code !== "EAGAIN") throw err;
          eagain++;
          if (mode === "gmem" || !punchArea(err.errorOffset / K)) throw err; // nothing left to clean up
        }
      }
      if (mode === "gmem") step4(p, true);
    } else {
      g.convert(p * K, K, "shared");
      if (mode === "gmem") step4(p, false);
      else mapArea(p, p + 1);                            // notify_populate: map after to-shared
    }
    shared[p] ^= 1;
    conversions++;
    if (toPrivate) toPriv++;
    // the device sees the new state: a shared page through T=0, a private one only through T=1 (if mapped)
    const r = io.dma(p * K, false).result;
    if (r !== (toPrivate ? "io-fault" : "ok")) dmaWrong++;
  }
  sim.checkInvariants();

  const after = sim.counters();
  const d = (k) => (after[k] ?? 0) - (before[k] ?? 0);
  return {
    conversions, eagain, dmaWrong, toPriv,
    map: d("iommu.map"), unmap: d("iommu.unmap"),
    cbCalls: d("iommu.invalidate"), cbZaps: d("iommu.invalidate.count"),
    iotlb: d("iommu.iotlb_flush"), kvmZap: d("kvm.zap"), kvmZapCount: d("kvm.zap.count"),
    hostUnmap: d("host.unmap.count"), refcountChecks: d("gmem.refcount_check"),
    split: d("folio.split"), merge: d("folio.merge"), rmp: d("arch.rmpupdate"), psmash: d("arch.psmash"),
    areas: mode === "gmem" ? null : areas.length,
  };
}

const t0 = performance.now();
const cols = [["pin/retry", run("pin-retry")], ["pin/RDM", run("pin-rdm")], ["gmem", run("gmem")]];
const ms = performance.now() - t0;

const rows = [
  ["conversions (4K, in the DMA window)", (r) => r.conversions],
  ["  of them to-private / to-shared", (r) => `${r.toPriv} / ${r.conversions - r.toPriv}`],
  ["EAGAIN retries (failed refcount checks)", (r) => r.eagain],
  ["refcount checks (to-private attempts)", (r) => r.refcountChecks],
  ["userspace iommu.map calls", (r) => r.map],
  ["userspace iommu.unmap calls", (r) => r.unmap],
  ["callback invocations (iommu.invalidate)", (r) => r.cbCalls],
  ["callback zaps (iommu.invalidate.count)", (r) => r.cbZaps],
  ["IOTLB flushes", (r) => r.iotlb],
  ["KVM zaps (kvm.zap events)", (r) => r.kvmZap],
  ["KVM SPTEs zapped (kvm.zap.count)", (r) => r.kvmZapCount],
  ["host PTEs unmapped (host.unmap.count)", (r) => r.hostUnmap],
  ["folio splits / merges", (r) => `${r.split} / ${r.merge}`],
  ...(ARCH === "snp" ? [["RMPUPDATEs / PSMASHes", (r) => `${r.rmp} / ${r.psmash}`]] : []),
  ["pin-mode DMA areas at the end", (r) => (r.areas === null ? "-" : r.areas)],
  ["DMA results not as expected", (r) => r.dmaWrong],
];
const w0 = Math.max(...rows.map(([l]) => l.length));
const w = 11;
const line = (l, vals) => `${l.padEnd(w0)}  ${vals.map((v) => String(v).padStart(w)).join(" ")}`;
console.log(`workload: ${CONVERSIONS} random 4K conversions in a 16M DMA window of a 64M hugetlb-2M guest_memfd ` +
  `(arch ${ARCH}, v2, seed ${SEED}${CHECKS ? ", invariants checked after every step" : ""})`);
console.log(line("", cols.map(([n]) => n)));
console.log("-".repeat(w0 + 2 + cols.length * (w + 1) - 1));
for (const [label, f] of rows) console.log(line(label, cols.map(([, r]) => f(r))));
console.log("pin/retry: convert, on EAGAIN unmap the DMA area + re-map the rest, retry; pin/RDM: QEMU RamDiscardManager " +
  "order (unmap before to-private, map after to-shared); gmem: guest_memfd's invalidation callback + step-4 map only");
console.log(`(${ms.toFixed(0)} ms)`);
if (cols.some(([, r]) => r.dmaWrong !== 0)) process.exitCode = 1;
