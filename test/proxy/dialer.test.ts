import { describe, expect, it } from 'vitest'
import net from 'node:net'
import { PassThrough } from 'node:stream'
import { BurrowError, ErrorCode } from '../../src/core/errors.js'
import { DirectDialer, RouteRefusedError, RoutingDialer, errorCode, normalizeHost } from '../../src/proxy/dialer.js'
import type { UdpPeer } from '../../src/proxy/dialer.js'
import { FakeDialer, closeServer, listen, readN, tcpEcho, udpEcho, waitFor } from './helpers.js'

describe('helpers', () => {
  it('normalizes hosts', () => {
    expect(normalizeHost('[::1]')).toBe('::1')
    expect(normalizeHost('::ffff:10.0.0.1')).toBe('10.0.0.1')
    expect(normalizeHost('example.test')).toBe('example.test')
  })
  it('finds error codes through causes', () => {
    expect(errorCode(new BurrowError(ErrorCode.ETIMEDOUT, 'x'))).toBe('ETIMEDOUT')
    expect(errorCode(new Error('x', { cause: Object.assign(new Error('y'), { code: 'ECONNREFUSED' }) }))).toBe('ECONNREFUSED')
    expect(errorCode(new Error('x'))).toBeUndefined()
  })
})

describe('DirectDialer', () => {
  const d = new DirectDialer({ connectTimeoutMs: 2000 })

  it('connects and carries bytes', async () => {
    const echo = await tcpEcho()
    const s = await d.connect('127.0.0.1', echo.port)
    s.write('abc')
    expect((await readN(s as net.Socket, 3)).toString()).toBe('abc')
    s.destroy()
    await echo.close()
  })

  it('rejects a refused port with BurrowError ECONNREFUSED', async () => {
    const tmp = net.createServer()
    const p = await listen(tmp)
    await closeServer(tmp)
    const err = await d.connect('127.0.0.1', p).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BurrowError)
    expect((err as BurrowError).code).toBe(ErrorCode.ECONNREFUSED)
  })

  it('honours an already-aborted signal with EABORTED', async () => {
    const ac = new AbortController()
    ac.abort()
    await expect(d.connect('127.0.0.1', 9, ac.signal)).rejects.toMatchObject({ code: ErrorCode.EABORTED })
  })

  it('resolves names on the host and passes literals through', async () => {
    expect(await d.resolve('[::1]')).toBe('::1')
    expect(['127.0.0.1', '::1']).toContain(await d.resolve('localhost'))
  })

  it('sends and receives UDP for both families', async () => {
    const e4 = await udpEcho('127.0.0.1')
    const e6 = await udpEcho('::1')
    const flow = await d.openUdp()
    const got: [string, UdpPeer][] = []
    flow.onMessage = (data, from) => got.push([Buffer.from(data).toString(), from])
    flow.send(Buffer.from('v4'), '127.0.0.1', e4.port)
    flow.send(Buffer.from('v6'), '::1', e6.port)
    await waitFor(() => got.length === 2)
    expect(got).toContainEqual(['v4', { address: '127.0.0.1', port: e4.port }])
    expect(got).toContainEqual(['v6', { address: '::1', port: e6.port }])
    flow.close()
    flow.send(Buffer.from('after close'), '127.0.0.1', e4.port) // ignored, no throw
    await e4.close()
    await e6.close()
  })
})

