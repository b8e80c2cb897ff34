// OpenVPN control-channel messages carried inside TLS (OpenVPN source ssl.c key_method_2_write /
// key_method_2_read, push_peer_info; push.c; ssl.h IV_PROTO_* bits): the key-method-2 exchange
// and the NUL-terminated text messages (PUSH_REQUEST, PUSH_REPLY, AUTH_FAILED, RESTART, …).
import { randomBytes } from 'node:crypto'
import { concatBytes, readU16, writeU16 } from '../../core/bytes.js'
import { BurrowError, ErrorCode } from '../../core/errors.js'

export const KEY_METHOD_2 = 2

/** IV_PROTO bits (OpenVPN ssl.h). */
export const IV_PROTO_DATA_V2 = 1 << 1
export const IV_PROTO_REQUEST_PUSH = 1 << 2
export const IV_PROTO_TLS_KEY_EXPORT = 1 << 3
export const IV_PROTO_AUTH_PENDING_KW = 1 << 4
export const IV_PROTO_NCP_P2P = 1 << 5
export const IV_PROTO_DNS_OPTION = 1 << 6
export const IV_PROTO_CC_EXIT_NOTIFY = 1 << 7
export const IV_PROTO_AUTH_FAIL_TEMP = 1 << 8
export const IV_PROTO_DYN_TLS_CRYPT = 1 << 9

/** Client key source material (key_source in ssl_common.h). */
export interface ClientKeySource {
  preMaster: Uint8Array // 48
  random1: Uint8Array // 32
  random2: Uint8Array // 32
}
export interface ServerKeySource {
  random1: Uint8Array
  random2: Uint8Array
}

export function randomClientKeySource(): ClientKeySource {
  return { preMaster: new Uint8Array(randomBytes(48)), random1: new Uint8Array(randomBytes(32)), random2: new Uint8Array(randomBytes(32)) }
}

export interface PeerInfoOptions {
  version?: string
  platform?: string
  ciphers: string[]
  mtu?: number
  /** Announce IV_PROTO_TLS_KEY_EXPORT (default true). */
  tlsKeyExport?: boolean
  /** Announce compression stubs the config allows (IV_LZO_STUB / IV_COMP_STUB / IV_COMP_STUBv2). */
  compStubs?: boolean
  /** Extra IV_/UV_ lines (push-peer-info / setenv UV_). */
  extra?: string[]
}

export function peerInfo(o: PeerInfoOptions): string {
  let proto = IV_PROTO_DATA_V2 | IV_PROTO_REQUEST_PUSH | IV_PROTO_CC_EXIT_NOTIFY | IV_PROTO_AUTH_FAIL_TEMP
  if (o.tlsKeyExport !== false) proto |= IV_PROTO_TLS_KEY_EXPORT
  const lines = [
    `IV_VER=${o.version ?? '2.6.14'}`,
    `IV_PLAT=${o.platform ?? 'linux'}`,
    `IV_TCPNL=1`,
    `IV_MTU=${o.mtu ?? 1600}`,
    `IV_NCP=2`,
    `IV_CIPHERS=${o.ciphers.join(':')}`,
    `IV_PROTO=${proto}`,
  ]
  if (o.compStubs) lines.push('IV_LZO_STUB=1', 'IV_COMP_STUB=1', 'IV_COMP_STUBv2=1')
  for (const e of o.extra ?? []) lines.push(e)
  return lines.join('\n') + '\n'
}

function pushString(parts: Uint8Array[], s: string | undefined): void {
  if (s === undefined) {
    parts.push(new Uint8Array(2)) // write_empty_string: length 0
    return
  }
  const body = new TextEncoder().encode(s)
  const b = new Uint8Array(2 + body.length + 1)
  writeU16(b, 0, body.length + 1)
  b.set(body, 2)
  parts.push(b)
}

export interface Km2ClientMessage {
  keySource: ClientKeySource
  options: string
  username?: string
  password?: string
  peerInfo: string
}

/** Client key-method-2 message (key_method_2_write). */
export function encodeKm2Client(m: Km2ClientMessage): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([0, 0, 0, 0, KEY_METHOD_2]), m.keySource.preMaster, m.keySource.random1, m.keySource.random2]
  pushString(parts, m.options)
  if (m.username !== undefined || m.password !== undefined) {
    pushString(parts, m.username ?? '')
    pushString(parts, m.password ?? '')
  } else {
    pushString(parts, undefined)
    pushString(parts, undefined)
  }
  pushString(parts, m.peerInfo)
  return concatBytes(...parts)
}

