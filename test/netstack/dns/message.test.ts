import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { fromHex, hex } from '../../../src/core/bytes.js'
import {
  DnsRcode,
  DnsType,
  decodeName,
  encodeMessage,
  encodeName,
  encodeQuery,
  nameRdata,
  parseDnsMessage,
} from '../../../src/netstack/dns/message.js'

describe('DNS names', () => {
  it('encodes labels and rejects invalid names', () => {
    const b = new Uint8Array(300)
    const n = encodeName('www.Example.com.', b, 0)
    expect(hex(b.subarray(0, n))).toBe('03777777074578616d706c6503636f6d00')
    expect(encodeName('www.example.com', b, 0)).toBe(n)
    expect(encodeName('.', b, 0)).toBe(1)
    expect(encodeName('a..b', b, 0)).toBe(-1)
    expect(encodeName('.a', b, 0)).toBe(-1)
    expect(encodeName('x'.repeat(64) + '.com', b, 0)).toBe(-1)
    expect(encodeName('x'.repeat(63) + '.com', b, 0)).toBeGreaterThan(0)
    expect(encodeName(Array(64).fill('abc').join('.'), b, 0)).toBe(-1) // 256 octets
    expect(encodeName('bücher.de', b, 0)).toBe(-1)
    expect(encodeName('a\\.b.c', b, 0)).toBe(7) // one label "a.b"
  })

  it('decodes compression pointers and escapes odd bytes', () => {
    // 0: 03 'foo' 00 ; 5: 03 'bar' c0 00  → bar.foo
    const m = fromHex('03666f6f00' + '03626172c000')
    expect(decodeName(m, 5, m.length)).toEqual({ name: 'bar.foo', next: 11 })
    const odd = fromHex('03612e0200')
    expect(decodeName(odd, 0, odd.length)!.name).toBe('a\\.\\002')
  })

  it('refuses pointer loops, forward pointers and overlong names', () => {
    const self = fromHex('c000')
    expect(decodeName(self, 0, 2)).toBeNull()
    const fwd = fromHex('c00203616100')
    expect(decodeName(fwd, 0, fwd.length)).toBeNull()
    // a → pointer back into itself after one label: 01 61 c0 00
    const loop = fromHex('0161c000')
    expect(decodeName(loop, 0, loop.length)).toBeNull()
    // 2-byte ping-pong: 4: c0 06, 6: c0 04
    const pp = fromHex('00000000c006c004')
    expect(decodeName(pp, 6, pp.length)).toBeNull()
    expect(decodeName(pp, 4, pp.length)).toBeNull()
    // chain of pointers each adding a 63-byte label beyond 255 octets
    const parts: string[] = []
    let off = 0
    const offs: number[] = []
    for (let i = 0; i < 5; i++) {
      offs.push(off)
      parts.push('3f' + '61'.repeat(63) + (i === 0 ? '00' : 'c0' + offs[i - 1].toString(16).padStart(2, '0')))
      off += 64 + (i === 0 ? 1 : 2)
    }
    const big = fromHex(parts.join(''))
    expect(decodeName(big, offs[2], big.length)).not.toBeNull() // 3 labels: 193 octets
    expect(decodeName(big, offs[4], big.length)).toBeNull() // 5 labels: 321 octets
  })

  it('rejects extended label types and truncation', () => {
    expect(decodeName(fromHex('4161'), 0, 2)).toBeNull()
    expect(decodeName(fromHex('0561'), 0, 2)).toBeNull()
    expect(decodeName(fromHex('c0'), 0, 1)).toBeNull()
  })
})

