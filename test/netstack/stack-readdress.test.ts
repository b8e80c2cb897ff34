// NetStack.setAddresses / setDns: a reconnect handed out another address or other DNS servers.
// Two NetStacks back to back over an in-memory link under a FakeClock: `a` is the client whose
// address changes, `b` the far side (it answers whatever address a now uses, as the VPN server
// routes the new address to us).
import { describe, expect, it } from 'vitest'
import { FakeClock, seededRandom } from '../../src/core/clock.js'
import { Counters } from '../../src/core/counters.js'
import { BurrowError } from '../../src/core/errors.js'
import type { TcpConn } from '../../src/netstack/api.js'
import { DnsType } from '../../src/netstack/dns/message.js'
import { parseDnsMessage } from '../../src/netstack/dns/message.js'
import { NetStack } from '../../src/netstack/stack.js'
import { parseIpv4 } from '../../src/netstack/wire/ipv4.js'
import type { Link } from '../../src/tunnel/types.js'
import { drive, runTo, zone } from './dns/harness.js'

class MemLink implements Link {
  readonly headroom = 16
  readonly mtu = 1500
  peer: MemLink | null = null
  private rx: ((p: Uint8Array) => void) | null = null
  sent: Uint8Array[] = []
  blackhole = false
  constructor(private readonly clock: FakeClock) {}
  attach(rx: (p: Uint8Array) => void): void {
    this.rx = rx
  }
  send(pkt: Uint8Array): boolean {
    const c = pkt.slice()
    this.sent.push(c)
    if (!this.blackhole) this.clock.schedule(this.clock.now() + 5, () => this.peer?.rx?.(c))
    return true
  }
}

function pair() {
  const clock = new FakeClock(1000)
  const la = new MemLink(clock)
  const lb = new MemLink(clock)
  la.peer = lb
  lb.peer = la
  const ca = new Counters()
  const a = new NetStack({ link: la, clock, counters: ca, random: seededRandom(1), addresses: [{ address: '10.0.0.1', prefix: 24 }, { address: 'fd00::1', prefix: 64 }] })
  const b = new NetStack({ link: lb, clock, random: seededRandom(2), addresses: [{ address: '10.0.0.2', prefix: 24 }, { address: 'fd00::2', prefix: 64 }] })
  return { clock, la, lb, a, b, ca }
}

const settle = <T>(clock: FakeClock, p: Promise<T>): Promise<T> => drive(clock, p, 30_000)
const run = (clock: FakeClock, ms: number): Promise<void> => runTo(clock, clock.now() + ms)

/** b echoes on TCP port 7; returns the server-side connections it accepted. */
function echoServer(b: NetStack): TcpConn[] {
  const accepted: TcpConn[] = []
  b.listenTcp({ port: 7 }, (c) => {
    accepted.push(c)
    c.onData = (d) => c.write(d)
    c.onEnd = () => c.end()
  })
  return accepted
}

function collect(c: TcpConn): { text: () => string; closed: Promise<Error | undefined> } {
  let s = ''
  c.onData = (d) => (s += new TextDecoder().decode(d))
  const closed = new Promise<Error | undefined>((res) => (c.onClose = (e) => res(e)))
  return { text: () => s, closed }
}

const enc = (s: string) => new TextEncoder().encode(s)

