// A userspace WireGuard interface as a Tunnel (WireGuard paper §2 cryptokey routing, §5 messages,
// §6 timers; wireguard-go device/receive.go for the demultiplexing order): one UDP socket, several
// peers routed by AllowedIPs longest-prefix match, inbound inner sources checked against the
// sending peer's AllowedIPs, handshake messages gated by mac1 (and mac2 + cookie replies under
// load). Every malformed, forged, replayed or misrouted datagram is dropped and counted.
import { randomBytes } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { EventEmitter } from 'node:events'
import { RealClock, type Clock } from '../core/clock.js'
import { Counters } from '../core/counters.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { silentLogger, type Logger } from '../core/log.js'
import type { Cidr, Tunnel, TunnelEvent, TunnelInfo } from '../tunnel/types.js'
import type { WgConfig } from '../config/wgquick.js'
import { parseIp } from '../netstack/addr.js'
import { AllowedIps } from './allowedips.js'
import { MessageType, TRANSPORT_HEADER_SIZE } from './constants.js'
import { cookieSource, CookieChecker } from './cookie.js'
import { x25519GeneratePrivate } from './crypto.js'
import {
  emitCookieReply,
  INITIATION_MAC1_OFFSET,
  messageType,
  parseCookieReply,
  parseInitiation,
  parseResponse,
  parseTransportHeader,
  RESPONSE_MAC1_OFFSET,
} from './messages.js'
import { consumeInitiation, staticIdentity, type StaticIdentity } from './noise.js'
import { Peer, type IndexEntry, type PeerHost, type WgEndpoint } from './peer.js'
import { nodeUdpSocket, type WgSocket, type WgSocketFactory } from './socket.js'

export const DEFAULT_MTU = 1420
/** Handshake messages per second above which we ask initiators for mac2 (cookie replies). */
export const UNDER_LOAD_HANDSHAKES_PER_SECOND = 64

export interface WireGuardTunnelOptions {
  logger?: Logger
  clock?: Clock
  counters?: Counters
  /** UDP socket factory (default node:dgram); tests pass an in-memory network. */
  socket?: WgSocketFactory
  /** Hostname → addresses (default dns.lookup, all families, OS order). */
  resolver?: (host: string) => Promise<string[]>
  /** [0, 1) source for timer jitter. */
  random?: () => number
  /** Random bytes for indexes and the cookie secret. */
  randomBytes?: (n: number) => Uint8Array
  /** Ephemeral private keys for handshakes (tests pass fixed keys). */
  generateEphemeral?: () => Uint8Array
  /** Wall clock (ms since epoch) read once as the TAI64N base; the Clock drives it afterwards. */
  wallClock?: () => number
  /** Override the under-load decision (tests). */
  isUnderLoad?: () => boolean
}

const defaultResolver = async (host: string): Promise<string[]> => (await lookup(host, { all: true })).map((a) => a.address)

export class WireGuardTunnel extends EventEmitter implements Tunnel, PeerHost {
  readonly mtu: number
  readonly headroom = TRANSPORT_HEADER_SIZE
  readonly clock: Clock
  readonly logger: Logger
  readonly counters: Counters
  readonly identity: StaticIdentity
  readonly peers: Peer[] = []
  info: TunnelInfo | undefined
  private readonly routes = new AllowedIps<Peer>()
  private readonly byKey = new Map<string, Peer>()
  private readonly indexes = new Map<number, IndexEntry>()
  private readonly checker: CookieChecker
  private readonly socketFactory: WgSocketFactory
  private readonly resolver: (host: string) => Promise<string[]>
  private readonly rand: () => number
  private readonly rbytes: (n: number) => Uint8Array
  private readonly ephemeral: () => Uint8Array
  private readonly wallBase: number
  private readonly underLoadOverride?: () => boolean
  private socket: WgSocket | null = null
  private rx: ((pkt: Uint8Array) => void) | null = null
  private onDrain: (() => void) | null = null
  private closed = false
  private up = false
  private reconnecting = false
  private hsWindowStart = 0
  private hsWindowCount = 0
  private underLoadUntil = -Infinity
  private readonly failed = new Set<Peer>()
  private startWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null