describe('DNS messages', () => {
  it('encodes a query byte-exactly (RFC 1035 §4.1.1 layout)', () => {
    const q = encodeQuery(0xbeef, 'example.com', DnsType.AAAA)!
    expect(hex(q)).toBe('beef01000001000000000000' + '076578616d706c6503636f6d00' + '001c0001')
    const e = encodeQuery(1, 'a', DnsType.A, { ednsUdpSize: 1232 })!
    expect(hex(e)).toBe('000101000001000000000001' + '016100' + '00010001' + '00' + '0029' + '04d0' + '00000000' + '0000')
    expect(encodeQuery(1, 'a..b', DnsType.A)).toBeNull()
  })

  it('parses a compressed response with CNAME, A, AAAA and SOA', () => {
    // hand-built: question www.example.com A; answer www CNAME ptr→ example.com; A; authority SOA
    const hdr = '1234' + '8180' + '0001' + '0003' + '0001' + '0000'
    const qn = '03777777076578616d706c6503636f6d00' + '00010001' // at 12; example.com at 16
    const cname = 'c00c' + '0005' + '0001' + '0000012c' + '0002' + 'c010'
    const a = 'c010' + '0001' + '0001' + '0000003c' + '0004' + '5db8d822'
    const aaaa = 'c010' + '001c' + '0001' + '0000003c' + '0010' + '20010db8000000000000000000000001'
    const soaRd = '026e73c010' + '04726f6f74c010' + '00000001' + '00000002' + '00000003' + '00000004' + '0000001e'
    const soa = 'c010' + '0006' + '0001' + '00000e10' + (soaRd.length / 2).toString(16).padStart(4, '0') + soaRd
    const m = parseDnsMessage(fromHex(hdr + qn + cname + a + aaaa + soa))!
    expect(m).not.toBeNull()
    expect(m.id).toBe(0x1234)
    expect(m.qr && m.rd && m.ra && !m.tc && !m.aa).toBe(true)
    expect(m.rcode).toBe(DnsRcode.NOERROR)
    expect(m.questions).toEqual([{ name: 'www.example.com', type: 1, class: 1 }])
    expect(m.answers.map((r) => [r.name, r.type, r.ttl, r.target ?? r.address])).toEqual([
      ['www.example.com', 5, 300, 'example.com'],
      ['example.com', 1, 60, '93.184.216.34'],
      ['example.com', 28, 60, '2001:db8::1'],
    ])
    expect(m.authority[0].soaMinimum).toBe(30)
    expect(m.authority[0].ttl).toBe(3600)
  })

  it('round-trips encodeMessage through parseDnsMessage', () => {
    const raw = encodeMessage({
      id: 7,
      qr: true,
      tc: true,
      rcode: DnsRcode.NXDOMAIN,
      questions: [{ name: 'x.test', type: DnsType.A }],
      answers: [
        { name: 'x.test', type: DnsType.CNAME, ttl: 5, data: nameRdata('y.test')! },
        { name: 'y.test', type: DnsType.A, ttl: 0x80000000, data: new Uint8Array([10, 0, 0, 1]) },
      ],
    })!
    const m = parseDnsMessage(raw)!
    expect(m.tc).toBe(true)
    expect(m.rcode).toBe(3)
    expect(m.answers[0].target).toBe('y.test')
    expect(m.answers[1].address).toBe('10.0.0.1')
    expect(m.answers[1].ttl).toBe(0) // RFC 2181 §8
  })

  it('rejects bad A/AAAA lengths, truncated records and absurd counts', () => {
    const good = encodeMessage({
      id: 1,
      qr: true,
      questions: [{ name: 'a', type: 1 }],
      answers: [{ name: 'a', type: 1, ttl: 1, data: new Uint8Array(4) }],
    })!
    expect(parseDnsMessage(good)).not.toBeNull()
    for (let cut = 0; cut < good.length; cut++) expect(parseDnsMessage(good.subarray(0, cut))).toBeNull()
    const badLen = encodeMessage({ id: 1, qr: true, answers: [{ name: 'a', type: 1, ttl: 1, data: new Uint8Array(5) }] })!
    expect(parseDnsMessage(badLen)).toBeNull()
    const counts = fromHex('0001818000ff00ff00ff00ff')
    expect(parseDnsMessage(counts)).toBeNull()
    expect(parseDnsMessage(new Uint8Array(0))).toBeNull()
  })

  it('never throws on arbitrary bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        const m = parseDnsMessage(b)
        if (m) {
          expect(m.questions.length).toBe((b[4] << 8) | b[5])
          for (const r of m.answers) if (r.type === 1 && r.class === 1) expect(r.address).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
        }
      }),
      { numRuns: 3000 },
    )
  })

  it('never throws on mutated valid responses, and decoded names re-encode (fast-check)', () => {
    const base = encodeMessage({
      id: 9,
      qr: true,
      questions: [{ name: 'www.example.com', type: 1 }],
      answers: [
        { name: 'www.example.com', type: 5, ttl: 9, data: nameRdata('cdn.example.net')! },
        { name: 'cdn.example.net', type: 1, ttl: 9, data: new Uint8Array([1, 2, 3, 4]) },
      ],
    })!
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat({ max: base.length }),
        (muts, cut) => {
          const b = base.slice(0, Math.max(cut, 12))
          for (const [i, v] of muts) if (i < b.length) b[i] = v
          const m = parseDnsMessage(b)
          if (!m) return
          const tmp = new Uint8Array(300)
          for (const q of m.questions) expect(encodeName(q.name, tmp, 0)).toBeGreaterThan(0)
          for (const r of m.answers) if (r.target !== undefined) expect(encodeName(r.target, tmp, 0)).toBeGreaterThan(0)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('round-trips arbitrary label bytes through escapes (fast-check)', () => {
    const label = fc.uint8Array({ minLength: 1, maxLength: 20 })
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 5 }), (labels) => {
        let wire = ''
        for (const l of labels) wire += l.length.toString(16).padStart(2, '0') + hex(l)
        const b = fromHex(wire + '00')
        const d = decodeName(b, 0, b.length)!
        const re = new Uint8Array(300)
        const n = encodeName(d.name, re, 0)
        // bytes > 0x7f are escaped as \DDD and so survive the round trip as well
        expect(hex(re.subarray(0, n))).toBe(hex(b))
      }),
      { numRuns: 1000 },
    )
  })
})