describe('NetStack.setAddresses', () => {
  it('closes TCP connections on a removed address (no RST), keeps those on a kept one', async () => {
    const { clock, a, b, la, ca } = pair()
    const accepted = echoServer(b)
    const c4 = await settle(clock, a.connectTcp({ host: '10.0.0.2', port: 7 }))
    const c6 = await settle(clock, a.connectTcp({ host: 'fd00::2', port: 7 }))
    const r4 = collect(c4)
    const r6 = collect(c6)
    expect(a.tcpConnections).toBe(2)
    const sentBefore = la.sent.length
    expect(a.setAddresses([{ address: '10.0.0.9', prefix: 24 }, { address: 'fd00::1', prefix: 64 }])).toBe(1)
    const err = (await settle(clock, r4.closed)) as BurrowError
    expect(err).toBeInstanceOf(BurrowError)
    expect(err.code).toBe('ECONNRESET')
    expect(err.message).toMatch(/local address 10\.0\.0\.1 removed by the tunnel/)
    expect(la.sent.length).toBe(sentBefore) // nothing sent from the old address, not even a RST
    expect(ca.get('tcp.addr_removed_abort')).toBe(1)
    expect(ca.get('ip.addresses_changed')).toBe(1)
    expect(a.tcpConnections).toBe(1)
    expect(a.addresses).toEqual([
      { address: '10.0.0.9', prefix: 24 },
      { address: 'fd00::1', prefix: 64 },
    ])
    // the IPv6 connection is untouched and still carries data both ways
    expect(c6.write(enc('still here'))).toBe(true)
    await run(clock, 100)
    expect(r6.text()).toBe('still here')
    expect(c4.write(enc('x'))).toBe(false)
    expect(accepted).toHaveLength(2)
  })

  it('new connections and pings leave from the new address; the old one is no longer ours', async () => {
    const { clock, a, b, la, ca } = pair()
    const accepted = echoServer(b)
    a.setAddresses([{ address: '10.0.0.9', prefix: 24 }])
    const c = await settle(clock, a.connectTcp({ host: '10.0.0.2', port: 7 }))
    expect(c.localAddress).toBe('10.0.0.9')
    await run(clock, 10)
    expect(accepted[0].remoteAddress).toBe('10.0.0.9')
    const r = collect(c)
    c.write(enc('hi'))
    await run(clock, 50)
    expect(r.text()).toBe('hi')
    expect(await settle(clock, a.ping('10.0.0.2'))).toBe(10)
    expect(parseIpv4(la.sent.at(-1)!, 0, la.sent.at(-1)!.length)!.src).toEqual(new Uint8Array([10, 0, 0, 9]))
    // IPv6 was removed altogether
    await expect(a.connectTcp({ host: 'fd00::2', port: 7 })).rejects.toMatchObject({ code: 'ENETUNREACH' })
    // a packet for the old address is not for us any more
    const before = ca.get('ipv4.not_for_us')
    await expect(settle(clock, b.ping('10.0.0.1', { timeoutMs: 200 }))).rejects.toMatchObject({ code: 'ETIMEDOUT' })
    expect(ca.get('ipv4.not_for_us')).toBe(before + 1)
  })

  it('a UDP socket opened before the change sends from the new address and still gets replies', async () => {
    const { clock, a, b } = pair()
    const srv = b.listenUdp({ port: 9 })
    const seen: string[] = []
    srv.onMessage = (d, from) => {
      seen.push(from.address)
      srv.send(d, from.address, from.port)
    }
    const sock = a.openUdp()
    const got: string[] = []
    sock.onMessage = (d) => got.push(new TextDecoder().decode(d))
    sock.send(enc('one'), '10.0.0.2', 9)
    await run(clock, 20)
    a.setAddresses([{ address: '10.0.0.77', prefix: 24 }, { address: 'fd00::1', prefix: 64 }])
    sock.send(enc('two'), '10.0.0.2', 9)
    await run(clock, 20)
    expect(seen).toEqual(['10.0.0.1', '10.0.0.77'])
    expect(got).toEqual(['one', 'two'])
  })

  it('a TCP listener accepts on the new address', async () => {
    const { clock, a, b } = pair()
    const acc: TcpConn[] = []
    a.listenTcp({ port: 22 }, (c) => acc.push(c))
    a.setAddresses([{ address: '10.0.0.33', prefix: 24 }])
    const c = await settle(clock, b.connectTcp({ host: '10.0.0.33', port: 22 }))
    await run(clock, 10)
    expect(acc).toHaveLength(1)
    expect(acc[0].localAddress).toBe('10.0.0.33')
    c.destroy()
  })

  it('an identical list (even spelled differently) changes nothing', async () => {
    const { clock, a, b, ca } = pair()
    echoServer(b)
    const c = await settle(clock, a.connectTcp({ host: '10.0.0.2', port: 7 }))
    const r = collect(c)
    expect(a.setAddresses([{ address: '10.0.0.1', prefix: 24 }, { address: 'fd00:0:0::1', prefix: 64 }])).toBe(0)
    expect(ca.get('ip.addresses_changed')).toBe(0)
    c.write(enc('ok'))
    await run(clock, 50)
    expect(r.text()).toBe('ok')
    expect(a.tcpConnections).toBe(1)
    // another prefix is a change, but the address stays: the connection survives
    expect(a.setAddresses([{ address: '10.0.0.1', prefix: 16 }, { address: 'fd00::1', prefix: 64 }])).toBe(0)
    expect(ca.get('ip.addresses_changed')).toBe(1)
    expect(a.tcpConnections).toBe(1)
  })

  it('a malformed address is refused before anything changes', async () => {
    const { clock, a, b } = pair()
    echoServer(b)
    await settle(clock, a.connectTcp({ host: '10.0.0.2', port: 7 }))
    expect(() => a.setAddresses([{ address: 'nope', prefix: 24 }])).toThrow(/bad address nope/)
    expect(a.addresses[0].address).toBe('10.0.0.1')
    expect(a.tcpConnections).toBe(1)
  })

  it('a connect in progress from the removed address fails with ECONNRESET; TIME-WAIT entries are released', async () => {
    const { clock, a, b, la, ca } = pair()
    echoServer(b)
    // one connection closed by us first: it sits in TIME-WAIT on 10.0.0.1
    const done = await settle(clock, a.connectTcp({ host: '10.0.0.2', port: 7 }))
    const rd = collect(done)
    done.end()
    await run(clock, 50)
    expect(rd.text()).toBe('')
    expect(a.tcpConnections).toBe(1)
    expect(String((done as unknown as { state: unknown }).state)).toBe('TIME-WAIT')
    la.blackhole = true
    const pending = a.connectTcp({ host: '10.0.0.2', port: 7 })
    await run(clock, 10)
    expect(a.setAddresses([{ address: '10.0.0.9', prefix: 24 }])).toBe(1)
    await expect(settle(clock, pending)).rejects.toMatchObject({ code: 'ECONNRESET', message: expect.stringMatching(/local address 10\.0\.0\.1 removed/) })
    expect(a.tcpConnections).toBe(0)
    expect(ca.get('tcp.addr_removed_timewait')).toBe(1)
    expect(ca.get('tcp.addr_removed_abort')).toBe(1)
  })
})

