// openTunnel re-applies what a reconnect pushed: a tunnel 'up' after start() with another address
// and other DNS servers / search domains reaches the netstack (setAddresses, setDns) before the
// dialer redials, one log line names the change, and a `dns` option given by the caller still wins.
// The tunnel is an in-process fake whose far side is a second NetStack (the VPN side: a DNS
// server and an echo service) under a FakeClock.
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../../src/core/clock.js'
import type { Logger } from '../../src/core/log.js'
import { openTunnel } from '../../src/client/open.js'
import type { TcpConn } from '../../src/netstack/api.js'
import { DnsType, parseDnsMessage } from '../../src/netstack/dns/message.js'
import { NetStack } from '../../src/netstack/stack.js'
import { parseIpv4 } from '../../src/netstack/wire/ipv4.js'
import { formatIp } from '../../src/netstack/addr.js'
import type { Link, Tunnel, TunnelEvent, TunnelInfo } from '../../src/tunnel/types.js'
import { drive, runTo, zone } from '../netstack/dns/harness.js'

const OLD: TunnelInfo = {
  addresses: [{ address: '10.8.0.2', prefix: 24 }],
  routes: [{ address: '0.0.0.0', prefix: 0 }],
  dns: ['10.8.0.1'],
  searchDomains: ['old.test'],
  mtu: 1400,
  description: 'fake',
}
const NEW: TunnelInfo = { ...OLD, addresses: [{ address: '10.9.0.2', prefix: 24 }], dns: ['10.9.0.1'], searchDomains: ['new.test'] }

/** A tunnel whose packets reach `server` (a NetStack on the VPN side) 2 ms later, unless down. */
class FakeTunnel implements Tunnel {
  readonly headroom = 0
  readonly mtu = 1400
  info: TunnelInfo | undefined
  down = false
  /** Destinations of the packets the client sent. */
  sentTo: string[] = []
  private rx: ((p: Uint8Array) => void) | null = null
  private serverRx: ((p: Uint8Array) => void) | null = null
  private readonly handlers = new Map<TunnelEvent, Array<(arg?: unknown) => void>>()
  /** The VPN side's link. */
  readonly serverLink: Link

  constructor(
    private readonly clock: FakeClock,
    private readonly first: TunnelInfo,
  ) {
    this.serverLink = {
      mtu: 1400,
      headroom: 0,
      attach: (rx) => (this.serverRx = rx),
      send: (pkt) => {
        const c = pkt.slice()
        if (!this.down) this.clock.schedule(this.clock.now() + 2, () => this.rx?.(c))
        return true
      },
    }
  }
  start(): Promise<TunnelInfo> {
    this.info = this.first
    return Promise.resolve(this.first)
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
  on(ev: TunnelEvent, fn: (arg?: unknown) => void): this {
    this.handlers.set(ev, [...(this.handlers.get(ev) ?? []), fn])
    return this
  }
  emit(ev: TunnelEvent, arg?: unknown): void {
    if (ev === 'up') this.info = arg as TunnelInfo
    for (const fn of this.handlers.get(ev) ?? []) fn(arg)
  }
  attach(rx: (p: Uint8Array) => void): void {
    this.rx = rx
  }
  send(pkt: Uint8Array): boolean {
    const c = pkt.slice()
    const h = parseIpv4(c, 0, c.length)
    if (h) this.sentTo.push(formatIp(h.dst))
    if (!this.down) this.clock.schedule(this.clock.now() + 2, () => this.serverRx?.(c))
    return true
  }
}

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const push = (m: string) => void lines.push(m)
  return { logger: { debug() {}, info: push, warn: push, error: push }, lines }
}

/** The VPN side: one IPv4 address at a time (so DNS replies come from the address asked). */
function vpnSide(clock: FakeClock, t: FakeTunnel) {
  const server = new NetStack({ link: t.serverLink, clock, addresses: [{ address: '10.8.0.1', prefix: 24 }] })
  const z = zone({
    'svc.old.test': [[DnsType.A, '10.8.0.1']],
    'svc.new.test': [[DnsType.A, '10.9.0.1']],
  })
  const dns = server.listenUdp({ port: 53 })
  const asked: Array<[string, string]> = []
  dns.onMessage = (d, from) => {
    const q = parseDnsMessage(d)!
    asked.push([q.questions[0].name, from.address])
    const r = z(q, '', 'udp')
    if (r instanceof Uint8Array) dns.send(r, from.address, from.port)
  }
  const peers: string[] = []
  server.listenTcp({ port: 7 }, (c) => {
    peers.push(c.remoteAddress)
    c.onData = (b) => c.write(b)
  })
  return { server, asked, peers }
}

const settle = <T>(clock: FakeClock, p: Promise<T>) => drive(clock, p, 60_000)

