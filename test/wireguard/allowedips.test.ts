import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { AllowedIps } from '../../src/wireguard/allowedips.js'
import { cidrContains, parseCidr, parseIp } from '../../src/netstack/addr.js'

const c = (s: string) => parseCidr(s)!
const ip = (s: string) => parseIp(s)!

describe('AllowedIps longest-prefix match', () => {
  it('picks the most specific prefix (IPv4 and IPv6 kept apart)', () => {
    const t = new AllowedIps<string>()
    t.insert(c('0.0.0.0/0'), 'default4')
    t.insert(c('10.0.0.0/8'), 'ten')
    t.insert(c('10.1.0.0/16'), 'ten-one')
    t.insert(c('10.1.2.3/32'), 'host')
    t.insert(c('fd00::/8'), 'ula')
    t.insert(c('fd00:1::/32'), 'ula1')
    expect(t.lookup(ip('192.0.2.1'))).toBe('default4')
    expect(t.lookup(ip('10.200.0.1'))).toBe('ten')
    expect(t.lookup(ip('10.1.9.9'))).toBe('ten-one')
    expect(t.lookup(ip('10.1.2.3'))).toBe('host')
    expect(t.lookup(ip('10.1.2.4'))).toBe('ten-one')
    expect(t.lookup(ip('fd00:1::5'))).toBe('ula1')
    expect(t.lookup(ip('fd99::5'))).toBe('ula')
    expect(t.lookup(ip('2001:db8::1'))).toBeUndefined() // no ::/0
  })

  it('looks up inside a packet buffer at an offset', () => {
    const t = new AllowedIps<number>()
    t.insert(c('10.9.0.0/24'), 1)
    const pkt = new Uint8Array(20)
    pkt.set([10, 9, 0, 7], 16)
    expect(t.lookup(pkt, 16, 4)).toBe(1)
    expect(t.lookup(pkt, 12, 4)).toBeUndefined()
  })

  it('a later insert of the same prefix replaces the owner; removeValue drops a peer', () => {
    const t = new AllowedIps<string>()
    t.insert(c('10.0.0.0/8'), 'a')
    t.insert(c('10.0.0.0/8'), 'b')
    expect(t.lookup(ip('10.1.1.1'))).toBe('b')
    t.insert(c('10.1.0.0/16'), 'a')
    t.removeValue('b')
    expect(t.lookup(ip('10.2.1.1'))).toBeUndefined()
    expect(t.lookup(ip('10.1.1.1'))).toBe('a')
  })

  it('agrees with a linear scan over random tables', () => {
    const v4 = fc.tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }))
    fc.assert(
      fc.property(fc.array(v4, { maxLength: 30 }), fc.array(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), { maxLength: 30 }), (entries, probes) => {
        const t = new AllowedIps<number>()
        const list: { cidr: ReturnType<typeof c>; v: number }[] = []
        entries.forEach(([a, p], i) => {
          const cidr = { address: a.join('.'), prefix: p }
          t.insert(cidr, i)
          list.push({ cidr, v: i })
        })
        for (const pr of probes) {
          const b = Uint8Array.from(pr)
          let best: { p: number; v: number } | undefined
          for (const e of list) if (cidrContains(e.cidr, b) && (!best || e.cidr.prefix >= best.p)) best = { p: e.cidr.prefix, v: e.v }
          expect(t.lookup(b)).toBe(best?.v)
        }
      }),
    )
  })
})
