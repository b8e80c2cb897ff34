// Stub resolver (RFC 1035 §4.2 and §7; RFC 1123 §6.1.3): UDP queries with retries rotating across
// the configured servers, TCP with 2-byte length framing when an answer is truncated (RFC 7766
// §5), random IDs and source ports with strict response matching (RFC 5452 §9.1), CNAME chains
// followed inside the answer (RFC 1034 §3.6.2), TTL cache with negative caching (RFC 2308 §5),
// resolv.conf-style search list and ndots, "localhost" answered locally (RFC 6761 §6.3), EDNS0
// payload size advertised (RFC 6891). Queries lost while the tunnel was down are resent as soon
// as it is back (relinked()); a query whose tries all timed out while nothing at all arrived over
// the link is held for the link to come back (linkRx). Servers pushed anew on a reconnect replace
// the old ones, and queries in flight move to them (setServers()). Transport-agnostic: it only
// sees UdpSocket/TcpConn factories, so it runs over the netstack, a fake in tests, or anything else.
// Checking and classifying a response is response.ts.
import { randomInt } from 'node:crypto'
import { domainToASCII } from 'node:url'
import { writeU16, readU16 } from '../../core/bytes.js'
import type { Clock } from '../../core/clock.js'
import { Counters } from '../../core/counters.js'
import { BurrowError, ErrorCode } from '../../core/errors.js'
import { formatIp, ipFamily, parseIp } from '../addr.js'
import type { Resolver, TcpConn, UdpSocket } from '../api.js'
import { DnsType, encodeQuery, parseDnsMessage } from './message.js'
import { classifyResponse, matchResponse, type Outcome, type TryResult } from './response.js'

export interface DnsResolverOptions {
  /** Server addresses: "10.0.0.1", "fd00::1", "10.0.0.1:5353", "[fd00::1]:5353". */
  servers: string[]
  searchDomains?: string[]
  /** Names with at least this many dots are tried as-is before the search list (default 1). */
  ndots?: number
  /** Per-try timeout (default 2000 ms). */
  timeoutMs?: number
  /** Passes over the server list (default 2). */
  attempts?: number
  clock: Clock
  /** A fresh UDP socket; localPort is a random suggestion the factory may honour or ignore. */
  udp: (localPort?: number) => UdpSocket
  tcp: (server: string, port: number) => Promise<TcpConn>
  /** Static entries (like /etc/hosts): name → addresses. */
  hosts?: Record<string, string[]>
  /** Uniform [0, 1) source for IDs and ports (default: node:crypto). Inject for determinism. */
  random?: () => number
  counters?: Counters
  /** Cap on positive cache lifetime (default 300 000 ms). */
  maxCacheTtlMs?: number
  /** Cap on negative cache lifetime (default 5 000 ms). */
  negativeTtlMs?: number
  maxCacheEntries?: number
  /** EDNS0 UDP payload size to advertise; 0 disables EDNS (default 1232). */
  ednsUdpSize?: number
  /**
   * Packets received over the link so far (any kind; a counter that only grows). When every try
   * of a query timed out and this did not move while they ran, the link is what failed, not the
   * servers: the query is held up to `linkWaitMs` for the link to come back (relinked(), or
   * anything arriving), then runs its schedule once more. Without it, timeouts are final.
   */
  linkRx?: () => number
  /** How long a query is held for a silent link (default 15 000 ms; 0 disables holding). */
  linkWaitMs?: number
}

interface Server {
  address: string
  port: number
}

/**
 * A try waiting for its answer: `again` resends it once (relinked; false when it already was),
 * `moved` ends it (setServers). Registered until the try is over.
 */
interface Outstanding {
  again(): boolean
  moved(): void
}

const MAX_TCP_RESPONSE = 2 + 0xffff

/** "1.2.3.4", "1.2.3.4:53", "fd00::1", "[fd00::1]:53" → address and port; null if malformed. */
export function parseServer(s: string): Server | null {
  const t = s.trim()
  let host = t
  let port = 53
  const m6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(t)
  if (m6) {
    host = m6[1]
    if (m6[2] !== undefined) port = Number(m6[2])
  } else {
    const m4 = /^([0-9.]+):(\d{1,5})$/.exec(t)
    if (m4) {
      host = m4[1]
      port = Number(m4[2])
    }
  }
  const b = parseIp(host)
  if (!b || port < 1 || port > 65535) return null
  return { address: formatIp(b), port }
}

