// UDP header (RFC 768); checksum over the pseudo-header. A zero checksum means "none" on IPv4
// only; IPv6 requires it (RFC 8200 §8.1). An all-zero computed checksum is sent as 0xffff.
import { readU16, writeU16 } from '../../core/bytes.js'
import type { Counters } from '../../core/counters.js'
import { finishChecksum, onesSum } from './checksum.js'

export const UDP_HEADER_LEN = 8

export interface UdpRepr {
  srcPort: number
  dstPort: number
  /** View into the packet buffer. */
  payload: Uint8Array
}

/**
 * Parse the UDP datagram at buf[off, off+len). pseudoSum = pseudoHeaderSum(src, dst, 17, udpLen)
 * where udpLen is the UDP length field (equal to len for well-formed packets) or null to skip the
 * check. ipv6 forbids the zero "no checksum" value. Null (counted) if malformed.
 */
export function parseUdp(
  buf: Uint8Array,
  off: number,
  len: number,
  pseudoSum: number | null,
  counters?: Counters,
  ipv6 = false,
): UdpRepr | null {
  if (len < UDP_HEADER_LEN || off < 0 || off + len > buf.length) {
    counters?.inc('udp.truncated')
    return null
  }
  const ulen = readU16(buf, off + 4)
  if (ulen < UDP_HEADER_LEN || ulen > len) {
    counters?.inc('udp.bad_length')
    return null
  }
  const ck = readU16(buf, off + 6)
  if (ck === 0) {
    if (ipv6) {
      counters?.inc('udp.bad_checksum')
      return null
    }
  } else if (pseudoSum !== null && finishChecksum(onesSum(buf, off, ulen, pseudoSum)) !== 0) {
    counters?.inc('udp.bad_checksum')
    return null
  }
  return { srcPort: readU16(buf, off), dstPort: readU16(buf, off + 2), payload: buf.subarray(off + UDP_HEADER_LEN, off + ulen) }
}

/**
 * Write header + payload at buf[off]. pseudoSum = pseudoHeaderSum(src, dst, 17, 8 + payload length).
 * Returns bytes written.
 */
export function emitUdp(r: UdpRepr, buf: Uint8Array, off: number, pseudoSum: number): number {
  const total = UDP_HEADER_LEN + r.payload.length
  writeU16(buf, off, r.srcPort)
  writeU16(buf, off + 2, r.dstPort)
  writeU16(buf, off + 4, total)
  buf[off + 6] = 0
  buf[off + 7] = 0
  buf.set(r.payload, off + UDP_HEADER_LEN)
  const ck = finishChecksum(onesSum(buf, off, total, pseudoSum))
  writeU16(buf, off + 6, ck === 0 ? 0xffff : ck)
  return total
}
