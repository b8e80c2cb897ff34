// Property tests: every decoder survives random bytes (never throws, stays in bounds) and
// emit → parse round-trips. ip-packet is an independent oracle for IPv4 encoding/decoding.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createRequire } from 'node:module'
import { Counters } from '../../../src/core/counters.js'
import { formatIp } from '../../../src/netstack/addr.js'
import { pseudoHeaderSum } from '../../../src/netstack/wire/checksum.js'
import { emitIcmpv4, emitIcmpv6, parseIcmpv4, parseIcmpv6, type IcmpRepr } from '../../../src/netstack/wire/icmp.js'
import { emitIpv4Header, parseIpv4 } from '../../../src/netstack/wire/ipv4.js'
import { emitIpv6Header, parseIpv6 } from '../../../src/netstack/wire/ipv6.js'
import { emitTcp, parseTcp, tcpHeaderLen } from '../../../src/netstack/wire/tcp.js'
import { emitUdp, parseUdp } from '../../../src/netstack/wire/udp.js'
import type { TcpSegment } from '../../../src/netstack/tcp/types.js'

const require = createRequire(import.meta.url)
const ipPacket = require('ip-packet') as {
  encode(state: { buffer: Buffer; start: number; end: number }, p: Record<string, unknown>): void
  decode(state: { buffer: Buffer; start: number; end: number }): Record<string, unknown> & { data: Buffer }
  checksum(b: Buffer): number
}

const addr4 = fc.uint8Array({ minLength: 4, maxLength: 4 })
const addr6 = fc.uint8Array({ minLength: 16, maxLength: 16 })
const u32 = fc.nat().map((x) => x >>> 0)
const runs = { numRuns: 400 }

describe('decoders never throw on random bytes', () => {
  it('all parsers, with and without checksums', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(8), fc.boolean(), (b, skip, withSum) => {
        const c = new Counters()
        const off = Math.min(skip, b.length)
        const len = b.length - off
        const ps = withSum ? 1234 : null
        const v6 = parseIpv6(b, off, len, c)
        const t = parseTcp(b, off, len, ps, c)
        const res = [
          parseIpv4(b, off, len, c),
          v6,
          t,
          parseUdp(b, off, len, ps, c),
          parseUdp(b, off, len, ps, c, true),
          parseIcmpv4(b, off, len, c),
          parseIcmpv6(b, off, len, ps, c),
        ]
        if (v6) expect(v6.payloadOffset + v6.payloadLen).toBeLessThanOrEqual(b.length)
        if (t) expect(t.payload.byteOffset + t.payload.length).toBeLessThanOrEqual(b.byteOffset + b.length)
        // every null is counted
        const nulls = res.filter((r) => r === null).length
        const counted = Object.values(c.snapshot()).reduce((a, x) => a + x, 0)
        expect(counted).toBe(nulls)
      }),
      { numRuns: 2000 },
    )
  })
  it('IPv6 with random extension-header chains', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(0, 43, 44, 51, 60, 6, 17, 58, 59), { maxLength: 10 }), fc.uint8Array({ maxLength: 120 }), (chain, body) => {
        const b = new Uint8Array(40 + body.length)
        b[0] = 0x60
        b[4] = body.length >> 8
        b[5] = body.length & 0xff
        b[6] = chain[0] ?? 59
        b.set(body, 40)
        let p = 40
        for (let i = 1; i < chain.length && p + 2 <= b.length; i++) {
          b[p] = chain[i]
          p += chain[i - 1] === 51 ? (b[p + 1] + 2) * 4 : (b[p + 1] + 1) * 8
        }
        const r = parseIpv6(b, 0, b.length, new Counters())
        if (r) expect(r.payloadOffset + r.payloadLen).toBe(b.length)
      }),
      runs,
    )
  })
})

