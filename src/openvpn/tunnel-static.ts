// OpenVPN static-key tunnel (openvpn(8) 2.6 --secret mode; OpenVPN src/openvpn/forward.c,
// ping.c, occ.c): no handshake; every IP packet is one data packet (static-key.ts) over UDP or
// TCP. --ping sends the ping magic when nothing else was sent for `ping` seconds, --ping-restart
// re-creates the transport (next remote, fresh packet-id time) when nothing authentic arrived for
// `ping-restart` seconds. Also the server role on a listening transport (demo, tests).

import { RealClock, type Clock } from '../core/clock.js'
import { Counters } from '../core/counters.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { silentLogger, type Logger } from '../core/log.js'
import type { Cidr, Transport, Tunnel, TunnelEvent, TunnelInfo } from '../tunnel/types.js'
import { connectTransport } from '../transport/connect.js'
import { describeProxy, type ProxySpec } from '../transport/via-proxy.js'
import { isListenTransport, listenTransport, type ListenTransportOptions } from '../transport/listen.js'
import { OccOp, PING_MAGIC, buildOcc, isPing, occOpcode, occOptionsString } from './occ.js'
import { PacketIdSend } from './packet-id.js'
import { ReplayVerdict, ReplayWindow } from './replay.js'
import { OpenResult, StaticKeyCrypto, type Opened, type StaticAuthName, type StaticCipherName } from './static-key.js'

export interface StaticRemote {
  host: string
  port: number
  proto: 'udp' | 'tcp'
  family?: 4 | 6
  /** This remote's proxy (a <connection> block's or the global one); else params.proxy. */
  proxy?: ProxySpec
}

/** Everything the static-key tunnel needs (see createOpenVpnTunnel for the .ovpn mapping). */
export interface OpenVpnStaticParams {
  /** 256-byte key file contents (128 bytes allowed without direction). */
  key: Uint8Array
  direction: 0 | 1 | undefined
  cipher: StaticCipherName
  auth: StaticAuthName
  /** Servers in failover order (client role). */
  remotes: StaticRemote[]
  /** http-proxy / socks-proxy for TCP remotes. */
  proxy?: ProxySpec
  remoteRandom?: boolean
  /** Seconds between connection attempts (default 1), doubling per full round up to connectRetryMaxDelay (300). */
  connectRetry?: number
  connectRetryMaxDelay?: number
  /** Rounds over all remotes before start()/reconnect gives up (default: forever). */
  connectRetryMax?: number
  /** Seconds; 0/undefined = off. */
  ping?: number
  pingRestart?: number
  /** Largest inner IP packet (tun-mtu, default 1500). */
  mtu?: number
  addresses: Cidr[]
  routes: Cidr[]
  dns?: string[]
  searchDomains?: string[]
  /** Tunnel addresses as configured (p2p peer or subnet netmask), for the OCC options string. */
  ifconfig?: { local: string; remote?: string; netmask?: string }
  replayWindow?: number
  replayTime?: number
  /** Send OCC_EXIT this many times on close() over UDP (explicit-exit-notify). */
  explicitExitNotify?: number
}

export interface OpenVpnTunnelDeps {
  logger?: Logger
  clock?: Clock
  counters?: Counters
  /** Wall-clock seconds for the packet-id time (default Date.now()/1000). */
  nowSec?: () => number
  /** Open a transport to a remote (default connectTransport). */
  connect?: (remote: StaticRemote, signal: AbortSignal) => Promise<Transport>
  random?: () => number
}

type Role = 'client' | 'server'

