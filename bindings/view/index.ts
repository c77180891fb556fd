/**
 * The `<gmem-view>` custom element of the embedding contract: one page-index axis per guest_memfd with lanes for
 * shareability, folios, each VM's private/shared table, each IOMMU domain's secure/non-secure table and the host
 * PTEs, plus a strip of recent events coloured by conversion phase. Importing this module defines `gmem-view`
 * unless the realm has one already; in a realm without custom elements (Node, a worker) it defines nothing and the
 * frame model (buildFrame) still works, for tests and for drawing elsewhere.
 * @module gmemsim/view
 */
import { defineGmemView } from "./element";

export { GmemView, defineGmemView } from "./element";
export { buildFrame, describeLane, segAt, type Frame, type Section, type Lane, type Seg, type LaneKind } from "./model";
export { PALETTES, type Palette, type LaneBox, type StripEvent } from "./draw";

defineGmemView();
