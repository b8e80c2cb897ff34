// ICMP error handling for the stack. Sending: RFC 1122 §3.2.2 / RFC 4443 §2.4 (never in reply to
// an ICMP error, broadcast/multicast or non-initial fragment; rate limited by a token bucket per
// RFC 4443 §2.4(f) and RFC 1812 §4.3.2.8; quote as much of the offending packet as fits in 576
// bytes for IPv4, 1280 for IPv6). Receiving: decode the quoted header (RFC 792, RFC 4443 §2.4(c))
// so the error reaches the socket it concerns, and map types/codes to errno-style codes
// (RFC 1122 §4.2.3.9: port/protocol unreachable are hard errors; others are soft).
import { readU16, readU32 } from '../../core/bytes.js'
import type { Clock } from '../../core/clock.js'
import { ErrorCode } from '../../core/errors.js'
import { Icmpv4Type, Icmpv4Unreach, Icmpv6Type, Icmpv6Unreach, type IcmpRepr } from '../wire/icmp.js'
import { IpProto } from '../wire/ipv4.js'
import { Ipv6NextHeader } from '../wire/ipv6.js'

/** Token bucket: `burst` messages, refilled at `perSecond`. */
export class RateLimiter {
  private tokens: number
  private last: number
  constructor(
    private readonly clock: Clock,
    private readonly perSecond = 100,
    private readonly burst = 50,
  ) {
    this.tokens = burst
    this.last = clock.now()
  }
  take(): boolean {
    const now = this.clock.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

/** The transport-level identity of the packet an ICMP error quotes (the packet we sent). */
export interface QuotedPacket {
  family: 4 | 6
  /** Our address (the quoted source). */
  src: Uint8Array
  /** The remote address (the quoted destination). */
  dst: Uint8Array
  proto: number
  srcPort: number
  dstPort: number
  /** TCP sequence number of the quoted segment (for RFC 5927 checks), when present. */
  tcpSeq?: number
  /** ICMP echo ident/seq when the quoted packet was an echo request. */
  echoIdent?: number
  echoSeq?: number
}

/**
 * Decode the first bytes of a quoted IP packet leniently: it is usually truncated, so no total-
 * length or checksum checks; only the addresses and the first 8 transport bytes are needed.
 */
export function parseQuoted(inv: Uint8Array): QuotedPacket | null {
  if (inv.length < 1) return null
  const v = inv[0] >> 4
  let family: 4 | 6
  let proto: number
  let p: number
  let src: Uint8Array
  let dst: Uint8Array
  if (v === 4) {
    const ihl = (inv[0] & 0x0f) * 4
    if (ihl < 20 || inv.length < ihl + 8) return null
    if ((readU16(inv, 6) & 0x1fff) !== 0) return null // non-initial fragment: no transport header
    family = 4
    proto = inv[9]
    p = ihl
    src = inv.subarray(12, 16)
    dst = inv.subarray(16, 20)
  } else if (v === 6) {
    if (inv.length < 48) return null
    family = 6
    proto = inv[6]
    p = 40
    src = inv.subarray(8, 24)
    dst = inv.subarray(24, 40)
    for (let n = 0; n < 8; n++) {
      if (proto === Ipv6NextHeader.HopByHop || proto === Ipv6NextHeader.Routing || proto === Ipv6NextHeader.DestOpts) {
        if (p + 2 > inv.length) return null
        const l = (inv[p + 1] + 1) * 8
        proto = inv[p]
        p += l
      } else if (proto === Ipv6NextHeader.Fragment) {
        if (p + 8 > inv.length || (readU16(inv, p + 2) & 0xfff8) !== 0) return null
        proto = inv[p]
        p += 8
      } else break
    }
    if (p + 8 > inv.length) return null
  } else return null
  const q: QuotedPacket = { family, src, dst, proto, srcPort: 0, dstPort: 0 }
  if (proto === IpProto.TCP || proto === IpProto.UDP) {
    q.srcPort = readU16(inv, p)
    q.dstPort = readU16(inv, p + 2)
    if (proto === IpProto.TCP) q.tcpSeq = readU32(inv, p + 4)
  } else if ((proto === IpProto.ICMP && inv[p] === Icmpv4Type.EchoRequest) || (proto === IpProto.IPV6_ICMP && inv[p] === Icmpv6Type.EchoRequest)) {
    q.echoIdent = readU16(inv, p + 4)
    q.echoSeq = readU16(inv, p + 6)
  }
  return q
}

/** How an ICMP error affects the socket it concerns. */
export interface IcmpErrorInfo {
  code: ErrorCode
  message: string
  /** Hard errors abort connections (port/protocol unreachable); soft ones are only reported. */
  hard: boolean
  /** Path MTU from fragmentation-needed / packet-too-big. */
  mtu?: number
}

/** Classify an ICMP error message; null for non-error types. */
export function classifyIcmpError(family: 4 | 6, m: IcmpRepr): IcmpErrorInfo | null {
  if (family === 4) {
    if (m.type === Icmpv4Type.DestUnreachable) {
      switch (m.code) {
        case Icmpv4Unreach.Port:
          return { code: ErrorCode.ECONNREFUSED, message: 'port unreachable', hard: true }
        case Icmpv4Unreach.Protocol:
          return { code: ErrorCode.ECONNREFUSED, message: 'protocol unreachable', hard: true }
        case Icmpv4Unreach.FragNeeded:
          return { code: ErrorCode.EMSGSIZE, message: `fragmentation needed (mtu ${m.mtu ?? 0})`, hard: false, mtu: m.mtu ?? 0 }
        case Icmpv4Unreach.Net:
          return { code: ErrorCode.ENETUNREACH, message: 'network unreachable', hard: false }
        default:
          return { code: ErrorCode.EHOSTUNREACH, message: `host unreachable (code ${m.code})`, hard: false }
      }
    }
    if (m.type === Icmpv4Type.TimeExceeded) return { code: ErrorCode.EHOSTUNREACH, message: 'time exceeded', hard: false }
    return null
  }
  switch (m.type) {
    case Icmpv6Type.DestUnreachable:
      if (m.code === Icmpv6Unreach.Port) return { code: ErrorCode.ECONNREFUSED, message: 'port unreachable', hard: true }
      if (m.code === Icmpv6Unreach.NoRoute) return { code: ErrorCode.ENETUNREACH, message: 'no route to destination', hard: false }
      return { code: ErrorCode.EHOSTUNREACH, message: `destination unreachable (code ${m.code})`, hard: false }
    case Icmpv6Type.PacketTooBig:
      return { code: ErrorCode.EMSGSIZE, message: `packet too big (mtu ${m.mtu ?? 0})`, hard: false, mtu: m.mtu ?? 0 }
    case Icmpv6Type.TimeExceeded:
      return { code: ErrorCode.EHOSTUNREACH, message: 'time exceeded', hard: false }
    case Icmpv6Type.ParamProblem:
      return { code: ErrorCode.ERR_PROTOCOL, message: `parameter problem (code ${m.code})`, hard: m.code === 1 }
    default:
      return null
  }
}

/** Bytes of the offending packet to quote so the whole ICMP error stays within 576 / 1280 bytes. */
export function quoteLength(family: 4 | 6, pktLen: number): number {
  const limit = family === 4 ? 576 - 20 - 8 : 1280 - 40 - 8
  return Math.min(pktLen, limit)
}

/** Whether an address is broadcast/multicast/unspecified (no ICMP errors about such packets). */
export function isNonUnicast(addr: Uint8Array): boolean {
  if (addr.length === 4) return addr[0] >= 224 || (addr[0] === 255 && addr[3] === 255) || (addr[0] | addr[1] | addr[2] | addr[3]) === 0
  if (addr[0] === 0xff) return true
  for (let i = 0; i < 16; i++) if (addr[i] !== 0) return false
  return true
}