export class OpenVpnStaticTunnel implements Tunnel {
  readonly mtu: number
  /** No header is written in front of the packet: node:crypto cannot encrypt in place. */
  readonly headroom = 0
  readonly counters: Counters
  private readonly crypto: StaticKeyCrypto
  private readonly pid: PacketIdSend
  private replay: ReplayWindow
  /** Authentic packets refused by the replay check since the last accepted one. */
  private replayOnly = 0
  /** Whether the current session received any authentic packet. */
  private gotPacket = false
  /** Sessions started so far (the first one is announced by start() itself). */
  private sessions = 0
  /** A UDP reconnect is announced as 'up' only once the server has answered. */
  private upPending = false
  /** Sessions in a row that ended without a single authentic packet (UDP failover accounting). */
  private deadSessions = 0
  private readonly clock: Clock
  private readonly log: Logger
  private readonly connectFn: (remote: StaticRemote, signal: AbortSignal) => Promise<Transport>
  private readonly listeners = new Map<TunnelEvent, Array<(arg?: unknown) => void>>()
  private readonly remotes: StaticRemote[]
  private remoteIdx = 0
  private transport: Transport | undefined
  private rx: ((pkt: Uint8Array) => void) | undefined
  private onDrain: (() => void) | undefined
  private lastSent = 0
  private lastRecv = 0
  private cancelPing: (() => void) | undefined
  private cancelRestart: (() => void) | undefined
  private readonly opened: Opened = { id: 0, time: 0, payload: new Uint8Array(0) }
  private up = false
  private started = false
  private closing = false
  private abort = new AbortController()
  private reconnecting: Promise<void> | undefined
  private _info: TunnelInfo | undefined
  private activeRemote: StaticRemote | undefined
  private readonly listenOpts: ListenTransportOptions | undefined
  private listenPort = 0