function parseServers(list: readonly string[]): Server[] {
  const out: Server[] = []
  for (const s of list) {
    const p = parseServer(s)
    if (p) out.push(p)
  }
  return out
}

function cleanSearch(list: readonly string[] | undefined): string[] {
  return (list ?? []).map((d) => d.trim().replace(/^\.+|\.+$/g, '')).filter((d) => d.length > 0)
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true
  const x = parseIp(a)
  const y = parseIp(b)
  return !!x && !!y && formatIp(x) === formatIp(y)
}

export class DnsResolver implements Resolver {
  readonly counters: Counters
  private servers: Server[]
  private search: string[]
  private readonly ndots: number
  private readonly timeoutMs: number
  private readonly attempts: number
  private readonly clock: Clock
  private readonly hosts = new Map<string, string[]>()
  private readonly maxTtlMs: number
  private readonly negTtlMs: number
  private readonly maxEntries: number
  private readonly rand: () => number
  private edns: number
  private readonly cache = new Map<string, { expires: number; outcome: Outcome }>()
  private readonly inflight = new Map<string, Promise<Outcome>>()
  /** The try each outstanding query is waiting on: relinked() sends it again (see there). */
  private readonly outstanding = new Set<Outstanding>()
  /** Queries held for a silent link (see DnsResolverOptions.linkRx): called when it is back. */
  private readonly linkWaiters = new Set<() => void>()
  private readonly linkWaitMs: number

  constructor(private readonly opts: DnsResolverOptions) {
    this.servers = parseServers(opts.servers)
    this.search = cleanSearch(opts.searchDomains)
    this.ndots = Math.max(0, Math.min(opts.ndots ?? 1, 15))
    this.timeoutMs = Math.max(1, opts.timeoutMs ?? 2000)
    this.attempts = Math.max(1, Math.min(opts.attempts ?? 2, 5))
    this.clock = opts.clock
    this.maxTtlMs = opts.maxCacheTtlMs ?? 300_000
    this.negTtlMs = opts.negativeTtlMs ?? 5_000
    this.maxEntries = Math.max(1, opts.maxCacheEntries ?? 1024)
    this.edns = opts.ednsUdpSize ?? 1232
    this.linkWaitMs = Math.max(0, opts.linkWaitMs ?? 15_000)
    this.counters = opts.counters ?? new Counters()
    this.rand = opts.random ?? (() => randomInt(0x1000000) / 0x1000000)
    for (const [name, addrs] of Object.entries(opts.hosts ?? {})) {
      this.hosts.set(name.toLowerCase().replace(/\.$/, ''), addrs.filter((a) => ipFamily(a) !== 0))
    }
  }

  async lookup(name: string, family: 0 | 4 | 6 = 0): Promise<string[]> {
    if (typeof name !== 'string' || name.trim() === '') throw this.notFound(String(name), 'empty name')
    let host = name.trim()
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
    if (ipFamily(host) !== 0) return [host]
    const lower = host.toLowerCase().replace(/\.$/, '')
    if (lower === 'localhost' || lower.endsWith('.localhost')) {
      return family === 4 ? ['127.0.0.1'] : family === 6 ? ['::1'] : ['127.0.0.1', '::1']
    }
    const fixed = this.hosts.get(lower)
    if (fixed) {
      const v4 = fixed.filter((a) => ipFamily(a) === 4)
      const v6 = fixed.filter((a) => ipFamily(a) === 6)
      const out = family === 4 ? v4 : family === 6 ? v6 : [...v4, ...v6]
      if (out.length) return out
    }
    if (/[^\x20-\x7e]/.test(host)) {
      const ascii = domainToASCII(host.replace(/\.$/, ''))
      if (!ascii) throw this.notFound(name, 'not a valid host name')
      host = host.endsWith('.') ? ascii + '.' : ascii
    }
    if (!this.servers.length) throw this.notFound(name, 'no DNS servers configured')
    const types = family === 4 ? [DnsType.A] : family === 6 ? [DnsType.AAAA] : [DnsType.A, DnsType.AAAA]
    let timedOut: string | null = null
    let lastReason = 'no such host'
    for (const cand of this.candidates(host)) {
      const outs = await Promise.all(types.map((t) => this.query(cand, t)))
      const addrs: string[] = []
      for (const o of outs) {
        if (o.kind === 'answer') addrs.push(...o.addrs)
        else if (o.kind === 'fail') {
          if (o.timeout) timedOut = o.reason
          lastReason = o.reason
        }
      }
      if (addrs.length) return addrs
    }
    if (timedOut !== null) throw new BurrowError(ErrorCode.ETIMEDOUT, `DNS lookup of ${name} timed out (${timedOut})`)
    throw this.notFound(name, lastReason)
  }

