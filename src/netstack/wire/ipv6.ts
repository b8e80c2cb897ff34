// IPv6 header and extension-header chain (RFC 8200 §3, §4): hop-by-hop options, routing,
// destination options and authentication headers are skipped by their length; the fragment
// header (§4.5) is decoded and ends the walk (what follows it is fragment data).
import { readU16, readU32, writeU16, writeU32 } from '../../core/bytes.js'
import type { Counters } from '../../core/counters.js'

export const IPV6_HEADER_LEN = 40

export const Ipv6NextHeader = {
  HopByHop: 0,
  Routing: 43,
  Fragment: 44,
  Esp: 50,
  Auth: 51,
  NoNext: 59,
  DestOpts: 60,
} as const
export type Ipv6NextHeader = (typeof Ipv6NextHeader)[keyof typeof Ipv6NextHeader]

/** Extension headers walked before giving up (bounds work on hostile chains). */
const MAX_EXT_HEADERS = 8

export interface Ipv6Fragment {
  /** Fragment offset in bytes. */
  offset: number
  more: boolean
  ident: number
  /** Bytes from the start of the IPv6 header up to (not including) the fragment header. */
  unfragmentableLen: number
}

export interface Ipv6Repr {
  src: Uint8Array
  dst: Uint8Array
  /** Upper-layer protocol after the walked extension headers (for fragments: the fragment header's next header). */
  nextHeader: number
  hopLimit: number
  trafficClass: number
  flowLabel: number
  /** Absolute offset of the upper-layer payload (or fragment data) in buf. */
  payloadOffset: number
  payloadLen: number
  fragment?: Ipv6Fragment
}

/**
 * Parse the IPv6 packet at buf[off, off+len). Null (counted) when truncated, not version 6, a
 * jumbogram, or an extension header runs past the payload. Trailing bytes are ignored.
 */
export function parseIpv6(buf: Uint8Array, off: number, len: number, counters?: Counters): Ipv6Repr | null {
  if (len < IPV6_HEADER_LEN || off < 0 || off + len > buf.length) {
    counters?.inc('ipv6.truncated')
    return null
  }
  const w0 = readU32(buf, off)
  if (w0 >>> 28 !== 6) {
    counters?.inc('ipv6.bad_version')
    return null
  }
  const plen = readU16(buf, off + 4)
  if (IPV6_HEADER_LEN + plen > len) {
    counters?.inc('ipv6.truncated')
    return null
  }
  if (plen === 0 && buf[off + 6] === Ipv6NextHeader.HopByHop) {
    counters?.inc('ipv6.jumbogram') // RFC 2675: not supported on a tunnel link
    return null
  }
  const end = off + IPV6_HEADER_LEN + plen
  let nh = buf[off + 6]
  let p = off + IPV6_HEADER_LEN
  let fragment: Ipv6Fragment | undefined
  for (let n = 0; ; n++) {
    if (nh === Ipv6NextHeader.HopByHop || nh === Ipv6NextHeader.Routing || nh === Ipv6NextHeader.DestOpts || nh === Ipv6NextHeader.Auth) {
      if (nh === Ipv6NextHeader.HopByHop && p !== off + IPV6_HEADER_LEN) {
        counters?.inc('ipv6.bad_ext_header') // hop-by-hop only directly after the fixed header
        return null
      }
      if (n >= MAX_EXT_HEADERS || p + 2 > end) {
        counters?.inc('ipv6.bad_ext_header')
        return null
      }
      const hlen = nh === Ipv6NextHeader.Auth ? (buf[p + 1] + 2) * 4 : (buf[p + 1] + 1) * 8
      if (p + hlen > end) {
        counters?.inc('ipv6.bad_ext_header')
        return null
      }
      nh = buf[p]
      p += hlen
      continue
    }
    if (nh === Ipv6NextHeader.Fragment) {
      if (p + 8 > end) {
        counters?.inc('ipv6.bad_ext_header')
        return null
      }
      const fo = readU16(buf, p + 2)
      fragment = { offset: fo & 0xfff8, more: (fo & 1) !== 0, ident: readU32(buf, p + 4), unfragmentableLen: p - off }
      nh = buf[p]
      p += 8
    }
    break
  }
  return {
    src: buf.subarray(off + 8, off + 24),
    dst: buf.subarray(off + 24, off + 40),
    nextHeader: nh,
    hopLimit: buf[off + 7],
    trafficClass: (w0 >>> 20) & 0xff,
    flowLabel: w0 & 0xfffff,
    payloadOffset: p,
    payloadLen: end - p,
    fragment,
  }
}

export interface Ipv6EmitRepr {
  src: Uint8Array
  dst: Uint8Array
  nextHeader: number
  /** Bytes after the 40-byte fixed header. */
  payloadLen: number
  hopLimit?: number
  trafficClass?: number
  flowLabel?: number
}

/** Write the 40-byte fixed IPv6 header at buf[off]. Returns 40. */
export function emitIpv6Header(r: Ipv6EmitRepr, buf: Uint8Array, off: number): number {
  writeU32(buf, off, ((6 << 28) | (((r.trafficClass ?? 0) & 0xff) << 20) | ((r.flowLabel ?? 0) & 0xfffff)) >>> 0)
  writeU16(buf, off + 4, r.payloadLen)
  buf[off + 6] = r.nextHeader
  buf[off + 7] = r.hopLimit ?? 64
  buf.set(r.src, off + 8)
  buf.set(r.dst, off + 24)
  return IPV6_HEADER_LEN
}

/** Write an 8-byte fragment header (RFC 8200 §4.5) at buf[off]. Returns 8. */
export function emitIpv6FragmentHeader(
  r: { nextHeader: number; offset: number; more: boolean; ident: number },
  buf: Uint8Array,
  off: number,
): number {
  buf[off] = r.nextHeader
  buf[off + 1] = 0
  writeU16(buf, off + 2, (r.offset & 0xfff8) | (r.more ? 1 : 0))
  writeU32(buf, off + 4, r.ident >>> 0)
  return 8
}
