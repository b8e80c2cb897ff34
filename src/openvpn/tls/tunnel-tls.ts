// OpenVPN 2.x TLS-mode client tunnel (openvpn(8) client mode; OpenVPN source ssl.c, push.c,
// forward.c, ping.c, occ.c): hard reset → TLS → key-method 2 → PUSH_REQUEST/PUSH_REPLY → data
// keys (TLS-EKM or PRF) → data channel; renegotiation from either side with the previous key
// kept for a transition window; ping / ping-restart; reconnect with auth-token reuse across the
// remote list; explicit-exit-notify on close.
import type { Clock } from '../../core/clock.js'
import { RealClock } from '../../core/clock.js'
import { Counters } from '../../core/counters.js'
import { BurrowError, ErrorCode } from '../../core/errors.js'
import { silentLogger, type Logger } from '../../core/log.js'
import { bytesEqual } from '../../core/bytes.js'
import type { OvpnConfig, OvpnRemote } from '../../config/ovpn.js'
import type { Cidr, Transport, Tunnel, TunnelEvent, TunnelInfo } from '../../tunnel/types.js'
import { connectTransport } from '../../transport/connect.js'
import { isDataOpcode, opcodeOf } from './packet.js'
import { TlsSession, type KeyState } from './session.js'
import { NoWrap, TlsAuthWrap, TlsCryptWrap, type ControlWrap } from './wrap.js'
import { authFailedError, occOptionsString, peerInfo } from './control.js'
import { emptyPushed, maskToPrefixLen, parsePushReply, type PushedOptions } from './push.js'
import { splitKey2 } from './keys.js'
import { DataChannel, Framing, OCC_EXIT, OCC_STRING, PING_MAGIC } from './data.js'
import { tlsSettingsFromOvpn, type OpenVpnTlsSettings } from './options.js'
import type { OvpnSecrets } from '../credentials.js'

export interface OpenVpnTlsTunnelDeps {
  logger?: Logger
  clock?: Clock
  counters?: Counters
  /** Open the transport to a remote (default: src/transport connectTransport). */
  connect?: (r: OvpnRemote, signal?: AbortSignal) => Promise<Transport>
  /** Log every control packet (debug level). */
  trace?: boolean
}

type Listener = (arg?: unknown) => void

/** One transport + TLS session: lives until the connection is lost or closed. */
interface Conn {
  transport: Transport
  remote: OvpnRemote
  session: TlsSession
  pushed?: PushedOptions
  pushAcc?: PushedOptions
  cipher?: string
  ekm: boolean
  peerId?: number
  framing: Framing
  primary?: DataChannel
  /** Renegotiated key not yet used for sending (see promote()). */
  pending?: DataChannel
  lameDuck?: DataChannel
  lameDuckTimer?: () => void
  /** One pending timer per purpose (hand-window, push, reneg, reneg-watch, ping, restart). */
  timers: Map<string, () => void>
  lastRx: number
  lastTx: number
  renegPending?: KeyState
  closed: boolean
  ccExit: boolean
  /** Until start() of this connection settles: fail it (instead of reconnecting). */
  failStart?: (e: unknown) => void
}

export class OpenVpnTlsTunnel implements Tunnel {
  mtu: number
  readonly headroom = 0
  info: TunnelInfo | undefined
  readonly counters: Counters
  private readonly clock: Clock
  private readonly log: Logger
  private readonly listeners = new Map<TunnelEvent, Listener[]>()
  private rx: (pkt: Uint8Array) => void = () => {}
  private onDrain: () => void = () => {}
  private conn?: Conn
  private authToken?: string
  private closing = false
  private reconnecting = false
  private readonly lifetime = new AbortController()

  constructor(
    readonly settings: OpenVpnTlsSettings,
    private readonly deps: OpenVpnTlsTunnelDeps = {},
  ) {
    this.clock = deps.clock ?? new RealClock()
    this.log = deps.logger ?? silentLogger
    this.counters = deps.counters ?? new Counters()
    this.mtu = settings.tunMtu
  }

