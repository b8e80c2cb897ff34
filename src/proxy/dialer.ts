// The outbound side of the local proxies: a Dialer opens TCP streams and UDP flows to a
// destination, either through the VPN tunnel (the netstack) or directly from the host. The
// proxies (RFC 1928 SOCKS5, SOCKS4/4a, RFC 9110 HTTP proxy) depend only on this interface.
//
// Contract for implementers (the tunnel-side dialer is written over the netstack):
// - connect(host, port, signal) resolves once the TCP handshake completed, with a Duplex that
//   behaves like a net.Socket with allowHalfOpen: end() sends FIN while reading continues, 'end'
//   is emitted on the peer's FIN, destroy() aborts (RST). Rejections carry a `code` from
//   core/errors.ts ErrorCode (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ENOTFOUND,
//   EABORTED, …) or Node's equivalent; `signal` aborts the attempt (reject with EABORTED).
// - openUdp() resolves with one unconnected UDP flow that can send to any destination; replies
//   arrive on onMessage with the remote's address. send() never throws and never blocks: a
//   datagram that cannot be sent is dropped (UDP semantics).
// - resolve(name) (optional) resolves a host name to one IP literal; the tunnel dialer offers it
//   when the VPN has DNS servers.

import type { Duplex } from 'node:stream'
import net from 'node:net'
import dgram from 'node:dgram'
import dns from 'node:dns'
import { BurrowError, ErrorCode } from '../core/errors.js'
import type { Cidr } from '../tunnel/types.js'

export interface UdpPeer {
  address: string
  port: number
}

export interface UdpFlow {
  /** Send one datagram; host may be a name (resolved by the flow) or an IP literal. */
  send(data: Uint8Array, host: string, port: number): void
  onMessage: ((data: Uint8Array, from: UdpPeer) => void) | null
  close(): void
}

export interface Dialer {
  /** host may be a name or IP literal; names are resolved by the dialer (inside the tunnel for tunnel routes). */
  connect(host: string, port: number, signal?: AbortSignal): Promise<Duplex>
  openUdp(): Promise<UdpFlow>
  /** Resolve a name to one IP literal (IP literals are returned unchanged). */
  resolve?(host: string): Promise<string>
}

/** Raised by RoutingDialer when a destination is outside the tunnel routes and direct is off. */
export class RouteRefusedError extends BurrowError {
  readonly destination: string
  constructor(destination: string) {
    super(
      ErrorCode.ENETUNREACH,
      `${destination} is outside the tunnel's routes and direct connections are disabled (--no-direct)`,
    )
    this.destination = destination
    this.name = 'RouteRefusedError'
  }
}

/** The stable error code of an error from a dialer, Node or undici (looks through `cause`). */
export function errorCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string' && !e.code.startsWith('UND_ERR_SOCKET')) return e.code
    e = e.cause as typeof e
  }
  return undefined
}

/** Strip [] around an IPv6 literal and turn an IPv4-mapped IPv6 address into plain IPv4. */
export function normalizeHost(host: string): string {
  let h = host
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(h)
  if (m) return m[1]!
  return h
}

const knownCodes = new Set<string>(Object.values(ErrorCode))

function asBurrowError(err: unknown, what: string): BurrowError {
  if (err instanceof BurrowError) return err
  const code = errorCode(err)
  const c = code && knownCodes.has(code) ? (code as ErrorCode) : code === 'EAI_AGAIN' ? ErrorCode.ENOTFOUND : undefined
  const msg = err instanceof Error ? err.message : String(err)
  if (c) return new BurrowError(c, `${what}: ${msg}`, { cause: err })
  return new BurrowError(ErrorCode.ECONNRESET, `${what}: ${msg}`, { cause: err })
}

/**
 * dialer.connect bounded by `timeoutMs` (rejects with BurrowError ETIMEDOUT) and aborted with
 * `outer` (e.g. the client went away). The timer is cleared on every outcome.
 */
export async function dialWithTimeout(
  dialer: Dialer,
  host: string,
  port: number,
  timeoutMs: number,
  outer?: AbortSignal,
): Promise<Duplex> {
  const ac = new AbortController()
  let timedOut = false
  const t = setTimeout(() => {
    timedOut = true
    ac.abort()
  }, timeoutMs)
  const onOuter = () => ac.abort()
  if (outer?.aborted) ac.abort()
  outer?.addEventListener('abort', onOuter, { once: true })
  try {
    return await dialer.connect(host, port, ac.signal)
  } catch (err) {
    if (timedOut) throw new BurrowError(ErrorCode.ETIMEDOUT, `connect to ${host}:${port} timed out after ${timeoutMs} ms`)
    throw err
  } finally {
    clearTimeout(t)
    outer?.removeEventListener('abort', onOuter)
  }
}

export interface DirectDialerOptions {
  /** Give up a TCP connect after this long (ETIMEDOUT). Default 30 s. */
  connectTimeoutMs?: number
}

