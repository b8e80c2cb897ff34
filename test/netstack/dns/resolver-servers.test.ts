// DnsResolver.setServers(): a reconnect pushed other DNS servers / search domains. New lookups use
// them, the cache of the old servers is dropped, and queries in flight move to the new servers
// (over UDP and over the TCP fallback) instead of waiting out the old ones. Under a FakeClock with
// the fake network of harness.ts.
import { describe, expect, it } from 'vitest'
import { DnsType } from '../../../src/netstack/dns/message.js'
import { basic, drive, rejection, reply, rr, runTo, setup, zone, type Handler } from './harness.js'

/** Old servers (10.0.0.x) never answer, as after a reconnect to a server with other DNS. */
const onlyNew =
  (h: Handler): Handler =>
  (q, server, via) =>
    server.startsWith('10.9.') ? h(q, server, via) : null

describe('DnsResolver.setServers', () => {
  it('moves a UDP query in flight to the new servers at once', async () => {
    const { clock, net, r } = setup(onlyNew(basic))
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 500)
    expect(net.sent.map((s) => s.server)).toEqual(['10.0.0.53'])
    expect(r.setServers(['10.9.0.1'], [])).toBe(1)
    expect(await drive(clock, p)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(clock.now() - t0).toBe(500 + net.delay) // not after the old servers' timeouts
    expect(net.sent.map((s) => s.server)).toEqual(['10.0.0.53', '10.9.0.1'])
    expect(r.counters.get('dns.moved_to_new_servers')).toBe(1)
    expect(r.counters.get('dns.timeout')).toBe(0)
    expect(net.openSockets).toBe(0)
    expect(clock.nextAt()).toBeUndefined()
  })

  it('a shared in-flight query (A for two callers) moves once and answers both', async () => {
    const { clock, net, r } = setup(onlyNew(basic))
    const p1 = r.lookup('www.example.com', 4)
    const p2 = r.lookup('www.example.com', 4)
    await runTo(clock, clock.now() + 100)
    r.setServers(['10.9.0.1'])
    expect(await drive(clock, p1)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(await drive(clock, p2)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(net.sent.filter((s) => s.server === '10.9.0.1')).toHaveLength(1)
  })

  it('moves a TCP-fallback query too, closing its old connection', async () => {
    const big: Handler = (q, s, via) => (via === 'udp' ? reply(q, { tc: true }) : basic(q, s, via))
    // the old server truncates over UDP and its TCP never completes (link to it is gone)
    const { clock, net, r } = setup((q, s, via) => (s.startsWith('10.9.') ? basic(q, s, via) : big(q, s, via)))
    net.down = false
    const p = r.lookup('www.example.com', 6)
    await runTo(clock, clock.now() + 2) // UDP truncated answer not yet back (delay 5)
    net.down = 'drop' // the TCP connect to the old server hangs
    await runTo(clock, clock.now() + 20)
    expect(net.stuck).toHaveLength(1)
    net.down = false
    expect(r.setServers(['10.9.0.1'])).toBe(1)
    expect(await drive(clock, p)).toEqual(['2001:db8::1'])
    // the stuck connect completing late is discarded, not used
    net.stuck[0].complete()
    await runTo(clock, clock.now() + 50)
    expect(net.openConns).toBe(0)
    expect(net.sent.at(-1)).toMatchObject({ server: '10.9.0.1', via: 'udp' })
  })

  it('clears the cache when the servers change, keeps it when they do not', async () => {
    let v = '192.0.2.7'
    const { clock, net, r, look } = setup((q, s, via) => zone({ 'svc.corp': [[DnsType.A, v]] })(q, s, via))
    expect(await look('svc.corp', 4)).toEqual(['192.0.2.7'])
    v = '198.51.100.7'
    expect(r.setServers(['10.0.0.53', '10.0.1.53'], ['corp'])).toBe(0) // same list: nothing moves
    expect(await look('svc.corp', 4)).toEqual(['192.0.2.7']) // cached
    expect(r.counters.get('dns.servers_changed')).toBe(0)
    r.setServers(['10.0.1.53:53', '10.0.0.53']) // another order is another list
    expect(await look('svc.corp', 4)).toEqual(['198.51.100.7'])
    expect(r.counters.get('dns.servers_changed')).toBe(1)
    expect(net.sent.at(-1)!.server).toBe('10.0.1.53')
    void clock
  })

  it('replaces the search list for new lookups', async () => {
    const { r, net, look } = setup(zone({ 'host.new.example': [[DnsType.A, '192.0.2.9']] }), { searchDomains: ['old.example'] })
    expect(r.candidates('host')).toEqual(['host.old.example', 'host'])
    r.setServers(['10.0.0.53', '10.0.1.53'], ['new.example', '.'])
    expect(r.candidates('host')).toEqual(['host.new.example', 'host'])
    expect(await look('host', 4)).toEqual(['192.0.2.9'])
    expect(net.sent[0].q.questions[0].name).toBe('host.new.example')
  })

  it('no servers left: lookups in flight and new ones fail with a clear reason', async () => {
    const { clock, r } = setup(() => null)
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, clock.now() + 10)
    r.setServers([])
    const e = await rejection(drive(clock, p))
    expect(e.code).toBe('ENOTFOUND')
    expect(e.message).toMatch(/no DNS servers configured/)
    expect((await rejection(r.lookup('other.example', 4))).message).toMatch(/no DNS servers configured/)
  })

  it('relinked() still resends a try at most once, and setServers can still move it afterwards', async () => {
    const { clock, net, r } = setup(onlyNew((q, s, via) => [{ data: basic(q, s, via) as Uint8Array, delay: 1 }]))
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, clock.now() + 100)
    expect(r.relinked()).toBe(1)
    expect(r.relinked()).toBe(0)
    expect(r.setServers(['10.9.0.1'])).toBe(1)
    expect(await drive(clock, p)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(net.sent.map((s) => s.server)).toEqual(['10.0.0.53', '10.0.0.53', '10.9.0.1'])
    void rr
  })
})
