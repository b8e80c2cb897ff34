// DnsResolverOptions.linkRx: a query whose every try timed out while nothing at all arrived over
// the link is not failed at once. The link is what is down (a WireGuard peer that restarted is only
// noticed ~15 s after the first unanswered packet, longer than the 4 s retry schedule), so the
// query is held until the link is back (relinked(), or anything arriving) and then runs its
// schedule once more; after linkWaitMs it fails with a reason that says the link was silent. A link
// that carried anything during the schedule means the servers are at fault: no hold.
import { describe, expect, it } from 'vitest'
import { basic, drive, rejection, runTo, setup } from './harness.js'

function withLink(opts: { linkWaitMs?: number } = {}) {
  const link = { rx: 0 }
  const s = setup(basic, { servers: ['10.0.0.53'], attempts: 2, timeoutMs: 2000, linkRx: () => link.rx, ...opts })
  return { ...s, link }
}

describe('DnsResolver holds queries for a silent link', () => {
  it('holds a query that timed out on a silent link and answers it once the link is back', async () => {
    const { clock, net, r } = withLink()
    net.down = 'drop'
    const t0 = clock.now()
    let settled = false
    const p = r.lookup('www.example.com', 4)
    void p.then(
      () => (settled = true),
      () => (settled = true),
    )
    await runTo(clock, t0 + 10_000)
    expect(settled).toBe(false) // the 4 s schedule is over, but the query is held
    expect(net.sent).toHaveLength(2)
    expect(r.counters.get('dns.timeout')).toBe(2)
    expect(r.counters.get('dns.held_for_link')).toBe(1)
    net.down = false
    expect(r.relinked()).toBe(1)
    expect(await drive(clock, p)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(clock.now() - t0).toBe(10_000 + net.delay)
    expect(net.sent).toHaveLength(3)
    expect(net.openSockets).toBe(0)
    expect(clock.nextAt()).toBeUndefined() // the hold's own timer is gone too
  })

  it('resumes when anything arrives over the link, without a relink event', async () => {
    const { clock, net, r, link } = withLink()
    net.down = 'drop'
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 7000)
    net.down = false
    link.rx++ // e.g. the tunnel's first packet after it re-established itself
    const addrs = await drive(clock, p)
    expect(addrs).toEqual(['192.0.2.1', '192.0.2.2'])
    const took = clock.now() - t0
    expect(took).toBeGreaterThan(7000)
    expect(took).toBeLessThanOrEqual(7500 + net.delay) // looked at every 500 ms
  })

  it('fails after linkWaitMs with a reason naming the silent link, leaving no timer behind', async () => {
    const { clock, net, r } = withLink({ linkWaitMs: 15_000 })
    net.down = 'drop'
    const t0 = clock.now()
    const e = await rejection(drive(clock, r.lookup('www.example.com', 4)))
    expect(e.code).toBe('ETIMEDOUT')
    expect(clock.now() - t0).toBe(4000 + 15_000)
    expect(net.sent).toHaveLength(2) // no further tries while held
    expect(clock.nextAt()).toBeUndefined()
    expect(e.message).toBe('DNS lookup of www.example.com timed out (no answer from 10.0.0.53; nothing arrived over the tunnel for 15 s more)')
  })

  it('does not hold when the link carried anything during the schedule: the servers are at fault', async () => {
    const { clock, net, r, link } = withLink()
    net.down = 'drop'
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 1000)
    link.rx++ // other traffic arrived: the link works
    const e = await rejection(drive(clock, p))
    expect(e.code).toBe('ETIMEDOUT')
    expect(clock.now() - t0).toBe(4000)
    expect(r.counters.get('dns.held_for_link')).toBe(0)
  })

  it('holds at most once per query: a second silent schedule fails', async () => {
    const { clock, net, r } = withLink()
    net.down = 'drop'
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 6000)
    expect(r.relinked()).toBe(1) // the link flaps: the re-run's tries are lost again
    const e = await rejection(drive(clock, p))
    expect(e.code).toBe('ETIMEDOUT')
    expect(clock.now() - t0).toBe(6000 + 4000)
    expect(net.sent).toHaveLength(4)
    expect(r.counters.get('dns.held_for_link')).toBe(1)
  })

  it('moves a held query to servers pushed anew (setServers)', async () => {
    const { clock, net, r } = withLink()
    net.down = 'drop'
    const t0 = clock.now()
    const p = r.lookup('www.example.com', 4)
    await runTo(clock, t0 + 5000)
    net.down = false
    expect(r.setServers(['10.0.2.53'])).toBe(1)
    expect(await drive(clock, p)).toEqual(['192.0.2.1', '192.0.2.2'])
    expect(net.sent.at(-1)!.server).toBe('10.0.2.53')
    expect(clock.now() - t0).toBe(5000 + net.delay)
  })

  it('linkWaitMs 0 turns holding off; no linkRx means timeouts are final as before', async () => {
    for (const s of [withLink({ linkWaitMs: 0 }), setup(basic, { servers: ['10.0.0.53'], attempts: 2, timeoutMs: 2000 })]) {
      s.net.down = 'drop'
      const t0 = s.clock.now()
      const e = await rejection(drive(s.clock, s.r.lookup('www.example.com', 4)))
      expect(e.code).toBe('ETIMEDOUT')
      expect(s.clock.now() - t0).toBe(4000)
    }
  })
})
