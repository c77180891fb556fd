// A small deterministic PRNG (xorshift32) so every random test replays exactly from its seed.
export function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
  return {
    /** uniform integer in [0, n) */
    int(n: number): number { return Math.floor((next() / 4294967296) * n); },
    next,
  };
}