describe('RoutingDialer', () => {
  const routes = [
    { address: '10.0.0.0', prefix: 8 },
    { address: 'fd00::', prefix: 8 },
  ]
  const mk = (opts: { tunnelDns?: Record<string, string>; hostDns?: Record<string, string>; noDirect?: boolean } = {}) => {
    const stream = async () => new PassThrough()
    const lookup = (table: Record<string, string> | undefined) =>
      table &&
      (async (h: string) => {
        const a = table[h]
        if (!a) throw new BurrowError(ErrorCode.ENOTFOUND, `${h} not found`)
        return a
      })
    const tunnel = new FakeDialer('tunnel', { connect: stream, resolve: lookup(opts.tunnelDns) })
    const direct = new FakeDialer('direct', { connect: stream, resolve: lookup(opts.hostDns ?? {}) })
    const r = new RoutingDialer({ tunnel, direct, routes, noDirect: opts.noDirect })
    return { r, tunnel, direct }
  }

  it('sends destinations inside the routes through the tunnel and the rest direct', async () => {
    const { r, tunnel, direct } = mk()
    await r.connect('10.9.8.7', 80)
    await r.connect('fd12::1', 443)
    await r.connect('[fd12::2]', 443)
    await r.connect('::ffff:10.1.1.1', 22)
    await r.connect('192.0.2.1', 80)
    await r.connect('2001:db8::1', 80)
    expect(tunnel.calls.filter((c) => c.op === 'connect').map((c) => c.host)).toEqual(['10.9.8.7', 'fd12::1', 'fd12::2', '10.1.1.1'])
    expect(direct.calls.filter((c) => c.op === 'connect').map((c) => c.host)).toEqual(['192.0.2.1', '2001:db8::1'])
    expect(r.inTunnel('11.0.0.1')).toBe(false)
    const full = new RoutingDialer({ tunnel, direct, routes: [{ address: '0.0.0.0', prefix: 0 }, { address: '::', prefix: 0 }] })
    expect(full.inTunnel('192.0.2.1')).toBe(true)
    expect(full.inTunnel('2001:db8::1')).toBe(true)
    expect(full.inTunnel('127.0.0.1')).toBe(false) // loopback stays on the host
    expect(full.inTunnel('::1')).toBe(false)
    expect(r.inTunnel('10.255.255.255')).toBe(true)
  })

  it('refuses destinations outside the routes under noDirect with a clear error', async () => {
    const { r, direct } = mk({ noDirect: true })
    const err = await r.connect('192.0.2.1', 80).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RouteRefusedError)
    expect((err as Error).message).toMatch(/192\.0\.2\.1:80 is outside the tunnel's routes.*--no-direct/)
    await expect(r.connect('2001:db8::1', 80)).rejects.toThrow(/\[2001:db8::1\]:80/)
    expect(direct.calls).toEqual([])
  })

  it('resolves names inside the tunnel first, then routes by the address', async () => {
    const { r, tunnel, direct } = mk({ tunnelDns: { 'intra.test': '10.1.2.3', 'public.test': '192.0.2.9' } })
    await r.connect('intra.test', 80)
    await r.connect('public.test', 80)
    expect(tunnel.calls).toEqual([
      { op: 'resolve', host: 'intra.test' },
      { op: 'connect', host: '10.1.2.3', port: 80 },
      { op: 'resolve', host: 'public.test' },
    ])
    expect(direct.calls).toEqual([{ op: 'connect', host: '192.0.2.9', port: 80 }])
  })

  it('falls back to the host resolver when the tunnel has no answer (unless noDirect)', async () => {
    const { r, direct } = mk({ tunnelDns: {}, hostDns: { 'only-host.test': '192.0.2.7' } })
    await r.connect('only-host.test', 80)
    expect(direct.calls).toEqual([
      { op: 'resolve', host: 'only-host.test' },
      { op: 'connect', host: '192.0.2.7', port: 80 },
    ])
    const strict = mk({ tunnelDns: {}, hostDns: { 'only-host.test': '192.0.2.7' }, noDirect: true })
    await expect(strict.r.connect('only-host.test', 80)).rejects.toMatchObject({ code: ErrorCode.ENOTFOUND })
    expect(strict.direct.calls).toEqual([])
  })

  it('without tunnel DNS resolves on the host', async () => {
    const { r, tunnel, direct } = mk({ hostDns: { 'x.test': '10.4.4.4' } })
    await r.connect('x.test', 80)
    expect(direct.calls).toEqual([{ op: 'resolve', host: 'x.test' }])
    expect(tunnel.calls).toEqual([{ op: 'connect', host: '10.4.4.4', port: 80 }])
  })

  it('rejects malformed routes', () => {
    const tunnel = new FakeDialer('t')
    expect(() => new RoutingDialer({ tunnel, routes: [{ address: 'nope', prefix: 8 }] })).toThrow(/not an IP/)
    expect(() => new RoutingDialer({ tunnel, routes: [{ address: '10.0.0.0', prefix: 33 }] })).toThrow(/prefix/)
  })

  it('routes UDP datagrams per destination and merges replies', async () => {
    const { r, tunnel, direct } = mk({ tunnelDns: { 'dns.test': '10.0.0.53' } })
    const flow = await r.openUdp()
    const got: UdpPeer[] = []
    flow.onMessage = (_d, from) => got.push(from)
    flow.send(Uint8Array.of(1), '10.0.0.1', 53)
    flow.send(Uint8Array.of(2), '192.0.2.1', 53)
    flow.send(Uint8Array.of(3), 'dns.test', 53)
    flow.send(Uint8Array.of(4), 'dns.test', 53)
    await waitFor(() => tunnel.udpSends.length === 3 && direct.udpSends.length === 1)
    expect(tunnel.udpSends.map((s) => [s.host, s.data[0]])).toEqual([
      ['10.0.0.1', 1],
      ['10.0.0.53', 3],
      ['10.0.0.53', 4],
    ])
    expect(tunnel.calls.filter((c) => c.op === 'resolve').length).toBe(1) // cached per flow
    expect(direct.udpSends.map((s) => s.host)).toEqual(['192.0.2.1'])
    flow.close()
    expect(tunnel.calls.filter((c) => c.op === 'closeUdp').length).toBe(1)
    expect(direct.calls.filter((c) => c.op === 'closeUdp').length).toBe(1)
  })

  it('drops UDP to destinations outside the routes under noDirect', async () => {
    const { r, tunnel, direct } = mk({ noDirect: true })
    const flow = await r.openUdp()
    flow.send(Uint8Array.of(1), '192.0.2.1', 53)
    flow.send(Uint8Array.of(2), '10.0.0.1', 53)
    await waitFor(() => tunnel.udpSends.length === 1)
    expect(direct.calls).toEqual([])
    flow.close()
  })
})
