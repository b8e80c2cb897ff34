// IPv4 header (RFC 791 §3.1): parse with every length checked once, options skipped (never
// interpreted), header checksum verified (RFC 1071); emit a 20-byte header with the checksum set.
import { readU16, writeU16 } from '../../core/bytes.js'
import type { Counters } from '../../core/counters.js'
import { internetChecksum } from './checksum.js'

export const IpProto = { ICMP: 1, TCP: 6, UDP: 17, IPV6_ICMP: 58 } as const
export type IpProto = (typeof IpProto)[keyof typeof IpProto]

export const IPV4_HEADER_LEN = 20

export interface Ipv4Repr {
  src: Uint8Array
  dst: Uint8Array
  protocol: number
  ttl: number
  tos: number
  ident: number
  dontFrag: boolean
  moreFrags: boolean
  /** Fragment offset in bytes. */
  fragOffset: number
  headerLen: number
  totalLen: number
  /** Absolute offset of the payload in buf. */
  payloadOffset: number
  payloadLen: number
}

/**
 * Parse the IPv4 packet at buf[off, off+len). Returns null (and counts the reason) when it is
 * truncated, not version 4, has a bad IHL/total length or a bad header checksum. Bytes past
 * the total length (link padding) are ignored. src/dst are views into buf.
 */
export function parseIpv4(buf: Uint8Array, off: number, len: number, counters?: Counters): Ipv4Repr | null {
  if (len < IPV4_HEADER_LEN || off < 0 || off + len > buf.length) {
    counters?.inc('ipv4.truncated')
    return null
  }
  const vihl = buf[off]
  if (vihl >> 4 !== 4) {
    counters?.inc('ipv4.bad_version')
    return null
  }
  const headerLen = (vihl & 0x0f) * 4
  const totalLen = readU16(buf, off + 2)
  if (headerLen < IPV4_HEADER_LEN || headerLen > totalLen) {
    counters?.inc('ipv4.bad_header_len')
    return null
  }
  if (totalLen > len) {
    counters?.inc('ipv4.truncated')
    return null
  }
  if (internetChecksum(buf, off, headerLen) !== 0) {
    counters?.inc('ipv4.bad_checksum')
    return null
  }
  const frag = readU16(buf, off + 6)
  if (frag & 0x8000) {
    counters?.inc('ipv4.bad_flags') // reserved bit set
    return null
  }
  return {
    src: buf.subarray(off + 12, off + 16),
    dst: buf.subarray(off + 16, off + 20),
    protocol: buf[off + 9],
    ttl: buf[off + 8],
    tos: buf[off + 1],
    ident: readU16(buf, off + 4),
    dontFrag: (frag & 0x4000) !== 0,
    moreFrags: (frag & 0x2000) !== 0,
    fragOffset: (frag & 0x1fff) * 8,
    headerLen,
    totalLen,
    payloadOffset: off + headerLen,
    payloadLen: totalLen - headerLen,
  }
}

export interface Ipv4EmitRepr {
  src: Uint8Array
  dst: Uint8Array
  protocol: number
  payloadLen: number
  ttl?: number
  tos?: number
  ident?: number
  dontFrag?: boolean
  moreFrags?: boolean
  /** Bytes; must be a multiple of 8. */
  fragOffset?: number
}

/** Write a 20-byte IPv4 header (no options) with its checksum at buf[off]. Returns 20. */
export function emitIpv4Header(r: Ipv4EmitRepr, buf: Uint8Array, off: number): number {
  buf[off] = 0x45
  buf[off + 1] = (r.tos ?? 0) & 0xff
  writeU16(buf, off + 2, IPV4_HEADER_LEN + r.payloadLen)
  writeU16(buf, off + 4, (r.ident ?? 0) & 0xffff)
  let frag = ((r.fragOffset ?? 0) >>> 3) & 0x1fff
  if (r.dontFrag) frag |= 0x4000
  if (r.moreFrags) frag |= 0x2000
  writeU16(buf, off + 6, frag)
  buf[off + 8] = r.ttl ?? 64
  buf[off + 9] = r.protocol
  buf[off + 10] = 0
  buf[off + 11] = 0
  buf.set(r.src, off + 12)
  buf.set(r.dst, off + 16)
  writeU16(buf, off + 10, internetChecksum(buf, off, IPV4_HEADER_LEN))
  return IPV4_HEADER_LEN
}