describe('openTunnel: a reconnect re-applies addresses and DNS', () => {
  it('new address and DNS reach the netstack; old connections close, new ones use the new address', async () => {
    const clock = new FakeClock(1000)
    const t = new FakeTunnel(clock, OLD)
    const vpn = vpnSide(clock, t)
    const { logger, lines } = capture()
    const bt = await openTunnel({ config: t, clock, logger })
    try {
      expect(await settle(clock, bt.netstack.resolver.lookup('svc', 4))).toEqual(['10.8.0.1'])
      const old: TcpConn = await settle(clock, bt.netstack.connectTcp({ host: '10.8.0.1', port: 7 }))
      expect(old.localAddress).toBe('10.8.0.2')
      const oldClosed = new Promise<Error | undefined>((res) => (old.onClose = res))

      // the server restarts: the tunnel is down, then up with another address and DNS server
      t.down = true
      t.emit('reconnecting', new Error('server restarted'))
      // a connect issued during the outage (its SYN leaves from the old address and is lost; it is
      // the second connection closed below, and the dialer's redial replaces it)
      const pending = bt.dialer.connect('10.9.0.1', 7)
      const pendingDone = pending.then(
        (s) => s,
        (e: unknown) => e as Error,
      )
      await runTo(clock, clock.now() + 500)
      vpn.server.setAddresses([{ address: '10.9.0.1', prefix: 24 }])
      t.down = false
      t.emit('up', NEW)

      expect(bt.info).toBe(NEW)
      expect(bt.netstack.addresses).toEqual([{ address: '10.9.0.2', prefix: 24 }])
      const err = await settle(clock, oldClosed)
      expect(err).toMatchObject({ code: 'ECONNRESET' })
      expect(err!.message).toMatch(/local address 10\.8\.0\.2 removed by the tunnel/)
      expect(lines.filter((l) => l.includes('tunnel reconnected'))).toEqual([
        'tunnel reconnected with new settings: address 10.8.0.2/24 → 10.9.0.2/24 (2 TCP connection(s) on the old address closed); dns 10.8.0.1 → 10.9.0.1; search old.test → new.test',
      ])

      // the pending connect was redialled from the new address and got through
      const sock = await settle(clock, pendingDone)
      expect(sock).not.toBeInstanceOf(Error)
      await runTo(clock, clock.now() + 10) // the server accepts on our final ACK
      expect(vpn.peers).toEqual(['10.8.0.2', '10.9.0.2'])
      if (!(sock instanceof Error)) sock.destroy()

      // names are asked of the new server with the new search list
      expect(await settle(clock, bt.netstack.resolver.lookup('svc', 4))).toEqual(['10.9.0.1'])
      expect(vpn.asked.at(-1)).toEqual(['svc.new.test', '10.9.0.2'])
      expect(t.sentTo.at(-1)).toBe('10.9.0.1')
      expect(await settle(clock, bt.dialer.resolve('svc'))).toBe('10.9.0.1')

      // the same settings again: no change, no log line, nothing closed
      const again = await settle(clock, bt.netstack.connectTcp({ host: '10.9.0.1', port: 7 }))
      t.emit('up', { ...NEW, addresses: [...NEW.addresses], dns: [...NEW.dns] })
      await runTo(clock, clock.now() + 50)
      expect(lines.filter((l) => l.includes('tunnel reconnected'))).toHaveLength(1)
      expect(bt.netstack.tcpConnections).toBe(1)
      again.destroy()
    } finally {
      await bt.close()
    }
  })

  it('a lookup in flight when the tunnel comes back moves to the new DNS server', async () => {
    const clock = new FakeClock(1000)
    const t = new FakeTunnel(clock, OLD)
    const vpn = vpnSide(clock, t)
    const bt = await openTunnel({ config: t, clock })
    try {
      t.down = true
      const p = bt.netstack.resolver.lookup('svc.new.test', 4)
      await runTo(clock, clock.now() + 300)
      vpn.server.setAddresses([{ address: '10.9.0.1', prefix: 24 }])
      t.down = false
      const t0 = clock.now()
      t.emit('up', NEW)
      expect(await settle(clock, p)).toEqual(['10.9.0.1'])
      expect(clock.now() - t0).toBeLessThan(50) // not after the old server's timeouts
      expect(vpn.asked).toEqual([['svc.new.test', '10.9.0.2']])
    } finally {
      await bt.close()
    }
  })

  it('a dns option given by the caller wins over the pushed servers', async () => {
    const clock = new FakeClock(1000)
    const t = new FakeTunnel(clock, OLD)
    const vpn = vpnSide(clock, t)
    const { logger, lines } = capture()
    const bt = await openTunnel({ config: t, clock, logger, dns: ['10.9.0.1'] })
    try {
      vpn.server.setAddresses([{ address: '10.9.0.1', prefix: 24 }])
      t.emit('up', { ...NEW, dns: ['10.7.7.7'] })
      // the pushed search list still applies (as at start), the pushed server does not
      expect(lines).toEqual(['tunnel reconnected with new settings: address 10.8.0.2/24 → 10.9.0.2/24; search old.test → new.test'])
      expect(await settle(clock, bt.netstack.resolver.lookup('svc', 4))).toEqual(['10.9.0.1'])
      expect(vpn.asked).toEqual([['svc.new.test', '10.9.0.2']])
      expect(t.sentTo).not.toContain('10.7.7.7')
    } finally {
      await bt.close()
    }
  })
})
