// The Internet checksum (RFC 1071, RFC 1624) and the TCP/UDP/ICMPv6 pseudo-headers
// (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1).

/**
 * One's-complement sum of big-endian 16-bit words over buf[off, off+len), added to `initial`.
 * The result is unfolded but kept below 2^32 (safe to chain). Only the last chunk of a chained
 * sum may have odd length (its final byte is padded with zero, RFC 1071 §4.1).
 */
export function onesSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial
  if (len >= 128 && LITTLE_ENDIAN) {
    // Fast path: 32-bit little-endian loads. A u32 word folds to the sum of its two 16-bit halves
    // (2^16 ≡ 1 mod 0xffff), and a byte-swapped one's-complement sum is the sum of the byte-swapped
    // words (RFC 1071 §2(B)), so sum LE words, fold, swap back.
    const head = (4 - ((buf.byteOffset + off) & 3)) & 3
    let i = off
    const end = off + len
    // leading unaligned bytes in network order (their count is < 4)
    if (head & 1) {
      // odd alignment: the slow path keeps the byte pairing simple
      return slowSum(buf, off, len, initial)
    }
    if (head === 2) {
      sum += (buf[i] << 8) | buf[i + 1]
      i += 2
    }
    const words = (end - i) >>> 2
    const u32 = new Uint32Array(buf.buffer, buf.byteOffset + i, words)
    // two small-integer accumulators (each < 2^30 for any packet) keep V8 on int arithmetic
    let lo = 0
    let hi = 0
    for (let w = 0; w < words; w++) {
      const x = u32[w]
      lo += x & 0xffff
      hi += x >>> 16
    }
    i += words * 4
    let le = lo + hi
    // fold the LE accumulator to 16 bits, then swap it into network order
    while (le > 0xffff) le = (le % 0x10000) + Math.floor(le / 0x10000)
    sum += ((le & 0xff) << 8) | (le >>> 8)
    return slowSum(buf, i, end - i, sum)
  }
  return slowSum(buf, off, len, sum)
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

function slowSum(buf: Uint8Array, off: number, len: number, initial: number): number {
  let sum = initial
  let i = off
  const end = off + len
  const even = end - ((end - off) & 1)
  // 8 bytes per iteration; at most 65535/2 words × 0xffff < 2^31, so no overflow within a packet
  const end8 = off + ((even - off) & ~7)
  for (; i < end8; i += 8) {
    sum += ((buf[i] << 8) | buf[i + 1]) + ((buf[i + 2] << 8) | buf[i + 3]) + ((buf[i + 4] << 8) | buf[i + 5]) + ((buf[i + 6] << 8) | buf[i + 7])
  }
  for (; i < even; i += 2) sum += (buf[i] << 8) | buf[i + 1]
  if (even !== end) sum += buf[end - 1] << 8
  // keep the accumulator small enough to chain forever
  while (sum > 0xffffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000)
  return sum
}

/** Fold the accumulator to 16 bits and complement: the value to put in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000)
  return ~sum & 0xffff
}

/** RFC 1071 checksum of buf[off, off+len). Over data that includes a correct checksum field it is 0. */
export function internetChecksum(buf: Uint8Array, off: number, len: number): number {
  return finishChecksum(onesSum(buf, off, len))
}

function addrSum(a: Uint8Array): number {
  let s = 0
  for (let i = 0; i < a.length; i += 2) s += (a[i] << 8) | a[i + 1]
  return s
}

/**
 * Sum of the pseudo-header for an upper-layer checksum: IPv4 (src, dst, zero, proto, length) or
 * IPv6 (src, dst, 32-bit length, 24 zero bits, next header) chosen by address length.
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, proto: number, upperLen: number): number {
  let s = addrSum(src) + addrSum(dst) + proto
  if (src.length === 16) s += Math.floor(upperLen / 0x10000) + (upperLen & 0xffff)
  else s += upperLen & 0xffff
  return s
}
