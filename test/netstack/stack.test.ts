// Two NetStacks wired back to back over an in-memory Link under FakeClock.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FakeClock, seededRandom } from '../../src/core/clock.js'
import { Counters } from '../../src/core/counters.js'
import { BurrowError } from '../../src/core/errors.js'
import { NetStack } from '../../src/netstack/stack.js'
import { parseIp } from '../../src/netstack/addr.js'
import { pseudoHeaderSum } from '../../src/netstack/wire/checksum.js'
import { emitIpv4Header, parseIpv4 } from '../../src/netstack/wire/ipv4.js'
import { parseIpv6 } from '../../src/netstack/wire/ipv6.js'
import { emitUdp } from '../../src/netstack/wire/udp.js'
import { emitIcmpv6 } from '../../src/netstack/wire/icmp.js'
import { emitIpv6Header } from '../../src/netstack/wire/ipv6.js'
import { parseTcp } from '../../src/netstack/wire/tcp.js'
import type { Link } from '../../src/tunnel/types.js'

/** One direction of an in-memory link: packets arrive `delay` ms later on the peer. */
class MemLink implements Link {
  readonly headroom = 16
  peer: MemLink | null = null
  private rx: ((p: Uint8Array) => void) | null = null
  private drain: (() => void) | null = null
  /** Packets sent (copies, starting at the IP header). */
  sent: Uint8Array[] = []
  /** Drop everything sent while true. */
  blackhole = false
  /** Optional rewrite of outgoing packets (return null to drop). */
  filter: ((p: Uint8Array) => Uint8Array | null) | null = null
  /** Report backpressure after this many packets until drained. */
  budget = Infinity
  private inFlight = 0
  headroomViolations = 0

  constructor(
    private readonly clock: FakeClock,
    readonly mtu = 1500,
    private readonly delay = 5,
  ) {}
  attach(rx: (p: Uint8Array) => void, onDrain: () => void): void {
    this.rx = rx
    this.drain = onDrain
  }
  send(pkt: Uint8Array): boolean {
    // The contract: headroom bytes free in front of the packet, which the tunnel may overwrite.
    if (pkt.byteOffset < this.headroom) this.headroomViolations++
    else new Uint8Array(pkt.buffer, pkt.byteOffset - this.headroom, this.headroom).fill(0xee)
    if (pkt.length > this.mtu) throw new Error(`packet of ${pkt.length} > mtu ${this.mtu}`)
    let copy: Uint8Array | null = pkt.slice()
    this.sent.push(copy)
    if (this.filter) copy = this.filter(copy)
    if (copy && !this.blackhole) {
      const c = copy
      this.clock.schedule(this.clock.now() + this.delay, () => this.peer?.rx?.(c))
    }
    if (this.budget === Infinity) return true
    this.inFlight++
    if (this.inFlight >= this.budget) {
      this.clock.schedule(this.clock.now() + this.delay, () => {
        this.inFlight = 0
        this.drain?.()
      })
      return false
    }
    return true
  }
  /** Deliver raw bytes to this link's stack as if they came from the peer. */
  inject(pkt: Uint8Array): void {
    this.rx?.(pkt)
  }
}

function pair(opts: { mtu?: number; delay?: number } = {}) {
  const clock = new FakeClock(1000)
  const la = new MemLink(clock, opts.mtu, opts.delay)
  const lb = new MemLink(clock, opts.mtu, opts.delay)
  la.peer = lb
  lb.peer = la
  const ca = new Counters()
  const cb = new Counters()
  const a = new NetStack({ link: la, clock, counters: ca, random: seededRandom(1), addresses: [{ address: '10.0.0.1', prefix: 24 }, { address: 'fd00::1', prefix: 64 }] })
  const b = new NetStack({ link: lb, clock, counters: cb, random: seededRandom(2), addresses: [{ address: '10.0.0.2', prefix: 24 }, { address: 'fd00::2', prefix: 64 }] })
  return { clock, la, lb, a, b, ca, cb }
}

/** Run the fake clock (1 ms steps, letting promise callbacks run) until p settles. */
async function settle<T>(clock: FakeClock, p: Promise<T>, maxMs = 60_000): Promise<T> {
  let done = false
  p.then(
    () => (done = true),
    () => (done = true),
  )
  for (let t = 0; t < maxMs && !done; t++) {
    clock.advance(1)
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }
  return p
}
async function run(clock: FakeClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t++) {
    clock.advance(1)
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }
}

