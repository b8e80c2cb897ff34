import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { isIP } from 'node:net'
import { cidrContains, formatIp, ipEquals, ipFamily, parseCidr, parseIp } from '../../../src/netstack/addr.js'

describe('addr', () => {
  it('parses IPv4', () => {
    expect([...parseIp('10.8.0.2')!]).toEqual([10, 8, 0, 2])
    expect([...parseIp('255.255.255.255')!]).toEqual([255, 255, 255, 255])
    for (const bad of ['10.8.0', '10.8.0.2.1', '256.0.0.1', '1..2.3', '01.2.3.4', ' 1.2.3.4', '1.2.3.4/8', '', 'a.b.c.d'])
      expect(parseIp(bad), bad).toBeNull()
  })
  it('parses IPv6 with ::, embedded IPv4 and mixed case', () => {
    expect(formatIp(parseIp('::')!)).toBe('::')
    expect(formatIp(parseIp('::1')!)).toBe('::1')
    expect(formatIp(parseIp('FD00:0:0:0:0:0:0:2')!)).toBe('fd00::2')
    expect(formatIp(parseIp('2001:db8::ffff:1.2.3.4')!)).toBe('2001:db8::ffff:102:304')
    expect(formatIp(parseIp('::ffff:10.0.0.1')!)).toBe('::ffff:10.0.0.1')
    expect([...parseIp('1:2:3:4:5:6:7:8')!.subarray(14)]).toEqual([0, 8])
    for (const bad of [':::', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', ':1', '1:', 'g::1', '1:2:3:4:5:6:7', '::1.2.3', '1.2.3.4::', 'fe80::1%eth0'])
      expect(parseIp(bad), bad).toBeNull()
  })
  it('formats IPv6 per RFC 5952', () => {
    expect(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1') // first longest run
    expect(formatIp(parseIp('2001:db8:0:1:1:1:1:1')!)).toBe('2001:db8:0:1:1:1:1:1') // single 0 not compressed
    expect(formatIp(parseIp('2001:0db8:0000:0000:0000:0000:0002:0001')!)).toBe('2001:db8::2:1')
    expect(formatIp(parseIp('2001:db8:0:0:0:1:0:0')!)).toBe('2001:db8::1:0:0')
    expect(formatIp(parseIp('1::')!)).toBe('1::')
  })
  it('agrees with node:net on random addresses (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (s) => {
        const b = parseIp(s)
        expect(b).not.toBeNull()
        expect(ipFamily(s)).toBe(isIP(s))
        const f = formatIp(b!)
        expect(ipEquals(parseIp(f)!, b!)).toBe(true)
        expect(formatIp(parseIp(f)!)).toBe(f) // canonical is a fixed point
      }),
      { numRuns: 500 },
    )
  })
  it('never throws on junk (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (s) => {
        const b = parseIp(s)
        if (b) expect(isIP(s)).not.toBe(0)
        parseCidr(s)
      }),
    )
  })
  it('CIDRs', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8 })
    expect(parseCidr('fd00::2')).toEqual({ address: 'fd00::2', prefix: 128 })
    expect(parseCidr('10.0.0.0/33')).toBeNull()
    expect(parseCidr('10.0.0.0/')).toBeNull()
    const c = parseCidr('10.8.0.0/14')!
    expect(cidrContains(c, parseIp('10.11.255.255')!)).toBe(true)
    expect(cidrContains(c, parseIp('10.12.0.0')!)).toBe(false)
    expect(cidrContains(c, parseIp('::ffff:10.8.0.1')!)).toBe(false) // families never match
    expect(cidrContains(parseCidr('0.0.0.0/0')!, parseIp('1.2.3.4')!)).toBe(true)
    expect(cidrContains(parseCidr('fd00::/63')!, parseIp('fd00:0:0:1::9')!)).toBe(true)
    expect(cidrContains(parseCidr('fd00::/64')!, parseIp('fd00:0:0:1::9')!)).toBe(false)
    expect(cidrContains({ address: 'nonsense', prefix: 0 }, parseIp('1.2.3.4')!)).toBe(false)
  })
})
