// The generic ("sw") machine: private and shared tables without firmware (KVM_X86_SW_PROTECTED_VM). No memory
// encryption, no per-page firmware state: the private table may map up to 1 GiB, conversions need no firmware
// call, and an IOMMU entry of the wrong kind is a contained fault.
export const SW_MAX_PRIVATE_LEVEL: u32 = 3;
