// One WireGuard peer (WireGuard paper §5–§6; wireguard-go device/peer.go, send.go, receive.go,
// keypair.go): its handshake state, the current/previous/next keypairs, staged packets, the
// transport data path (pad, encrypt, counters, replay window), REKEY/REJECT decisions, endpoint
// roaming and re-resolution of a hostname endpoint when handshakes go unanswered.
//
// Data-path cost per outbound packet: node:crypto cannot encrypt into a caller's buffer, so the
// ciphertext is one Node-allocated buffer; the 16-byte header is written into the netstack's
// headroom (no allocation when byteOffset ≥ 16), padding (< 16 bytes) and the tag are two small
// buffers, and the parts go out as one datagram through sendmsg's iovec (dgram send with a list),
// so the packet itself is copied exactly once (by the cipher). Inbound: one plaintext buffer.
import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto'
import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import type { Cidr } from '../tunnel/types.js'
import {
  AEAD_TAG_SIZE,
  HANDSHAKE_INITIATION_RATE,
  KEEPALIVE_TIMEOUT,
  MAX_STAGED_PACKETS,
  PADDING_MULTIPLE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME,
  REKEY_TIMEOUT,
  TRANSPORT_HEADER_SIZE,
} from './constants.js'
import { aeadKey, compareBytes, tai64n, writeNonce } from './crypto.js'
import { CookieGenerator } from './cookie.js'
import {
  emitInitiation,
  emitResponse,
  emitTransportHeader,
  INITIATION_MAC1_OFFSET,
  RESPONSE_MAC1_OFFSET,
  type CookieReply,
  type HandshakeResponse,
} from './messages.js'
import {
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  type ConsumedInitiation,
  type HandshakeState,
  type StaticIdentity,
} from './noise.js'
import { ReplayFilter } from './replay.js'
import type { AllowedIps } from './allowedips.js'
import { PeerTimers } from './timers.js'

export interface WgEndpoint {
  address: string
  port: number
}

/** A transport session: keys, send counter and receive window (paper §5.4.5). */
export class Keypair {
  sendNonce = 0
  readonly replay = new ReplayFilter()
  constructor(
    readonly sendKey: KeyObject,
    readonly recvKey: KeyObject,
    readonly isInitiator: boolean,
    readonly created: number,
    readonly localIndex: number,
    readonly remoteIndex: number,
  ) {}
}

export interface IndexEntry {
  peer: Peer
  keypair?: Keypair
}

/** What a peer needs from its tunnel. */
export interface PeerHost {
  readonly clock: Clock
  readonly logger: Logger
  readonly counters: Counters
  readonly identity: StaticIdentity
  readonly mtu: number
  random(): number
  generateEphemeral(): Uint8Array
  /** Milliseconds since the Unix epoch "now" (TAI64N); derived from the Clock plus a wall-clock base. */
  wallNow(): number
  sendTo(parts: Uint8Array[], to: WgEndpoint): boolean
  newIndex(entry: IndexEntry): number
  setIndex(index: number, entry: IndexEntry): void
  freeIndex(index: number): void
  deliver(pkt: Uint8Array, from: Peer): void
  resolve(host: string): Promise<string[]>
  onHandshakeComplete(peer: Peer): void
  onHandshakeFailed(peer: Peer): void
  onReconnecting(peer: Peer): void
}

export interface PeerOptions {
  publicKey: Uint8Array
  presharedKey?: Uint8Array
  /** Literal endpoint, or a hostname to resolve (and re-resolve when handshakes go unanswered). */
  endpoint?: { host: string; port: number }
  allowedIps: Cidr[]
  /** Seconds, 0/undefined = off. */
  persistentKeepalive?: number
}

const HandshakePhase = { NONE: 0, INITIATION_SENT: 1 } as const
type HandshakePhase = (typeof HandshakePhase)[keyof typeof HandshakePhase]

const nonce = Buffer.alloc(12)
const ZEROS = new Uint8Array(PADDING_MULTIPLE)
const EMPTY = new Uint8Array(0)
/** Re-resolve a hostname endpoint from this many unanswered retransmissions on (then every other). */
export const RESOLVE_AFTER_ATTEMPTS = 2

