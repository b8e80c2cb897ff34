// Test harness for the stub resolver: a fake network under a FakeClock that answers with a handler
// (a zone, or anything a test wants), records every query, and can model a dead link (the tunnel
// reconnecting): datagrams silently lost or refused, TCP connects that never complete.
import { FakeClock } from '../../../src/core/clock.js'
import { readU16, writeU16 } from '../../../src/core/bytes.js'
import type { BurrowError } from '../../../src/core/errors.js'
import type { TcpConn, UdpRemote, UdpSocket } from '../../../src/netstack/api.js'
import { DnsRcode, DnsType, encodeMessage, nameRdata, parseDnsMessage, type DnsMessage, type DnsRecordInput } from '../../../src/netstack/dns/message.js'
import { DnsResolver, type DnsResolverOptions } from '../../../src/netstack/dns/resolver.js'
import { parseIp } from '../../../src/netstack/addr.js'

export interface Reply {
  data: Uint8Array
  from?: UdpRemote
  delay?: number
}
export type Handler = (q: DnsMessage, server: string, via: 'udp' | 'tcp') => Reply[] | Uint8Array | null | 'icmp'

export interface Sent {
  server: string
  port: number
  localPort?: number
  via: 'udp' | 'tcp'
  q: DnsMessage
  at: number
  /** Sent while the link was down: never reached the server. */
  lost?: boolean
}

/** A TCP connect issued while the link was down: its SYN is lost, it settles only when told. */
export interface StuckConnect {
  server: string
  at: number
  /** Let it complete now (as a SYN retransmission finally getting through would). */
  complete(): void
  fail(err: Error): void
}

export class FakeNet {
  sent: Sent[] = []
  openSockets = 0
  openConns = 0
  /** false: up; 'drop': packets vanish (send() still says true); 'refuse': send() says false. */
  down: false | 'drop' | 'refuse' = false
  stuck: StuckConnect[] = []
  constructor(
    readonly clock: FakeClock,
    public handler: Handler,
    readonly delay = 5,
  ) {}

  udp = (localPort?: number): UdpSocket => {
    let closed = false
    this.openSockets++
    const sock: UdpSocket = {
      localPort: localPort ?? 40000,
      onMessage: null,
      onError: null,
      close: () => {
        if (!closed) this.openSockets--
        closed = true
      },
      send: (data, address, port) => {
        const q = parseDnsMessage(data)!
        if (this.down) {
          this.sent.push({ server: address, port, localPort, via: 'udp', q, at: this.clock.now(), lost: true })
          return this.down === 'drop'
        }
        this.sent.push({ server: address, port, localPort, via: 'udp', q, at: this.clock.now() })
        const r = this.handler(q, address, 'udp')
        if (r === 'icmp') {
          this.clock.schedule(this.clock.now() + 1, () => {
            if (!closed) sock.onError?.(new Error('port unreachable'), { address, port })
          })
          return true
        }
        const replies = r === null ? [] : r instanceof Uint8Array ? [{ data: r }] : r
        for (const rep of replies) {
          this.clock.schedule(this.clock.now() + (rep.delay ?? this.delay), () => {
            if (!closed) sock.onMessage?.(rep.data, rep.from ?? { address, port })
          })
        }
        return true
      },
    }
    return sock
  }

  private conn(server: string, port: number): TcpConn {
    let rx = new Uint8Array(0)
    let closed = false
    this.openConns++
    const close = () => {
      if (!closed) this.openConns--
      closed = true
    }
    const conn: TcpConn = {
      localAddress: '10.0.0.2',
      localPort: 50000,
      remoteAddress: server,
      remotePort: port,
      bufferedAmount: 0,
      onData: null,
      onEnd: null,
      onDrain: null,
      onClose: null,
      write: (b) => {
        const n = new Uint8Array(rx.length + b.length)
        n.set(rx)
        n.set(b, rx.length)
        rx = n
        if (rx.length >= 2 && rx.length >= 2 + readU16(rx, 0)) {
          const q = parseDnsMessage(rx.subarray(2))!
          if (this.down) {
            this.sent.push({ server, port, via: 'tcp', q, at: this.clock.now(), lost: true })
            return true
          }
          this.sent.push({ server, port, via: 'tcp', q, at: this.clock.now() })
          const r = this.handler(q, server, 'tcp')
          const data = r instanceof Uint8Array ? r : Array.isArray(r) ? r[0].data : null
          if (data) {
            const frame = new Uint8Array(2 + data.length)
            writeU16(frame, 0, data.length)
            frame.set(data, 2)
            // deliver in two pieces to exercise reassembly of the length-framed answer
            this.clock.schedule(this.clock.now() + this.delay, () => {
              if (!closed) conn.onData?.(frame.subarray(0, 1))
            })
            this.clock.schedule(this.clock.now() + this.delay + 1, () => {
              if (!closed) conn.onData?.(frame.subarray(1))
            })
          }
        }
        return true
      },
      end: close,
      destroy: close,
      pause: () => {},
      resume: () => {},
      setKeepAlive: () => {},
      setNoDelay: () => {},
    }
    return conn
  }