  on(ev: TunnelEvent, fn: Listener): this {
    const l = this.listeners.get(ev) ?? []
    l.push(fn)
    this.listeners.set(ev, l)
    return this
  }
  private emit(ev: TunnelEvent, arg?: unknown): void {
    for (const f of this.listeners.get(ev) ?? []) f(arg)
  }

  attach(rx: (pkt: Uint8Array) => void, onDrain: () => void): void {
    this.rx = rx
    this.onDrain = onDrain
  }

  send(pkt: Uint8Array): boolean {
    const c = this.conn
    const dc = c?.primary
    if (!c || !dc || c.closed) {
      this.counters.inc('openvpn.tx_not_up')
      return true
    }
    c.lastTx = this.clock.now()
    const ok = this.xmit(c, dc.encrypt(pkt))
    this.checkRenegLimits(c, dc)
    return ok
  }

  async start(signal?: AbortSignal): Promise<TunnelInfo> {
    const info = await this.connectLoop(signal, false)
    this.emit('up', info)
    return info
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    this.lifetime.abort()
    const c = this.conn
    if (c && !c.closed) {
      await this.exitNotify(c)
      this.teardown(c)
    }
    this.conn = undefined
    this.emit('down')
  }

  /** Start a renegotiation now (normally driven by reneg-sec / reneg-bytes / reneg-pkts). */
  renegotiate(): void {
    const c = this.conn
    if (!c || c.closed || c.renegPending || c.pending) return
    this.log.info('openvpn: renegotiating data channel keys')
    c.renegPending = c.session.renegotiate()
    this.watchHandshake(c, c.renegPending)
  }

  // ---------------------------------------------------------------- connection management

