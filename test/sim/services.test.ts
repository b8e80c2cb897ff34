// Ping, UDP and DNS between two real NetStacks over the simulated link.
import { describe, expect, it } from 'vitest'
import type { BurrowError } from '../../src/core/errors.js'
import { settle, simPair, startDnsServer } from './helpers.js'

describe('simulation: ping, UDP and DNS over the lossy link', () => {
  it('pings both ways over IPv4 and IPv6 with the link RTT; a dead link times out', async () => {
    const { clock, link, a, b } = simPair({ seed: 11, delayMs: 10 })
    expect(await settle(clock, a.ping('10.0.0.2'))).toBe(20)
    expect(await settle(clock, b.ping('10.0.0.1', { size: 1000 }))).toBe(20)
    expect(await settle(clock, a.ping('fd00::2'))).toBe(20)
    expect(await settle(clock, b.ping('fd00::1'))).toBe(20)
    link.a.down = true
    const e = await settle(clock, a.ping('10.0.0.2', { timeoutMs: 500 })).catch((x: BurrowError) => x)
    expect((e as BurrowError).code).toBe('ETIMEDOUT')
  })

  it('echoes UDP datagrams through 5% loss; losses match the link and contents are intact', async () => {
    const { clock, link, a, b } = simPair({ seed: 12, loss: 0.05, reorder: 0.05, delayMs: 5, jitterMs: 3 })
    const echo = b.listenUdp({ port: 7 })
    echo.onMessage = (d, from) => echo.send(d, from.address, from.port)
    const s = a.openUdp()
    const got = new Map<number, number>()
    let bad = 0
    s.onMessage = (d, from) => {
      if (from.address !== '10.0.0.2' || from.port !== 7) bad++
      const id = d[0] | (d[1] << 8)
      for (let i = 2; i < d.length; i++) if (d[i] !== ((id + i) & 0xff)) bad++
      got.set(id, (got.get(id) ?? 0) + 1)
    }
    const N = 400
    for (let i = 0; i < N; i++) {
      const d = new Uint8Array(200 + (i % 900))
      d[0] = i & 0xff
      d[1] = i >> 8
      for (let j = 2; j < d.length; j++) d[j] = (i + j) & 0xff
      expect(s.send(d, '10.0.0.2', 7)).toBe(true)
      clock.advance(1)
    }
    clock.advance(200)
    expect(bad).toBe(0)
    const lost = link.a.stats.lost + link.b.stats.lost
    expect(lost).toBeGreaterThan(10)
    expect(got.size).toBe(N - lost) // every datagram the link did not drop came back once
    // the stacks never reordered within themselves: reordering is visible at the receiver
    expect(link.a.stats.reordered + link.b.stats.reordered).toBeGreaterThan(5)
    s.close()
    echo.close()
  })

  it('a closed UDP port answers with ICMP port unreachable to the socket', async () => {
    const { clock, a } = simPair({ seed: 13, delayMs: 2 })
    const s = a.openUdp()
    const errs: string[] = []
    s.onError = (e, from) => errs.push(`${(e as BurrowError).code ?? e.message} ${from?.address}:${from?.port}`)
    s.send(new Uint8Array([1, 2, 3]), '10.0.0.2', 9999)
    clock.advance(10)
    expect(errs).toEqual(['ECONNREFUSED 10.0.0.2:9999'])
  })

  it('resolves names through the real stack: search domain, IPv6 server, 5% loss, TC → TCP', async () => {
    const { clock, a, b } = simPair(
      { seed: 14, loss: 0.05, delayMs: 10 },
      { dns: { servers: ['fd00::2', '10.0.0.2'], searchDomains: ['corp.test'] } },
    )
    const stats = startDnsServer(b, {
      'www.corp.test': ['10.9.0.1', 'fd00:9::1'],
      'big.test': ['10.9.0.2', '10.9.0.3'],
    }, ['big.test'])
    expect(await settle(clock, a.resolver.lookup('www'))).toEqual(['10.9.0.1', 'fd00:9::1'])
    expect(await settle(clock, a.resolver.lookup('big.test', 4))).toEqual(['10.9.0.2', '10.9.0.3'])
    expect(stats.tcpQueries).toBeGreaterThanOrEqual(1)
    const err = await settle(clock, a.resolver.lookup('nothing.example', 4)).catch((e: BurrowError) => e)
    expect((err as BurrowError).code).toBe('ENOTFOUND')
    expect(a.counters.get('dns.truncated')).toBeGreaterThanOrEqual(1)
  })
})