export class Peer {
  readonly publicKey: Uint8Array
  readonly presharedKey: Uint8Array | undefined
  readonly allowedIps: Cidr[]
  endpoint: WgEndpoint | null = null
  readonly endpointHost: { host: string; port: number } | undefined
  readonly timers: PeerTimers
  readonly cookie: CookieGenerator
  current: Keypair | null = null
  previous: Keypair | null = null
  next: Keypair | null = null
  rxBytes = 0
  txBytes = 0
  private phase: HandshakePhase = HandshakePhase.NONE
  private hsState: HandshakeState | null = null
  private hsIndex = 0
  private staged: Uint8Array[] = []
  private lastSentHandshake = -Infinity
  private lastInitiationConsumed = -Infinity
  private lastTimestamp: Uint8Array | null = null
  private lastSentTai: Uint8Array | null = null
  private sentLastMinuteHandshake = false
  private resolving = false

  constructor(private readonly host: PeerHost, opts: PeerOptions) {
    this.publicKey = opts.publicKey
    this.presharedKey = opts.presharedKey
    this.allowedIps = opts.allowedIps
    if (opts.endpoint) {
      if (isIpLiteral(opts.endpoint.host)) this.endpoint = { address: opts.endpoint.host, port: opts.endpoint.port }
      else this.endpointHost = opts.endpoint
    }
    this.cookie = new CookieGenerator(opts.publicKey, () => host.clock.now())
    this.timers = new PeerTimers(
      host.clock,
      {
        retransmitHandshake: (attempt) => {
          host.logger.debug(`wireguard: handshake did not complete after ${REKEY_TIMEOUT / 1000} s, retrying (try ${attempt + 1})`)
          if (attempt >= RESOLVE_AFTER_ATTEMPTS && attempt % 2 === 0) this.reresolve()
          this.sendInitiation(true)
        },
        giveUpHandshake: () => {
          host.logger.warn(`wireguard: handshake did not complete after ${this.timers.handshakeAttempts} attempts, giving up`)
          host.counters.inc('wireguard.staged_dropped', this.staged.length)
          this.staged = []
          host.onHandshakeFailed(this)
        },
        newHandshake: () => {
          host.logger.debug('wireguard: no reply for 15 s after sending data, starting a new handshake')
          host.onReconnecting(this)
          this.reresolve()
          this.sendInitiation(false)
        },
        sendKeepalive: () => this.sendKeepalive(),
        zeroKeyMaterial: () => this.zeroKeyMaterial(),
      },
      (opts.persistentKeepalive ?? 0) * 1000,
      () => host.random(),
    )
  }

  get hasEndpoint(): boolean {
    return this.endpoint !== null || this.endpointHost !== undefined
  }

  /** Resolve a hostname endpoint (start()); re-resolution later goes through reresolve(). */
  async resolveEndpoint(): Promise<void> {
    if (!this.endpointHost) return
    const addrs = await this.host.resolve(this.endpointHost.host)
    if (addrs.length === 0) throw new Error(`no address for ${this.endpointHost.host}`)
    this.endpoint = { address: addrs[0], port: this.endpointHost.port }
  }

  /** Look the hostname up again; switch endpoints if the old address is no longer in the answer. */
  reresolve(): void {
    const eh = this.endpointHost
    if (!eh || this.resolving) return
    this.resolving = true
    this.host.counters.inc('wireguard.endpoint_resolve')
    this.host.resolve(eh.host).then(
      (addrs) => {
        this.resolving = false
        if (addrs.length === 0 || (this.endpoint && addrs.includes(this.endpoint.address) && this.endpoint.port === eh.port)) return
        this.host.logger.info(`wireguard: endpoint ${eh.host} now resolves to ${addrs[0]}`)
        this.host.counters.inc('wireguard.endpoint_changed')
        this.endpoint = { address: addrs[0], port: eh.port }
      },
      (err: unknown) => {
        this.resolving = false
        this.host.logger.debug(`wireguard: resolving ${eh.host} failed: ${(err as Error).message}`)
      },
    )
  }

  private usable(kp: Keypair | null, now: number): kp is Keypair {
    return kp !== null && now - kp.created < REJECT_AFTER_TIME && kp.sendNonce < REJECT_AFTER_MESSAGES
  }

  /** Hot path: encrypt and send one IP packet, or stage it and start a handshake. */
  send(pkt: Uint8Array): boolean {
    const now = this.host.clock.now()
    const kp = this.current
    if (!this.usable(kp, now)) {
      this.stage(pkt)
      this.sendInitiation(false)
      return true
    }
    if (this.staged.length > 0) this.sendStaged() // keep order behind packets staged earlier
    const ok = this.encryptAndSend(kp, pkt)
    this.keepKeyFreshSending(kp, now)
    return ok
  }

  private stage(pkt: Uint8Array): void {
    if (this.staged.length >= MAX_STAGED_PACKETS) {
      this.staged.shift()
      this.host.counters.inc('wireguard.staged_overflow')
    }
    this.staged.push(pkt)
  }

