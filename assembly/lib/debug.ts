// DEBUG is true in the `debug` target (asserts kept) and false in `release` (--noAssert), where every
// `if (DEBUG)` block is removed by the optimizer.
export const DEBUG: bool = !ASC_NO_ASSERT;
