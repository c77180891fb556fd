// gmemsim/view: the <gmem-view> element (EMBEDDING.md). Importing this module defines `gmem-view` unless the realm
// has one already; in a realm without custom elements (Node, a worker) it defines nothing and the frame model
// (buildFrame) still works, for tests and for drawing elsewhere.
import { defineGmemView } from "./element";

export { GmemView, defineGmemView } from "./element";
export { buildFrame, describeLane, segAt, type Frame, type Section, type Lane, type Seg, type LaneKind } from "./model";
export { PALETTES, type Palette, type LaneBox, type StripEvent } from "./draw";

defineGmemView();