  /** Forget every cached answer. */
  clearCache(): void {
    this.cache.clear()
  }

  /**
   * The link is back after an outage (the tunnel's 'up' after 'reconnecting'): whatever the
   * outstanding queries sent meanwhile was lost. Each one's current try is sent again at once (a
   * UDP query as the same datagram from the same socket, so exactly one ID and question still
   * match; a TCP query on a new connection with a new ID) and gets a full `timeoutMs` window from
   * now. The resend is not a new try: the retry schedule is not lengthened and no timeout is
   * counted for it. A try is resent at most once, so a flapping link cannot keep a query alive
   * beyond twice its schedule. Queries held for the link (DnsResolverOptions.linkRx) start their
   * schedule once more. Returns how many tries were resent or restarted.
   */
  relinked(): number {
    let n = 0
    for (const t of [...this.outstanding]) if (t.again()) n++
    n += this.wakeLinkWaiters()
    return n
  }

  private wakeLinkWaiters(): number {
    const ws = [...this.linkWaiters]
    this.linkWaiters.clear()
    for (const w of ws) w()
    return ws.length
  }

  /**
   * Replace the servers and search domains (a reconnect pushed new ones). When the server list
   * changed: the cache is cleared (answers of the old servers may not hold for the new ones, e.g.
   * split-horizon names) and every query in flight abandons its current try and starts over on
   * the new list with its full retry schedule, since the old servers may no longer be reachable
   * at all; a lookup already under way keeps the search-list candidates it began with. An
   * identical server list leaves cache and queries alone (only the search list is updated).
   * Unparsable entries are skipped, as in the constructor. Returns how many tries were moved.
   */
  setServers(servers: string[], searchDomains: string[] = []): number {
    this.search = cleanSearch(searchDomains)
    const next = parseServers(servers)
    const cur = this.servers
    if (next.length === cur.length && next.every((s, i) => s.address === cur[i].address && s.port === cur[i].port)) return 0
    this.servers = next
    this.cache.clear()
    this.counters.inc('dns.servers_changed')
    const tries = [...this.outstanding]
    for (const t of tries) t.moved()
    return tries.length + this.wakeLinkWaiters()
  }

  /** Names to try, in order (resolv.conf semantics). */
  candidates(host: string): string[] {
    if (host.endsWith('.')) return [host.slice(0, -1)]
    if (!this.search.length) return [host]
    let dots = 0
    for (let i = 0; i < host.length; i++) if (host.charCodeAt(i) === 0x2e) dots++
    const searched = this.search.map((d) => `${host}.${d}`)
    return dots >= this.ndots ? [host, ...searched] : [...searched, host]
  }

  private notFound(name: string, why: string): BurrowError {
    return new BurrowError(ErrorCode.ENOTFOUND, `DNS lookup of ${name} failed: ${why}`)
  }

  private random16(): number {
    return Math.floor(this.rand() * 0x10000) & 0xffff
  }

  /** One (name, type) question: cache, then in-flight de-duplication, then the network. */
  private query(name: string, type: number): Promise<Outcome> {
    const key = `${type}:${name.toLowerCase()}`
    const hit = this.cache.get(key)
    if (hit) {
      if (hit.expires > this.clock.now()) {
        this.counters.inc('dns.cache_hit')
        return Promise.resolve(hit.outcome)
      }
      this.cache.delete(key)
    }
    const pending = this.inflight.get(key)
    if (pending) {
      this.counters.inc('dns.inflight_shared')
      return pending
    }
    const p = this.exchange(name, type).then((o) => {
      this.inflight.delete(key)
      this.store(key, o)
      return o
    })
    this.inflight.set(key, p)
    return p
  }

  private store(key: string, o: Outcome): void {
    let ms: number
    if (o.kind === 'answer') ms = Math.min(o.ttlSec * 1000, this.maxTtlMs)
    else if (o.kind === 'nxdomain' || o.kind === 'nodata') ms = Math.min((o.ttlSec ?? Infinity) * 1000, this.negTtlMs)
    else return
    if (!(ms > 0)) return
    this.cache.delete(key)
    while (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string)
    this.cache.set(key, { expires: this.clock.now() + ms, outcome: o })
  }

