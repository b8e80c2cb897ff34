// Shared scaffolding for the simulation tests: two real NetStacks over a LossyLinkPair under one
// FakeClock, a deterministic payload source and a driver that interleaves fake time with the
// promise/callback work of the control plane.
import { createHash } from 'node:crypto'
import { FakeClock, seededRandom } from '../../src/core/clock.js'
import { Counters } from '../../src/core/counters.js'
import type { TcpConn } from '../../src/netstack/api.js'
import { NetStack, type NetStackOptions } from '../../src/netstack/stack.js'
import { readU16, writeU16 } from '../../src/core/bytes.js'
import { ipFamily, parseIp } from '../../src/netstack/addr.js'
import { DnsRcode, DnsType, encodeMessage, parseDnsMessage } from '../../src/netstack/dns/message.js'
import { createLossyLink, type LossyLinkOptions, type LossyLinkPair } from '../../src/netstack/sim/lossy-link.js'

export interface SimPair {
  clock: FakeClock
  link: LossyLinkPair
  a: NetStack
  b: NetStack
}

export function simPair(link: Omit<LossyLinkOptions, 'clock'>, stack: Partial<NetStackOptions> = {}, bStack: Partial<NetStackOptions> = {}): SimPair {
  const clock = new FakeClock(0)
  const l = createLossyLink({ ...link, clock })
  const a = new NetStack({
    link: l.a,
    clock,
    counters: new Counters(),
    random: seededRandom(link.seed * 2 + 1),
    addresses: [
      { address: '10.0.0.1', prefix: 24 },
      { address: 'fd00::1', prefix: 64 },
    ],
    ...stack,
  })
  const b = new NetStack({
    link: l.b,
    clock,
    counters: new Counters(),
    random: seededRandom(link.seed * 2 + 2),
    addresses: [
      { address: '10.0.0.2', prefix: 24 },
      { address: 'fd00::2', prefix: 64 },
    ],
    ...bStack,
  })
  return { clock, link: l, a, b }
}

/** Deterministic pseudo-random payload of n bytes. */
export function payload(seed: number, n: number): Uint8Array {
  const r = seededRandom(seed)
  const out = new Uint8Array(n)
  const w = new Uint32Array(out.buffer, 0, n >>> 2)
  for (let i = 0; i < w.length; i++) w[i] = (r() * 0x100000000) >>> 0
  for (let i = w.length * 4; i < n; i++) out[i] = (r() * 256) | 0
  return out
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

/** Let pending promise continuations (and nextTick/immediate work) run. */
export function flush(): Promise<void> {
  return new Promise((r) => setImmediate(r))
}

/**
 * Advance fake time in slices of `sliceMs`, yielding to the event loop between slices, until
 * `done()` holds or `maxMs` of fake time passed. Returns the fake time spent.
 */
export async function driveUntil(clock: FakeClock, done: () => boolean, maxMs: number, sliceMs = 1): Promise<number> {
  const t0 = clock.now()
  while (!done()) {
    if (clock.now() - t0 >= maxMs) throw new Error(`simulation did not finish within ${maxMs} ms of fake time`)
    clock.advance(sliceMs)
    await flush()
  }
  return clock.now() - t0
}

export async function settle<T>(clock: FakeClock, p: Promise<T>, maxMs = 60_000, sliceMs = 1): Promise<T> {
  let settled = false
  p.then(
    () => (settled = true),
    () => (settled = true),
  )
  await flush()
  await driveUntil(clock, () => settled, maxMs, sliceMs)
  return p
}

/** Streams `data` into conn with write()/onDrain backpressure, then end(). */
export class Sender {
  off = 0
  stalls = 0
  constructor(
    private readonly conn: TcpConn,
    private readonly data: Uint8Array,
    private readonly chunk = 64 * 1024,
  ) {
    conn.onDrain = () => this.pump()
  }
  pump(): void {
    while (this.off < this.data.length) {
      const n = Math.min(this.chunk, this.data.length - this.off)
      const ok = this.conn.write(this.data.subarray(this.off, this.off + n))
      this.off += n
      if (!ok) {
        this.stalls++
        return
      }
    }
    this.conn.end()
  }
}

/** Collects everything conn delivers into a sha256 and counts FIN/close. */
export class Receiver {
  got = 0
  /** Fake time of the last data delivery (with a clock). */
  lastDataAt = 0
  ended = false
  closed = false
  closeErr: Error | undefined
  private readonly h = createHash('sha256')
  constructor(conn: TcpConn, clock?: FakeClock) {
    conn.onData = (b) => {
      if (clock) this.lastDataAt = clock.now()
      this.got += b.length
      this.h.update(b)
    }
    conn.onEnd = () => {
      this.ended = true
    }
    conn.onClose = (err) => {
      this.closed = true
      this.closeErr = err
    }
  }
  digest(): string {
    return this.h.copy().digest('hex')
  }
}

/**
 * A tiny authoritative DNS server on `stack` (UDP and TCP port 53) for simulations. `zone` maps
 * lower-case names to A/AAAA addresses; names listed in `truncate` answer with TC over UDP.
 */
export function startDnsServer(stack: NetStack, zone: Record<string, string[]>, truncate: string[] = []): { udpQueries: number; tcpQueries: number } {
  const stats = { udpQueries: 0, tcpQueries: 0 }
  const answer = (q: Uint8Array, udp: boolean): Uint8Array | null => {
    const m = parseDnsMessage(q)
    if (!m || m.qr || m.questions.length !== 1) return null
    const { name, type } = m.questions[0]
    const addrs = zone[name.toLowerCase()]
    const tc = udp && truncate.includes(name.toLowerCase())
    const answers = tc
      ? []
      : (addrs ?? [])
          .filter((a) => (type === DnsType.A ? ipFamily(a) === 4 : type === DnsType.AAAA ? ipFamily(a) === 6 : false))
          .map((a) => ({ name, type, ttl: 60, data: parseIp(a)! }))
    return encodeMessage({ id: m.id, qr: true, aa: true, ra: true, tc, rcode: addrs ? DnsRcode.NOERROR : DnsRcode.NXDOMAIN, questions: m.questions, answers })
  }
  const u = stack.listenUdp({ port: 53 })
  u.onMessage = (data, from) => {
    stats.udpQueries++
    const r = answer(data, true)
    if (r) u.send(r, from.address, from.port)
  }
  stack.listenTcp({ port: 53 }, (c) => {
    let buf = new Uint8Array(0)
    c.onData = (b) => {
      const n = new Uint8Array(buf.length + b.length)
      n.set(buf)
      n.set(b, buf.length)
      buf = n
      while (buf.length >= 2 && buf.length >= 2 + readU16(buf, 0)) {
        const len = readU16(buf, 0)
        stats.tcpQueries++
        const r = answer(buf.subarray(2, 2 + len), false)
        buf = buf.slice(2 + len)
        if (r) {
          const f = new Uint8Array(2 + r.length)
          writeU16(f, 0, r.length)
          f.set(r, 2)
          c.write(f)
        }
      }
    }
    c.onEnd = () => c.end()
  })
  return stats
}