  constructor(
    private readonly params: OpenVpnStaticParams,
    deps: OpenVpnTunnelDeps = {},
    private readonly role: Role = 'client',
    listenOpts?: ListenTransportOptions,
  ) {
    this.mtu = params.mtu ?? 1500
    this.counters = deps.counters ?? new Counters()
    this.clock = deps.clock ?? new RealClock()
    this.log = deps.logger ?? silentLogger
    this.crypto = new StaticKeyCrypto(params.key, params.direction, params.cipher, params.auth)
    this.pid = new PacketIdSend(deps.nowSec)
    this.replay = new ReplayWindow(params.replayWindow ?? 64, params.replayTime ?? 15)
    this.connectFn = deps.connect ?? ((r, signal) => connectTransport({ ...r, signal, counters: this.counters, proxy: r.proxy ?? params.proxy }))
    this.remotes = [...params.remotes]
    if (params.remoteRandom) {
      const rnd = deps.random ?? Math.random
      for (let i = this.remotes.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1))
        ;[this.remotes[i], this.remotes[j]] = [this.remotes[j], this.remotes[i]]
      }
    }
    this.listenOpts = listenOpts
    if (role === 'client' && this.remotes.length === 0) throw new BurrowError(ErrorCode.ERR_CONFIG, 'no remote server configured')
  }

  /** Server role: answer whoever authenticates on a UDP/TCP port (default 127.0.0.1, any port). */
  static listen(params: OpenVpnStaticParams, listen: ListenTransportOptions, deps: OpenVpnTunnelDeps = {}): OpenVpnStaticTunnel {
    return new OpenVpnStaticTunnel({ ...params, remotes: [] }, deps, 'server', listen)
  }

  get info(): TunnelInfo | undefined {
    return this._info
  }

  /** The bound port in the server role (after start()). */
  get port(): number {
    return this.listenPort
  }

  /** Wire overhead per packet at most (HMAC + IV + packet-id + a full padding block). */
  get overhead(): number {
    return this.crypto.overhead + 16
  }

  on(ev: TunnelEvent, fn: (arg?: unknown) => void): this {
    let l = this.listeners.get(ev)
    if (!l) this.listeners.set(ev, (l = []))
    l.push(fn)
    return this
  }

  private emit(ev: TunnelEvent, arg?: unknown): void {
    for (const fn of this.listeners.get(ev) ?? []) {
      try {
        fn(arg)
      } catch (e) {
        this.log.error(`openvpn: ${ev} listener threw: ${(e as Error).message}`)
      }
    }
  }

  attach(rx: (pkt: Uint8Array) => void, onDrain: () => void): void {
    this.rx = rx
    this.onDrain = onDrain
  }

  async start(signal?: AbortSignal): Promise<TunnelInfo> {
    if (this.closing) throw new BurrowError(ErrorCode.ECLOSED, 'tunnel is closed')
    if (this.started) throw new BurrowError(ErrorCode.ERR_PROTOCOL, 'start() was already called')
    this.started = true
    const onAbort = () => this.abort.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      if (signal?.aborted) throw new BurrowError(ErrorCode.EABORTED, 'start aborted')
      let t: Transport
      if (this.role === 'server') {
        const lt = await listenTransport(this.listenOpts ?? { proto: 'udp' })
        this.listenPort = lt.port
        t = lt
        this.activeRemote = { host: lt.address, port: lt.port, proto: this.listenOpts?.proto ?? 'udp' }
      } else {
        t = await this.connectLoop()
      }
      if (this.closing) {
        t.close()
        throw new BurrowError(ErrorCode.ECLOSED, 'tunnel closed during start')
      }
      this._info = this.makeInfo()
      this.useTransport(t)
      this.log.info(`openvpn: up (${this._info.description})`)
      return this._info
    } catch (e) {
      if (this.abort.signal.aborted && !(e instanceof BurrowError && e.code === ErrorCode.EABORTED)) {
        throw new BurrowError(ErrorCode.EABORTED, 'start aborted', { cause: e })
      }
      throw e
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  private makeInfo(): TunnelInfo {
    const p = this.params
    const r = this.activeRemote
    return {
      addresses: p.addresses,
      routes: p.routes,
      dns: p.dns ?? [],
      searchDomains: p.searchDomains ?? [],
      mtu: this.mtu,
      description: r
        ? `openvpn static-key ${this.role === 'server' ? 'listen ' : ''}${r.proto} ${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}${this.viaText(r)}`
        : 'openvpn static-key',
    }
  }

  /** " via http-proxy …" for the description of a client's remote reached through a proxy. */
  private viaText(r: { proxy?: ProxySpec }): string {
    const p = this.role === 'server' ? undefined : (r.proxy ?? this.params.proxy)
    return p ? ` via ${describeProxy(p)}` : ''
  }

  /** Try remotes in order with connect-retry backoff; rejects when connectRetryMax rounds failed. */
  private async connectLoop(): Promise<Transport> {
    const p = this.params
    const base = (p.connectRetry ?? 1) * 1000
    const cap = (p.connectRetryMaxDelay ?? 300) * 1000
    let round = 0
    let tried = 0
    for (;;) {
      if (this.abort.signal.aborted) throw new BurrowError(ErrorCode.EABORTED, 'connect aborted')
      const remote = this.remotes[this.remoteIdx]
      try {
        this.log.info(`openvpn: connecting to ${remote.proto} ${remote.host}:${remote.port}`)
        const t = await this.connectFn(remote, this.abort.signal)
        this.activeRemote = remote
        return t
      } catch (e) {
        if (this.abort.signal.aborted) throw new BurrowError(ErrorCode.EABORTED, 'connect aborted', { cause: e })
        this.counters.inc('openvpn.connect_failed')
        this.log.warn(`openvpn: ${remote.proto} ${remote.host}:${remote.port}: ${(e as Error).message}`)
        this.remoteIdx = (this.remoteIdx + 1) % this.remotes.length
        if (++tried % this.remotes.length === 0) round++
        if (p.connectRetryMax !== undefined && round >= p.connectRetryMax) {
          const err = e instanceof BurrowError ? e.code : ErrorCode.ECONNREFUSED
          throw new BurrowError(err, `openvpn: no server reachable after ${round} round(s) over ${this.remotes.length} remote(s): ${(e as Error).message}`, { cause: e })
        }
        const delay = Math.min(cap, base * 2 ** Math.max(0, round - 1))
        await this.sleep(delay)
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const sig = this.abort.signal
      if (sig.aborted) return reject(new BurrowError(ErrorCode.EABORTED, 'aborted'))
      const onAbort = () => {
        cancel()
        reject(new BurrowError(ErrorCode.EABORTED, 'aborted'))
      }
      const cancel = this.clock.schedule(this.clock.now() + ms, () => {
        sig.removeEventListener('abort', onAbort)
        resolve()
      })
      sig.addEventListener('abort', onAbort, { once: true })
    })
  }

  private useTransport(t: Transport): void {
    this.transport = t
    t.attach(
      (m) => this.onMessage(t, m),
      (err) => this.onTransportClose(t, err),
      () => this.onDrain?.(),
    )
    const now = this.clock.now()
    this.lastRecv = now
    this.lastSent = now
    this.gotPacket = false
    this.up = true
    // Static-key mode has no handshake: over TCP a connected stream shows the server is there,
    // but a UDP socket "connects" to anything, so a reconnect is only 'up' after the server's
    // first authentic packet (ping or data).
    this.counters.inc('openvpn.session')
    const udpReconnect = this.sessions++ > 0 && this.role === 'client' && this.activeRemote?.proto === 'udp'
    this.upPending = udpReconnect
    if (!udpReconnect) this.emit('up', this._info)
    if (this.role === 'client') this.sendControl(PING_MAGIC) // let the server learn our address now
    this.armPing()
    this.armRestart()
  }

  send(pkt: Uint8Array): boolean {
    const t = this.transport
    if (!t || !this.up) {
      this.counters.inc('openvpn.tx_down')
      return true
    }
    if (pkt.length > this.mtu) {
      this.counters.inc('openvpn.tx_too_big')
      return true
    }
    this.pid.next()
    const wire = this.crypto.seal(pkt, this.pid.id, this.pid.time)
    this.lastSent = this.clock.now()
    this.counters.inc('openvpn.tx')
    return t.send(wire)
  }

  private sendControl(payload: Uint8Array): void {
    const t = this.transport
    if (!t) return
    this.pid.next()
    t.send(this.crypto.seal(payload, this.pid.id, this.pid.time))
    this.lastSent = this.clock.now()
  }

  private onMessage(t: Transport, msg: Uint8Array): void {
    if (t !== this.transport) return
    const o = this.opened
    const r = this.crypto.open(msg, o)
    if (r !== OpenResult.OK) {
      this.counters.inc(r === OpenResult.BAD_HMAC ? 'openvpn.bad_hmac' : r === OpenResult.BAD_PADDING ? 'openvpn.bad_padding' : 'openvpn.bad_length')
      return
    }
    const now = this.clock.now()
    const v = this.replay.test(o.id, o.time, now)
    if (v !== ReplayVerdict.OK) {
      this.counters.inc(v === ReplayVerdict.REPLAY ? 'openvpn.replay' : v === ReplayVerdict.TIME_BACKTRACK ? 'openvpn.time_backtrack' : v === ReplayVerdict.STALE ? 'openvpn.stale' : 'openvpn.bad_packet_id')
      this.replayOnly++
      return
    }
    this.replay.add(o.id, o.time, now)
    this.replayOnly = 0
    this.gotPacket = true
    this.deadSessions = 0
    if (this.upPending) {
      this.upPending = false
      this.emit('up', this._info)
    }
    this.lastRecv = now
    if (isListenTransport(t)) t.confirmPeer()
    const p = o.payload
    if (isPing(p)) {
      this.counters.inc('openvpn.ping_rx')
      return
    }
    const op = occOpcode(p)
    if (op >= 0) return this.onOcc(op)
    if (p.length === 0) {
      this.counters.inc('openvpn.empty')
      return
    }
    this.counters.inc('openvpn.rx')
    this.rx?.(p)
  }

  /** What OCC_REPLY carries: OpenVPN's options string for this end (options.c options_string). */
  optionsString(): string {
    const r = this.activeRemote ?? this.remotes[this.remoteIdx] ?? { proto: this.listenOpts?.proto ?? 'udp' }
    return occOptionsString({
      proto: r.proto,
      server: this.role === 'server',
      tunMtu: this.mtu,
      linkMtu: this.mtu + this.overhead + (r.proto === 'tcp' ? 2 : 0),
      ifconfig: this.params.ifconfig,
      keyDirection: this.params.direction,
      cipher: this.params.cipher,
      auth: this.params.auth,
      keyBits: { 'AES-128-CBC': 128, 'AES-192-CBC': 192, 'AES-256-CBC': 256 }[this.params.cipher],
    })
  }

  private onOcc(op: number): void {
    this.counters.inc('openvpn.occ_rx')
    if (op === OccOp.REQUEST) {
      this.sendControl(buildOcc(OccOp.REPLY, this.optionsString()))
    } else if (op === OccOp.EXIT && this.role === 'client') {
      this.log.info('openvpn: server announced it is exiting')
      this.restart('server exiting (OCC_EXIT)', true)
    }
  }

  private armPing(): void {
    this.cancelPing?.()
    this.cancelPing = undefined
    const ping = (this.params.ping ?? 0) * 1000
    if (!ping || !this.up) return
    this.cancelPing = this.clock.schedule(this.lastSent + ping, () => {
      this.cancelPing = undefined
      if (!this.up) return
      if (this.clock.now() - this.lastSent >= ping) {
        this.counters.inc('openvpn.ping_tx')
        this.sendControl(PING_MAGIC)
      }
      this.armPing()
    })
  }

  private armRestart(): void {
    this.cancelRestart?.()
    this.cancelRestart = undefined
    const limit = (this.params.pingRestart ?? 0) * 1000
    if (!limit || !this.up || this.role === 'server') return
    this.cancelRestart = this.clock.schedule(this.lastRecv + limit, () => {
      this.cancelRestart = undefined
      if (!this.up) return
      if (this.clock.now() - this.lastRecv >= limit) {
        this.counters.inc('openvpn.ping_restart')
        this.restart(`no packet from the server for ${this.params.pingRestart} s (ping-restart)`, true)
      } else this.armRestart()
    })
  }

  private onTransportClose(t: Transport, err?: Error): void {
    if (t !== this.transport || this.closing) return
    if (this.role === 'server') {
      this.log.error(`openvpn: listener failed: ${err?.message ?? 'closed'}`)
      this.goDown(err)
      this.emit('error', err)
      return
    }
    this.restart(`connection lost: ${err?.message ?? 'closed'}`, this.remotes.length > 1)
  }

  private goDown(reason?: unknown): void {
    this.cancelPing?.()
    this.cancelRestart?.()
    this.cancelPing = this.cancelRestart = undefined
    const t = this.transport
    this.transport = undefined
    t?.close()
    if (this.up) {
      this.up = false
      // a UDP reconnect the server never answered was never announced 'up'
      if (!this.upPending) this.emit('down', reason)
      this.upPending = false
    }
  }

  /** Drop the transport and reconnect (client role); fresh packet-id time for the new session. */
  private restart(reason: string, nextRemote: boolean): void {
    if (this.closing || this.reconnecting) return
    this.log.warn(`openvpn: ${reason}; reconnecting`)
    this.counters.inc('openvpn.reconnect')
    if (!this.gotPacket) this.deadSessions++
    const max = this.params.connectRetryMax
    if (max !== undefined && this.deadSessions >= max * this.remotes.length) {
      const err = new BurrowError(ErrorCode.ETIMEDOUT, `openvpn: no answer from any server after ${this.deadSessions} attempt(s) (connect-retry-max ${max})`)
      this.log.error(err.message)
      this.goDown(reason)
      this.emit('error', err)
      return
    }
    this.goDown(reason)
    if (nextRemote) this.remoteIdx = (this.remoteIdx + 1) % this.remotes.length
    this.emit('reconnecting', reason)
    this.pid.restart()
    if (this.replayOnly > 0) {
      // Only authentic-but-"replayed" packets arrived during the silence: the server restarted
      // and reuses a (time, id) range we already saw (a restart within the same second).
      // OpenVPN itself resets its replay state on every restart; we do it only in this case.
      this.log.warn('openvpn: server restarted with an old packet-id time; resetting the replay window')
      this.counters.inc('openvpn.replay_reset')
      this.replay = new ReplayWindow(this.params.replayWindow ?? 64, this.params.replayTime ?? 15)
      this.replayOnly = 0
    }
    // Pause like OpenVPN's connect-retry unless the lost session was alive (fast recovery).
    const pause = this.gotPacket ? 0 : Math.min((this.params.connectRetryMaxDelay ?? 300) * 1000, (this.params.connectRetry ?? 1) * 1000)
    this.reconnecting = (pause > 0 ? this.sleep(pause) : Promise.resolve())
      .then(() => this.connectLoop())
      .then((t) => {
        this.reconnecting = undefined
        if (this.closing) return t.close()
        this._info = this.makeInfo()
        this.log.info(`openvpn: up again (${this._info.description})`)
        this.useTransport(t)
      })
      .catch((e: unknown) => {
        this.reconnecting = undefined
        if (this.closing) return
        this.log.error(`openvpn: giving up: ${(e as Error).message}`)
        this.emit('error', e)
      })
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    const t = this.transport
    if (t && this.role === 'client' && this.activeRemote?.proto === 'udp') {
      for (let i = 0; i < (this.params.explicitExitNotify ?? 0); i++) this.sendControl(buildOcc(OccOp.EXIT))
    }
    this.abort.abort()
    this.goDown('closed')
    await this.reconnecting?.catch(() => undefined)
  }
}
