// Tiny inner-packet builders for tests (until/besides the netstack): IPv4 (RFC 791) and IPv6
// (RFC 8200) headers with ICMP echo (RFC 792 / RFC 4443) or UDP (RFC 768), checksums included.
// `headroom` bytes are left free in front, like the netstack does for the tunnel.
import { parseIp } from '../../src/netstack/addr.js'

function sum16(b: Uint8Array, off: number, len: number, acc = 0): number {
  for (let i = 0; i + 1 < len; i += 2) acc += (b[off + i] << 8) | b[off + i + 1]
  if (len & 1) acc += b[off + len - 1] << 8
  return acc
}
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000)
  return ~acc & 0xffff
}

export interface Built {
  /** The IP packet (a view with `headroom` free bytes before it in its buffer). */
  pkt: Uint8Array
}

/** proto 1/58 = ICMP echo request (payload after the 8-byte header), 17 = UDP. */
function build(src: string, dst: string, proto: 'icmp' | 'udp', payload: Uint8Array, opts: { id?: number; seq?: number; sport?: number; dport?: number; headroom?: number; reply?: boolean }): Uint8Array {
  const s = parseIp(src)!
  const d = parseIp(dst)!
  const v6 = s.length === 16
  const ipLen = v6 ? 40 : 20
  const l4Len = 8 + payload.length
  const headroom = opts.headroom ?? 16
  const buf = new Uint8Array(headroom + ipLen + l4Len)
  const p = buf.subarray(headroom)
  const nh = proto === 'udp' ? 17 : v6 ? 58 : 1
  if (v6) {
    p[0] = 0x60
    p[4] = l4Len >> 8
    p[5] = l4Len & 0xff
    p[6] = nh
    p[7] = 64
    p.set(s, 8)
    p.set(d, 24)
  } else {
    p[0] = 0x45
    const tot = ipLen + l4Len
    p[2] = tot >> 8
    p[3] = tot & 0xff
    p[4] = (opts.id ?? 1) >> 8
    p[5] = (opts.id ?? 1) & 0xff
    p[8] = 64
    p[9] = nh
    p.set(s, 12)
    p.set(d, 16)
    const c = fold(sum16(p, 0, 20))
    p[10] = c >> 8
    p[11] = c & 0xff
  }
  const l4 = p.subarray(ipLen)
  if (proto === 'udp') {
    const sp = opts.sport ?? 40000
    const dp = opts.dport ?? 7
    l4[0] = sp >> 8
    l4[1] = sp & 0xff
    l4[2] = dp >> 8
    l4[3] = dp & 0xff
    l4[4] = l4Len >> 8
    l4[5] = l4Len & 0xff
  } else {
    l4[0] = opts.reply ? (v6 ? 129 : 0) : v6 ? 128 : 8
    const id = opts.id ?? 1
    const seq = opts.seq ?? 1
    l4[4] = id >> 8
    l4[5] = id & 0xff
    l4[6] = seq >> 8
    l4[7] = seq & 0xff
  }
  l4.set(payload, 8)
  // pseudo-header for UDP and ICMPv6 (RFC 768, RFC 8200 §8.1); plain sum for ICMPv4
  let acc = 0
  if (proto === 'udp' || v6) {
    acc = sum16(s, 0, s.length, acc)
    acc = sum16(d, 0, d.length, acc)
    acc += l4Len + nh
  }
  let c = fold(sum16(l4, 0, l4Len, acc))
  if (proto === 'udp' && c === 0) c = 0xffff
  const at = proto === 'udp' ? 6 : 2
  l4[at] = c >> 8
  l4[at + 1] = c & 0xff
  return p
}

export function icmpEcho(src: string, dst: string, opts: { id?: number; seq?: number; payload?: Uint8Array; headroom?: number; reply?: boolean } = {}): Uint8Array {
  return build(src, dst, 'icmp', opts.payload ?? new TextEncoder().encode('burrow-wg-ping'), opts)
}

export function udpPacket(src: string, dst: string, sport: number, dport: number, payload: Uint8Array, headroom = 16): Uint8Array {
  return build(src, dst, 'udp', payload, { sport, dport, headroom })
}

export interface ParsedInner {
  version: 4 | 6
  src: string
  dst: string
  proto: number
  /** ICMP type, or UDP ports. */
  icmpType?: number
  icmpId?: number
  icmpSeq?: number
  sport?: number
  dport?: number
  payload: Uint8Array
}

function fmt(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.')
  const w: string[] = []
  for (let i = 0; i < 16; i += 2) w.push(((b[i] << 8) | b[i + 1]).toString(16))
  return w.join(':')
}

/** Minimal parser for assertions (addresses in uncompressed form for IPv6: compare via parseIp). */
export function parseInner(p: Uint8Array): ParsedInner | null {
  const v = p[0] >> 4
  let off: number
  let proto: number
  let src: Uint8Array
  let dst: Uint8Array
  let end: number
  if (v === 4) {
    off = (p[0] & 15) * 4
    proto = p[9]
    src = p.subarray(12, 16)
    dst = p.subarray(16, 20)
    end = (p[2] << 8) | p[3]
  } else if (v === 6) {
    off = 40
    proto = p[6]
    src = p.subarray(8, 24)
    dst = p.subarray(24, 40)
    end = 40 + ((p[4] << 8) | p[5])
  } else return null
  const l4 = p.subarray(off, end)
  const r: ParsedInner = { version: v as 4 | 6, src: fmt(src), dst: fmt(dst), proto, payload: l4.subarray(8) }
  if (proto === 1 || proto === 58) {
    r.icmpType = l4[0]
    r.icmpId = (l4[4] << 8) | l4[5]
    r.icmpSeq = (l4[6] << 8) | l4[7]
  } else if (proto === 17) {
    r.sport = (l4[0] << 8) | l4[1]
    r.dport = (l4[2] << 8) | l4[3]
  }
  return r
}

/** Same address? (text forms may differ for IPv6) */
export function sameIp(a: string, b: string): boolean {
  const x = parseIp(a)
  const y = parseIp(b)
  return !!x && !!y && x.length === y.length && x.every((v, i) => v === y[i])
}
