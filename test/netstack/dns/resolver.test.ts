import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FakeClock } from '../../../src/core/clock.js'
import { BurrowError } from '../../../src/core/errors.js'
import { DnsRcode, DnsType, encodeMessage } from '../../../src/netstack/dns/message.js'
import { DnsResolver, parseServer } from '../../../src/netstack/dns/resolver.js'
import { basic, drive, FakeNet, rejection, reply, rr, setup, zone } from './harness.js'

describe('DnsResolver', () => {
  it('parses server strings', () => {
    expect(parseServer('10.0.0.1')).toEqual({ address: '10.0.0.1', port: 53 })
    expect(parseServer('10.0.0.1:5353')).toEqual({ address: '10.0.0.1', port: 5353 })
    expect(parseServer('[fd00::0:1]:54')).toEqual({ address: 'fd00::1', port: 54 })
    expect(parseServer('fd00::1')).toEqual({ address: 'fd00::1', port: 53 })
    expect(parseServer('dns.google')).toBeNull()
    expect(parseServer('1.2.3.4:0')).toBeNull()
  })

  it('answers IP literals, localhost and hosts entries without the network', async () => {
    const { net, look } = setup(basic, { hosts: { 'Router.LAN': ['192.168.1.1', 'fd00::1'] } })
    expect(await look('10.1.2.3')).toEqual(['10.1.2.3'])
    expect(await look('[fd00::2]')).toEqual(['fd00::2'])
    expect(await look('localhost')).toEqual(['127.0.0.1', '::1'])
    expect(await look('db.localhost.', 6)).toEqual(['::1'])
    expect(await look('router.lan')).toEqual(['192.168.1.1', 'fd00::1'])
    expect(await look('router.lan', 6)).toEqual(['fd00::1'])
    expect(net.sent).toHaveLength(0)
  })

  it('queries A and AAAA per family, IPv4 first, with random IDs and source ports', async () => {
    const { net, look } = setup(basic)
    expect(await look('www.example.com')).toEqual(['192.0.2.1', '192.0.2.2', '2001:db8::1'])
    expect(net.sent.map((s) => s.q.questions[0].type)).toEqual([DnsType.A, DnsType.AAAA])
    expect(await look('v4only.example.com', 4)).toEqual(['192.0.2.9'])
    expect(await look('www.example.com', 6)).toEqual(['2001:db8::1']) // cached
    const ids = new Set(net.sent.map((s) => s.q.id))
    const ports = new Set(net.sent.map((s) => s.localPort))
    expect(ids.size).toBe(net.sent.length)
    expect(ports.size).toBe(net.sent.length)
    for (const s of net.sent) expect(s.localPort).toBeGreaterThanOrEqual(49152)
    expect(net.openSockets).toBe(0)
  })

  it('follows CNAME chains inside the answer; the TTL is the chain minimum', async () => {
    const { clock, net, look } = setup(basic)
    expect(await look('alias.example.com', 4)).toEqual(['192.0.2.1', '192.0.2.2'])
    const n = net.sent.length
    clock.advance(49_000)
    expect(await look('alias.example.com', 4)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(net.sent.length).toBe(n)
    clock.advance(2_000) // past the 50 s CNAME TTL
    await look('alias.example.com', 4)
    expect(net.sent.length).toBe(n + 1)
  })

  it('fails over to the next server on timeout and rotates through attempts', async () => {
    const { clock, net, look } = setup((q, server) => (server === '10.0.0.53' ? null : basic(q, server, 'udp')))
    const t0 = clock.now()
    expect(await look('www.example.com', 4)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(net.sent.map((s) => s.server)).toEqual(['10.0.0.53', '10.0.1.53'])
    expect(net.sent[1].at - t0).toBe(2000)
    expect(net.openSockets).toBe(0)
  })

  it('rejects with ETIMEDOUT after attempts × servers tries', async () => {
    const { clock, net, r } = setup(() => null, { attempts: 2, timeoutMs: 1500 })
    const t0 = clock.now()
    const e = await rejection(drive(clock, r.lookup('www.example.com', 4)))
    expect(e).toBeInstanceOf(BurrowError)
    expect(e.code).toBe('ETIMEDOUT')
    expect(net.sent.map((s) => s.server)).toEqual(['10.0.0.53', '10.0.1.53', '10.0.0.53', '10.0.1.53'])
    expect(clock.now() - t0).toBe(6000)
    expect(r.counters.get('dns.timeout')).toBe(4)
  })

  it('moves on at once after an ICMP error and after SERVFAIL; NXDOMAIN is final', async () => {
    const seq: string[] = []
    const { clock, net, r, look } = setup((q, server) => {
      seq.push(server)
      if (server === '10.0.0.53') return 'icmp'
      return reply(q, { rcode: DnsRcode.SERVFAIL })
    })
    const t0 = clock.now()
    const e = await rejection(look('www.example.com', 4))
    expect(e.code).toBe('ENOTFOUND')
    expect(e.message).toContain('SERVFAIL')
    expect(net.sent).toHaveLength(4)
    expect(clock.now() - t0).toBeLessThan(100)
    expect(r.counters.get('dns.server_fail')).toBe(4)
    const nx = setup(basic)
    const e2 = await rejection(nx.look('nope.example.com', 4))
    expect(e2.code).toBe('ENOTFOUND')
    expect(nx.net.sent).toHaveLength(1)
  })

  it('retries truncated answers over TCP with length framing', async () => {
    const { net, r, look } = setup((q, server, via) => (via === 'udp' ? reply(q, { tc: true }) : basic(q, server, via)))
    expect(await look('www.example.com', 6)).toEqual(['2001:db8::1'])
    expect(net.sent.map((s) => s.via)).toEqual(['udp', 'tcp'])
    expect(r.counters.get('dns.truncated')).toBe(1)
  })

  it('ignores malformed, spoofed-ID, wrong-question and wrong-source answers', async () => {
    const { r, look } = setup((q) => {
      const good = basic(q, '10.0.0.53', 'udp') as Uint8Array
      const otherQ = encodeMessage({ id: q.id, qr: true, questions: [{ name: 'evil.test', type: q.questions[0].type }], answers: [rr('evil.test', 1, 9, '6.6.6.6')] })!
      const spoofed = reply(q, { id: q.id ^ 0x5555, answers: [rr('www.example.com', 1, 300, '6.6.6.6')] })
      const wrongSrc = reply(q, { answers: [rr('www.example.com', 1, 300, '6.6.6.6')] })
      return [
        { data: new Uint8Array([1, 2, 3]), delay: 1 },
        { data: spoofed, delay: 2 },
        { data: otherQ, delay: 3 },
        { data: wrongSrc, delay: 4, from: { address: '10.9.9.9', port: 53 } },
        { data: wrongSrc, delay: 4, from: { address: '10.0.0.53', port: 5353 } },
        { data: good, delay: 10 },
      ]
    })
    expect(await look('www.example.com', 4)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(r.counters.get('dns.malformed')).toBe(1)
    expect(r.counters.get('dns.id_mismatch')).toBe(1)
    expect(r.counters.get('dns.question_mismatch')).toBe(1)
    expect(r.counters.get('dns.wrong_source')).toBe(2)
  })

  it('applies search domains per ndots', async () => {
    const z = zone({
      'host.corp.test': [[DnsType.A, '10.1.1.1']],
      'a.b': [[DnsType.A, '10.2.2.2']],
      'a.b.corp.test': [[DnsType.A, '10.3.3.3']],
    })
    const { net, look } = setup(z, { searchDomains: ['eng.corp.test', 'corp.test'] })
    expect(await look('host', 4)).toEqual(['10.1.1.1'])
    expect(net.sent.map((s) => s.q.questions[0].name)).toEqual(['host.eng.corp.test', 'host.corp.test'])
    net.sent = []
    expect(await look('a.b', 4)).toEqual(['10.2.2.2']) // 1 dot ≥ ndots 1: as-is first
    expect(net.sent.map((s) => s.q.questions[0].name)).toEqual(['a.b'])
    const two = setup(z, { searchDomains: ['eng.corp.test', 'corp.test'], ndots: 2 })
    expect(await two.look('a.b', 4)).toEqual(['10.3.3.3'])
    expect(two.net.sent.map((s) => s.q.questions[0].name)).toEqual(['a.b.eng.corp.test', 'a.b.corp.test'])
    two.net.sent = []
    expect(await two.look('a.b.', 4)).toEqual(['10.2.2.2']) // absolute: no search
    expect(two.net.sent.map((s) => s.q.questions[0].name)).toEqual(['a.b'])
  })

  it('caches answers for min(ttl, cap) and negative answers briefly', async () => {
    const { clock, net, look, r } = setup(
      zone({ 'long.test': [[DnsType.A, '10.0.0.7', 86400]], 'short.test': [[DnsType.A, '10.0.0.8', 30]] }),
      { maxCacheTtlMs: 60_000, negativeTtlMs: 5_000 },
    )
    await look('long.test', 4)
    await look('short.test', 4)
    await look('short.test', 4)
    expect(net.sent).toHaveLength(2)
    clock.advance(31_000)
    await look('short.test', 4)
    await look('long.test', 4)
    expect(net.sent).toHaveLength(3)
    clock.advance(30_000) // long.test hits the 60 s cap
    await look('long.test', 4)
    expect(net.sent).toHaveLength(4)
    await rejection(look('missing.test', 4))
    await rejection(look('missing.test', 4))
    expect(net.sent).toHaveLength(5)
    clock.advance(5_001)
    await rejection(look('missing.test', 4))
    expect(net.sent).toHaveLength(6)
    expect(r.counters.get('dns.cache_hit')).toBe(3)
  })

  it('shares one in-flight query between concurrent lookups', async () => {
    const { clock, net, r } = setup(basic)
    const all = Promise.all([r.lookup('www.example.com'), r.lookup('WWW.example.com'), r.lookup('www.example.com', 4)])
    const res = await drive(clock, all)
    expect(res[0]).toEqual(['192.0.2.1', '192.0.2.2', '2001:db8::1'])
    expect(res[1]).toEqual(res[0])
    expect(res[2]).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(net.sent).toHaveLength(2)
  })

  it('drops EDNS after FORMERR and asks again', async () => {
    const { net, look } = setup((q, s, via) => (q.additionalCount > 0 ? reply(q, { rcode: DnsRcode.FORMERR }) : basic(q, s, via)))
    expect(await look('www.example.com', 4)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(net.sent.map((s) => s.q.additionalCount)).toEqual([1, 0])
  })

  it('survives CNAME loops and random answer sections (fast-check)', async () => {
    const loop = setup((q) =>
      reply(q, {
        answers: [rr(q.questions[0].name, DnsType.CNAME, 60, 'b.test'), rr('b.test', DnsType.CNAME, 60, q.questions[0].name)],
      }),
    )
    expect((await rejection(loop.look('a.test', 4))).code).toBe('ENOTFOUND')
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 3 }), async (junk, rcode) => {
        const { look } = setup((q) => {
          const head = reply(q, { rcode })
          // header claims one more answer; the bytes after the question are attacker-controlled
          const b = new Uint8Array(head.length + junk.length)
          b.set(head)
          b.set(junk, head.length)
          b[7] = 1
          return b
        }, { attempts: 1, servers: ['10.0.0.53'] })
        try {
          const out = await look('x.test', 0)
          for (const a of out) expect(a).toMatch(/^[0-9.]+$|:/)
        } catch (e) {
          expect(['ENOTFOUND', 'ETIMEDOUT']).toContain((e as BurrowError).code)
        }
      }),
      { numRuns: 150 },
    )
  })

  it('reports no servers and invalid names as ENOTFOUND', async () => {
    const clock = new FakeClock()
    const net = new FakeNet(clock, basic)
    const none = new DnsResolver({ servers: [], clock, udp: net.udp, tcp: net.tcp })
    expect((await rejection(none.lookup('www.example.com'))).code).toBe('ENOTFOUND')
    const { look } = setup(basic)
    expect((await rejection(look('a..b'))).code).toBe('ENOTFOUND')
    expect((await rejection(look(''))).code).toBe('ENOTFOUND')
  })
})
