// ICMPv4 (RFC 792, RFC 1191 §4 next-hop MTU) and ICMPv6 (RFC 4443: destination unreachable,
// packet too big, time exceeded, echo; checksum over the RFC 8200 §8.1 pseudo-header).
import { readU16, readU32, writeU16, writeU32 } from '../../core/bytes.js'
import type { Counters } from '../../core/counters.js'
import { finishChecksum, internetChecksum, onesSum } from './checksum.js'

export const Icmpv4Type = {
  EchoReply: 0,
  DestUnreachable: 3,
  EchoRequest: 8,
  TimeExceeded: 11,
} as const
export type Icmpv4Type = (typeof Icmpv4Type)[keyof typeof Icmpv4Type]

/** Destination-unreachable codes (RFC 792, RFC 1122 §3.2.2.1). */
export const Icmpv4Unreach = {
  Net: 0,
  Host: 1,
  Protocol: 2,
  Port: 3,
  FragNeeded: 4,
  AdminProhibited: 13,
} as const
export type Icmpv4Unreach = (typeof Icmpv4Unreach)[keyof typeof Icmpv4Unreach]

export const Icmpv6Type = {
  DestUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParamProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
} as const
export type Icmpv6Type = (typeof Icmpv6Type)[keyof typeof Icmpv6Type]

/** ICMPv6 destination-unreachable codes (RFC 4443 §3.1). */
export const Icmpv6Unreach = {
  NoRoute: 0,
  AdminProhibited: 1,
  BeyondScope: 2,
  Address: 3,
  Port: 4,
} as const
export type Icmpv6Unreach = (typeof Icmpv6Unreach)[keyof typeof Icmpv6Unreach]

export const ICMP_HEADER_LEN = 8

/**
 * One ICMP message. Echo: ident, seq, data. Errors: invoking = the start of the packet that caused
 * it; mtu for fragmentation-needed (v4 type 3 code 4) and packet-too-big (v6 type 2). Other types:
 * data = the bytes after the 8-byte header (the 4 type-specific bytes are not decoded).
 */
export interface IcmpRepr {
  type: number
  code: number
  ident?: number
  seq?: number
  data?: Uint8Array
  mtu?: number
  invoking?: Uint8Array
}

function isEcho4(t: number): boolean {
  return t === Icmpv4Type.EchoRequest || t === Icmpv4Type.EchoReply
}
function isEcho6(t: number): boolean {
  return t === Icmpv6Type.EchoRequest || t === Icmpv6Type.EchoReply
}

function decodeBody(buf: Uint8Array, off: number, len: number, echo: boolean, error: boolean, mtuField: boolean): IcmpRepr {
  const type = buf[off]
  const code = buf[off + 1]
  const rest = buf.subarray(off + ICMP_HEADER_LEN, off + len)
  if (echo) return { type, code, ident: readU16(buf, off + 4), seq: readU16(buf, off + 6), data: rest }
  if (error) {
    const r: IcmpRepr = { type, code, invoking: rest }
    if (mtuField) r.mtu = readU32(buf, off + 4) // ICMPv6 packet too big: 32-bit MTU
    return r
  }
  return { type, code, data: rest }
}

/** Parse an ICMPv4 message at buf[off, off+len); checksum verified. Null (counted) if malformed. */
export function parseIcmpv4(buf: Uint8Array, off: number, len: number, counters?: Counters): IcmpRepr | null {
  if (len < ICMP_HEADER_LEN || off < 0 || off + len > buf.length) {
    counters?.inc('icmp4.truncated')
    return null
  }
  if (internetChecksum(buf, off, len) !== 0) {
    counters?.inc('icmp4.bad_checksum')
    return null
  }
  const t = buf[off]
  const error = t === Icmpv4Type.DestUnreachable || t === Icmpv4Type.TimeExceeded
  const r = decodeBody(buf, off, len, isEcho4(t), error, false)
  if (t === Icmpv4Type.DestUnreachable && buf[off + 1] === Icmpv4Unreach.FragNeeded) r.mtu = readU16(buf, off + 6)
  return r
}

/** Parse an ICMPv6 message; pseudoSum = pseudoHeaderSum(src, dst, 58, len), or null to skip the check. */
export function parseIcmpv6(buf: Uint8Array, off: number, len: number, pseudoSum: number | null, counters?: Counters): IcmpRepr | null {
  if (len < ICMP_HEADER_LEN || off < 0 || off + len > buf.length) {
    counters?.inc('icmp6.truncated')
    return null
  }
  if (pseudoSum !== null && finishChecksum(onesSum(buf, off, len, pseudoSum)) !== 0) {
    counters?.inc('icmp6.bad_checksum')
    return null
  }
  const t = buf[off]
  const error = t === Icmpv6Type.DestUnreachable || t === Icmpv6Type.PacketTooBig || t === Icmpv6Type.TimeExceeded || t === Icmpv6Type.ParamProblem
  return decodeBody(buf, off, len, isEcho6(t), error, t === Icmpv6Type.PacketTooBig)
}

function emitBody(r: IcmpRepr, buf: Uint8Array, off: number, echo: boolean): number {
  buf[off] = r.type
  buf[off + 1] = r.code
  buf[off + 2] = 0
  buf[off + 3] = 0
  writeU32(buf, off + 4, 0)
  let body: Uint8Array | undefined
  if (echo) {
    writeU16(buf, off + 4, (r.ident ?? 0) & 0xffff)
    writeU16(buf, off + 6, (r.seq ?? 0) & 0xffff)
    body = r.data
  } else {
    body = r.invoking ?? r.data
  }
  if (body) buf.set(body, off + ICMP_HEADER_LEN)
  return ICMP_HEADER_LEN + (body ? body.length : 0)
}

/** Write an ICMPv4 message at buf[off] with its checksum. Returns bytes written. */
export function emitIcmpv4(r: IcmpRepr, buf: Uint8Array, off: number): number {
  const n = emitBody(r, buf, off, isEcho4(r.type))
  if (r.type === Icmpv4Type.DestUnreachable && r.code === Icmpv4Unreach.FragNeeded) writeU16(buf, off + 6, (r.mtu ?? 0) & 0xffff)
  writeU16(buf, off + 2, internetChecksum(buf, off, n))
  return n
}

/** Write an ICMPv6 message at buf[off]; pseudoSum = pseudoHeaderSum(src, dst, 58, length). Returns bytes written. */
export function emitIcmpv6(r: IcmpRepr, buf: Uint8Array, off: number, pseudoSum: number): number {
  const n = emitBody(r, buf, off, isEcho6(r.type))
  if (r.type === Icmpv6Type.PacketTooBig) writeU32(buf, off + 4, (r.mtu ?? 0) >>> 0)
  writeU16(buf, off + 2, finishChecksum(onesSum(buf, off, n, pseudoSum)))
  return n
}