describe('NetStack: ICMP echo', () => {
  it('pings both ways over IPv4 and IPv6 with the clock RTT', async () => {
    const { clock, a, b, la, lb } = pair({ delay: 7 })
    expect(await settle(clock, a.ping('10.0.0.2'))).toBe(14)
    expect(await settle(clock, b.ping('10.0.0.1', { size: 0 }))).toBe(14)
    expect(await settle(clock, a.ping('fd00::2'))).toBe(14)
    expect(await settle(clock, b.ping('fd00::1'))).toBe(14)
    // every packet was emitted right after the headroom of its own buffer
    expect(la.headroomViolations + lb.headroomViolations).toBe(0)
    const req = parseIpv4(la.sent[0], 0, la.sent[0].length)!
    expect(req.ttl).toBe(64)
    expect(parseIpv6(la.sent[2], 0, la.sent[2].length)!.hopLimit).toBe(64)
  })
  it('times out with ETIMEDOUT and rejects unknown/unsupported targets', async () => {
    const { clock, a, la } = pair()
    la.blackhole = true
    await expect(settle(clock, a.ping('10.0.0.2', { timeoutMs: 300 }))).rejects.toMatchObject({ code: 'ETIMEDOUT' })
    await expect(a.ping('example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    const clock2 = new FakeClock()
    const only4 = new NetStack({ link: new MemLink(clock2), clock: clock2, addresses: [{ address: '10.1.0.1', prefix: 32 }] })
    await expect(only4.ping('fd00::9')).rejects.toMatchObject({ code: 'ENETUNREACH' })
  })
  it('big pings are fragmented and reassembled (v4 and v6)', async () => {
    const { clock, a, b, la, lb, ca, cb } = pair({ mtu: 1280 })
    expect(await settle(clock, a.ping('10.0.0.2', { size: 4000 }))).toBe(10)
    expect(await settle(clock, a.ping('fd00::2', { size: 4000 }))).toBe(10)
    expect(ca.get('ipv4.fragmented')).toBe(1)
    expect(cb.get('ipv4.fragmented')).toBe(1) // the reply is fragmented too
    expect(ca.get('ipv6.reassembled')).toBe(1)
    expect(cb.get('ipv6.reassembled')).toBe(1)
    expect(la.sent.every((p) => p.length <= 1280) && lb.sent.every((p) => p.length <= 1280)).toBe(true)
    void b
  })
})

describe('NetStack: UDP', () => {
  for (const [fam, addrB] of [
    ['IPv4', '10.0.0.2'],
    ['IPv6', 'fd00::2'],
  ] as const) {
    it(`echo over ${fam}`, async () => {
      const { clock, a, b } = pair()
      const srv = b.listenUdp({ port: 7 })
      srv.onMessage = (d, from) => srv.send(d, from.address, from.port)
      const cli = a.openUdp()
      expect(cli.localPort).toBeGreaterThanOrEqual(49152)
      const got = new Promise<[Uint8Array, string, number]>((res) => (cli.onMessage = (d, from) => res([d, from.address, from.port])))
      expect(cli.send(new TextEncoder().encode('hello'), addrB, 7)).toBe(true)
      const [d, addr, port] = await settle(clock, got)
      expect(new TextDecoder().decode(d)).toBe('hello')
      expect([addr, port]).toEqual([addrB, 7])
    })
  }
  it('a 20 000-byte datagram crosses a 1280-byte link in fragments, both families', async () => {
    const { clock, a, b, cb } = pair({ mtu: 1280 })
    const srv = b.listenUdp({ port: 9000 })
    const data = new Uint8Array(20_000).map((_, i) => (i * 7) & 0xff)
    for (const dst of ['10.0.0.2', 'fd00::2']) {
      const got = new Promise<Uint8Array>((res) => (srv.onMessage = (d) => res(d)))
      a.openUdp().send(data, dst, 9000)
      expect([...(await settle(clock, got))]).toEqual([...data])
    }
    expect(cb.get('ipv4.reassembled')).toBe(1)
    expect(cb.get('ipv6.reassembled')).toBe(1)
  })
  it('port unreachable reaches the sending socket (ECONNREFUSED), rate limited', async () => {
    const { clock, a, cb } = pair()
    for (const dst of ['10.0.0.2', 'fd00::2']) {
      const s = a.openUdp()
      const err = new Promise<[Error, unknown]>((res) => (s.onError = (e, from) => res([e, from])))
      s.send(new Uint8Array([1, 2, 3]), dst, 4444)
      const [e, from] = await settle(clock, err)
      expect(e).toBeInstanceOf(BurrowError)
      expect((e as BurrowError).code).toBe('ECONNREFUSED')
      expect(from).toEqual({ address: dst, port: 4444 })
    }
    const s = a.openUdp()
    let errors = 0
    s.onError = () => errors++
    for (let i = 0; i < 300; i++) s.send(new Uint8Array(1), '10.0.0.2', 4444)
    await run(clock, 20)
    expect(errors).toBeGreaterThan(10)
    expect(errors).toBeLessThan(300)
    expect(cb.get('icmp4.rate_limited')).toBe(300 - errors)
  })
  it('listenUdp honours allow, ports collide with EADDRINUSE, closed sockets stop receiving', async () => {
    const { clock, a, b, cb } = pair()
    const srv = b.listenUdp({ port: 53, allow: [{ address: '10.0.0.0', prefix: 30 }] })
    expect(() => b.listenUdp({ port: 53 })).toThrow(/in use/)
    const seen: string[] = []
    srv.onMessage = (_d, from) => seen.push(from.address)
    a.openUdp().send(new Uint8Array(1), '10.0.0.2', 53)
    a.openUdp().send(new Uint8Array(1), 'fd00::2', 53)
    await run(clock, 20)
    expect(seen).toEqual(['10.0.0.1'])
    expect(cb.get('udp.not_allowed')).toBe(1)
    srv.close()
    expect(srv.send(new Uint8Array(1), '10.0.0.1', 1)).toBe(false)
    a.openUdp().send(new Uint8Array(1), '10.0.0.2', 53)
    await run(clock, 20)
    expect(cb.get('udp.no_socket')).toBe(1)
    const again = b.listenUdp({ port: 53 })
    again.close()
  })
})

describe('NetStack: TCP demux', () => {
  it('SYN to a closed port gets RST and connectTcp rejects with ECONNREFUSED (v4 and v6)', async () => {
    const { clock, a, lb, cb } = pair()
    for (const host of ['10.0.0.2', 'fd00::2']) {
      await expect(settle(clock, a.connectTcp({ host, port: 81 }))).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    }
    expect(cb.get('tcp.no_socket')).toBe(2)
    const rst = lb.sent[0]
    const ip = parseIpv4(rst, 0, rst.length)!
    const seg = parseTcp(rst, ip.payloadOffset, ip.payloadLen, pseudoHeaderSum(ip.src, ip.dst, 6, ip.payloadLen))!
    expect(seg.flags & 0x04).toBeTruthy()
    expect(a.tcpConnections).toBe(0)
  })
  it('connects, moves data both ways and closes (v4 and v6)', async () => {
    const { clock, a, b } = pair()
    const accepted: string[] = []
    b.listenTcp({ port: 80 }, (c) => {
      accepted.push(`${c.remoteAddress}`)
      c.onData = (d) => c.write(d) // echo
      c.onEnd = () => c.end()
    })
    for (const host of ['10.0.0.2', 'fd00::2']) {
      const c = await settle(clock, a.connectTcp({ host, port: 80 }))
      expect(c.remoteAddress).toBe(host)
      const chunks: Uint8Array[] = []
      c.onData = (d) => chunks.push(d.slice())
      const closed = new Promise<Error | undefined>((res) => (c.onClose = res))
      const msg = new Uint8Array(100_000).map((_, i) => i & 0xff)
      c.write(msg)
      c.end()
      expect(await settle(clock, closed)).toBeUndefined()
      const got = Buffer.concat(chunks)
      expect(got.length).toBe(msg.length)
      expect(Buffer.compare(got, Buffer.from(msg))).toBe(0)
    }
    expect(accepted).toEqual(['10.0.0.1', 'fd00::1'])
  })
  it('listener allow list answers others with RST', async () => {
    const { clock, a, b, cb } = pair()
    b.listenTcp({ port: 22, allow: [{ address: 'fd00::', prefix: 64 }] }, () => {})
    await expect(settle(clock, a.connectTcp({ host: '10.0.0.2', port: 22 }))).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    expect(cb.get('tcp.not_allowed')).toBe(1)
    const ok = await settle(clock, a.connectTcp({ host: 'fd00::2', port: 22 }))
    ok.destroy()
  })
  it('connect times out against a black hole and can be aborted', async () => {
    const { clock, a, la } = pair()
    la.blackhole = true
    await expect(settle(clock, a.connectTcp({ host: '10.0.0.2', port: 80, timeoutMs: 3000 }))).rejects.toMatchObject({ code: 'ETIMEDOUT' })
    const ac = new AbortController()
    const p = a.connectTcp({ host: '10.0.0.2', port: 80, signal: ac.signal })
    p.catch(() => {})
    await run(clock, 10)
    ac.abort()
    await expect(settle(clock, p)).rejects.toMatchObject({ code: 'EABORTED' })
    await run(clock, 5000)
    expect(a.tcpConnections).toBe(0)
  })
  it('an ICMP port unreachable quoting our SYN fails the connect', async () => {
    const { clock, a, la, lb } = pair()
    // B drops its RST and instead answers the SYN with ICMP port unreachable, as a firewall would
    lb.filter = (p) => {
      if (p[0] >> 4 === 4 && p[9] === 6) return null
      return p
    }
    la.filter = (p) => {
      if (p[0] >> 4 !== 4 || p[9] !== 6) return p
      const ip = parseIpv4(p, 0, p.length)!
      const icmp = new Uint8Array(8 + 28)
      icmp[0] = 3
      icmp[1] = 3
      icmp.set(p.subarray(0, 28), 8)
      let s = 0
      for (let i = 0; i < icmp.length; i += 2) s += (icmp[i] << 8) | icmp[i + 1]
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
      icmp[2] = (~s >> 8) & 0xff
      icmp[3] = ~s & 0xff
      const out = new Uint8Array(20 + icmp.length)
      emitIpv4Header({ src: ip.dst, dst: ip.src, protocol: 1, payloadLen: icmp.length }, out, 0)
      out.set(icmp, 20)
      clock.schedule(clock.now() + 3, () => la.inject(out))
      return null
    }
    await expect(settle(clock, a.connectTcp({ host: '10.0.0.2', port: 80 }))).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    expect(a.counters.get('icmp.tcp_error')).toBe(1)
  })
  it('respects link backpressure: a full link defers TCP output until drain, nothing lost', async () => {
    const { clock, a, b, la, ca } = pair()
    la.budget = 4
    const got: Uint8Array[] = []
    let ended!: () => void
    const done = new Promise<void>((r) => (ended = r))
    b.listenTcp({ port: 5001 }, (c) => {
      c.onData = (d) => got.push(d.slice())
      c.onEnd = () => ended()
    })
    const c = await settle(clock, a.connectTcp({ host: '10.0.0.2', port: 5001 }))
    const msg = new Uint8Array(300_000).map((_, i) => (i * 13) & 0xff)
    c.write(msg)
    c.end()
    await settle(clock, done)
    expect(Buffer.compare(Buffer.concat(got), Buffer.from(msg))).toBe(0)
    expect(ca.get('link.backpressure')).toBeGreaterThan(0)
    expect(ca.get('tcp.output_deferred')).toBeGreaterThan(0)
  })
})

describe('NetStack: path MTU', () => {
  /** A router in front of A's link that drops IPv6 packets above 1280 bytes with packet-too-big. */
  function narrowV6Path(clock: FakeClock, la: MemLink): { ptbs: number } {
    const st = { ptbs: 0 }
    const router = parseIp('fd00::fe')!
    la.filter = (p) => {
      if (p[0] >> 4 !== 6 || p.length <= 1280) return p
      const ip = parseIpv6(p, 0, p.length)!
      const quote = p.subarray(0, 1280 - 48)
      const icmp = new Uint8Array(8 + quote.length)
      emitIcmpv6({ type: 2, code: 0, mtu: 1280, invoking: quote }, icmp, 0, pseudoHeaderSum(router, ip.src, 58, icmp.length))
      const out = new Uint8Array(40 + icmp.length)
      emitIpv6Header({ src: router, dst: ip.src, nextHeader: 58, payloadLen: icmp.length }, out, 0)
      out.set(icmp, 40)
      st.ptbs++
      clock.schedule(clock.now() + 2, () => la.inject(out))
      return null
    }
    return st
  }
  it('packet-too-big lowers the path MTU for UDP (fragmented from then on, no error to the app)', async () => {
    const { clock, a, b, la, ca } = pair()
    const st = narrowV6Path(clock, la)
    const srv = b.listenUdp({ port: 9 })
    const got: number[] = []
    srv.onMessage = (d) => got.push(d.length)
    const s = a.openUdp()
    let errors = 0
    s.onError = () => errors++
    s.send(new Uint8Array(1400), 'fd00::2', 9) // lost: too big for the path
    await run(clock, 20)
    s.send(new Uint8Array(1400), 'fd00::2', 9)
    await run(clock, 20)
    expect(st.ptbs).toBe(1)
    expect(got).toEqual([1400])
    expect(errors).toBe(0)
    expect(ca.get('ip.pmtu_learned')).toBe(1)
    expect(ca.get('ipv6.fragmented')).toBe(1)
    // forgotten after 10 minutes
    await run(clock, 0)
    clock.advance(600_001)
    s.send(new Uint8Array(1400), 'fd00::2', 9)
    await run(clock, 20)
    expect(st.ptbs).toBe(2)
  })
  it('packet-too-big reaches the TCP connection, which shrinks its segments: the transfer completes', async () => {
    const { clock, a, b, la } = pair()
    const st = narrowV6Path(clock, la)
    const chunks: Uint8Array[] = []
    let ended!: () => void
    const done = new Promise<void>((r) => (ended = r))
    b.listenTcp({ port: 80 }, (c) => {
      c.onData = (d) => chunks.push(d.slice())
      c.onEnd = () => ended()
    })
    const c = await settle(clock, a.connectTcp({ host: 'fd00::2', port: 80 }))
    const msg = new Uint8Array(50_000).map((_, i) => (i * 5) & 0xff)
    c.write(msg)
    c.end()
    await settle(clock, done)
    expect(st.ptbs).toBeGreaterThan(0)
    expect(Buffer.compare(Buffer.concat(chunks), Buffer.from(msg))).toBe(0)
    expect(a.counters.get('tcp.pmtu_reduced')).toBeGreaterThan(0)
  })
})

describe('NetStack: hostile input', () => {
  it('malformed packets are counted, never thrown', () => {
    const { la, lb, cb } = pair()
    const inject = (p: Uint8Array) => expect(() => lb.inject(p)).not.toThrow()
    inject(new Uint8Array(0))
    inject(new Uint8Array([0x45]))
    inject(new Uint8Array(40).fill(0x60))
    inject(new Uint8Array([0x12, 0x34]))
    // valid IPv4 header, UDP with a bad checksum
    const src = parseIp('10.0.0.1')!
    const dst = parseIp('10.0.0.2')!
    const p = new Uint8Array(20 + 12)
    emitIpv4Header({ src, dst, protocol: 17, payloadLen: 12 }, p, 0)
    emitUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array(4) }, p, 20, pseudoHeaderSum(src, dst, 17, 12))
    p[30] ^= 1
    inject(p)
    // not addressed to us
    const q = new Uint8Array(28)
    emitIpv4Header({ src, dst: parseIp('10.0.0.99')!, protocol: 17, payloadLen: 8 }, q, 0)
    inject(q)
    // random garbage behind valid headers of every protocol
    for (const proto of [1, 6, 17, 58, 99]) {
      const g = new Uint8Array(20 + 30)
      emitIpv4Header({ src, dst, protocol: proto, payloadLen: 30 }, g, 0)
      for (let i = 20; i < g.length; i++) g[i] = (i * 37) & 0xff
      inject(g)
    }
    const c = cb.snapshot()
    expect(c['ip.empty']).toBe(1)
    expect(c['ipv4.truncated']).toBe(1)
    expect(c['ipv6.truncated'] ?? c['ipv6.bad_version'] ?? 0).toBeGreaterThanOrEqual(0)
    expect(c['ip.bad_version']).toBe(1)
    expect(c['udp.bad_checksum']).toBeGreaterThanOrEqual(1)
    expect(c['ipv4.not_for_us']).toBe(1)
    expect(c['ipv4.unknown_protocol']).toBe(1)
    void la
  })
  it('random bytes and random mutations of valid packets never throw (property)', async () => {
    const { clock, a, b, la, lb, cb } = pair()
    // real traffic of every kind from A: ping v4/v6, UDP v4/v6, a TCP exchange, fragments
    b.listenTcp({ port: 80 }, (c) => (c.onData = (d) => c.write(d)))
    const srv = b.listenUdp({ port: 7 })
    srv.onMessage = () => {}
    await settle(clock, a.ping('10.0.0.2'))
    await settle(clock, a.ping('fd00::2', { size: 3000 }))
    a.openUdp().send(new Uint8Array(50), '10.0.0.2', 7)
    a.openUdp().send(new Uint8Array(50), 'fd00::2', 7)
    const c = await settle(clock, a.connectTcp({ host: '10.0.0.2', port: 80 }))
    c.write(new Uint8Array(3000))
    await run(clock, 50)
    const valid = la.sent.slice()
    expect(valid.length).toBeGreaterThan(8)
    const before = Object.values(cb.snapshot()).reduce((x, y) => x + y, 0)
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (i, pos, xor, truncate) => {
        const p = valid[i].slice()
        const at = pos % p.length
        p[at] ^= xor
        lb.inject(truncate ? p.subarray(0, at) : p)
      }),
      { numRuns: 1000 },
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x00), (bytes, first) => {
        if (bytes.length) bytes[0] = first
        lb.inject(bytes)
      }),
      { numRuns: 1000 },
    )
    await run(clock, 100)
    const after = Object.values(cb.snapshot()).reduce((x, y) => x + y, 0)
    expect(after - before).toBeGreaterThan(1500) // nearly every one was dropped and counted
    c.destroy()
  })
  it('datagrams are refused while the link is full; TCP handshakes wait, UDP does not queue', async () => {
    const { clock, a, la, ca } = pair()
    la.budget = 1
    const s = a.openUdp()
    expect(s.send(new Uint8Array(10), '10.0.0.2', 9)).toBe(true) // accepted; the link now reports full
    expect(s.send(new Uint8Array(10), '10.0.0.2', 9)).toBe(false)
    expect(ca.get('ip.link_full_drop')).toBe(1)
    await run(clock, 10) // drained
    expect(s.send(new Uint8Array(10), '10.0.0.2', 9)).toBe(true)
  })
  it('a full backlog drops SYNs silently; the client retries and gets in once there is room', async () => {
    const { clock, a, b, lb, cb } = pair()
    let n = 0
    b.listenTcp({ port: 80, backlog: 1 }, () => n++)
    lb.blackhole = true // B's SYN-ACKs vanish: handshakes stay pending
    const p1 = a.connectTcp({ host: '10.0.0.2', port: 80 })
    const p2 = a.connectTcp({ host: '10.0.0.2', port: 80 })
    p1.catch(() => {})
    p2.catch(() => {})
    await run(clock, 50)
    expect(cb.get('tcp.backlog_full')).toBe(1)
    lb.blackhole = false
    const res = await settle(clock, Promise.allSettled([p1, p2]))
    expect(res.map((r) => r.status + (r.status === 'rejected' ? String(r.reason) : ''))).toEqual(['fulfilled', 'fulfilled'])
    await run(clock, 20) // the final ACK of the handshake reaches B
    expect(n).toBe(2)
  })
  it('close() tears everything down', async () => {
    const { clock, a, b } = pair()
    const u = a.openUdp({ localPort: 5000 })
    b.listenTcp({ port: 80 }, () => {})
    const c = await settle(clock, a.connectTcp({ host: '10.0.0.2', port: 80 }))
    const p = a.ping('10.0.0.2')
    const closed = new Promise<Error | undefined>((r) => (c.onClose = r))
    a.close()
    await expect(p).rejects.toMatchObject({ code: 'ECLOSED' })
    expect(u.send(new Uint8Array(1), '10.0.0.2', 1)).toBe(false)
    expect(await closed).toBeInstanceOf(Error)
    expect(a.tcpConnections).toBe(0)
    await expect(a.connectTcp({ host: '10.0.0.2', port: 80 })).rejects.toMatchObject({ code: 'ECLOSED' })
  })
})
