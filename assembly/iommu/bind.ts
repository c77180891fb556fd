// Binding a gmem-mode IOMMU to a guest_memfd (the seed's "new UAPI to bind IOMMU FDs with guest_memfd ranges"):
// one registration on the inode's notifier list, global to the fd, with the invalidation scheme of the machine's
// arch. Unbinding (or destroying the domain) revokes every area first (the callback with reason unbind).
import { NOTIFIER_IOMMU, REASON_UNBIND } from "../abi/consts";
import { RESULT_BLOCKED } from "../abi/ops";
import { EINVAL, EEXIST, EBUSY, ENOSPC } from "../abi/errno";
import { invLockWrite, invUnlockWrite, invLockFree } from "../gmem/lock";
import { notifierRegister, notifierUnregister } from "../gmem/notifier";
import { archIommuScheme } from "../arch/arch";
import { IO_GMEM, IO_SCHEME, IO_DOMAIN_LOCK, ioIsGmem, ioIndex, ioGmem, iommuFree } from "./domain";
import { freeAreas } from "./area";
import { ioRevokeAll } from "./invalidate";

/** Bind to gi. -EINVAL in pin mode, -EEXIST bound to it already, -EBUSY bound to another; RESULT_BLOCKED. */
export function iommuBind(io: u32, gi: u32, owner: u32): i32 {
  if (!ioIsGmem(io)) return -EINVAL;
  const cur = ioGmem(io);
  if (cur == gi) return -EEXIST;
  if (cur != 0) return -EBUSY;
  if (!invLockWrite(gi, owner)) return RESULT_BLOCKED;
  const scheme = archIommuScheme();
  let r: i32 = 0;
  if (!notifierRegister(gi, NOTIFIER_IOMMU, scheme, io, ioIndex(io), <usize>io + IO_DOMAIN_LOCK)) r = -ENOSPC;
  else { store<u32>(io, gi, IO_GMEM); store<u32>(io, scheme, IO_SCHEME); }
  invUnlockWrite(gi);
  return r;
}

/** Unbind from the guest_memfd: every area is revoked first. -EINVAL when not bound; RESULT_BLOCKED. */
export function iommuUnbind(io: u32, owner: u32): i32 {
  const gi = ioGmem(io);
  if (!ioIsGmem(io) || gi == 0) return -EINVAL;
  if (!invLockWrite(gi, owner)) return RESULT_BLOCKED;
  ioRevokeAll(io, REASON_UNBIND);
  notifierUnregister(gi, io);
  store<u32>(io, 0, IO_GMEM);
  invUnlockWrite(gi);
  return 0;
}

/** Could the domain be destroyed now (its inode's lock free)? */
export function iommuDestroyable(io: u32): bool {
  const gi = ioGmem(io);
  return gi == 0 || invLockFree(gi);
}

/** Destroy the domain: revoke every area, unregister, free. The caller checked iommuDestroyable. */
export function iommuDestroy(io: u32): void {
  ioRevokeAll(io, REASON_UNBIND);
  const gi = ioGmem(io);
  if (gi != 0) notifierUnregister(gi, io);
  freeAreas(io);
  iommuFree(io);
}

