// One OpenVPN TLS session on the client side (OpenVPN source ssl.c tls_process / tls_pre_decrypt,
// ssl.h "Key state" and "Protocol overview"): our session id, the server's, the control-channel
// wrapping, and up to 8 key states (key_id 0 first, then 1..7 cycling on each renegotiation).
// Each key state owns a reliability layer and a TLS client over it, exchanges key-method 2 and
// yields data-channel key material. Text control messages (PUSH_REPLY, AUTH_FAILED, …) go up.
import { randomBytes } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import type { Clock } from '../../core/clock.js'
import type { Counters } from '../../core/counters.js'
import { BurrowError, ErrorCode } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import { bytesEqual } from '../../core/bytes.js'
import { EARLY_NEG_FLAG_RESEND_WKC, Opcode, SID_SIZE, TLV_TYPE_EARLY_NEG_FLAGS, encodeControlPacket, opcodeName, parseControlPacket } from './packet.js'
import { Reliable, type ReliableOut } from './reliable.js'
import type { ControlWrap } from './wrap.js'
import { startTlsClient, type TlsCredentials } from './tls-session.js'
import { MessageSplitter, encodeKm2Client, encodeText, parseKm2Server, randomClientKeySource, type ClientKeySource, type Km2ServerMessage } from './control.js'
import { ekmKeys, openvpnPrfKeys } from './keys.js'

/** Largest TLS chunk per P_CONTROL_V1 (OpenVPN 2.6 default tls-mtu 1250 minus headers). */
export const CONTROL_CHUNK = 1100

export interface SessionOptions {
  clock: Clock
  logger: Logger
  counters: Counters
  wrap: ControlWrap
  creds: TlsCredentials
  /** Send one wire packet to the server. */
  send(pkt: Uint8Array): void
  /** Build the key-method-2 message fields for a key state. */
  km2(): { options: string; username?: string; password?: string; peerInfo: string }
  /** Log every control packet at debug level. */
  trace?: boolean
  /** Use HARD_RESET_CLIENT_V3 (tls-crypt-v2). */
  v3?: boolean
  /** Text control message from the server. */
  onMessage(msg: string, keyId: number): void
  /** A key state finished key-method 2 (server key material known). */
  onKeyReady(ks: KeyState): void
  /** Fatal session error (TLS failure, certificate rejected). */
  onError(err: BurrowError): void
}

export const KsState = { INITIAL: 'initial', TLS: 'tls', KM2_SENT: 'km2-sent', ACTIVE: 'active', DEAD: 'dead' } as const
export type KsState = (typeof KsState)[keyof typeof KsState]

export class KeyState {
  state: KsState = KsState.INITIAL
  readonly reliable: Reliable
  readonly keySource: ClientKeySource = randomClientKeySource()
  server?: Km2ServerMessage
  tls?: TLSSocket
  private feedTls?: (b: Uint8Array) => void
  private plain = new Uint8Array(0)
  private splitter: MessageSplitter
  readonly startedAt: number
  /** The server asked (EARLY_NEG_FLAG_RESEND_WKC) for the WKc again with our next packet. */
  resendWkc = false
  private wkcSent = false
  constructor(
    readonly keyId: number,
    private readonly s: TlsSession,
  ) {
    this.startedAt = s.o.clock.now()
    this.reliable = new Reliable({
      clock: s.o.clock,
      counters: s.o.counters,
      output: (p) => s.output(keyId, p),
      deliver: (op, payload) => this.deliver(op, payload),
    })
    this.splitter = new MessageSplitter((m) => s.o.onMessage(m, keyId))
  }

  private deliver(op: number, payload: Uint8Array): void {
    if (op === Opcode.P_CONTROL_HARD_RESET_SERVER_V2 || op === Opcode.P_CONTROL_SOFT_RESET_V1) {
      if (op === Opcode.P_CONTROL_HARD_RESET_SERVER_V2 && this.s.o.v3) this.resendWkc = earlyNegResendWkc(payload)
      this.startTls()
      return
    }
    if (op === Opcode.P_CONTROL_V1 || op === Opcode.P_CONTROL_WKC_V1) {
      if (!this.feedTls) {
        this.s.o.counters.inc('openvpn.tls.control_before_reset')
        return
      }
      this.feedTls(payload)
      return
    }
    this.s.o.counters.inc('openvpn.tls.unexpected_opcode')
    this.s.o.logger.debug(`openvpn: unexpected ${opcodeName(op)} on key ${this.keyId}`)
  }