describe('emit → parse round-trips', () => {
  it('IPv4 header, cross-checked with ip-packet', () => {
    fc.assert(
      fc.property(addr4, addr4, fc.nat(255), fc.nat(0xffff), fc.integer({ min: 1, max: 255 }), fc.nat(255), fc.boolean(), fc.uint8Array({ maxLength: 300 }),
        (src, dst, protocol, ident, ttl, tos, dontFrag, payload) => {
          const b = new Uint8Array(20 + payload.length)
          expect(emitIpv4Header({ src, dst, protocol, payloadLen: payload.length, ttl, tos, ident, dontFrag }, b, 0)).toBe(20)
          b.set(payload, 20)
          const r = parseIpv4(b, 0, b.length)!
          expect(r).not.toBeNull()
          expect([...r.src, ...r.dst]).toEqual([...src, ...dst])
          expect([r.protocol, r.ident, r.ttl, r.tos, r.dontFrag, r.moreFrags, r.fragOffset, r.payloadLen]).toEqual([protocol, ident, ttl, tos, dontFrag, false, 0, payload.length])
          // oracle: ip-packet decodes our bytes and encodes the same bytes from its own view
          const buf = Buffer.from(b)
          const d = ipPacket.decode({ buffer: buf, start: 0, end: buf.length })
          expect(d.sourceIp).toBe(formatIp(src))
          expect(d.destinationIp).toBe(formatIp(dst))
          expect([d.protocol, d.identification, d.ttl, d.flags, d.dscp, d.ecn]).toEqual([protocol, ident, ttl, dontFrag ? 2 : 0, tos >> 2, tos & 3])
          expect(d.checksum).toBe(ipPacket.checksum(Buffer.from(b)))
          const enc = Buffer.alloc(b.length)
          ipPacket.encode({ buffer: enc, start: 0, end: enc.length }, d)
          expect(Buffer.compare(enc, buf)).toBe(0)
          // and our parser accepts what ip-packet encodes from scratch
          const fresh = Buffer.alloc(20 + payload.length)
          ipPacket.encode({ buffer: fresh, start: 0, end: fresh.length }, { version: 4, ttl, protocol, identification: ident, flags: 2, sourceIp: formatIp(src), destinationIp: formatIp(dst), data: Buffer.from(payload) })
          ipPacket.checksum(fresh)
          const r2 = parseIpv4(fresh, 0, fresh.length)!
          expect([r2.ident, r2.dontFrag, r2.payloadLen]).toEqual([ident, true, payload.length])
        }),
      runs,
    )
  })
  it('IPv6 header', () => {
    fc.assert(
      fc.property(addr6, addr6, fc.constantFrom(6, 17, 58), fc.nat(255), fc.nat(255), fc.nat(0xfffff), fc.nat(200), (src, dst, nextHeader, hopLimit, trafficClass, flowLabel, plen) => {
        const b = new Uint8Array(40 + plen)
        emitIpv6Header({ src, dst, nextHeader, payloadLen: plen, hopLimit, trafficClass, flowLabel }, b, 0)
        const r = parseIpv6(b, 0, b.length)!
        expect([r.nextHeader, r.hopLimit, r.trafficClass, r.flowLabel, r.payloadLen, r.payloadOffset]).toEqual([nextHeader, hopLimit, trafficClass, flowLabel, plen, 40])
        expect([...r.src, ...r.dst]).toEqual([...src, ...dst])
      }),
      runs,
    )
  })
  const options = fc.record(
    {
      mss: fc.nat(0xffff),
      wscale: fc.nat(14),
      sackPermitted: fc.constant(true),
      sack: fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 4 }),
      tsVal: u32,
    },
    { requiredKeys: [] },
  )
  it('TCP segment with any combination of options (IPv4 and IPv6 pseudo-headers)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.tuple(addr4, addr4), fc.tuple(addr6, addr6)), fc.nat(0xffff), fc.nat(0xffff), u32, u32, fc.nat(255), fc.nat(0xffff), options, u32, fc.uint8Array({ maxLength: 100 }),
        ([src, dst], sp, dp, seq, ack, flags, window, opts, ecr, payload) => {
          const o = { ...opts, ...(opts.tsVal !== undefined ? { tsEcr: ecr } : {}) }
          const seg: TcpSegment = { srcPort: sp, dstPort: dp, seq, ack, flags, window, urgent: 0, options: o, payload }
          const hl = tcpHeaderLen(seg)
          expect(hl % 4).toBe(0)
          expect(hl).toBeLessThanOrEqual(60)
          const b = new Uint8Array(hl + payload.length + 3)
          const ps = pseudoHeaderSum(src, dst, 6, hl + payload.length)
          expect(emitTcp(seg, b, 3, ps)).toBe(hl + payload.length)
          const p = parseTcp(b, 3, hl + payload.length, ps)!
          expect(p).not.toBeNull()
          expect([p.srcPort, p.dstPort, p.seq, p.ack, p.flags, p.window]).toEqual([sp, dp, seq, ack, flags, window])
          expect([...p.payload]).toEqual([...payload])
          const want = { ...o }
          // SACK blocks are cut to what fits in 40 option bytes
          if (want.sack) {
            const fixed = (want.mss !== undefined ? 4 : 0) + (want.wscale !== undefined ? 4 : 0) + (want.tsVal !== undefined ? 12 : 0) + (want.sackPermitted ? (want.tsVal !== undefined ? 0 : 4) : 0)
            const n = Math.min(want.sack.length, Math.floor((40 - fixed - 4) / 8))
            if (n > 0) want.sack = want.sack.slice(0, n)
            else delete want.sack
          }
          expect(p.options).toEqual(want)
        }),
      runs,
    )
  })
  it('UDP datagram', () => {
    fc.assert(
      fc.property(fc.oneof(fc.tuple(addr4, addr4), fc.tuple(addr6, addr6)), fc.nat(0xffff), fc.nat(0xffff), fc.uint8Array({ maxLength: 300 }), ([src, dst], srcPort, dstPort, payload) => {
        const b = new Uint8Array(8 + payload.length)
        const ps = pseudoHeaderSum(src, dst, 17, b.length)
        emitUdp({ srcPort, dstPort, payload }, b, 0, ps)
        expect(b[6] | b[7]).not.toBe(0) // never "no checksum"
        const u = parseUdp(b, 0, b.length, ps, undefined, src.length === 16)!
        expect([u.srcPort, u.dstPort, [...u.payload]]).toEqual([srcPort, dstPort, [...payload]])
      }),
      runs,
    )
  })
  it('ICMPv4 and ICMPv6 messages', () => {
    const repr = fc.oneof(
      fc.record({ type: fc.constantFrom(0, 8), code: fc.constant(0), ident: fc.nat(0xffff), seq: fc.nat(0xffff), data: fc.uint8Array({ maxLength: 64 }) }),
      fc.record({ type: fc.constant(3), code: fc.constantFrom(0, 1, 3, 13), invoking: fc.uint8Array({ maxLength: 64 }) }),
      fc.record({ type: fc.constant(3), code: fc.constant(4), mtu: fc.nat(0xffff), invoking: fc.uint8Array({ maxLength: 64 }) }),
      fc.record({ type: fc.constant(11), code: fc.constantFrom(0, 1), invoking: fc.uint8Array({ maxLength: 64 }) }),
    )
    fc.assert(
      fc.property(repr, (r: IcmpRepr) => {
        const b = new Uint8Array(8 + (r.data ?? r.invoking!).length)
        expect(emitIcmpv4(r, b, 0)).toBe(b.length)
        expect(parseIcmpv4(b, 0, b.length)).toEqual(r)
      }),
      runs,
    )
    const repr6 = fc.oneof(
      fc.record({ type: fc.constantFrom(128, 129), code: fc.constant(0), ident: fc.nat(0xffff), seq: fc.nat(0xffff), data: fc.uint8Array({ maxLength: 64 }) }),
      fc.record({ type: fc.constantFrom(1, 3), code: fc.nat(6), invoking: fc.uint8Array({ maxLength: 64 }) }),
      fc.record({ type: fc.constant(2), code: fc.constant(0), mtu: u32, invoking: fc.uint8Array({ maxLength: 64 }) }),
    )
    fc.assert(
      fc.property(addr6, addr6, repr6, (src, dst, r: IcmpRepr) => {
        const n = 8 + (r.data ?? r.invoking!).length
        const b = new Uint8Array(n)
        const ps = pseudoHeaderSum(src, dst, 58, n)
        expect(emitIcmpv6(r, b, 0, ps)).toBe(n)
        expect(parseIcmpv6(b, 0, n, ps)).toEqual(r)
        b[n - 1] ^= 0x5a
        expect(parseIcmpv6(b, 0, n, ps)).toBeNull() // any bit flip breaks the checksum
      }),
      runs,
    )
  })
})