  private remoteOrder(): OvpnRemote[] {
    const r = [...this.settings.remotes]
    if (this.settings.remoteRandom) {
      for (let i = r.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1))
        ;[r[i], r[j]] = [r[j], r[i]]
      }
    }
    return r
  }

  private async connectLoop(signal: AbortSignal | undefined, forever: boolean): Promise<TunnelInfo> {
    const s = this.settings
    const rounds = forever ? Infinity : Math.max(1, s.connectRetryMax ?? 3)
    let delay = Math.max(1, s.connectRetry) * 1000
    let lastErr: unknown
    for (let round = 0; round < rounds; round++) {
      for (const remote of this.remoteOrder()) {
        if (signal?.aborted || this.closing) throw new BurrowError(ErrorCode.EABORTED, 'OpenVPN connect aborted')
        try {
          return await this.connectOnce(remote, signal)
        } catch (e) {
          lastErr = e
          const be = e as BurrowError
          this.log.warn(`openvpn: ${remote.proto} ${remote.host}:${remote.port}: ${be.message}`)
          if (be.code === ErrorCode.ERR_AUTH && !this.authToken) throw e
          if (be.code === ErrorCode.ERR_AUTH) this.authToken = undefined // stale token: retry with credentials
          if (be.code === ErrorCode.ERR_CONFIG || be.code === ErrorCode.EABORTED) throw e
        }
      }
      if (round + 1 < rounds) {
        await this.sleep(delay, signal)
        delay = Math.min(delay * 2, s.connectRetryMaxDelay * 1000)
      }
    }
    throw lastErr instanceof BurrowError ? lastErr : new BurrowError(ErrorCode.ETIMEDOUT, `OpenVPN: no server answered: ${String(lastErr)}`)
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((res) => {
      const cancel = this.clock.schedule(this.clock.now() + ms, res)
      signal?.addEventListener(
        'abort',
        () => {
          cancel()
          res()
        },
        { once: true },
      )
    })
  }

  private makeWrap(): ControlWrap {
    const w = this.settings.wrap
    const o = { counters: this.counters }
    switch (w.mode) {
      case 'none':
        return new NoWrap()
      case 'tls-auth':
        return new TlsAuthWrap(w.key, w.direction, w.digest, o)
      case 'tls-crypt':
        return new TlsCryptWrap(w.key, false, o)
      case 'tls-crypt-v2':
        return new TlsCryptWrap(w.key, false, { ...o, wkc: w.wkc })
    }
  }

  private connectOnce(remote: OvpnRemote, signal?: AbortSignal): Promise<TunnelInfo> {
    const s = this.settings
    return new Promise<TunnelInfo>((resolve, reject) => {
      let settled = false
      let conn: Conn | undefined
      const onAbort = () => fail(new BurrowError(ErrorCode.EABORTED, 'OpenVPN connect aborted'))
      const fail = (e: unknown) => {
        if (settled) return
        settled = true
        signal?.removeEventListener('abort', onAbort)
        if (conn) this.teardown(conn)
        reject(e instanceof BurrowError ? e : new BurrowError(ErrorCode.ERR_PROTOCOL, String(e), { cause: e }))
      }
      const connect = this.deps.connect ?? ((r: OvpnRemote, sig?: AbortSignal) => connectTransport({ proto: r.proto, host: r.host, port: r.port, family: r.family, signal: sig, counters: this.counters, proxy: r.proxy?.spec ?? s.proxy }))
      connect(remote, signal).then((transport) => {
        if (settled) return transport.close()
        const wrap = this.makeWrap()
        const session: TlsSession = new TlsSession({
          clock: this.clock,
          logger: this.log,
          counters: this.counters,
          wrap,
          creds: s.creds,
          v3: s.wrap.mode === 'tls-crypt-v2',
          trace: this.deps.trace,
          send: (pkt) => void this.xmit(c, pkt),
          km2: () => ({
            options: occOptionsString({ proto: remote.proto, tunMtu: s.tunMtu, cipher: s.dataCiphersFallback ?? 'AES-256-GCM', auth: s.auth, keySize: 256, wrap: s.wrap.mode }),
            username: s.userPass?.username,
            password: this.authToken ?? s.userPass?.password,
            peerInfo: peerInfo({ ciphers: s.dataCiphers, mtu: s.tunMtu, tlsKeyExport: s.tlsKeyExport, compStubs: s.framing !== Framing.NONE, extra: s.peerInfoExtra }),
          }),
          onMessage: (m) =>
            this.onControlMessage(c, m, {
              resolve: (i) => {
                if (settled) return
                settled = true
                c.failStart = undefined
                signal?.removeEventListener('abort', onAbort)
                resolve(i)
              },
              fail,
            }),
          onKeyReady: (ks) => this.onKeyReady(c, ks, fail),
          onError: (e) => (settled ? this.connectionLost(c, e) : fail(e)),
        })
        const c: Conn = { transport, remote, session, ekm: false, framing: s.framing, timers: new Map(), lastRx: this.clock.now(), lastTx: this.clock.now(), closed: false, ccExit: false }
        c.failStart = fail
        conn = c
        this.conn = c
        transport.attach(
          (msg) => this.onWire(c, msg),
          (err) => (settled ? this.connectionLost(c, err) : fail(new BurrowError(ErrorCode.ECONNRESET, `connection to ${transport.description} closed${err ? `: ${err.message}` : ''}`))),
          () => this.onDrain(),
        )
        this.log.info(`openvpn: connecting to ${transport.description} (${s.wrap.mode})`)
        session.start()
        this.timer(c, 'hand', this.clock.now() + s.handWindow * 1000, () => {
          if (!settled) fail(new BurrowError(ErrorCode.ETIMEDOUT, `TLS handshake with ${transport.description} did not complete in ${s.handWindow} s (hand-window)`))
        })
      }, fail)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private onWire(c: Conn, msg: Uint8Array): void {
    if (c.closed || msg.length === 0) return
    const op = opcodeOf(msg[0])
    if (!isDataOpcode(op)) {
      c.session.input(msg)
      return
    }
    const keyId = msg[0] & 7
    const dc = c.primary?.keyId === keyId ? c.primary : c.pending?.keyId === keyId ? c.pending : c.lameDuck?.keyId === keyId ? c.lameDuck : undefined
    if (!dc) {
      this.counters.inc('openvpn.data.unknown_key_id')
      return
    }
    const pkt = dc.decrypt(msg)
    if (!pkt) return
    if (dc === c.pending) this.promote(c, dc)
    c.lastRx = this.clock.now()
    this.checkRenegLimits(c, dc)
    if (pkt.length === PING_MAGIC.length && bytesEqual(pkt, PING_MAGIC)) return
    if (pkt.length === OCC_STRING.length + 1 && bytesEqual(pkt.subarray(0, OCC_STRING.length), OCC_STRING)) {
      if (pkt[OCC_STRING.length] === OCC_EXIT) this.connectionLost(c, new BurrowError(ErrorCode.ECONNRESET, 'server sent explicit exit notification'))
      return
    }
    this.rx(pkt)
  }

  private onKeyReady(c: Conn, ks: KeyState, fail: (e: unknown) => void): void {
    if (!c.pushed && ks.keyId !== 0) return // installed by applyPush once the cipher is known
    if (ks.keyId === 0 && !c.pushed) {
      // first key: data keys wait for PUSH_REPLY (cipher, peer-id, tls-ekm)
      const req = () => {
        if (c.closed || c.pushed) return
        ks.sendText('PUSH_REQUEST')
        this.timer(c, 'push', this.clock.now() + 2000, req)
      }
      req()
      return
    }
    try {
      this.installKey(c, ks)
    } catch (e) {
      if (c.pushed) this.connectionLost(c, e)
      else fail(e)
    }
  }

  private installKey(c: Conn, ks: KeyState): void {
    const dc = new DataChannel({
      cipher: c.cipher!,
      auth: this.settings.auth,
      keys: splitKey2(ks.keyMaterial(c.ekm)),
      keyId: ks.keyId,
      peerId: c.peerId,
      framing: c.framing,
      counters: this.counters,
      replayWindow: this.settings.replayWindow,
    })
    if (!c.primary) c.primary = dc
    else {
      // Renegotiated key: keep sending on the current key until the server shows it has the new
      // one (a packet arrives on it) or a short grace period passed, so no packet reaches the
      // server before it generated its keys (it does so once our ACK of its key-method 2 lands).
      c.pending = dc
      this.timer(c, 'promote', this.clock.now() + 1000, () => this.promote(c, dc))
    }
    if (c.renegPending === ks) c.renegPending = undefined
    this.log.info(`openvpn: data channel key ${ks.keyId} active (${dc.cipher}, ${c.ekm ? 'tls-ekm' : 'PRF'}${c.peerId !== undefined ? `, peer-id ${c.peerId}` : ''})`)
    this.scheduleReneg(c, ks.keyId)
  }

  /** Make a renegotiated key the sending key; the previous one stays for decryption a while. */
  private promote(c: Conn, dc: DataChannel): void {
    if (c.closed || c.pending !== dc) return
    c.pending = undefined
    const old = c.primary
    c.primary = dc
    c.timers.get('promote')?.()
    c.timers.delete('promote')
    if (old && old.keyId !== dc.keyId) {
      c.lameDuckTimer?.()
      c.lameDuck = old
      const oldId = old.keyId
      const keep = Math.min(this.settings.tranWindow, 60) * 1000
      c.lameDuckTimer = this.clock.schedule(this.clock.now() + keep, () => {
        if (c.lameDuck?.keyId === oldId) c.lameDuck = undefined
        if (c.primary?.keyId !== oldId) c.session.retire(oldId)
      })
    }
  }

  private scheduleReneg(c: Conn, keyId: number): void {
    const sec = this.settings.renegSec
    if (!sec) return
    this.timer(c, 'reneg', this.clock.now() + sec * 1000, () => {
      if (!c.closed && c.primary?.keyId === keyId && this.conn === c) this.renegotiate()
    })
  }

  private checkRenegLimits(c: Conn, dc: DataChannel): void {
    const s = this.settings
    if (dc !== c.primary || c.renegPending || c.pending) return
    // also well before the 32-bit packet-id wraps (OpenVPN renegotiates near the wrap too)
    if ((s.renegBytes && dc.bytes >= s.renegBytes) || (s.renegPkts && dc.packets >= s.renegPkts) || dc.packets >= 0xf0000000) this.renegotiate()
  }

  private watchHandshake(c: Conn, ks: KeyState): void {
    this.timer(c, 'reneg-watch', this.clock.now() + this.settings.handWindow * 1000, () => {
      if (!c.closed && c.renegPending === ks) this.connectionLost(c, new BurrowError(ErrorCode.ETIMEDOUT, 'renegotiation did not complete within hand-window'))
    })
  }

  private onControlMessage(c: Conn, m: string, p: { resolve: (i: TunnelInfo) => void; fail: (e: unknown) => void }): void {
    if (m.startsWith('PUSH_REPLY')) {
      if (c.pushed) {
        // after renegotiation the server may refresh the auth-token; nothing else is re-applied
        const again = parsePushReply(m.slice('PUSH_REPLY'.length).replace(/^,/, ''))
        if (again.opts.authToken) this.authToken = again.opts.authToken
        return
      }
      const body = m.slice('PUSH_REPLY'.length).replace(/^,/, '')
      const r = parsePushReply(body, c.pushAcc ?? emptyPushed())
      c.pushAcc = r.opts
      this.log.debug(`openvpn: PUSH_REPLY part received (${r.done ? 'last' : 'more follow'})`)
      if (!r.done) return
      c.pushed = r.opts
      c.pushAcc = undefined
      try {
        p.resolve(this.applyPush(c))
      } catch (e) {
        p.fail(e)
      }
      return
    }
    if (m.startsWith('AUTH_FAILED')) {
      const e = authFailedError(m)
      if (c.pushed) this.connectionLost(c, e)
      else p.fail(e)
      return
    }
    if (m.startsWith('RESTART') || m === 'EXIT') {
      this.log.warn(`openvpn: server asked to ${m === 'EXIT' ? 'exit' : 'restart'}; reconnecting`)
      if (c.pushed) this.connectionLost(c, new BurrowError(ErrorCode.ECONNRESET, `server sent ${m}`))
      else p.fail(new BurrowError(ErrorCode.ECONNRESET, `server sent ${m}`))
      return
    }
    if (m.startsWith('HALT')) {
      const e = new BurrowError(ErrorCode.ECLOSED, `server halted the connection (${m})`)
      if (c.pushed) {
        this.teardown(c)
        this.emit('error', e)
        this.emit('down', e)
      } else p.fail(e)
      return
    }
    if (m.startsWith('AUTH_PENDING') || m.startsWith('INFO')) {
      this.log.info(`openvpn: server: ${m}`)
      return
    }
    this.counters.inc('openvpn.control.unknown_message')
    this.log.debug(`openvpn: ignoring control message ${m.slice(0, 80)}`)
  }

  private applyPush(c: Conn): TunnelInfo {
    const s = this.settings
    const p = c.pushed!
    for (const r of p.rejected) this.log.warn(`openvpn: ${r}`)
    if (p.authToken) this.authToken = p.authToken
    // cipher negotiation (NCP): the server's choice must be one we offered
    let cipher = p.cipher
    if (cipher && !s.dataCiphers.includes(cipher) && cipher !== s.dataCiphersFallback) {
      throw new BurrowError(ErrorCode.ERR_CONFIG, `server pushed cipher ${cipher}, which is not in data-ciphers (${s.dataCiphers.join(':')})`)
    }
    cipher ??= s.dataCiphersFallback
    if (!cipher) throw new BurrowError(ErrorCode.ERR_CONFIG, 'server did not negotiate a data cipher and no data-ciphers-fallback is set')
    c.cipher = cipher
    c.ekm = p.protocolFlags.includes('tls-ekm')
    c.ccExit = p.protocolFlags.includes('cc-exit')
    c.peerId = p.peerId
    if (p.compress !== undefined) {
      const f = p.compress === 'stub-v2' ? Framing.STUB_V2 : p.compress === 'stub' ? Framing.STUB_SWAP : p.compress === 'lzo-no' ? Framing.LZO_STUB : undefined
      if (!f) throw new BurrowError(ErrorCode.ERR_CONFIG, `server pushed compression "${p.compress}": compression is refused (VORACLE); disable it on the server or push "compress stub-v2"`)
      c.framing = f
    }
    const ks0 = c.session.keys.get(0)
    if (!ks0) throw new BurrowError(ErrorCode.ERR_PROTOCOL, 'key 0 vanished before PUSH_REPLY')
    this.installKey(c, ks0)
    // keys renegotiated before the push completed
    for (const ks of c.session.keys.values()) if (ks.keyId !== 0 && ks.server && c.primary?.keyId !== ks.keyId) this.installKey(c, ks)
    this.startKeepalive(c)
    const info = this.computeInfo(c)
    this.info = info
    this.mtu = info.mtu
    return info
  }

  private computeInfo(c: Conn): TunnelInfo {
    const s = this.settings
    const p = c.pushed!
    const addresses: Cidr[] = []
    const routes: Cidr[] = s.routes.slice()
    const addRoute = (r: Cidr) => {
      if (!routes.some((x) => x.address === r.address && x.prefix === r.prefix)) routes.push(r)
    }
    if (p.ifconfig) {
      const pfx = maskToPrefixLen(p.ifconfig.second)
      const topo = p.topology ?? (pfx !== null && p.ifconfig.second.startsWith('255.') ? 'subnet' : 'net30')
      if (topo === 'subnet' && pfx !== null) addresses.push({ address: p.ifconfig.local, prefix: pfx })
      else {
        addresses.push({ address: p.ifconfig.local, prefix: 32 })
        addRoute({ address: p.ifconfig.second, prefix: 32 })
      }
    }
    if (p.ifconfigIpv6) addresses.push({ address: p.ifconfigIpv6.address, prefix: p.ifconfigIpv6.prefix })
    if (!s.routeNopull) {
      for (const r of p.routes) addRoute(r)
      for (const r of p.routesIpv6) addRoute(r)
      if (p.redirectGateway.v4) addRoute({ address: '0.0.0.0', prefix: 0 })
      if (p.redirectGateway.v6) addRoute({ address: '::', prefix: 0 })
    }
    if (addresses.length === 0) throw new BurrowError(ErrorCode.ERR_PROTOCOL, 'server pushed no usable ifconfig / ifconfig-ipv6 address')
    return {
      addresses,
      routes,
      dns: s.routeNopull ? s.dns : [...new Set([...p.dns, ...s.dns])],
      searchDomains: [...new Set([...p.searchDomains, ...s.searchDomains])],
      mtu: p.tunMtu ?? s.tunMtu,
      description: `openvpn tls ${c.transport.description} ${c.cipher}`,
    }
  }

  private startKeepalive(c: Conn): void {
    const p = c.pushed!
    const ping = (p.ping ?? this.settings.ping) * 1000
    const restart = (p.pingRestart ?? this.settings.pingRestart) * 1000
    if (ping > 0) {
      const tick = () => {
        if (c.closed) return
        const now = this.clock.now()
        if (now - c.lastTx >= ping && c.primary) {
          c.lastTx = now
          this.xmit(c, c.primary.encrypt(PING_MAGIC))
        }
        this.timer(c, 'ping', now + Math.min(ping, 1000), tick)
      }
      tick()
    }
    if (restart > 0) {
      const check = () => {
        if (c.closed) return
        const now = this.clock.now()
        if (now - c.lastRx >= restart) {
          this.connectionLost(c, new BurrowError(ErrorCode.ETIMEDOUT, `no packet from the server for ${restart / 1000} s (ping-restart)`))
          return
        }
        this.timer(c, 'restart', now + 1000, check)
      }
      this.timer(c, 'restart', this.clock.now() + 1000, check)
    }
  }

  private async exitNotify(c: Conn): Promise<void> {
    if (!c.primary) return
    if (c.ccExit) {
      for (const ks of c.session.keys.values()) if (ks.keyId === c.primary.keyId) ks.sendText('EXIT')
    } else if (c.remote.proto === 'udp' && this.settings.explicitExitNotify > 0) {
      const m = new Uint8Array(OCC_STRING.length + 1)
      m.set(OCC_STRING, 0)
      m[OCC_STRING.length] = OCC_EXIT
      this.xmit(c, c.primary.encrypt(m))
    } else return
    await this.sleep(100) // let the datagram / reliable EXIT leave before the socket closes
  }

  /** Send on the connection's transport; a transport that throws ends the connection, never the caller. */
  private xmit(c: Conn, pkt: Uint8Array): boolean {
    if (c.closed) return true
    try {
      return c.transport.send(pkt)
    } catch (e) {
      this.counters.inc('openvpn.tx_error')
      queueMicrotask(() => this.connectionLost(c, new BurrowError(ErrorCode.ECONNRESET, `send failed: ${(e as Error).message}`, { cause: e })))
      return true
    }
  }

  /** (Re)arm the connection's timer of that name, cancelling the previous one. */
  private timer(c: Conn, name: string, at: number, fn: () => void): void {
    c.timers.get(name)?.()
    if (c.closed) return
    c.timers.set(
      name,
      this.clock.schedule(at, () => {
        c.timers.delete(name)
        fn()
      }),
    )
  }

  private teardown(c: Conn): void {
    if (c.closed) return
    c.closed = true
    for (const t of c.timers.values()) t()
    c.timers.clear()
    c.lameDuckTimer?.()
    c.session.close()
    c.transport.close()
  }

  /** Connection lost after it was up: reconnect (new session, auth-token reuse). */
  private connectionLost(c: Conn, e: unknown): void {
    if (c.failStart) return c.failStart(e)
    if (c.closed || this.closing) return
    this.teardown(c)
    if (this.conn !== c || this.reconnecting) return
    this.conn = undefined
    const err = e instanceof BurrowError ? e : new BurrowError(ErrorCode.ECONNRESET, String(e))
    this.log.warn(`openvpn: connection lost (${err.message}); reconnecting`)
    this.emit('reconnecting', err)
    this.reconnecting = true
    this.connectLoop(this.lifetime.signal, true).then(
      (info) => {
        this.reconnecting = false
        this.emit('up', info)
      },
      (e2) => {
        this.reconnecting = false
        if (this.closing) return
        this.emit('error', e2)
        this.emit('down', e2)
      },
    )
  }
}

/** Build a TLS-mode tunnel from a parsed .ovpn. */
export function createOpenVpnTlsTunnel(parsedConfig: OvpnConfig, deps: OpenVpnTlsTunnelDeps & OvpnSecrets = {}): OpenVpnTlsTunnel {
  return new OpenVpnTlsTunnel(tlsSettingsFromOvpn(parsedConfig, { askpass: deps.askpass, userPass: deps.userPass, proxyCredentials: deps.proxyCredentials }), deps)
}
