// The counter names check.stats may name: every event kind (events of that kind), `<kind>.count` (the sum of its
// events' count field), and `iommu.invalidate.<reason>` (callback invocations per reason). The simulator's
// counters() returns exactly these keys (test/scenario-parse-limits.test.ts holds the two to each other).
import { EVENT_NAMES, REASON_NAMES } from "../../abi";

export const COUNTER_NAMES: readonly string[] = [
  ...EVENT_NAMES.filter(Boolean).flatMap((k) => [k, `${k}.count`]),
  ...REASON_NAMES.map((r) => `iommu.invalidate.${r}`),
];

export const COUNTER_SET: ReadonlySet<string> = new Set(COUNTER_NAMES);
