// Byte-literal round-trips on packets captured from Linux (captures.ts): parse every header, check
// the decoded fields, re-emit from the repr and compare with the original bytes.
import { describe, expect, it } from 'vitest'
import { fromHex, hex } from '../../../src/core/bytes.js'
import { Counters } from '../../../src/core/counters.js'
import { formatIp } from '../../../src/netstack/addr.js'
import { pseudoHeaderSum } from '../../../src/netstack/wire/checksum.js'
import { emitIcmpv4, emitIcmpv6, Icmpv4Type, Icmpv4Unreach, Icmpv6Type, Icmpv6Unreach, parseIcmpv4, parseIcmpv6 } from '../../../src/netstack/wire/icmp.js'
import { emitIpv4Header, parseIpv4, type Ipv4Repr } from '../../../src/netstack/wire/ipv4.js'
import { emitIpv6Header, parseIpv6, type Ipv6Repr } from '../../../src/netstack/wire/ipv6.js'
import { emitTcp, parseTcp, tcpHeaderLen } from '../../../src/netstack/wire/tcp.js'
import { emitUdp, parseUdp } from '../../../src/netstack/wire/udp.js'
import { TcpFlag } from '../../../src/netstack/tcp/types.js'
import * as cap from './captures.js'

function v4(h: string): { b: Uint8Array; r: Ipv4Repr } {
  const b = fromHex(h)
  const r = parseIpv4(b, 0, b.length)
  expect(r).not.toBeNull()
  return { b, r: r! }
}
function v6(h: string): { b: Uint8Array; r: Ipv6Repr } {
  const b = fromHex(h)
  const r = parseIpv6(b, 0, b.length)
  expect(r).not.toBeNull()
  return { b, r: r! }
}
/** Re-emit the IPv4 header from the repr into a fresh buffer. */
function reemit4(r: Ipv4Repr): Uint8Array {
  const out = new Uint8Array(20)
  emitIpv4Header({ ...r, payloadLen: r.payloadLen }, out, 0)
  return out
}
function reemit6(r: Ipv6Repr, nextHeader: number): Uint8Array {
  const out = new Uint8Array(40)
  emitIpv6Header({ ...r, nextHeader, payloadLen: r.payloadLen + (r.fragment ? 8 : 0) }, out, 0)
  return out
}