  private sendStaged(): void {
    const now = this.host.clock.now()
    const kp = this.current
    if (!this.usable(kp, now)) {
      if (this.staged.length) this.sendInitiation(false)
      return
    }
    const q = this.staged
    this.staged = []
    for (const p of q) this.encryptAndSend(kp, p)
    this.keepKeyFreshSending(kp, now)
  }

  sendKeepalive(): void {
    if (this.staged.length === 0 && this.usable(this.current, this.host.clock.now())) {
      this.encryptAndSend(this.current, EMPTY)
      return
    }
    this.sendStaged()
  }

  private keepKeyFreshSending(kp: Keypair, now: number): void {
    if (kp.isInitiator && (kp.sendNonce > REKEY_AFTER_MESSAGES || now - kp.created > REKEY_AFTER_TIME)) this.sendInitiation(false)
  }

  private encryptAndSend(kp: Keypair, pkt: Uint8Array): boolean {
    const ep = this.endpoint
    if (!ep) {
      this.host.counters.inc('wireguard.no_endpoint')
      return true
    }
    const counter = kp.sendNonce++
    const len = pkt.length
    let padded = (len + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1)
    if (padded > this.host.mtu) padded = Math.max(len, this.host.mtu)
    const hdr =
      pkt.byteOffset >= TRANSPORT_HEADER_SIZE
        ? new Uint8Array(pkt.buffer, pkt.byteOffset - TRANSPORT_HEADER_SIZE, TRANSPORT_HEADER_SIZE)
        : new Uint8Array(TRANSPORT_HEADER_SIZE)
    emitTransportHeader(kp.remoteIndex, counter, hdr, 0)
    writeNonce(nonce, counter)
    const c = createCipheriv('chacha20-poly1305', kp.sendKey, nonce, { authTagLength: AEAD_TAG_SIZE })
    let parts: Uint8Array[]
    if (len === 0) {
      c.final()
      parts = [hdr, c.getAuthTag()]
    } else {
      const ct = c.update(pkt)
      if (padded > len) {
        const pad = c.update(ZEROS.subarray(0, padded - len))
        c.final()
        parts = [hdr, ct, pad, c.getAuthTag()]
      } else {
        c.final()
        parts = [hdr, ct, c.getAuthTag()]
      }
    }
    const ok = this.host.sendTo(parts, ep)
    this.txBytes += TRANSPORT_HEADER_SIZE + padded + AEAD_TAG_SIZE
    this.timers.anyAuthenticatedPacketTraversal()
    this.timers.anyAuthenticatedPacketSent()
    if (len > 0) this.timers.dataSent()
    return ok
  }

  /**
   * Inbound transport message for one of our keypairs (the tunnel looked the index up). Decrypts,
   * checks the replay window and that the inner source routes back to this peer, delivers.
   */
  receiveTransport(kp: Keypair, counter: number, msg: Uint8Array, from: WgEndpoint, routes: AllowedIps<Peer>): void {
    const counters = this.host.counters
    const now = this.host.clock.now()
    if (now - kp.created >= REJECT_AFTER_TIME || counter >= REJECT_AFTER_MESSAGES) {
      counters.inc('wireguard.expired_keypair')
      return
    }
    writeNonce(nonce, counter)
    const end = msg.length - AEAD_TAG_SIZE
    const d = createDecipheriv('chacha20-poly1305', kp.recvKey, nonce, { authTagLength: AEAD_TAG_SIZE })
    d.setAuthTag(msg.subarray(end))
    const out = end > TRANSPORT_HEADER_SIZE ? d.update(msg.subarray(TRANSPORT_HEADER_SIZE, end)) : null
    try {
      d.final()
    } catch {
      counters.inc('wireguard.bad_mac')
      return
    }
    if (!kp.replay.check(counter)) {
      counters.inc('wireguard.replay')
      return
    }
    if (kp === this.next) this.confirmNext()
    this.setEndpoint(from)
    this.keepKeyFreshReceiving(now)
    this.timers.anyAuthenticatedPacketTraversal()
    this.timers.anyAuthenticatedPacketReceived()
    this.rxBytes += msg.length
    if (!out || out.length === 0) {
      counters.inc('wireguard.keepalive_rx')
      return
    }
    const pt = new Uint8Array(out.buffer, out.byteOffset, out.length)
    const v = pt[0] >> 4
    let total: number
    let srcOff: number
    let srcLen: number
    if (v === 4 && pt.length >= 20) {
      total = (pt[2] << 8) | pt[3]
      srcOff = 12
      srcLen = 4
      if (total < 20) total = Infinity
    } else if (v === 6 && pt.length >= 40) {
      total = 40 + ((pt[4] << 8) | pt[5])
      srcOff = 8
      srcLen = 16
    } else {
      counters.inc('wireguard.bad_inner_packet')
      return
    }
    if (total > pt.length) {
      counters.inc('wireguard.bad_inner_packet')
      return
    }
    if (routes.lookup(pt, srcOff, srcLen) !== this) {
      counters.inc('wireguard.disallowed_source')
      return
    }
    this.timers.dataReceived()
    this.host.deliver(total === pt.length ? pt : pt.subarray(0, total), this)
  }