  constructor(readonly config: WgConfig, opts: WireGuardTunnelOptions = {}) {
    super()
    this.clock = opts.clock ?? new RealClock()
    this.logger = opts.logger ?? silentLogger
    this.counters = opts.counters ?? new Counters()
    this.socketFactory = opts.socket ?? nodeUdpSocket
    this.resolver = opts.resolver ?? defaultResolver
    this.rand = opts.random ?? Math.random
    this.rbytes = opts.randomBytes ?? ((n) => new Uint8Array(randomBytes(n)))
    this.ephemeral = opts.generateEphemeral ?? x25519GeneratePrivate
    this.underLoadOverride = opts.isUnderLoad
    this.wallBase = (opts.wallClock ?? Date.now)() - this.clock.now()
    this.mtu = config.interface.mtu ?? DEFAULT_MTU
    this.identity = staticIdentity(config.interface.privateKey)
    this.checker = new CookieChecker(this.identity.publicKey, () => this.clock.now(), this.rbytes)
    for (const pc of config.peers) {
      const peer = new Peer(this, {
        publicKey: pc.publicKey,
        presharedKey: pc.presharedKey,
        endpoint: pc.endpoint,
        allowedIps: pc.allowedIps,
        persistentKeepalive: pc.persistentKeepalive,
      })
      this.peers.push(peer)
      this.byKey.set(Buffer.from(pc.publicKey).toString('hex'), peer)
      for (const c of pc.allowedIps) this.routes.insert(c, peer)
    }
  }

  // ---- PeerHost ----
  random(): number {
    return this.rand()
  }
  generateEphemeral(): Uint8Array {
    return this.ephemeral()
  }
  wallNow(): number {
    return this.wallBase + this.clock.now()
  }
  sendTo(parts: Uint8Array[], to: WgEndpoint): boolean {
    if (!this.socket) return true
    return this.socket.send(parts, to)
  }
  newIndex(entry: IndexEntry): number {
    for (;;) {
      const b = this.rbytes(4)
      const idx = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0
      if (!this.indexes.has(idx)) {
        this.indexes.set(idx, entry)
        return idx
      }
    }
  }
  setIndex(index: number, entry: IndexEntry): void {
    this.indexes.set(index, entry)
  }
  freeIndex(index: number): void {
    this.indexes.delete(index)
  }
  deliver(pkt: Uint8Array): void {
    if (this.rx) this.rx(pkt)
    else this.counters.inc('wireguard.rx_unattached')
  }
  resolve(host: string): Promise<string[]> {
    return this.resolver(host)
  }
  onHandshakeComplete(peer: Peer): void {
    this.failed.delete(peer)
    if (!this.up || this.reconnecting) {
      this.up = true
      this.reconnecting = false
      if (this.info) this.emit('up', this.info)
    }
    const w = this.startWaiter
    if (w) {
      this.startWaiter = null
      w.resolve()
    }
  }
  onHandshakeFailed(peer: Peer): void {
    this.failed.add(peer)
    if (!this.peers.every((p) => !p.hasEndpoint || this.failed.has(p))) return
    const err = new BurrowError(ErrorCode.ETIMEDOUT, 'wireguard: no handshake response from any peer within REKEY_ATTEMPT_TIME (90 s)')
    const w = this.startWaiter
    if (w) {
      this.startWaiter = null
      w.reject(err)
    } else if (this.up) {
      // not terminal: the next outbound packet starts handshaking again, and 'up' follows success
      this.up = false
      this.reconnecting = false
      this.emit('down', err)
    }
  }
  onReconnecting(): void {
    if (this.up && !this.reconnecting) {
      this.reconnecting = true
      this.emit('reconnecting')
    }
  }