describe('IPv4 + ICMPv4 captures', () => {
  it('echo request and reply', () => {
    for (const [h, type] of [
      [cap.ping4Request, Icmpv4Type.EchoRequest],
      [cap.ping4Reply, Icmpv4Type.EchoReply],
    ] as const) {
      const { b, r } = v4(h)
      expect(formatIp(r.src)).toBe('10.99.0.1')
      expect(r.protocol).toBe(1)
      expect(r.ttl).toBe(64)
      expect(r.totalLen).toBe(44)
      expect(hex(reemit4(r))).toBe(hex(b.subarray(0, 20)))
      const m = parseIcmpv4(b, r.payloadOffset, r.payloadLen)!
      expect(m.type).toBe(type)
      expect(m.ident).toBe(0x2524)
      expect(m.seq).toBe(1)
      expect(m.data!.length).toBe(16)
      const out = new Uint8Array(r.payloadLen)
      expect(emitIcmpv4(m, out, 0)).toBe(r.payloadLen)
      expect(hex(out)).toBe(hex(b.subarray(20)))
    }
    expect(v4(cap.ping4Request).r.dontFrag).toBe(true)
    expect(v4(cap.ping4Reply).r.dontFrag).toBe(false)
  })
  it('UDP datagram and the port-unreachable it provoked', () => {
    const { b, r } = v4(cap.udp4Hello)
    const u = parseUdp(b, r.payloadOffset, r.payloadLen, pseudoHeaderSum(r.src, r.dst, 17, r.payloadLen))!
    expect(u.dstPort).toBe(5353)
    expect(new TextDecoder().decode(u.payload)).toBe('hello')
    const out = new Uint8Array(r.payloadLen)
    emitUdp(u, out, 0, pseudoHeaderSum(r.src, r.dst, 17, r.payloadLen))
    expect(hex(out)).toBe(hex(b.subarray(20)))

    const e = v4(cap.icmp4PortUnreach)
    expect(e.r.tos).toBe(0xc0)
    const m = parseIcmpv4(e.b, e.r.payloadOffset, e.r.payloadLen)!
    expect([m.type, m.code]).toEqual([Icmpv4Type.DestUnreachable, Icmpv4Unreach.Port])
    // the whole offending datagram (ours, reflected into the TUN) quoted back
    const inner = parseIpv4(m.invoking!, 0, m.invoking!.length)!
    expect(m.invoking!.length).toBe(b.length)
    expect(formatIp(inner.src)).toBe('10.99.0.2')
    const iu = parseUdp(m.invoking!, inner.payloadOffset, inner.payloadLen, pseudoHeaderSum(inner.src, inner.dst, 17, inner.payloadLen))!
    expect([iu.srcPort, iu.dstPort]).toEqual([u.dstPort, u.srcPort])
    const o2 = new Uint8Array(e.r.payloadLen)
    emitIcmpv4(m, o2, 0)
    expect(hex(o2)).toBe(hex(e.b.subarray(20)))
  })
  it('TCP SYN with options and the RST from the closed port', () => {
    const { b, r } = v4(cap.tcp4Syn)
    const ps = pseudoHeaderSum(r.src, r.dst, 6, r.payloadLen)
    const s = parseTcp(b, r.payloadOffset, r.payloadLen, ps)!
    expect(s.dstPort).toBe(9)
    expect(s.flags).toBe(TcpFlag.SYN)
    expect(s.options).toEqual({ mss: 1460, sackPermitted: true, tsVal: 0xc2defbe5, tsEcr: 0, wscale: 10 })
    expect(tcpHeaderLen(s)).toBe(40)
    const out = new Uint8Array(r.payloadLen)
    expect(emitTcp(s, out, 0, ps)).toBe(40)
    expect(hex(out)).toBe(hex(b.subarray(20)))

    const x = v4(cap.tcp4Rst)
    const px = pseudoHeaderSum(x.r.src, x.r.dst, 6, x.r.payloadLen)
    const rst = parseTcp(x.b, x.r.payloadOffset, x.r.payloadLen, px)!
    expect(rst.flags).toBe(TcpFlag.RST | TcpFlag.ACK)
    expect(rst.ack).toBe((s.seq + 1) >>> 0)
    expect(rst.payload.length).toBe(0)
    const o2 = new Uint8Array(20)
    emitTcp(rst, o2, 0, px)
    expect(hex(o2)).toBe(hex(x.b.subarray(20)))
  })
  it('the ip-packet fixture (another Linux SYN) decodes identically', () => {
    const b = fromHex('4500004000004000400626510a16001e0a16001efb311f900a7fd88600000000b0c2ffff97830000020404ec010303060101080a9158fbf80000000004020000')
    const r = parseIpv4(b, 0, b.length)!
    const s = parseTcp(b, 20, r.payloadLen, pseudoHeaderSum(r.src, r.dst, 6, r.payloadLen))!
    expect(s.options).toEqual({ mss: 1260, wscale: 6, tsVal: 0x9158fbf8, tsEcr: 0, sackPermitted: true })
    expect(s.window).toBe(0xffff)
  })
  it('fragments carry offsets and flags', () => {
    const a = v4(cap.frag4ReqA).r
    const bb = v4(cap.frag4ReqB).r
    expect([a.moreFrags, a.fragOffset, a.payloadLen]).toEqual([true, 0, 1480])
    expect([bb.moreFrags, bb.fragOffset, bb.payloadLen]).toEqual([false, 1480, 528])
    expect(a.ident).toBe(bb.ident)
    expect(hex(reemit4(bb))).toBe(hex(fromHex(cap.frag4ReqB).subarray(0, 20)))
  })
})