  private startTls(): void {
    if (this.state !== KsState.INITIAL) return
    this.state = KsState.TLS
    let t: ReturnType<typeof startTlsClient>
    try {
      t = startTlsClient(this.s.o.creds, (chunk) => {
        for (let o = 0; o < chunk.length; o += CONTROL_CHUNK) {
          // tls-crypt-v2 early negotiation: our message packet-id 1 goes as P_CONTROL_WKC_V1 (WKc appended)
          const wkc = this.resendWkc && !this.wkcSent
          this.wkcSent ||= wkc
          this.reliable.send(wkc ? Opcode.P_CONTROL_WKC_V1 : Opcode.P_CONTROL_V1, chunk.slice(o, o + CONTROL_CHUNK))
        }
      })
    } catch (e) {
      // bad credentials (e.g. wrong key passphrase): fatal, reported once, never thrown into the packet path
      this.state = KsState.DEAD
      this.s.fail(e instanceof BurrowError ? e : new BurrowError(ErrorCode.ERR_CONFIG, String(e)))
      return
    }
    this.tls = t.socket
    this.feedTls = (b) => t.duplex.feed(b)
    t.socket.on('error', (e) => {
      if (this.state === KsState.DEAD) return
      this.s.fail(e instanceof BurrowError ? e : new BurrowError(ErrorCode.ERR_PROTOCOL, `TLS error on key ${this.keyId}: ${e.message}`, { cause: e }))
    })
    t.ready.then(
      () => {
        if (this.state === KsState.DEAD) return
        this.s.o.logger.debug(`openvpn: key ${this.keyId}: ${t.socket.getProtocol()} ${t.socket.getCipher()?.name ?? ''} established`)
        t.socket.on('data', (d: Buffer) => this.onPlain(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)))
        const f = this.s.o.km2()
        t.socket.write(encodeKm2Client({ keySource: this.keySource, ...f }))
        this.state = KsState.KM2_SENT
      },
      (e: BurrowError) => {
        if (this.state !== KsState.DEAD) this.s.fail(e)
      },
    )
  }

  private onPlain(chunk: Uint8Array): void {
    if (this.state === KsState.DEAD) return
    if (this.state !== KsState.ACTIVE) {
      const b = new Uint8Array(this.plain.length + chunk.length)
      b.set(this.plain, 0)
      b.set(chunk, this.plain.length)
      const m = parseKm2Server(b)
      if (m === 'incomplete') {
        this.plain = b
        return
      }
      if (m === null) {
        this.s.fail(new BurrowError(ErrorCode.ERR_PROTOCOL, `malformed key-method 2 message from the server on key ${this.keyId}`))
        return
      }
      this.plain = new Uint8Array(0)
      this.server = m
      this.state = KsState.ACTIVE
      // acknowledge the server's key-method 2 before any data on the new key can leave
      this.reliable.flushAcks()
      this.s.o.onKeyReady(this)
      if (m.length < b.length) this.splitter.push(b.subarray(m.length))
      return
    }
    this.splitter.push(chunk)
  }

  /** Send a text control message on this key's TLS channel. */
  sendText(s: string): void {
    if (this.tls && this.state === KsState.ACTIVE) this.tls.write(encodeText(s))
  }

  /** Data-channel key material: TLS-EKM or the legacy PRF. */
  keyMaterial(ekm: boolean): Uint8Array {
    if (!this.server || !this.tls) throw new BurrowError(ErrorCode.ERR_PROTOCOL, 'key material requested before key-method 2 completed')
    if (ekm) return ekmKeys(this.tls)
    return openvpnPrfKeys(this.keySource, this.server.keySource, this.s.localSid, this.s.remoteSid!)
  }

  kill(): void {
    if (this.state === KsState.DEAD) return
    this.state = KsState.DEAD
    this.reliable.close()
    this.tls?.destroy()
  }
}

/** Parse the early-negotiation TLVs of a server hard reset (ssl.c): is RESEND_WKC requested? */
export function earlyNegResendWkc(payload: Uint8Array): boolean {
  let o = 0
  while (o + 4 <= payload.length) {
    const type = (payload[o] << 8) | payload[o + 1]
    const len = (payload[o + 2] << 8) | payload[o + 3]
    o += 4
    if (o + len > payload.length) return false
    if (type === TLV_TYPE_EARLY_NEG_FLAGS && len === 2) return (((payload[o] << 8) | payload[o + 1]) & EARLY_NEG_FLAG_RESEND_WKC) !== 0
    o += len
  }
  return false
}

export class TlsSession {
  readonly localSid: Uint8Array = new Uint8Array(randomBytes(SID_SIZE))
  remoteSid?: Uint8Array
  readonly keys = new Map<number, KeyState>()
  private lastKeyId = 0
  private failed = false
  constructor(readonly o: SessionOptions) {}

