import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { fromHex } from '../../../src/core/bytes.js'
import { FakeClock } from '../../../src/core/clock.js'
import { Counters } from '../../../src/core/counters.js'
import { Reassembler } from '../../../src/netstack/ip/reassembly.js'
import { pseudoHeaderSum } from '../../../src/netstack/wire/checksum.js'
import { parseIcmpv4, parseIcmpv6 } from '../../../src/netstack/wire/icmp.js'
import { emitIpv4Header, parseIpv4 } from '../../../src/netstack/wire/ipv4.js'
import { emitIpv6FragmentHeader, emitIpv6Header, parseIpv6 } from '../../../src/netstack/wire/ipv6.js'
import * as cap from '../wire/captures.js'

const SRC4 = new Uint8Array([10, 0, 0, 1])
const DST4 = new Uint8Array([10, 0, 0, 2])
const SRC6 = fromHex('fd000000000000000000000000000001')
const DST6 = fromHex('fd000000000000000000000000000002')

function frag4(ident: number, off: number, more: boolean, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(20 + data.length)
  emitIpv4Header({ src: SRC4, dst: DST4, protocol: 17, payloadLen: data.length, ident, fragOffset: off, moreFrags: more }, b, 0)
  b.set(data, 20)
  return b
}
function frag6(ident: number, off: number, more: boolean, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(48 + data.length)
  emitIpv6Header({ src: SRC6, dst: DST6, nextHeader: 44, payloadLen: 8 + data.length }, b, 0)
  emitIpv6FragmentHeader({ nextHeader: 17, offset: off, more, ident }, b, 40)
  b.set(data, 48)
  return b
}
function feed(r: Reassembler, pkt: Uint8Array): Uint8Array | null {
  if ((pkt[0] >> 4) === 4) return r.input4(parseIpv4(pkt, 0, pkt.length)!, pkt)
  return r.input6(parseIpv6(pkt, 0, pkt.length)!, pkt)
}
function setup() {
  const clock = new FakeClock()
  const counters = new Counters()
  return { clock, counters, r: new Reassembler({ clock, counters }) }
}