describe('IPv6 + ICMPv6 captures', () => {
  it('echo request and reply', () => {
    for (const [h, type] of [
      [cap.ping6Request, Icmpv6Type.EchoRequest],
      [cap.ping6Reply, Icmpv6Type.EchoReply],
    ] as const) {
      const { b, r } = v6(h)
      expect(formatIp(r.dst)).toBe('fd99::2')
      expect(r.nextHeader).toBe(58)
      expect(r.hopLimit).toBe(64)
      expect(hex(reemit6(r, 58))).toBe(hex(b.subarray(0, 40)))
      const ps = pseudoHeaderSum(r.src, r.dst, 58, r.payloadLen)
      const m = parseIcmpv6(b, 40, r.payloadLen, ps)!
      expect(m.type).toBe(type)
      expect(m.seq).toBe(1)
      const out = new Uint8Array(r.payloadLen)
      emitIcmpv6(m, out, 0, ps)
      expect(hex(out)).toBe(hex(b.subarray(40)))
    }
    expect(v6(cap.ping6Request).r.flowLabel).toBe(0x9b594)
  })
  it('UDP over IPv6 and its port unreachable', () => {
    const { b, r } = v6(cap.udp6Hello)
    const ps = pseudoHeaderSum(r.src, r.dst, 17, r.payloadLen)
    const u = parseUdp(b, 40, r.payloadLen, ps, undefined, true)!
    expect(new TextDecoder().decode(u.payload)).toBe('hello6')
    const out = new Uint8Array(r.payloadLen)
    emitUdp(u, out, 0, ps)
    expect(hex(out)).toBe(hex(b.subarray(40)))
    const e = v6(cap.icmp6PortUnreach)
    const pe = pseudoHeaderSum(e.r.src, e.r.dst, 58, e.r.payloadLen)
    const m = parseIcmpv6(e.b, 40, e.r.payloadLen, pe)!
    expect([m.type, m.code]).toEqual([Icmpv6Type.DestUnreachable, Icmpv6Unreach.Port])
    const inner = parseIpv6(m.invoking!, 0, m.invoking!.length)!
    expect([formatIp(inner.src), inner.nextHeader]).toEqual(['fd99::2', 17])
    expect(parseUdp(m.invoking!, 40, inner.payloadLen, null, undefined, true)!.dstPort).toBe(u.srcPort)
    const o2 = new Uint8Array(e.r.payloadLen)
    emitIcmpv6(m, o2, 0, pe)
    expect(hex(o2)).toBe(hex(e.b.subarray(40)))
  })
  it('TCP SYN and RST over IPv6', () => {
    const { b, r } = v6(cap.tcp6Syn)
    const ps = pseudoHeaderSum(r.src, r.dst, 6, r.payloadLen)
    const s = parseTcp(b, 40, r.payloadLen, ps)!
    expect(s.options.mss).toBe(1440)
    const out = new Uint8Array(r.payloadLen)
    emitTcp(s, out, 0, ps)
    expect(hex(out)).toBe(hex(b.subarray(40)))
    const x = v6(cap.tcp6Rst)
    const rst = parseTcp(x.b, 40, x.r.payloadLen, pseudoHeaderSum(x.r.src, x.r.dst, 6, x.r.payloadLen))!
    expect(rst.flags & TcpFlag.RST).toBeTruthy()
  })
  it('fragments: the header chain ends at the fragment header', () => {
    const a = v6(cap.frag6ReqA).r
    const bb = v6(cap.frag6ReqB).r
    expect(a.nextHeader).toBe(58)
    expect(a.fragment).toEqual({ offset: 0, more: true, ident: 0xdff8776b, unfragmentableLen: 40 })
    expect(bb.fragment).toEqual({ offset: 1448, more: false, ident: 0xdff8776b, unfragmentableLen: 40 })
    expect(a.payloadOffset).toBe(48)
    expect(a.payloadLen).toBe(1448)
    expect(hex(reemit6(bb, 44))).toBe(hex(fromHex(cap.frag6ReqB).subarray(0, 40)))
  })
})

