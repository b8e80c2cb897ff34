// NetstackDialer.relinked(): pending tunnel connects are started afresh (once) when the tunnel
// comes back after an outage, instead of waiting out TCP's SYN backoff. The stack is a stub that
// records connectTcp calls; the end-to-end effect is covered by test/interop/wireguard-e2e.test.ts.
// DNS queries lost in the outage are resent too (DnsResolver.relinked) when the dialer relinks.
import { describe, expect, it } from 'vitest'
import { NetstackDialer, TUNNEL_CONNECT_TIMEOUT_MS } from '../../src/client/netstack-dialer.js'
import { BurrowError, ErrorCode } from '../../src/core/errors.js'
import type { NetStackApi, Resolver, TcpConn, TcpConnectOptions } from '../../src/netstack/api.js'
import { DnsResolver } from '../../src/netstack/dns/resolver.js'
import { FakeClock } from '../../src/core/clock.js'
import { basic, drive, FakeNet, runTo } from '../netstack/dns/harness.js'

interface Call {
  opts: TcpConnectOptions
  fail(err: Error): void
}

function stubStack(resolver?: Resolver): { stack: NetStackApi; calls: Call[] } {
  const calls: Call[] = []
  const stack = {
    resolver: resolver ?? { lookup: () => Promise.reject(new Error('no resolver in this test')) },
    connectTcp(opts: TcpConnectOptions): Promise<TcpConn> {
      return new Promise<TcpConn>((_, reject) => {
        const fail = (err: Error) => reject(err)
        opts.signal?.addEventListener('abort', () => fail(new BurrowError(ErrorCode.EABORTED, 'connect aborted')), { once: true })
        calls.push({ opts, fail })
      })
    },
  } as unknown as NetStackApi
  return { stack, calls }
}

const tick = () => new Promise((r) => setTimeout(r, 0))

describe('NetstackDialer', () => {
  it('connects with the tunnel connect timeout', async () => {
    const { stack, calls } = stubStack()
    const d = new NetstackDialer(stack, () => false)
    const p = d.connect('10.0.0.1', 80)
    await tick()
    expect(calls).toHaveLength(1)
    expect(calls[0].opts).toMatchObject({ host: '10.0.0.1', port: 80, timeoutMs: TUNNEL_CONNECT_TIMEOUT_MS })
    calls[0].fail(new BurrowError(ErrorCode.ECONNREFUSED, 'refused'))
    await expect(p).rejects.toMatchObject({ code: ErrorCode.ECONNREFUSED })
  })

  it('relinked() aborts a pending attempt and starts a new one, once per connect', async () => {
    const { stack, calls } = stubStack()
    const d = new NetstackDialer(stack, () => false)
    const p = d.connect('[fd00::1]', 443)
    await tick()
    d.relinked()
    await tick()
    expect(calls).toHaveLength(2)
    expect(calls[0].opts.signal?.aborted).toBe(true)
    expect(calls[1].opts).toMatchObject({ host: 'fd00::1', port: 443 })
    d.relinked() // a second outage during the same connect does not redial again
    await tick()
    expect(calls).toHaveLength(2)
    // the superseded attempt's EABORTED is not the result: the new attempt's outcome is
    calls[1].fail(new BurrowError(ErrorCode.ETIMEDOUT, 'timed out'))
    await expect(p).rejects.toMatchObject({ code: ErrorCode.ETIMEDOUT })
    d.relinked() // settled connects are forgotten
    await tick()
    expect(calls).toHaveLength(2)
  })

  it('an outer abort ends the current attempt', async () => {
    const { stack, calls } = stubStack()
    const d = new NetstackDialer(stack, () => false)
    const ac = new AbortController()
    const p = d.connect('10.0.0.1', 80, ac.signal)
    await tick()
    d.relinked()
    await tick()
    ac.abort()
    await expect(p).rejects.toMatchObject({ code: ErrorCode.EABORTED })
    expect(calls.every((c) => c.opts.signal?.aborted)).toBe(true)
    await expect(d.connect('10.0.0.1', 80, ac.signal)).rejects.toMatchObject({ code: ErrorCode.EABORTED })
  })

  it('relinked() has the resolver resend the DNS queries lost in the outage', async () => {
    const clock = new FakeClock(1000)
    const net = new FakeNet(clock, basic)
    const resolver = new DnsResolver({ servers: ['10.0.0.53'], clock, udp: net.udp, tcp: net.tcp })
    const { stack } = stubStack(resolver)
    const d = new NetstackDialer(stack, () => true)
    net.down = 'drop'
    const t0 = clock.now()
    const p = d.resolve('www.example.com')
    await runTo(clock, t0 + 1500)
    net.down = false
    d.relinked()
    expect(await drive(clock, p)).toBe('192.0.2.1')
    expect(clock.now() - t0).toBe(1500 + net.delay) // the next try would have been at 2000 ms
    expect(resolver.counters.get('dns.relink_resend')).toBe(2) // A and AAAA
  })

  it('relinked() works with a resolver that has no relinked()', async () => {
    const { stack, calls } = stubStack({ lookup: () => Promise.resolve(['10.0.0.1']) })
    const d = new NetstackDialer(stack, () => true)
    d.relinked()
    expect(await d.resolve('x.test')).toBe('10.0.0.1')
    expect(calls).toHaveLength(0)
  })
})