describe('IP reassembly', () => {
  it('reassembles the Linux-captured IPv4 fragments (either order) into a valid echo request', () => {
    for (const order of [[cap.frag4ReqA, cap.frag4ReqB], [cap.frag4ReqB, cap.frag4ReqA]]) {
      const { r } = setup()
      expect(feed(r, fromHex(order[0]))).toBeNull()
      const whole = feed(r, fromHex(order[1]))!
      const ip = parseIpv4(whole, 0, whole.length)!
      expect([ip.totalLen, ip.moreFrags, ip.fragOffset]).toEqual([2028, false, 0])
      const m = parseIcmpv4(whole, ip.payloadOffset, ip.payloadLen)! // checksum over all 2008 bytes
      expect(m.type).toBe(8)
      expect(m.data!.length).toBe(2000)
      expect(r.size).toBe(0)
      expect(r.heldBytes).toBe(0)
    }
  })
  it('reassembles the Linux-captured IPv6 fragments into a valid echo request', () => {
    const { r } = setup()
    expect(feed(r, fromHex(cap.frag6ReqB))).toBeNull()
    const whole = feed(r, fromHex(cap.frag6ReqA))!
    const ip = parseIpv6(whole, 0, whole.length)!
    expect(ip.fragment).toBeUndefined()
    expect([ip.nextHeader, ip.payloadLen]).toEqual([58, 2008])
    const m = parseIcmpv6(whole, ip.payloadOffset, ip.payloadLen, pseudoHeaderSum(ip.src, ip.dst, 58, ip.payloadLen))!
    expect(m.type).toBe(128)
  })
  it('any arrival order and duplicates give the same datagram (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.integer({ min: 1, max: 20 }), fc.boolean(), fc.infiniteStream(fc.nat()), (data, unit, v6, rnd) => {
        const size = unit * 8
        fc.pre(data.length > size) // at least two fragments (offset 0 without MF is not a fragment)
        const pieces: Uint8Array[] = []
        for (let o = 0; o < data.length; o += size) {
          const more = o + size < data.length
          const chunk = data.subarray(o, Math.min(o + size, data.length))
          pieces.push(v6 ? frag6(7, o, more, chunk) : frag4(7, o, more, chunk))
        }
        pieces.push(pieces[rnd.next().value % pieces.length]) // one duplicate
        const it = rnd
        for (let i = pieces.length - 1; i > 0; i--) {
          const j = it.next().value % (i + 1)
          ;[pieces[i], pieces[j]] = [pieces[j], pieces[i]]
        }
        const { r } = setup()
        let out: Uint8Array | null = null
        for (const p of pieces) {
          const res = feed(r, p)
          if (res) {
            expect(out).toBeNull()
            out = res
          }
        }
        expect(out).not.toBeNull()
        const hl = v6 ? 40 : 20
        expect([...out!.subarray(hl)]).toEqual([...data])
      }),
      { numRuns: 200 },
    )
  })
  it('drops overlapping fragments and the rest of that datagram (RFC 5722)', () => {
    for (const v6 of [false, true]) {
      const { r, counters } = setup()
      const f = v6 ? frag6 : frag4
      const d = new Uint8Array(64).fill(1)
      expect(feed(r, f(9, 0, true, d.subarray(0, 32)))).toBeNull()
      expect(feed(r, f(9, 16, true, d.subarray(0, 32)))).toBeNull() // overlaps [16, 32)
      expect(feed(r, f(9, 32, false, d.subarray(0, 32)))).toBeNull() // would complete: swallowed
      const fam = v6 ? 'ipv6' : 'ipv4'
      expect(counters.get(`${fam}.frag_overlap`)).toBe(2)
      expect(r.heldBytes).toBe(0)
    }
  })
  it('times out incomplete datagrams after 30 s', () => {
    const { r, counters, clock } = setup()
    feed(r, frag4(1, 0, true, new Uint8Array(8)))
    expect(r.heldBytes).toBe(8)
    clock.advance(29_999)
    expect(r.size).toBe(1)
    clock.advance(1)
    expect(r.size).toBe(0)
    expect(r.heldBytes).toBe(0)
    expect(counters.get('ipv4.frag_timeout')).toBe(1)
    // a late fragment starts a new (incomplete) datagram rather than completing the old one
    expect(feed(r, frag4(1, 8, false, new Uint8Array(8)))).toBeNull()
  })
  it('enforces the 65535 limit, the multiple-of-8 rule and the memory cap', () => {
    const clock = new FakeClock()
    const counters = new Counters()
    const r = new Reassembler({ clock, counters, maxBytes: 4096 })
    expect(feed(r, frag4(1, 65528, false, new Uint8Array(16)))).toBeNull()
    expect(counters.get('ipv4.frag_too_big')).toBe(1)
    expect(feed(r, frag6(1, 65528, false, new Uint8Array(16)))).toBeNull()
    expect(counters.get('ipv6.frag_too_big')).toBe(1)
    expect(feed(r, frag4(2, 0, true, new Uint8Array(12)))).toBeNull()
    expect(counters.get('ipv4.frag_bad_length')).toBe(1)
    for (let id = 10; id < 20; id++) feed(r, frag4(id, 0, true, new Uint8Array(1000)))
    expect(r.heldBytes).toBeLessThanOrEqual(4096)
    expect(counters.get('ipv4.frag_mem_evicted')).toBe(6)
    // the newest datagrams survive and still complete
    expect(feed(r, frag4(19, 1000, false, new Uint8Array(8)))).not.toBeNull()
    r.clear()
    expect(r.heldBytes).toBe(0)
  })
  it('keys by protocol and addresses: same ident from another source does not mix', () => {
    const { r } = setup()
    feed(r, frag4(5, 0, true, new Uint8Array(8).fill(1)))
    const rep = parseIpv4(frag4(5, 8, false, new Uint8Array(8).fill(2)), 0, 28)!
    rep.src = new Uint8Array([10, 0, 0, 9])
    expect(r.input4(rep, frag4(5, 8, false, new Uint8Array(8).fill(2)))).toBeNull()
    expect(r.size).toBe(2)
  })
})
