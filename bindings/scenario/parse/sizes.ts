// Sizes, offsets, addresses and page content values of a scenario (SCENARIOS.md "Sizes and addresses").

const U64_MAX = (1n << 64n) - 1n;
/** the largest page content value */
export const TWO_53 = 1n << 53n;
/** what a size may be written as (the `why` of a value that is none of them) */
export const SIZE_FORMS = `a number, "0x..." or a number with K/M/G/T`;
const UNIT_SHIFT: Record<string, bigint> = { "": 0n, K: 10n, M: 20n, G: 30n, T: 40n };

export type SizeResult = { value: bigint } | { why: string };

/** `x` as a size, or why it is not one. */
export function sizeOf(x: unknown): SizeResult {
  const plain = { why: SIZE_FORMS };
  const overflow = { why: "larger than 2^64-1" };
  const fraction = { why: "not a whole number of bytes" };
  const negative = { why: "negative" };
  if (typeof x === "bigint") return x < 0n ? negative : x > U64_MAX ? overflow : { value: x };
  if (typeof x === "number") {
    if (Number.isNaN(x)) return plain;
    if (x < 0 || Object.is(x, -0)) return negative;
    if (x > 2 ** 64) return overflow;
    if (!Number.isInteger(x)) return fraction;
    // 2^64-1 written as a JSON number arrives as 2^64: say why rather than "too large"
    if (!Number.isSafeInteger(x)) return { why: `a JSON number above 2^53-1 is not exact; write it as a string ("0x...")` };
    return { value: BigInt(x) };
  }
  if (typeof x !== "string" || x.length > 256) return plain;
  const hex = /^0[xX]([0-9a-fA-F]+)$/.exec(x);
  if (hex) {
    const v = BigInt("0x" + hex[1]);
    return v > U64_MAX ? overflow : { value: v };
  }
  const dec = /^(-?)(\d+)(?:\.(\d+))?([KMGT]?)$/.exec(x);
  if (!dec) return plain;
  if (dec[1] === "-") return negative;
  const frac = dec[3] ?? "";
  const scaled = BigInt(dec[2] + frac) << UNIT_SHIFT[dec[4]];
  const den = 10n ** BigInt(frac.length);
  if (scaled % den !== 0n) return fraction;
  const v = scaled / den;
  return v > U64_MAX ? overflow : { value: v };
}

/**
 * A size, offset or address of a scenario: a non-negative safe integer number, a "0x..." hex string, a decimal
 * string, or a decimal with a binary unit ("4K" = 4096, "2M", "1G", "1T"; "1.5G" is fine, "1.5K" is not: the result
 * must be a whole number of bytes). Null when `x` is none of these or exceeds 2^64-1.
 */
export function parseSize(x: unknown): bigint | null {
  const r = sizeOf(x);
  return "value" in r ? r.value : null;
}
