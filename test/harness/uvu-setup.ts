// Imported before any test file: uvu queues every suite instead of running each on a timer; the entry then
// awaits exec() once, so Node and the browser print one Total/Passed summary.
import "../../bindings/debug"; // the debug core, for the tests that ask for { debug: true }
const g = globalThis as { UVU_DEFER?: number; UVU_QUEUE?: unknown[] };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [["gmemsim"]];
