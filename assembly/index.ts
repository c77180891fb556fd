// The core's export list: every export lives in api/*.ts, grouped by what it acts on. Each mutating export runs in
// the one step bracket of api/bracket.ts; an operation a scenario thread may run drives its state machine through
// op/engine.ts. Numeric ABI: handles and page indices are u32 (crossing as i32), byte quantities f64 whole numbers.
export * from "./api/sim";
export * from "./api/structs";
export * from "./api/gmem";
export * from "./api/vm";
export * from "./api/iommu";
export * from "./api/op";
export * from "./api/debug";
export * from "./api/bench";
export * from "./api/view";
