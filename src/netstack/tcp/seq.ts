// TCP sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4). Every comparison of sequence
// numbers in the engine goes through these helpers.

/** a + n mod 2^32 */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0
}
/** Signed distance a − b in (−2^31, 2^31]. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0
}
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0
}
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0
}
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0
}
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0
}
export function seqMax(a: number, b: number): number {
  return seqGe(a, b) ? a : b
}
export function seqMin(a: number, b: number): number {
  return seqLe(a, b) ? a : b
}
/** lo ≤ x < hi (mod 2^32). */
export function seqInRange(x: number, lo: number, hi: number): boolean {
  return seqLe(lo, x) && seqLt(x, hi)
}
