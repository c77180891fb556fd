// A clock from the host (the binding passes performance.now): the only import besides the memory. Waits measure
// time with it, not with loop counts, so "a holder made no progress for two seconds" means two seconds on any
// thread, whether it sleeps in atomic.wait or only spins (a page's main thread).
// @ts-ignore: decorator
@external("env", "clock_ms")
export declare function clockMs(): f64;