export interface Km2ServerMessage {
  keySource: ServerKeySource
  options: string
  peerInfo?: string
  /** Bytes consumed. */
  length: number
}

/**
 * Parse the server's key-method-2 message from the start of the TLS plaintext. Returns
 * 'incomplete' if more bytes are needed, null if malformed.
 */
export function parseKm2Server(b: Uint8Array): Km2ServerMessage | 'incomplete' | null {
  if (b.length < 5 + 64) return 'incomplete'
  if (b[0] | b[1] | b[2] | b[3]) return null
  if ((b[4] & 0x0f) !== KEY_METHOD_2) return null
  let o = 5
  const random1 = b.slice(o, o + 32)
  const random2 = b.slice(o + 32, o + 64)
  o += 64
  const strs: string[] = []
  for (let i = 0; i < 4; i++) {
    if (i === 3 && o === b.length) break // peer-info is optional
    if (o + 2 > b.length) return 'incomplete'
    const len = readU16(b, o)
    if (o + 2 + len > b.length) return 'incomplete'
    let s = b.subarray(o + 2, o + 2 + len)
    if (len > 0 && s[len - 1] === 0) s = s.subarray(0, len - 1)
    strs.push(new TextDecoder().decode(s))
    o += 2 + len
  }
  return { keySource: { random1, random2 }, options: strs[0], peerInfo: strs[3], length: o }
}

/** The client's OCC options string (informational for a 2.6 server; used as cipher fallback). */
export function occOptionsString(o: { proto: 'udp' | 'tcp'; tunMtu: number; cipher: string; auth: string; keySize: number; wrap: string }): string {
  const parts = ['V4', 'dev-type tun', `link-mtu ${o.tunMtu + 49}`, `tun-mtu ${o.tunMtu}`, `proto ${o.proto === 'udp' ? 'UDPv4' : 'TCPv4_CLIENT'}`]
  if (o.wrap === 'tls-auth') parts.push('keydir 1')
  parts.push(`cipher ${o.cipher}`, `auth ${o.auth}`, `keysize ${o.keySize}`)
  if (o.wrap === 'tls-auth') parts.push('tls-auth')
  parts.push('key-method 2', 'tls-client')
  return parts.join(',')
}

/** Splits the TLS plaintext stream after key-method-2 into NUL-terminated text messages. */
export class MessageSplitter {
  private buf = new Uint8Array(0)
  constructor(private readonly onMessage: (msg: string) => void) {}
  push(chunk: Uint8Array): void {
    const b = new Uint8Array(this.buf.length + chunk.length)
    b.set(this.buf, 0)
    b.set(chunk, this.buf.length)
    let start = 0
    for (let i = 0; i < b.length; i++) {
      if (b[i] === 0) {
        const s = new TextDecoder().decode(b.subarray(start, i)).trim()
        start = i + 1
        if (s) this.onMessage(s)
      }
    }
    this.buf = b.slice(start)
    if (this.buf.length > 256 * 1024) this.buf = new Uint8Array(0) // hostile: no terminator
  }
}

/** Encode a text control message (NUL-terminated). */
export function encodeText(s: string): Uint8Array {
  const body = new TextEncoder().encode(s)
  const out = new Uint8Array(body.length + 1)
  out.set(body, 0)
  return out
}

/**
 * The error for an AUTH_FAILED control message: "AUTH_FAILED", "AUTH_FAILED,reason" or
 * "AUTH_FAILED,TEMP[backoff N],reason" (IV_PROTO_AUTH_FAIL_TEMP; push.c receive_auth_failed).
 */
export function authFailedError(msg: string): BurrowError {
  let reason = msg.slice('AUTH_FAILED'.length).replace(/^,/, '').trim()
  let temp = false
  const t = /^TEMP(\[[^\]]*\])?,?/.exec(reason)
  if (t) {
    temp = true
    reason = reason.slice(t[0].length).trim()
  }
  const what = temp ? 'server reported a temporary authentication failure (AUTH_FAILED,TEMP)' : 'server rejected authentication (AUTH_FAILED)'
  return new BurrowError(ErrorCode.ERR_AUTH, reason ? `${what}: ${reason}` : `${what}; check the username/password or certificate`)
}