  // ---- Tunnel ----
  override on(ev: TunnelEvent, fn: (arg?: unknown) => void): this {
    return super.on(ev, fn)
  }

  async start(signal?: AbortSignal): Promise<TunnelInfo> {
    if (this.closed) throw new BurrowError(ErrorCode.ECLOSED, 'wireguard: tunnel closed')
    if (signal?.aborted) throw new BurrowError(ErrorCode.EABORTED, 'wireguard: start aborted')
    this.socket = await this.socketFactory(
      {
        rx: (msg, from) => this.receive(msg, from),
        drain: () => this.onDrain?.(),
        error: (err) => {
          this.logger.warn(`wireguard: socket error: ${err.message}`)
          this.counters.inc('wireguard.socket_error')
          if (this.listenerCount('error') > 0) this.emit('error', err)
        },
      },
      { listenPort: this.config.interface.listenPort },
    )
    for (const p of this.peers) {
      try {
        await p.resolveEndpoint()
      } catch (e) {
        await this.close()
        throw new BurrowError(ErrorCode.ENOTFOUND, `wireguard: cannot resolve endpoint ${p.endpointHost?.host}: ${(e as Error).message}`, { cause: e })
      }
    }
    this.info = this.buildInfo()
    const initiators = this.peers.filter((p) => p.hasEndpoint)
    if (initiators.length === 0) {
      this.up = true
      this.emit('up', this.info)
      return this.info
    }
    const done = new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject }
    })
    const onAbort = () => {
      const w = this.startWaiter
      this.startWaiter = null
      w?.reject(new BurrowError(ErrorCode.EABORTED, 'wireguard: start aborted'))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    for (const p of initiators) p.sendInitiation(false)
    try {
      await done
    } catch (e) {
      await this.close()
      throw e
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    return this.info
  }

  private buildInfo(): TunnelInfo {
    const seen = new Set<string>()
    const routes: Cidr[] = []
    for (const p of this.peers)
      for (const c of p.allowedIps) {
        const k = `${c.address}/${c.prefix}`
        if (!seen.has(k)) {
          seen.add(k)
          routes.push(c)
        }
      }
    const ep = this.peers.find((p) => p.endpoint)?.endpoint
    return {
      addresses: this.config.interface.addresses,
      routes,
      dns: this.config.interface.dns,
      searchDomains: this.config.interface.searchDomains,
      mtu: this.mtu,
      description: `wireguard udp ${ep ? (ep.address.includes(':') ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`) : 'listening'}`,
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const p of this.peers) p.close()
    this.indexes.clear()
    this.socket?.close()
    this.socket = null
    const w = this.startWaiter
    this.startWaiter = null
    w?.reject(new BurrowError(ErrorCode.ECLOSED, 'wireguard: tunnel closed'))
    if (this.up) this.emit('down')
    this.up = false
  }

  attach(rx: (pkt: Uint8Array) => void, onDrain: () => void): void {
    this.rx = rx
    this.onDrain = onDrain
  }

  /** Link.send: route by destination (AllowedIPs longest prefix), then encrypt to that peer. */
  send(pkt: Uint8Array): boolean {
    if (this.closed) {
      this.counters.inc('wireguard.tx_closed')
      return true
    }
    const v = pkt.length > 0 ? pkt[0] >> 4 : 0
    let peer: Peer | undefined
    if (v === 4 && pkt.length >= 20) peer = this.routes.lookup(pkt, 16, 4)
    else if (v === 6 && pkt.length >= 40) peer = this.routes.lookup(pkt, 24, 16)
    else {
      this.counters.inc('wireguard.tx_bad_packet')
      return true
    }
    if (!peer) {
      this.counters.inc('wireguard.no_route')
      return true
    }
    return peer.send(pkt)
  }

  /** Peer whose AllowedIPs cover an address (text form), for diagnostics and tests. */
  routeFor(address: string): Peer | undefined {
    const b = parseIp(address)
    return b ? this.routes.lookup(b) : undefined
  }

  get localPort(): number | undefined {
    return this.socket?.localPort
  }

  private underLoad(): boolean {
    if (this.underLoadOverride) return this.underLoadOverride()
    return this.clock.now() < this.underLoadUntil
  }

  private countHandshake(): void {
    const now = this.clock.now()
    if (now - this.hsWindowStart >= 1000) {
      this.hsWindowStart = now
      this.hsWindowCount = 0
    }
    if (++this.hsWindowCount > UNDER_LOAD_HANDSHAKES_PER_SECOND) this.underLoadUntil = now + 1000
  }

  /** mac1 always; under load also mac2, answering a missing/stale one with a cookie reply. */
  private admitHandshake(msg: Uint8Array, mac1Off: number, sender: number, from: WgEndpoint): boolean {
    if (!this.checker.checkMac1(msg, mac1Off)) {
      this.counters.inc('wireguard.bad_mac1')
      return false
    }
    this.countHandshake()
    if (!this.underLoad()) return true
    const ip = parseIp(from.address)
    if (!ip) return false
    const src = cookieSource(ip, from.port)
    if (this.checker.checkMac2(msg, mac1Off, src)) return true
    const reply = this.checker.createReply(msg, mac1Off, sender, src)
    const out = new Uint8Array(64)
    emitCookieReply(reply, out, 0)
    this.socket?.send([out], from)
    this.counters.inc('wireguard.cookie_tx')
    return false
  }

  /** Demultiplex one datagram from the socket. Never throws. */
  receive(msg: Uint8Array, from: WgEndpoint): void {
    if (this.closed) return
    switch (messageType(msg)) {
      case MessageType.TRANSPORT_DATA: {
        const h = parseTransportHeader(msg, 0, msg.length)
        if (!h) return this.counters.inc('wireguard.truncated')
        const e = this.indexes.get(h.receiver)
        if (!e || !e.keypair) return this.counters.inc('wireguard.unknown_index')
        e.peer.receiveTransport(e.keypair, h.counter, msg, from, this.routes)
        return
      }
      case MessageType.HANDSHAKE_INITIATION: {
        const m = parseInitiation(msg, 0, msg.length)
        if (!m) return this.counters.inc('wireguard.truncated')
        if (!this.admitHandshake(msg, INITIATION_MAC1_OFFSET, m.sender, from)) return
        const c = consumeInitiation(this.identity, m)
        if (!c) return this.counters.inc('wireguard.bad_initiation')
        const peer = this.byKey.get(Buffer.from(c.remoteStatic).toString('hex'))
        if (!peer) return this.counters.inc('wireguard.unknown_peer')
        peer.acceptInitiation(c, from)
        return
      }
      case MessageType.HANDSHAKE_RESPONSE: {
        const m = parseResponse(msg, 0, msg.length)
        if (!m) return this.counters.inc('wireguard.truncated')
        if (!this.admitHandshake(msg, RESPONSE_MAC1_OFFSET, m.sender, from)) return
        const e = this.indexes.get(m.receiver)
        if (!e || e.keypair) return this.counters.inc('wireguard.unknown_index')
        e.peer.acceptResponse(m, from)
        return
      }
      case MessageType.COOKIE_REPLY: {
        const m = parseCookieReply(msg, 0, msg.length)
        if (!m) return this.counters.inc('wireguard.truncated')
        // the receiver is our initiation's index, or our response's (already a `next` keypair)
        const e = this.indexes.get(m.receiver)
        if (!e) return this.counters.inc('wireguard.unknown_index')
        e.peer.acceptCookieReply(m)
        return
      }
      default:
        this.counters.inc('wireguard.bad_type')
    }
  }
}

export function createWireGuardTunnel(config: WgConfig, opts: WireGuardTunnelOptions = {}): WireGuardTunnel {
  return new WireGuardTunnel(config, opts)
}
