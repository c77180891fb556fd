// Kernel errno values (include/uapi/asm-generic/errno-base.h, errno.h). Exports return them negated, as the kernel
// does; the binding derives its name table ('EINVAL', ...) from the E* constants of this file.
export const EPERM: i32 = 1;
export const ENOENT: i32 = 2;
export const EINTR: i32 = 4;
export const EIO: i32 = 5;
export const EBADF: i32 = 9;
export const EAGAIN: i32 = 11;
export const ENOMEM: i32 = 12;
export const EACCES: i32 = 13;
export const EFAULT: i32 = 14;
export const EBUSY: i32 = 16;
export const EEXIST: i32 = 17;
export const ENODEV: i32 = 19;
export const EINVAL: i32 = 22;
export const ENOTTY: i32 = 25;
export const ENOSPC: i32 = 28;
export const ERANGE: i32 = 34;
export const ENOSYS: i32 = 38;
export const EOPNOTSUPP: i32 = 95;
export const ETIMEDOUT: i32 = 110;
export const EOWNERDEAD: i32 = 130; //    an instance died inside a call (its worker was terminated): the machine is marked dead
export const ENOTRECOVERABLE: i32 = 131; // a call trapped (a bug in the model): the machine is marked failed
export const EHWPOISON: i32 = 133;