  private keepKeyFreshReceiving(now: number): void {
    if (this.sentLastMinuteHandshake) return
    const kp = this.current
    if (kp && kp.isInitiator && now - kp.created > REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT) {
      this.sentLastMinuteHandshake = true
      this.sendInitiation(false)
    }
  }

  /** Roaming (paper §2.1): the endpoint follows the source of the latest authenticated packet. */
  private setEndpoint(from: WgEndpoint): void {
    const ep = this.endpoint
    if (ep && ep.port === from.port && ep.address === from.address) return
    if (ep) this.host.counters.inc('wireguard.endpoint_roamed')
    this.endpoint = { address: from.address, port: from.port }
  }

  private timestamp(): Uint8Array {
    let t = tai64n(this.host.wallNow())
    const last = this.lastSentTai
    if (last && compareBytes(t, last) <= 0) {
      // keep TAI64N strictly increasing per peer: one whitening step (2^24 ns) past the last one
      t = new Uint8Array(last)
      let carry = 1
      for (let i = 8; i >= 0 && carry; i--) {
        const v = t[i] + carry
        t[i] = v & 0xff
        carry = v >> 8
      }
    }
    this.lastSentTai = t
    return t
  }

  /** Send a handshake initiation unless one went out less than REKEY_TIMEOUT ago (paper §6.4). */
  sendInitiation(isRetry: boolean): void {
    if (!isRetry) this.timers.handshakeAttempts = 0
    const now = this.host.clock.now()
    if (now - this.lastSentHandshake < REKEY_TIMEOUT) return
    if (!this.hasEndpoint) return // responder-only peer: wait for it to call us
    this.lastSentHandshake = now
    if (!this.endpoint) {
      // hostname not resolved (yet): keep the retransmit timer going so re-resolution is retried
      this.host.counters.inc('wireguard.no_endpoint')
      this.timers.handshakeInitiated()
      return
    }
    if (this.phase === HandshakePhase.INITIATION_SENT) this.host.freeIndex(this.hsIndex)
    const index = this.host.newIndex({ peer: this })
    const created = createInitiation(this.host.identity, this.publicKey, {
      ephemeralPrivate: this.host.generateEphemeral(),
      timestamp: this.timestamp(),
      senderIndex: index,
    })
    if (!created) {
      this.host.freeIndex(index)
      this.phase = HandshakePhase.NONE
      this.host.counters.inc('wireguard.bad_public_key')
      return
    }
    this.phase = HandshakePhase.INITIATION_SENT
    this.hsState = created.state
    this.hsIndex = index
    const buf = new Uint8Array(148)
    emitInitiation(created.msg, buf, 0)
    this.cookie.addMacs(buf, INITIATION_MAC1_OFFSET)
    this.timers.anyAuthenticatedPacketTraversal()
    this.timers.anyAuthenticatedPacketSent()
    this.host.sendTo([buf], this.endpoint)
    this.host.counters.inc('wireguard.initiation_tx')
    this.timers.handshakeInitiated()
  }