describe('hostile input is dropped and counted', () => {
  it('IPv4', () => {
    const c = new Counters()
    const b = fromHex(cap.ping4Request)
    expect(parseIpv4(b, 0, 19, c)).toBeNull()
    expect(parseIpv4(b, 0, b.length - 1, c)).toBeNull() // shorter than total length
    expect(c.get('ipv4.truncated')).toBe(2)
    const bad = b.slice()
    bad[11] ^= 1
    expect(parseIpv4(bad, 0, bad.length, c)).toBeNull()
    expect(c.get('ipv4.bad_checksum')).toBe(1)
    const ihl = b.slice()
    ihl[0] = 0x44
    expect(parseIpv4(ihl, 0, ihl.length, c)).toBeNull()
    expect(c.get('ipv4.bad_header_len')).toBe(1)
    expect(parseIpv4(fromHex(cap.ping6Request), 0, 40, c)).toBeNull()
    expect(c.get('ipv4.bad_version')).toBe(1)
    // trailing padding beyond the total length is ignored
    const padded = new Uint8Array(b.length + 6)
    padded.set(b)
    expect(parseIpv4(padded, 0, padded.length)!.payloadLen).toBe(24)
  })
  it('IPv4 options are skipped', () => {
    // header with a 4-byte option (NOP NOP NOP EOL), IHL 6
    const b = new Uint8Array(32)
    b.set(fromHex('4600002000004000400100007f0000017f00000101010100'))
    b.set(fromHex('0800f7ff00000000'), 24)
    let s = 0
    for (let i = 0; i < 24; i += 2) s += (b[i] << 8) | b[i + 1]
    while (s > 0xffff) s = (s & 0xffff) + (s >> 16)
    b[10] = (~s >> 8) & 0xff
    b[11] = ~s & 0xff
    const r = parseIpv4(b, 0, 32)!
    expect([r.headerLen, r.payloadOffset, r.payloadLen]).toEqual([24, 24, 8])
    expect(parseIcmpv4(b, r.payloadOffset, r.payloadLen)!.type).toBe(Icmpv4Type.EchoRequest)
  })
  it('IPv6 extension headers', () => {
    const c = new Counters()
    const base = fromHex(cap.udp6Hello)
    const udp = base.subarray(40)
    // hop-by-hop (8) + destination options (8) + UDP
    const p = new Uint8Array(40 + 16 + udp.length)
    p.set(base.subarray(0, 40))
    p[4] = 0
    p[5] = 16 + udp.length
    p[6] = 0
    p.set([60, 0, 1, 4, 0, 0, 0, 0], 40) // HBH: next=DestOpts, PadN
    p.set([17, 0, 1, 4, 0, 0, 0, 0], 48) // DestOpts: next=UDP
    p.set(udp, 56)
    const r = parseIpv6(p, 0, p.length, c)!
    expect([r.nextHeader, r.payloadOffset, r.payloadLen]).toEqual([17, 56, udp.length])
    expect(parseUdp(p, r.payloadOffset, r.payloadLen, pseudoHeaderSum(r.src, r.dst, 17, r.payloadLen), c, true)).not.toBeNull()
    // an extension header that runs past the payload
    const q = p.slice()
    q[41] = 200
    expect(parseIpv6(q, 0, q.length, c)).toBeNull()
    // hop-by-hop not first
    const h = p.slice()
    h[40] = 0
    expect(parseIpv6(h, 0, h.length, c)).toBeNull()
    expect(c.get('ipv6.bad_ext_header')).toBe(2)
    expect(parseIpv6(p, 0, p.length - 1, c)).toBeNull()
    expect(c.get('ipv6.truncated')).toBe(1)
  })
  it('UDP zero checksum: allowed on IPv4, not IPv6', () => {
    const c = new Counters()
    const b = fromHex(cap.udp4Hello)
    b[26] = b[27] = 0
    expect(parseUdp(b, 20, b.length - 20, 12345, c)).not.toBeNull()
    expect(parseUdp(b, 20, b.length - 20, 12345, c, true)).toBeNull()
    const bad = fromHex(cap.udp4Hello)
    bad[30] ^= 0x20
    expect(parseUdp(bad, 20, bad.length - 20, pseudoHeaderSum(bad.subarray(12, 16), bad.subarray(16, 20), 17, 13), c)).toBeNull()
    expect(c.get('udp.bad_checksum')).toBe(2)
  })
  it('TCP malformed options and checksum', () => {
    const c = new Counters()
    const b = fromHex(cap.tcp4Syn)
    const t = b.subarray(20)
    const mut = (i: number, v: number) => {
      const x = t.slice()
      x[i] = v
      return x
    }
    expect(parseTcp(mut(21, 0), 0, t.length, null, c)).toBeNull() // MSS length 0
    expect(parseTcp(mut(21, 60), 0, t.length, null, c)).toBeNull() // runs past the header
    expect(parseTcp(mut(21, 3), 0, t.length, null, c)).toBeNull() // MSS must be 4
    expect(c.get('tcp.bad_option')).toBe(3)
    expect(parseTcp(mut(12, 0xf0), 0, t.length, null, c)).toBeNull() // data offset 60 > 40
    expect(c.get('tcp.bad_header_len')).toBe(1)
    expect(parseTcp(mut(4, 1), 0, t.length, pseudoHeaderSum(b.subarray(12, 16), b.subarray(16, 20), 6, 40), c)).toBeNull()
    expect(c.get('tcp.bad_checksum')).toBe(1)
    // an unknown option (kind 30, len 4) is skipped
    const u = mut(20, 30)
    expect(parseTcp(u, 0, u.length, null)!.options.mss).toBeUndefined()
  })
})
