// DnsResolver.relinked(): queries sent while the tunnel was down (reconnecting) are sent again the
// moment the link is back, instead of waiting out the retry schedule or failing. Under a FakeClock:
// UDP queries lost or refused by the dead link, a TCP-fallback query stuck in its connect or lost
// on an established connection, shared in-flight queries, bounded resends, and no caching of
// failures the outage caused.
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../../../src/core/clock.js'
import type { TcpConn } from '../../../src/netstack/api.js'
import { DnsType } from '../../../src/netstack/dns/message.js'
import { DnsResolver } from '../../../src/netstack/dns/resolver.js'
import { basic, drive, FakeNet, rejection, reply, rr, runTo, setup } from './harness.js'

describe('DnsResolver.relinked', () => {
  it('resends a UDP query lost in the outage at once; the answer comes long before the retry', async () => {
    const { clock, net, r } = setup(basic)
    net.down = 'drop'
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 700)
    expect(net.sent).toHaveLength(1)
    expect(net.sent[0].lost).toBe(true)
    net.down = false
    expect(r.relinked()).toBe(1)
    const addrs = await drive(clock, p)
    expect(addrs).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(clock.now() - t0).toBe(700 + net.delay) // not 2000 (the next try) or later
    // a retransmission of the same try: same server, socket, ID and question
    expect(net.sent).toHaveLength(2)
    expect(net.sent[1]).toMatchObject({ server: '10.0.0.53', localPort: net.sent[0].localPort, at: t0 + 700 })
    expect(net.sent[1].q.id).toBe(net.sent[0].q.id)
    expect(net.sent[1].q.questions).toEqual(net.sent[0].q.questions)
    expect(r.counters.get('dns.relink_resend')).toBe(1)
    expect(r.counters.get('dns.udp_query')).toBe(1)
    expect(r.counters.get('dns.timeout')).toBe(0)
    expect(net.openSockets).toBe(0)
    expect(clock.nextAt()).toBeUndefined() // no timer left behind
  })

  it('counts datagrams the dead link refused, and recovers the same way', async () => {
    const { clock, net, r } = setup(basic)
    net.down = 'refuse'
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 6)
    await runTo(clock, t0 + 300)
    expect(r.counters.get('dns.send_failed')).toBe(1)
    net.down = false
    r.relinked()
    expect(await drive(clock, p)).toEqual(['2001:db8::1'])
    expect(clock.now() - t0).toBe(300 + net.delay)
    expect(r.counters.get('dns.send_failed')).toBe(1)
  })

  it('gives the resent try a full window from the relink, without counting a timeout', async () => {
    // the server is slow (1 s): had the original timer (t0 + 2000) been kept, the resolver would
    // have given up on it 100 ms after the resend and moved on to the second server
    const { clock, net, r } = setup((q, s, via) => [{ data: basic(q, s, via) as Uint8Array, delay: 1000 }])
    net.down = 'drop'
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 1900)
    net.down = false
    r.relinked()
    expect(await drive(clock, p)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(clock.now() - t0).toBe(2900)
    expect(net.sent.map((s) => s.server)).toEqual(['10.0.0.53', '10.0.0.53'])
    expect(r.counters.get('dns.timeout')).toBe(0)
  })

  it('resends a try at most once and does not add tries to the schedule', async () => {
    const { clock, net, r } = setup(basic, { servers: ['10.0.0.53'], attempts: 1, timeoutMs: 2000 })
    net.down = 'drop'
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 1000)
    expect(r.relinked()).toBe(1) // the link flaps: nothing gets through
    await runTo(clock, t0 + 2500)
    expect(r.relinked()).toBe(0) // already resent once
    const e = await rejection(drive(clock, p))
    expect(e.code).toBe('ETIMEDOUT')
    expect(clock.now() - t0).toBe(3000) // one window from the relink, no extra try
    expect(net.sent).toHaveLength(2)
    expect(r.counters.get('dns.timeout')).toBe(1)
    expect(r.counters.get('dns.udp_query')).toBe(1)
    expect(r.counters.get('dns.relink_resend')).toBe(1)
    expect(net.openSockets).toBe(0)
  })

  it('resends every outstanding question once, even when shared by several lookups', async () => {
    const { clock, net, r } = setup(basic)
    net.down = 'drop'
    const t0 = clock.now()
    let settled = 0
    const all = [r.lookup('www.example.com'), r.lookup('WWW.example.com.'), r.lookup('v4only.example.com', 4)]
    for (const p of all) void p.then(() => settled++)
    await runTo(clock, t0 + 500)
    expect(net.sent).toHaveLength(3) // A + AAAA shared by the first two, A for the third
    net.down = false
    expect(r.relinked()).toBe(3)
    const res = await drive(clock, Promise.all(all))
    expect(res).toEqual([['192.0.2.1', '192.0.2.2', '2001:db8::1'], ['192.0.2.1', '192.0.2.2', '2001:db8::1'], ['192.0.2.9']])
    expect(net.sent.filter((s) => !s.lost)).toHaveLength(3)
    expect(clock.now() - t0).toBe(500 + net.delay)
    await runTo(clock, t0 + 10_000)
    expect(settled).toBe(3)
    expect(net.sent).toHaveLength(6)
    expect(r.relinked()).toBe(0)
  })

  it('takes the first answer once when the lost query and its resend are both answered', async () => {
    // the "lost" datagram was only delayed: both copies are answered; the first answer wins and
    // the second finds the socket closed
    const { clock, net, r } = setup((q, s, via) => [{ data: basic(q, s, via) as Uint8Array, delay: 400 }])
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 100)
    r.relinked()
    expect(await drive(clock, p)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(clock.now() - t0).toBe(400)
    await runTo(clock, t0 + 1000)
    expect(net.sent).toHaveLength(2)
    expect(r.counters.get('dns.id_mismatch')).toBe(0)
    expect(clock.nextAt()).toBeUndefined()
  })

  it('keeps the ID, question and source checks on the resent query', async () => {
    const { clock, net, r } = setup((q) => {
      const good = reply(q, { answers: [rr('www.example.com', DnsType.A, 300, '192.0.2.1')] })
      const spoofed = reply(q, { id: q.id ^ 0x1234, answers: [rr('www.example.com', DnsType.A, 300, '6.6.6.6')] })
      const wrongSrc = reply(q, { answers: [rr('www.example.com', DnsType.A, 300, '6.6.6.6')] })
      return [
        { data: spoofed, delay: 1 },
        { data: wrongSrc, delay: 2, from: { address: '10.0.1.53', port: 53 } },
        { data: good, delay: 10 },
      ]
    })
    net.down = 'drop'
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 200)
    net.down = false
    r.relinked()
    expect(await drive(clock, p)).toEqual(['192.0.2.1'])
    expect(r.counters.get('dns.id_mismatch')).toBe(1)
    expect(r.counters.get('dns.wrong_source')).toBe(1)
  })

  it('redials a TCP-fallback query whose connect was lost in the outage', async () => {
    const { clock, net, r } = setup((q, s, via) => {
      if (via === 'tcp') return basic(q, s, via)
      net.down = 'drop' // the outage starts right after the truncated UDP answer left the server
      return reply(q, { tc: true })
    })
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 1000)
    expect(net.stuck).toHaveLength(1)
    expect(net.sent.map((s) => s.via)).toEqual(['udp'])
    net.down = false
    expect(r.relinked()).toBe(1)
    // the old connect completes too (a SYN retransmission got through): it is closed unused
    net.stuck[0].complete()
    expect(await drive(clock, p)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(clock.now() - t0).toBeLessThan(1000 + 3 * net.delay)
    expect(net.sent.map((s) => s.via)).toEqual(['udp', 'tcp'])
    await runTo(clock, clock.now() + 10)
    expect(net.openConns).toBe(0)
    expect(net.sent).toHaveLength(2)
    expect(r.counters.get('dns.relink_redial')).toBe(1)
    expect(r.counters.get('dns.tcp_query')).toBe(2)
    expect(r.counters.get('dns.timeout')).toBe(0)
    expect(clock.nextAt()).toBeUndefined()
  })

  it('redials a TCP-fallback query written into the dead link, with a new ID, and ignores the old connection', async () => {
    const conns: TcpConn[] = []
    const clock = new FakeClock(1000)
    const net = new FakeNet(clock, (q, s, via) => (via === 'udp' ? reply(q, { tc: true }) : basic(q, s, via)))
    // the link dies just after the first TCP connection is established: its query is lost
    const tcp = async (server: string, port: number) => {
      const c = await net.tcp(server, port)
      if (conns.length === 0) net.down = 'drop'
      conns.push(c)
      return c
    }
    const r = new DnsResolver({ servers: ['10.0.0.53'], clock, udp: net.udp, tcp })
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 1500)
    expect(net.sent.map((s) => [s.via, !!s.lost])).toEqual([
      ['udp', false],
      ['tcp', true],
    ])
    net.down = false
    expect(r.relinked()).toBe(1)
    expect(await drive(clock, p)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(clock.now() - t0).toBeLessThan(1500 + 3 * net.delay)
    expect(conns).toHaveLength(2)
    expect(net.sent[2].via).toBe('tcp')
    expect(net.sent[2].q.id).not.toBe(net.sent[1].q.id)
    // the dead connection was destroyed (its callbacks dropped): a late frame on it is ignored
    expect(conns[0].onData).toBeNull()
    expect(net.openConns).toBe(0)
  })

  it('does not cache a failure caused by the outage', async () => {
    const { clock, net, r } = setup(basic, { servers: ['10.0.0.53'], attempts: 1 })
    net.down = 'drop'
    const e = await rejection(drive(clock, r.lookup('www.example.com', 4)))
    expect(e.code).toBe('ETIMEDOUT')
    net.down = false
    // no relink needed: the very next lookup goes to the server again
    expect(await drive(clock, r.lookup('www.example.com', 4))).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(net.sent.map((s) => !!s.lost)).toEqual([true, false])
    expect(r.counters.get('dns.cache_hit')).toBe(0)
  })

  it('does nothing when nothing is outstanding', async () => {
    const { clock, net, r } = setup(basic)
    expect(r.relinked()).toBe(0)
    await drive(clock, r.lookup('www.example.com', 4))
    expect(r.relinked()).toBe(0)
    expect(net.sent).toHaveLength(1)
  })
})