  /** Responder side: an initiation from this peer decrypted; answer it (paper §5.4.3). */
  acceptInitiation(consumed: ConsumedInitiation, from: WgEndpoint): void {
    const now = this.host.clock.now()
    if (this.lastTimestamp && compareBytes(consumed.timestamp, this.lastTimestamp) <= 0) {
      this.host.counters.inc('wireguard.initiation_replay')
      return
    }
    if (now - this.lastInitiationConsumed < HANDSHAKE_INITIATION_RATE) {
      this.host.counters.inc('wireguard.initiation_flood')
      return
    }
    this.lastTimestamp = consumed.timestamp
    this.lastInitiationConsumed = now
    if (this.phase === HandshakePhase.INITIATION_SENT) this.host.freeIndex(this.hsIndex)
    this.phase = HandshakePhase.NONE
    this.hsState = null
    const index = this.host.newIndex({ peer: this })
    const r = createResponse(consumed.state, this.publicKey, this.presharedKey, {
      ephemeralPrivate: this.host.generateEphemeral(),
      senderIndex: index,
    })
    if (!r) {
      this.host.freeIndex(index)
      this.host.counters.inc('wireguard.bad_initiation')
      return
    }
    const keys = deriveTransportKeys(r.state, false)
    const kp = new Keypair(aeadKey(keys.send), aeadKey(keys.recv), false, now, index, consumed.state.remoteIndex)
    this.host.setIndex(index, { peer: this, keypair: kp })
    // BeginSymmetricSession as responder: the new keypair waits in `next` until the initiator uses it
    if (this.next) this.host.freeIndex(this.next.localIndex)
    this.next = kp
    if (this.previous) this.host.freeIndex(this.previous.localIndex)
    this.previous = null
    this.setEndpoint(from)
    this.timers.anyAuthenticatedPacketTraversal()
    this.timers.anyAuthenticatedPacketReceived()
    const buf = new Uint8Array(92)
    emitResponse(r.msg, buf, 0)
    this.cookie.addMacs(buf, RESPONSE_MAC1_OFFSET)
    this.timers.anyAuthenticatedPacketTraversal()
    this.timers.anyAuthenticatedPacketSent()
    this.host.sendTo([buf], this.endpoint!)
    this.host.counters.inc('wireguard.response_tx')
    this.timers.sessionDerived()
  }

  /** Initiator side: a response addressed to our pending initiation (paper §5.4.3–§5.4.5). */
  acceptResponse(msg: HandshakeResponse, from: WgEndpoint): boolean {
    if (this.phase !== HandshakePhase.INITIATION_SENT || msg.receiver !== this.hsIndex || !this.hsState) {
      this.host.counters.inc('wireguard.unexpected_response')
      return false
    }
    const st = consumeResponse(this.hsState, this.host.identity, this.presharedKey, msg)
    if (!st) {
      this.host.counters.inc('wireguard.bad_response')
      return false
    }
    const now = this.host.clock.now()
    const keys = deriveTransportKeys(st, true)
    const kp = new Keypair(aeadKey(keys.send), aeadKey(keys.recv), true, now, this.hsIndex, msg.sender)
    this.host.setIndex(kp.localIndex, { peer: this, keypair: kp })
    this.phase = HandshakePhase.NONE
    this.hsState = null
    // BeginSymmetricSession as initiator
    const prev = this.previous
    if (this.next) {
      this.previous = this.next
      this.next = null
      if (this.current) this.host.freeIndex(this.current.localIndex)
    } else {
      this.previous = this.current
    }
    if (prev) this.host.freeIndex(prev.localIndex)
    this.current = kp
    this.setEndpoint(from)
    this.timers.anyAuthenticatedPacketTraversal()
    this.timers.anyAuthenticatedPacketReceived()
    this.timers.sessionDerived()
    this.timers.handshakeComplete()
    this.sentLastMinuteHandshake = false
    this.host.counters.inc('wireguard.handshake_complete')
    this.host.onHandshakeComplete(this)
    this.sendKeepalive() // the initiator must send first: staged data, or a keepalive
    return true
  }

  /** The responder's `next` keypair was used by the initiator: it becomes current (paper §5.4.5). */
  private confirmNext(): void {
    const old = this.previous
    this.previous = this.current
    if (old) this.host.freeIndex(old.localIndex)
    this.current = this.next
    this.next = null
    this.timers.handshakeComplete()
    this.sentLastMinuteHandshake = false
    this.host.counters.inc('wireguard.handshake_complete')
    this.host.onHandshakeComplete(this)
    this.sendStaged()
  }

  /** A cookie reply to our last initiation or response (the generator checks it against our last mac1). */
  acceptCookieReply(reply: CookieReply): void {
    if (!this.cookie.consumeReply(reply)) this.host.counters.inc('wireguard.bad_cookie')
    else this.host.counters.inc('wireguard.cookie_rx')
  }

  zeroKeyMaterial(): void {
    for (const kp of [this.current, this.previous, this.next]) if (kp) this.host.freeIndex(kp.localIndex)
    if (this.phase === HandshakePhase.INITIATION_SENT) this.host.freeIndex(this.hsIndex)
    this.current = this.previous = this.next = null
    this.phase = HandshakePhase.NONE
    this.hsState = null
  }

  close(): void {
    this.timers.stop()
    this.zeroKeyMaterial()
    this.staged = []
  }
}

function isIpLiteral(s: string): boolean {
  return /^[0-9.]+$/.test(s) || s.includes(':')
}
