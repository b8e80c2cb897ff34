// TCP header and options (RFC 9293 §3.1-3.2): MSS, window scale and timestamps (RFC 7323),
// SACK-permitted and SACK blocks (RFC 2018). Unknown options are skipped by their length; an
// option whose length is impossible makes the whole segment malformed (dropped, counted).
import { readU16, readU32, writeU16, writeU32 } from '../../core/bytes.js'
import type { Counters } from '../../core/counters.js'
import type { TcpOptions, TcpSegment } from '../tcp/types.js'
import { finishChecksum, onesSum } from './checksum.js'

export const TCP_HEADER_LEN = 20

export const TcpOptionKind = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WindowScale: 3,
  SackPermitted: 4,
  Sack: 5,
  Timestamps: 8,
} as const
export type TcpOptionKind = (typeof TcpOptionKind)[keyof typeof TcpOptionKind]

/** Largest window-scale shift (RFC 7323 §2.3): larger values are treated as 14. */
const MAX_WSCALE = 14

function parseOptions(buf: Uint8Array, p: number, end: number, counters?: Counters): TcpOptions | null {
  const o: TcpOptions = {}
  while (p < end) {
    const kind = buf[p]
    if (kind === TcpOptionKind.EOL) break
    if (kind === TcpOptionKind.NOP) {
      p++
      continue
    }
    if (p + 1 >= end) {
      counters?.inc('tcp.bad_option')
      return null
    }
    const l = buf[p + 1]
    if (l < 2 || p + l > end) {
      counters?.inc('tcp.bad_option')
      return null
    }
    switch (kind) {
      case TcpOptionKind.MSS:
        if (l !== 4) return badOpt(counters)
        o.mss = readU16(buf, p + 2)
        break
      case TcpOptionKind.WindowScale:
        if (l !== 3) return badOpt(counters)
        o.wscale = Math.min(buf[p + 2], MAX_WSCALE)
        break
      case TcpOptionKind.SackPermitted:
        if (l !== 2) return badOpt(counters)
        o.sackPermitted = true
        break
      case TcpOptionKind.Sack: {
        if (l < 10 || (l - 2) % 8 !== 0) return badOpt(counters)
        const blocks: Array<[number, number]> = []
        for (let q = p + 2; q < p + l; q += 8) blocks.push([readU32(buf, q), readU32(buf, q + 4)])
        o.sack = blocks
        break
      }
      case TcpOptionKind.Timestamps:
        if (l !== 10) return badOpt(counters)
        o.tsVal = readU32(buf, p + 2)
        o.tsEcr = readU32(buf, p + 6)
        break
      default:
        break // unknown: skipped by length
    }
    p += l
  }
  return o
}

function badOpt(counters?: Counters): null {
  counters?.inc('tcp.bad_option')
  return null
}

/**
 * Parse the TCP segment at buf[off, off+len) (len = IP payload length). When pseudoSum is given
 * (pseudoHeaderSum(src, dst, 6, len)) the checksum is verified. Null (counted) if malformed.
 * The payload is a view into buf.
 */
export function parseTcp(buf: Uint8Array, off: number, len: number, pseudoSum: number | null, counters?: Counters): TcpSegment | null {
  if (len < TCP_HEADER_LEN || off < 0 || off + len > buf.length) {
    counters?.inc('tcp.truncated')
    return null
  }
  const hlen = (buf[off + 12] >> 4) * 4
  if (hlen < TCP_HEADER_LEN || hlen > len) {
    counters?.inc('tcp.bad_header_len')
    return null
  }
  if (pseudoSum !== null && finishChecksum(onesSum(buf, off, len, pseudoSum)) !== 0) {
    counters?.inc('tcp.bad_checksum')
    return null
  }
  const options = hlen > TCP_HEADER_LEN ? parseOptions(buf, off + TCP_HEADER_LEN, off + hlen, counters) : {}
  if (options === null) return null
  return {
    srcPort: readU16(buf, off),
    dstPort: readU16(buf, off + 2),
    seq: readU32(buf, off + 4),
    ack: readU32(buf, off + 8),
    flags: buf[off + 13],
    window: readU16(buf, off + 14),
    urgent: readU16(buf, off + 18),
    options,
    payload: buf.subarray(off + hlen, off + len),
  }
}