  /**
   * Query the servers in order, `attempts` passes, until one gives a definitive answer. When the
   * server list is replaced meanwhile (setServers), start over on the new list.
   */
  private async exchange(name: string, type: number): Promise<Outcome> {
    const rxAtStart = this.opts.linkRx?.()
    let held = false
    for (;;) {
      const r = await this.exchangeWith(this.servers, name, type)
      if (r.kind === 'moved') {
        this.counters.inc('dns.moved_to_new_servers')
        continue
      }
      // Every try timed out and nothing at all arrived over the link meanwhile: the tunnel is down
      // (e.g. a WireGuard peer that restarted is only noticed after ~15 s), not the DNS servers.
      if (r.kind === 'fail' && r.timeout && !held && this.linkWaitMs > 0 && rxAtStart !== undefined && this.opts.linkRx!() === rxAtStart) {
        held = true
        this.counters.inc('dns.held_for_link')
        if (await this.waitForLink(rxAtStart)) continue
        return { kind: 'fail', timeout: true, reason: `${r.reason}; nothing arrived over the tunnel for ${Math.round(this.linkWaitMs / 1000)} s more` }
      }
      return r
    }
  }

  /**
   * Wait until the link is back (relinked(), setServers(), or the linkRx count moves; looked at
   * every 500 ms) → true, or linkWaitMs passes → false.
   */
  private waitForLink(rxBefore: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const deadline = this.clock.now() + this.linkWaitMs
      let cancel = () => {}
      const done = (back: boolean) => {
        this.linkWaiters.delete(wake)
        cancel()
        resolve(back)
      }
      const wake = () => done(true)
      const look = () => {
        if (this.opts.linkRx!() !== rxBefore) return done(true)
        const now = this.clock.now()
        if (now >= deadline) return done(false)
        cancel = this.clock.schedule(Math.min(deadline, now + 500), look)
      }
      this.linkWaiters.add(wake)
      look()
    })
  }

  private async exchangeWith(servers: readonly Server[], name: string, type: number): Promise<Outcome | { kind: 'moved' }> {
    if (!servers.length) return { kind: 'fail', timeout: false, reason: 'no DNS servers configured' }
    let allTimeouts = true
    let reason = 'no response'
    for (let pass = 0; pass < this.attempts; pass++) {
      for (const srv of servers) {
        let r = await this.tryUdp(srv, name, type)
        if (r.kind === 'formerr' && this.edns > 0) {
          // an old server that rejects EDNS0 (RFC 6891 §7): stop advertising it
          this.edns = 0
          r = await this.tryUdp(srv, name, type)
        }
        if (r.kind === 'truncated') {
          this.counters.inc('dns.truncated')
          r = await this.tryTcp(srv, name, type)
        }
        if (r.kind === 'moved') return r
        if (r.kind === 'answer' || r.kind === 'nxdomain' || r.kind === 'nodata') return r
        if (r.kind === 'fail') {
          if (!r.timeout) allTimeouts = false
          reason = r.reason
          this.counters.inc(r.timeout ? 'dns.timeout' : 'dns.server_fail')
        } else {
          allTimeouts = false
          reason = r.kind === 'formerr' ? 'FORMERR' : 'truncated over TCP'
        }
      }
    }
    return { kind: 'fail', timeout: allTimeouts, reason }
  }

  private openUdp(): UdpSocket | null {
    const port = 49152 + (this.random16() & 0x3fff)
    try {
      return this.opts.udp(port)
    } catch {
      try {
        return this.opts.udp()
      } catch {
        return null
      }
    }
  }

  private tryUdp(srv: Server, name: string, type: number): Promise<TryResult> {
    const id = this.random16()
    const q = encodeQuery(id, name, type, { ednsUdpSize: this.edns })
    if (!q) return Promise.resolve({ kind: 'nxdomain', ttlSec: undefined })
    const qname = parseDnsMessage(q)!.questions[0].name
    const sock = this.openUdp()
    if (!sock) return Promise.resolve({ kind: 'fail', timeout: false, reason: 'cannot open a UDP socket' })
    this.counters.inc('dns.udp_query')
    return new Promise((resolve) => {
      let done = false
      const finish = (r: TryResult) => {
        if (done) return
        done = true
        cancel()
        this.outstanding.delete(entry)
        sock.onMessage = null
        sock.onError = null
        sock.close()
        resolve(r)
      }
      const arm = () =>
        this.clock.schedule(this.clock.now() + this.timeoutMs, () => finish({ kind: 'fail', timeout: true, reason: `no answer from ${srv.address}` }))
      let cancel = arm()
      const send = () => {
        // a datagram the link could not take is as good as lost: the timeout moves on
        if (!sock.send(q, srv.address, srv.port)) this.counters.inc('dns.send_failed')
      }
      let resent = false
      const entry: Outstanding = {
        again: () => {
          if (done || resent) return false
          resent = true
          cancel()
          this.counters.inc('dns.relink_resend')
          cancel = arm()
          send()
          return true
        },
        moved: () => finish({ kind: 'moved' }),
      }
      this.outstanding.add(entry)
      sock.onMessage = (data, from) => {
        if (from.port !== srv.port || !sameAddress(from.address, srv.address)) {
          this.counters.inc('dns.wrong_source')
          return
        }
        const m = matchResponse(data, id, qname, type, this.counters)
        if (m) finish(classifyResponse(m, qname, type, true))
      }
      sock.onError = (err, from) => {
        if (from && (from.port !== srv.port || !sameAddress(from.address, srv.address))) return
        finish({ kind: 'fail', timeout: false, reason: `${srv.address}: ${err.message}` })
      }
      send()
    })
  }

  private tryTcp(srv: Server, name: string, type: number): Promise<TryResult> {
    if (!encodeQuery(0, name, type)) return Promise.resolve({ kind: 'nxdomain', ttlSec: undefined })
    return new Promise((resolve) => {
      let done = false
      let conn: TcpConn | null = null
      /** Bumped by a relink: callbacks of a superseded connection are ignored. */
      let gen = 0
      const release = (c: TcpConn, graceful: boolean) => {
        c.onData = null
        c.onEnd = null
        c.onDrain = null
        c.onClose = null
        if (graceful) c.end()
        else c.destroy()
      }
      const finish = (r: TryResult) => {
        if (done) return
        done = true
        cancel()
        this.outstanding.delete(entry)
        if (conn) release(conn, r.kind !== 'fail' && r.kind !== 'moved')
        conn = null
        resolve(r)
      }
      const arm = () =>
        this.clock.schedule(this.clock.now() + this.timeoutMs, () => finish({ kind: 'fail', timeout: true, reason: `no TCP answer from ${srv.address}` }))
      let cancel = arm()
      const dial = () => {
        const my = ++gen
        const id = this.random16()
        const q = encodeQuery(id, name, type)!
        const qname = parseDnsMessage(q)!.questions[0].name
        this.counters.inc('dns.tcp_query')
        let buf = new Uint8Array(512)
        let have = 0
        this.opts.tcp(srv.address, srv.port).then(
          (c) => {
            if (done || my !== gen) {
              c.destroy()
              return
            }
            conn = c
            c.onData = (b) => {
              if (have + b.length > buf.length) {
                if (have + b.length > MAX_TCP_RESPONSE) {
                  finish({ kind: 'fail', timeout: false, reason: 'oversized TCP answer' })
                  return
                }
                const nb = new Uint8Array(Math.min(MAX_TCP_RESPONSE, Math.max(buf.length * 2, have + b.length)))
                nb.set(buf.subarray(0, have))
                buf = nb
              }
              buf.set(b, have)
              have += b.length
              if (have < 2) return
              const need = readU16(buf, 0)
              if (have < 2 + need) return
              const m = matchResponse(buf.subarray(2, 2 + need), id, qname, type, this.counters)
              finish(m ? classifyResponse(m, qname, type, false) : { kind: 'fail', timeout: false, reason: 'bad TCP answer' })
            }
            c.onEnd = () => finish({ kind: 'fail', timeout: false, reason: 'TCP closed before the answer' })
            c.onClose = (err) => finish({ kind: 'fail', timeout: false, reason: err?.message ?? 'TCP closed' })
            const frame = new Uint8Array(2 + q.length)
            writeU16(frame, 0, q.length)
            frame.set(q, 2)
            c.write(frame)
          },
          (err: unknown) => {
            if (my !== gen) return // a superseded connect's failure is not this try's outcome
            finish({ kind: 'fail', timeout: false, reason: `TCP to ${srv.address}: ${(err as Error)?.message ?? err}` })
          },
        )
      }
      let redialed = false
      const entry: Outstanding = {
        again: () => {
          if (done || redialed) return false
          redialed = true
          cancel()
          this.counters.inc('dns.relink_redial')
          // the old connection (or its pending SYN) was sent into the dead link: start afresh
          if (conn) release(conn, false)
          conn = null
          cancel = arm()
          dial()
          return true
        },
        moved: () => {
          gen++ // a connect still pending is destroyed when it completes
          finish({ kind: 'moved' })
        },
      }
      this.outstanding.add(entry)
      dial()
    })
  }
}