  tcp = (server: string, port: number): Promise<TcpConn> => {
    if (!this.down) return Promise.resolve(this.conn(server, port))
    return new Promise<TcpConn>((resolve, reject) => {
      this.stuck.push({ server, at: this.clock.now(), complete: () => resolve(this.conn(server, port)), fail: reject })
    })
  }
}

export function rr(name: string, type: number, ttl: number, value: string): DnsRecordInput {
  const data = type === DnsType.CNAME ? nameRdata(value)! : parseIp(value)!
  return { name, type, ttl, data }
}

export function reply(q: DnsMessage, opts: { answers?: DnsRecordInput[]; rcode?: number; tc?: boolean; id?: number; soaMin?: number }): Uint8Array {
  const authority: DnsRecordInput[] = []
  if (opts.soaMin !== undefined) {
    const mname = nameRdata('ns.test')!
    const rname = nameRdata('root.test')!
    const data = new Uint8Array(mname.length + rname.length + 20)
    data.set(mname)
    data.set(rname, mname.length)
    const v = new DataView(data.buffer)
    v.setUint32(mname.length + rname.length + 16, opts.soaMin)
    authority.push({ name: 'test', type: DnsType.SOA, ttl: 3600, data })
  }
  return encodeMessage({
    id: opts.id ?? q.id,
    qr: true,
    ra: true,
    tc: opts.tc,
    rcode: opts.rcode ?? 0,
    questions: q.questions,
    answers: opts.answers ?? [],
    authority,
  })!
}

/** A zone: name → records; answers A/AAAA/CNAME, NXDOMAIN for unknown names. */
export function zone(records: Record<string, Array<[number, string, number?]>>): Handler {
  return (q) => {
    const name = q.questions[0].name.toLowerCase()
    const type = q.questions[0].type
    const recs = records[name]
    if (!recs) return reply(q, { rcode: DnsRcode.NXDOMAIN, soaMin: 60 })
    const answers: DnsRecordInput[] = []
    let cur = name
    for (let hop = 0; hop < 8; hop++) {
      const here = records[cur] ?? []
      const cn = here.find(([t]) => t === DnsType.CNAME)
      if (cn && type !== DnsType.CNAME) {
        answers.push(rr(cur, DnsType.CNAME, cn[2] ?? 300, cn[1]))
        cur = cn[1]
        continue
      }
      for (const [t, v, ttl] of here) if (t === type) answers.push(rr(cur, t, ttl ?? 300, v))
      break
    }
    return reply(q, { answers, soaMin: answers.length ? undefined : 60 })
  }
}

/** Run the fake clock timer by timer (letting promises settle in between) until p settles. */
export async function drive<T>(clock: FakeClock, p: Promise<T>, limitMs = 120_000): Promise<T> {
  let settled = false
  p.then(
    () => (settled = true),
    () => (settled = true),
  )
  const end = clock.now() + limitMs
  for (;;) {
    await new Promise((r) => setImmediate(r))
    if (settled) break
    const next = clock.nextAt()
    if (next === undefined || next > end) throw new Error(`stuck at ${clock.now()}`)
    clock.runUntil(next)
  }
  return p
}

/** Advance the fake clock to `at`, timer by timer, letting promises settle in between. */
export async function runTo(clock: FakeClock, at: number): Promise<void> {
  for (;;) {
    await new Promise((r) => setImmediate(r))
    const next = clock.nextAt()
    if (next === undefined || next > at) break
    clock.runUntil(next)
  }
  clock.runUntil(at)
  await new Promise((r) => setImmediate(r))
}

export async function rejection(p: Promise<unknown>): Promise<BurrowError> {
  try {
    await p
  } catch (e) {
    return e as BurrowError
  }
  throw new Error('expected rejection')
}

export function setup(handler: Handler, opts: Partial<DnsResolverOptions> = {}) {
  const clock = new FakeClock(1000)
  const net = new FakeNet(clock, handler)
  const r = new DnsResolver({ servers: ['10.0.0.53', '10.0.1.53'], clock, udp: net.udp, tcp: net.tcp, ...opts })
  return { clock, net, r, look: (name: string, fam: 0 | 4 | 6 = 0) => drive(clock, r.lookup(name, fam)) }
}

export const basic = zone({
  'www.example.com': [
    [DnsType.A, '192.0.2.1'],
    [DnsType.A, '192.0.2.2'],
    [DnsType.AAAA, '2001:db8::1'],
  ],
  'alias.example.com': [[DnsType.CNAME, 'mid.example.net', 100]],
  'mid.example.net': [[DnsType.CNAME, 'www.example.com', 50]],
  'v4only.example.com': [[DnsType.A, '192.0.2.9', 30]],
})