/** SACK blocks that fit in the option space left after the other options (40 bytes total). */
function sackBlocksFitting(o: TcpOptions, fixedLen: number): number {
  if (!o.sack || o.sack.length === 0) return 0
  const room = 40 - fixedLen - 4 // NOP NOP kind len
  return Math.max(0, Math.min(o.sack.length, 4, Math.floor(room / 8)))
}

function fixedOptionsLen(o: TcpOptions): number {
  let n = 0
  if (o.mss !== undefined) n += 4
  if (o.wscale !== undefined) n += 4 // NOP + 3
  const ts = o.tsVal !== undefined
  if (o.sackPermitted && ts) n += 12 // SACK-permitted (2) + timestamps (10)
  else {
    if (o.sackPermitted) n += 4 // NOP NOP + 2
    if (ts) n += 12 // NOP NOP + 10
  }
  return n
}

function optionsLen(o: TcpOptions): number {
  const fixed = fixedOptionsLen(o)
  const blocks = sackBlocksFitting(o, fixed)
  return fixed + (blocks ? 4 + 8 * blocks : 0)
}

/** Header length (20 + options, a multiple of 4) that emitTcp will write for seg. */
export function tcpHeaderLen(seg: TcpSegment): number {
  return TCP_HEADER_LEN + optionsLen(seg.options)
}

function emitOptions(o: TcpOptions, buf: Uint8Array, p: number): number {
  const start = p
  if (o.mss !== undefined) {
    buf[p] = TcpOptionKind.MSS
    buf[p + 1] = 4
    writeU16(buf, p + 2, o.mss)
    p += 4
  }
  // Same layout as Linux (MSS, SACK-permitted + timestamps, NOP + window scale) so captures re-emit byte for byte.
  const ts = o.tsVal !== undefined
  if (o.sackPermitted) {
    if (!ts) {
      buf[p++] = TcpOptionKind.NOP
      buf[p++] = TcpOptionKind.NOP
    }
    buf[p++] = TcpOptionKind.SackPermitted
    buf[p++] = 2
  } else if (ts) {
    buf[p++] = TcpOptionKind.NOP
    buf[p++] = TcpOptionKind.NOP
  }
  if (ts) {
    buf[p] = TcpOptionKind.Timestamps
    buf[p + 1] = 10
    writeU32(buf, p + 2, o.tsVal! >>> 0)
    writeU32(buf, p + 6, (o.tsEcr ?? 0) >>> 0)
    p += 10
  }
  if (o.wscale !== undefined) {
    buf[p] = TcpOptionKind.NOP
    buf[p + 1] = TcpOptionKind.WindowScale
    buf[p + 2] = 3
    buf[p + 3] = Math.min(o.wscale, MAX_WSCALE)
    p += 4
  }
  const blocks = sackBlocksFitting(o, p - start)
  if (blocks) {
    buf[p] = TcpOptionKind.NOP
    buf[p + 1] = TcpOptionKind.NOP
    buf[p + 2] = TcpOptionKind.Sack
    buf[p + 3] = 2 + 8 * blocks
    p += 4
    for (let i = 0; i < blocks; i++) {
      writeU32(buf, p, o.sack![i][0] >>> 0)
      writeU32(buf, p + 4, o.sack![i][1] >>> 0)
      p += 8
    }
  }
  return p - start
}

/**
 * Write seg (header, options, payload) at buf[off] and fill the checksum. pseudoSum must be
 * pseudoHeaderSum(src, dst, 6, tcpHeaderLen(seg) + seg.payload.length). Returns bytes written.
 */
export function emitTcp(seg: TcpSegment, buf: Uint8Array, off: number, pseudoSum: number): number {
  writeU16(buf, off, seg.srcPort)
  writeU16(buf, off + 2, seg.dstPort)
  writeU32(buf, off + 4, seg.seq >>> 0)
  writeU32(buf, off + 8, seg.ack >>> 0)
  const olen = emitOptions(seg.options, buf, off + TCP_HEADER_LEN)
  const hlen = TCP_HEADER_LEN + olen
  buf[off + 12] = (hlen / 4) << 4
  buf[off + 13] = seg.flags & 0xff
  writeU16(buf, off + 14, seg.window & 0xffff)
  buf[off + 16] = 0
  buf[off + 17] = 0
  writeU16(buf, off + 18, seg.urgent & 0xffff)
  buf.set(seg.payload, off + hlen)
  const total = hlen + seg.payload.length
  writeU16(buf, off + 16, finishChecksum(onesSum(buf, off, total, pseudoSum)))
  return total
}
