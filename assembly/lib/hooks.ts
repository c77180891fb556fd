// Machine hooks: functions of a higher layer that a lower one must reach (hardware side effects that cross layers:
// an SNP RMPUPDATE flushes every IOMMU's IOTLB). The higher layer stores the function's table index at attach;
// the lower one calls it through call_indirect. An unset hook does nothing.
import { H_HOOKS, HOOKS_MAX } from "../abi/layout";

type Hook = () => void;

export function hookSet(id: u32, fn: Hook): void {
  store<u32>(<usize>H_HOOKS + (<usize>id << 2), fn.index);
}

export function hookCall(id: u32): void {
  if (id >= <u32>HOOKS_MAX) return;
  const f = load<u32>(<usize>H_HOOKS + (<usize>id << 2));
  if (f != 0) call_indirect<void>(f);
}