  /** Begin: HARD_RESET_CLIENT_V2 (or V3) on key_id 0. */
  start(): KeyState {
    const ks = new KeyState(0, this)
    this.keys.set(0, ks)
    ks.reliable.send(this.o.v3 ? Opcode.P_CONTROL_HARD_RESET_CLIENT_V3 : Opcode.P_CONTROL_HARD_RESET_CLIENT_V2, new Uint8Array(0))
    return ks
  }

  /** Start a renegotiation from our side: SOFT_RESET_V1 on the next key_id. */
  renegotiate(): KeyState {
    const id = this.nextKeyId()
    const ks = this.newKeyState(id)
    ks.reliable.send(Opcode.P_CONTROL_SOFT_RESET_V1, new Uint8Array(0))
    return ks
  }

  private nextKeyId(): number {
    // key_id 0 only for the first key; then 1..7 cycling (ssl.c key_id increment)
    this.lastKeyId = this.lastKeyId >= 7 ? 1 : this.lastKeyId + 1
    return this.lastKeyId
  }

  private newKeyState(id: number): KeyState {
    this.keys.get(id)?.kill()
    const ks = new KeyState(id, this)
    this.keys.set(id, ks)
    // keep at most three key states: the new one, the current one and one lame duck
    const ids = [...this.keys.keys()]
    if (ids.length > 3) {
      const oldest = [...this.keys.values()].sort((a, b) => a.startedAt - b.startedAt)[0]
      oldest.kill()
      this.keys.delete(oldest.keyId)
    }
    return ks
  }

  /** Drop a retired key state. */
  retire(keyId: number): void {
    const ks = this.keys.get(keyId)
    if (ks) {
      ks.kill()
      this.keys.delete(keyId)
    }
  }

  output(keyId: number, p: ReliableOut): void {
    if (this.failed) return
    const needRemote = p.acks.length > 0
    if (needRemote && !this.remoteSid) return
    const plain = encodeControlPacket({
      opcode: p.opcode as Opcode,
      keyId,
      sessionId: this.localSid,
      acks: p.acks,
      remoteSessionId: needRemote ? this.remoteSid : undefined,
      packetId: p.packetId,
      payload: p.payload,
    })
    if (this.o.trace) this.o.logger.debug(`openvpn: tx ${opcodeName(p.opcode)} key ${keyId} pid ${p.packetId ?? '-'} acks [${p.acks.join(',')}] len ${p.payload.length}`)
    this.o.send(this.o.wrap.wrap(plain))
  }

  /** A control-channel wire packet from the server. */
  input(wire: Uint8Array): void {
    if (this.failed) return
    const plain = this.o.wrap.unwrap(wire)
    if (!plain) return
    const p = parseControlPacket(plain, 0, plain.length, this.o.counters)
    if (!p) return
    const c = this.o.counters
    if (this.o.trace) this.o.logger.debug(`openvpn: rx ${opcodeName(p.opcode)} key ${p.keyId} pid ${p.packetId ?? '-'} acks [${p.acks.join(',')}] len ${p.payload.length}`)
    if (p.opcode === Opcode.P_CONTROL_HARD_RESET_SERVER_V2) {
      if (!this.remoteSid) this.remoteSid = p.sessionId
      else if (!bytesEqual(this.remoteSid, p.sessionId)) return c.inc('openvpn.tls.wrong_session')
    } else if (!this.remoteSid || !bytesEqual(this.remoteSid, p.sessionId)) {
      return c.inc('openvpn.tls.wrong_session')
    }
    if (p.remoteSessionId && !bytesEqual(p.remoteSessionId, this.localSid)) return c.inc('openvpn.tls.wrong_remote_session')
    let ks = this.keys.get(p.keyId)
    if (!ks && p.opcode === Opcode.P_CONTROL_SOFT_RESET_V1) {
      // renegotiation started by the server: answer with our own SOFT_RESET on that key_id
      this.o.logger.debug(`openvpn: server started renegotiation (key_id ${p.keyId})`)
      this.lastKeyId = p.keyId
      ks = this.newKeyState(p.keyId)
      ks.reliable.send(Opcode.P_CONTROL_SOFT_RESET_V1, new Uint8Array(0))
    }
    if (!ks) return c.inc('openvpn.tls.unknown_key_id')
    ks.reliable.receive(p.opcode, p.packetId, p.acks, p.payload)
  }

  fail(e: BurrowError): void {
    if (this.failed) return
    this.failed = true
    this.o.onError(e)
  }

  close(): void {
    this.failed = true
    for (const ks of this.keys.values()) ks.kill()
    this.keys.clear()
  }
}