/** Connects from the host itself: node:net, node:dgram and the system resolver (dns.lookup). */
export class DirectDialer implements Dialer {
  private readonly connectTimeoutMs: number
  constructor(opts: DirectDialerOptions = {}) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30_000
  }

  async resolve(host: string): Promise<string> {
    const h = normalizeHost(host)
    if (net.isIP(h)) return h
    try {
      const r = await dns.promises.lookup(h)
      return r.address
    } catch (err) {
      throw asBurrowError(err, `cannot resolve ${h}`)
    }
  }

  connect(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    const h = normalizeHost(host)
    const dest = `${h.includes(':') ? `[${h}]` : h}:${port}`
    return new Promise<Duplex>((resolve, reject) => {
      if (signal?.aborted) return reject(new BurrowError(ErrorCode.EABORTED, `connect to ${dest} aborted`))
      const sock = net.connect({ host: h, port, allowHalfOpen: true })
      const done = (err?: BurrowError) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        sock.off('error', onError)
        sock.off('connect', onConnect)
        if (err) {
          sock.destroy()
          reject(err)
        } else {
          resolve(sock)
        }
      }
      const onError = (err: Error) => done(asBurrowError(err, `connect to ${dest}`))
      const onConnect = () => done()
      const onAbort = () => done(new BurrowError(ErrorCode.EABORTED, `connect to ${dest} aborted`))
      const timer = setTimeout(
        () => done(new BurrowError(ErrorCode.ETIMEDOUT, `connect to ${dest} timed out after ${this.connectTimeoutMs} ms`)),
        this.connectTimeoutMs,
      )
      sock.once('error', onError)
      sock.once('connect', onConnect)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  async openUdp(): Promise<UdpFlow> {
    return new DirectUdpFlow(this)
  }
}

/**
 * Per-flow name cache for UDP destinations given as names (one lookup per name, not per
 * datagram). Failed lookups are forgotten so a later datagram retries; at most 256 names.
 */
function cachedResolve(cache: Map<string, Promise<string>>, name: string, lookup: (n: string) => Promise<string>): Promise<string> {
  let p = cache.get(name)
  if (!p) {
    if (cache.size >= 256) cache.delete(cache.keys().next().value!)
    p = lookup(name)
    cache.set(name, p)
    p.catch(() => cache.delete(name))
  }
  return p
}

/** One host UDP flow: a udp4 and/or udp6 socket, created on first use of each family. */
class DirectUdpFlow implements UdpFlow {
  onMessage: ((data: Uint8Array, from: UdpPeer) => void) | null = null
  private readonly socks: { udp4?: dgram.Socket; udp6?: dgram.Socket } = {}
  private readonly names = new Map<string, Promise<string>>()
  private closed = false
  constructor(private readonly dialer: DirectDialer) {}

  private socket(type: 'udp4' | 'udp6'): dgram.Socket {
    let s = this.socks[type]
    if (!s) {
      s = dgram.createSocket(type)
      s.on('message', (msg, rinfo) => this.onMessage?.(msg, { address: normalizeHost(rinfo.address), port: rinfo.port }))
      s.on('error', () => {}) // per-datagram send errors (ICMP unreachable) are UDP loss
      this.socks[type] = s
    }
    return s
  }

  send(data: Uint8Array, host: string, port: number): void {
    if (this.closed) return
    const h = normalizeHost(host)
    const fam = net.isIP(h)
    if (fam === 0) {
      cachedResolve(this.names, h, (n) => this.dialer.resolve(n)).then(
        (addr) => this.send(data, addr, port),
        () => {},
      )
      return
    }
    try {
      this.socket(fam === 4 ? 'udp4' : 'udp6').send(data, port, h, () => {})
    } catch {
      // invalid port or closed socket: dropped
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const s of [this.socks.udp4, this.socks.udp6]) {
      try {
        s?.close()
      } catch {
        // already closed
      }
    }
  }
}

const loopback = new net.BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

export interface RoutingDialerOptions {
  /** The dialer that goes through the VPN tunnel (netstack). */
  tunnel: Dialer
  /** Destinations reachable through the tunnel (TunnelInfo.routes). */
  routes: Cidr[]
  /** The dialer for everything else; default a DirectDialer. */
  direct?: Dialer
  /** Refuse destinations outside the routes instead of connecting directly (--no-direct). */
  noDirect?: boolean
}

/**
 * Sends destinations inside the tunnel's routes through the tunnel and others direct (or refuses
 * them with RouteRefusedError under noDirect). Names are resolved inside the tunnel when the
 * tunnel dialer has `resolve` (then routed by the resulting address); if the tunnel resolver
 * fails and direct connections are allowed, the host resolver is tried. Without tunnel DNS, names
 * are resolved on the host (or, under noDirect with no tunnel DNS, handed to the tunnel dialer).
 */
export class RoutingDialer implements Dialer {
  private readonly tunnel: Dialer
  private readonly direct: Dialer
  private readonly noDirect: boolean
  private routes = new net.BlockList()

  constructor(opts: RoutingDialerOptions) {
    this.tunnel = opts.tunnel
    this.direct = opts.direct ?? new DirectDialer()
    this.noDirect = opts.noDirect ?? false
    this.setRoutes(opts.routes)
  }

  /** Replace the route set (e.g. after a reconnect pushed new routes). */
  setRoutes(routes: Cidr[]): void {
    const bl = new net.BlockList()
    for (const r of routes) {
      const a = normalizeHost(r.address)
      const fam = net.isIP(a)
      if (fam === 0) throw new BurrowError(ErrorCode.ERR_CONFIG, `route ${r.address}/${r.prefix}: not an IP address`)
      const max = fam === 4 ? 32 : 128
      if (!Number.isInteger(r.prefix) || r.prefix < 0 || r.prefix > max)
        throw new BurrowError(ErrorCode.ERR_CONFIG, `route ${r.address}/${r.prefix}: bad prefix length`)
      bl.addSubnet(a, r.prefix, fam === 4 ? 'ipv4' : 'ipv6')
    }
    this.routes = bl
  }

  /**
   * True when the IP literal is inside the tunnel's routes. Loopback (127.0.0.0/8, ::1) never is,
   * even under a full-tunnel 0.0.0.0/0 route: like a kernel route table, the host's own loopback
   * is more specific than any VPN route.
   */
  inTunnel(ip: string): boolean {
    const a = normalizeHost(ip)
    const fam = net.isIP(a)
    if (fam === 0 || loopback.check(a, fam === 4 ? 'ipv4' : 'ipv6')) return false
    return this.routes.check(a, fam === 4 ? 'ipv4' : 'ipv6')
  }

  async resolve(host: string): Promise<string> {
    const h = normalizeHost(host)
    if (net.isIP(h)) return h
    if (this.tunnel.resolve) {
      try {
        return await this.tunnel.resolve(h)
      } catch (err) {
        if (this.noDirect) throw err
      }
    }
    if (this.noDirect && !this.tunnel.resolve) return h // let the tunnel dialer handle the name
    return this.direct.resolve ? this.direct.resolve(h) : h
  }

  /** Which dialer serves an address; throws RouteRefusedError when refused. */
  private pick(addr: string, port: number): Dialer {
    if (net.isIP(addr) === 0) return this.tunnel // unresolved name under noDirect
    if (this.inTunnel(addr)) return this.tunnel
    if (this.noDirect) throw new RouteRefusedError(`${addr.includes(':') ? `[${addr}]` : addr}:${port}`)
    return this.direct
  }

  async connect(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    const addr = await this.resolve(host)
    return this.pick(addr, port).connect(addr, port, signal)
  }

  async openUdp(): Promise<UdpFlow> {
    return new RoutingUdpFlow(this, this.tunnel)
  }

  /** @internal used by the UDP flow */
  route(addr: string, port: number): Dialer {
    return this.pick(addr, port)
  }
}

/** A UDP flow that routes each datagram; the underlying flows are opened on first use. */
class RoutingUdpFlow implements UdpFlow {
  onMessage: ((data: Uint8Array, from: UdpPeer) => void) | null = null
  private readonly flows = new Map<Dialer, { flow?: UdpFlow; queue: [Uint8Array, string, number][] }>()
  private readonly names = new Map<string, Promise<string>>()
  private closed = false
  constructor(
    private readonly router: RoutingDialer,
    private readonly tunnel: Dialer,
  ) {}

  send(data: Uint8Array, host: string, port: number): void {
    if (this.closed) return
    const h = normalizeHost(host)
    if (net.isIP(h) === 0) {
      cachedResolve(this.names, h, (n) => this.router.resolve(n)).then(
        (addr) => {
          if (net.isIP(addr) === 0) this.sendVia(this.tunnel, data, addr, port)
          else this.send(data, addr, port)
        },
        () => {},
      )
      return
    }
    let d: Dialer
    try {
      d = this.router.route(h, port)
    } catch {
      return // refused under noDirect: dropped
    }
    this.sendVia(d, data, h, port)
  }

  private sendVia(d: Dialer, data: Uint8Array, host: string, port: number): void {
    let e = this.flows.get(d)
    if (!e) {
      const entry: { flow?: UdpFlow; queue: [Uint8Array, string, number][] } = { queue: [] }
      e = entry
      this.flows.set(d, entry)
      d.openUdp().then(
        (flow) => {
          if (this.closed) return flow.close()
          flow.onMessage = (msg, from) => this.onMessage?.(msg, from)
          entry.flow = flow
          for (const [b, hh, p] of entry.queue.splice(0)) flow.send(b, hh, p)
        },
        () => {
          entry.queue.length = 0
          this.flows.delete(d)
        },
      )
    }
    if (e.flow) e.flow.send(data, host, port)
    else if (e.queue.length < 64) e.queue.push([data, host, port])
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const e of this.flows.values()) e.flow?.close()
    this.flows.clear()
  }
}