describe('NetStack.setDns', () => {
  /** b answers DNS on udp/53 for the names of `z`. */
  function dnsServer(b: NetStack, z: ReturnType<typeof zone>, port = 53): string[] {
    const asked: string[] = []
    const s = b.listenUdp({ port })
    s.onMessage = (d, from) => {
      const q = parseDnsMessage(d)!
      asked.push(q.questions[0].name)
      const r = z(q, '10.0.0.2', 'udp')
      if (r instanceof Uint8Array) s.send(r, from.address, from.port)
    }
    return asked
  }

  it('replaces the servers of a resolver already in use, and before it exists', async () => {
    const { clock, a, b } = pair()
    const oldAsked = dnsServer(b, zone({ 'svc.corp': [[DnsType.A, '192.0.2.1']] }), 53)
    const newAsked = dnsServer(b, zone({ 'svc.corp': [[DnsType.A, '198.51.100.1']] }), 5353)
    const fresh = new NetStack({ link: new MemLink(clock), clock, addresses: [{ address: '10.0.0.5', prefix: 24 }], dns: { servers: ['10.0.0.2'] } })
    fresh.setDns({ servers: ['10.0.0.2:5353'], searchDomains: ['corp'] })
    expect((fresh.resolver as unknown as { candidates(h: string): string[] }).candidates('svc')).toEqual(['svc.corp', 'svc'])
    // `a` has used its resolver (created with the old server) before the change
    a.setDns({ servers: ['10.0.0.2'] })
    expect(await settle(clock, a.resolver.lookup('svc.corp', 4))).toEqual(['192.0.2.1'])
    a.setDns({ servers: ['10.0.0.2:5353'], searchDomains: ['corp'] })
    expect(await settle(clock, a.resolver.lookup('svc', 4))).toEqual(['198.51.100.1'])
    expect(oldAsked).toEqual(['svc.corp'])
    expect(newAsked).toEqual(['svc.corp'])
  })
})
