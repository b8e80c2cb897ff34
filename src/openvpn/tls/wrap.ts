// Control-channel wrapping (OpenVPN source ssl_pkt.c tls_wrap_control/swap_hmac, crypto.c
// openvpn_encrypt_v1, tls_crypt.c, doc/tls-crypt-v2.txt):
//  - tls-auth:  op | sid | HMAC | packet_id(4) | time(4) | rest,
//               HMAC (the --auth digest) over packet_id | time | op | sid | rest.
//  - tls-crypt: op | sid | packet_id(4) | time(4) | tag(32) | AES-256-CTR(rest),
//               tag = HMAC-SHA256(op | sid | packet_id | time | rest), CTR IV = tag[0..16).
//  - tls-crypt-v2: tls-crypt with the client key Kc; P_CONTROL_HARD_RESET_CLIENT_V3 and
//               P_CONTROL_WKC_V1 have the wrapped client key WKc appended after the ciphertext.
//               The wrap packet-id starts at EARLY_NEG_START (0x0f000000) to announce early
//               negotiation (ssl.c tls_session_init, mudp.c), so the server can stay stateless.
// Key files hold 2 keys of cipher[64] | hmac[64]. Key direction: the server uses 0 (normal: send
// key 0, receive key 1), the client 1 (inverse); tls-auth without key-direction uses key 0 both ways.
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto'
import { readU32, writeU32 } from '../../core/bytes.js'
import { BurrowError, ErrorCode } from '../../core/errors.js'
import type { Counters } from '../../core/counters.js'
import type { HmacAlg } from '../hmac.js'
import { Opcode, SID_SIZE, opcodeOf } from './packet.js'
import { ReplayWindow } from './replay.js'

export const TLS_CRYPT_TAG_SIZE = 32
/** packet_id(4) + net_time(4) */
export const PID_LONG_SIZE = 8
/** Initial tls-crypt-v2 packet-id announcing early-negotiation support (ssl_pkt.h). */
export const EARLY_NEG_START = 0x0f000000
const KEY_SLOT = 128

/** Parse an "OpenVPN Static key V1" block (hex) into its 256 bytes. */
export function parseStaticKeyV1(text: string): Uint8Array {
  const m = /-----BEGIN OpenVPN Static key V1-----([\s\S]*?)-----END OpenVPN Static key V1-----/.exec(text)
  if (!m) throw new BurrowError(ErrorCode.ERR_CONFIG, 'not an OpenVPN Static key V1 file')
  const hexs = m[1]
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .join('')
  if (!/^[0-9a-fA-F]*$/.test(hexs) || hexs.length !== 512) {
    throw new BurrowError(ErrorCode.ERR_CONFIG, `OpenVPN static key must be 2048 bits of hex (got ${hexs.length * 4} bits)`)
  }
  return Uint8Array.from(Buffer.from(hexs, 'hex'))
}

/** Parse an "OpenVPN tls-crypt-v2 client key" PEM block into Kc (256 bytes) and WKc. */
export function parseTlsCryptV2ClientKey(text: string): { key: Uint8Array; wkc: Uint8Array } {
  const m = /-----BEGIN OpenVPN tls-crypt-v2 client key-----([\s\S]*?)-----END OpenVPN tls-crypt-v2 client key-----/.exec(text)
  if (!m) throw new BurrowError(ErrorCode.ERR_CONFIG, 'not an OpenVPN tls-crypt-v2 client key')
  const raw = Uint8Array.from(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'))
  if (raw.length <= 256 + 2 + TLS_CRYPT_TAG_SIZE || raw.length > 256 + 1024) {
    throw new BurrowError(ErrorCode.ERR_CONFIG, `tls-crypt-v2 client key has an invalid length (${raw.length} bytes)`)
  }
  return { key: raw.slice(0, 256), wkc: raw.slice(256) }
}

/** Key direction as in OpenVPN: undefined = bidirectional (tls-auth without key-direction). */
export type KeyDirection = 0 | 1 | undefined

function slots(dir: KeyDirection): { out: number; in: number } {
  if (dir === undefined) return { out: 0, in: 0 }
  return dir === 0 ? { out: 0, in: 1 } : { out: 1, in: 0 }
}

export interface ControlWrap {
  readonly mode: 'none' | 'tls-auth' | 'tls-crypt' | 'tls-crypt-v2'
  /** Bytes added to every control packet (not counting WKc). */
  readonly overhead: number
  /** Wrap a plain control packet (op | sid | rest). */
  wrap(plain: Uint8Array): Uint8Array
  /** Verify (and decrypt) a received packet; null (counted) if it fails. Returns op | sid | rest. */
  unwrap(wire: Uint8Array): Uint8Array | null
  /** Start a new session: fresh replay state (the send packet-id keeps counting). */
  resetReplay(): void
}

export interface WrapOptions {
  counters?: Counters
  /** Wall-clock seconds for the packet-id time field. */
  nowSeconds?: () => number
}

const wallSeconds = () => Math.floor(Date.now() / 1000)

export class NoWrap implements ControlWrap {
  readonly mode = 'none' as const
  readonly overhead = 0
  wrap(plain: Uint8Array): Uint8Array {
    return plain
  }
  unwrap(wire: Uint8Array): Uint8Array | null {
    return wire
  }
  resetReplay(): void {}
}

/** Digest name accepted by --auth → node:crypto name and size. */
export function authDigest(name: string): { alg: HmacAlg; size: number } {
  const n = name.toUpperCase().replace(/^RSA-/, '')
  const table: Record<string, { alg: HmacAlg; size: number }> = {
    SHA1: { alg: 'sha1', size: 20 },
    SHA224: { alg: 'sha224', size: 28 },
    SHA256: { alg: 'sha256', size: 32 },
    SHA384: { alg: 'sha384', size: 48 },
    SHA512: { alg: 'sha512', size: 64 },
    MD5: { alg: 'md5', size: 16 },
    'SHA2-256': { alg: 'sha256', size: 32 },
    'SHA2-512': { alg: 'sha512', size: 64 },
  }
  const d = table[n]
  if (!d) throw new BurrowError(ErrorCode.ERR_CONFIG, `unsupported --auth digest ${name}`)
  return d
}

export class TlsAuthWrap implements ControlWrap {
  readonly mode = 'tls-auth' as const
  readonly overhead: number
  private readonly alg: string
  private readonly size: number
  private readonly sendKey: Uint8Array
  private readonly recvKey: Uint8Array
  private sendPid = 1
  private readonly replay = new ReplayWindow()
  private readonly now: () => number
  constructor(
    key: Uint8Array,
    direction: KeyDirection,
    digest = 'SHA1',
    private readonly opts: WrapOptions = {},
  ) {
    if (key.length !== 256) throw new BurrowError(ErrorCode.ERR_CONFIG, 'tls-auth key must be 2048 bits')
    const d = authDigest(digest)
    this.alg = d.alg
    this.size = d.size
    const s = slots(direction)
    this.sendKey = key.slice(s.out * KEY_SLOT + 64, s.out * KEY_SLOT + 64 + d.size)
    this.recvKey = key.slice(s.in * KEY_SLOT + 64, s.in * KEY_SLOT + 64 + d.size)
    this.overhead = d.size + PID_LONG_SIZE
    this.now = opts.nowSeconds ?? wallSeconds
  }
  private mac(key: Uint8Array, pidTime: Uint8Array, plain: Uint8Array): Buffer {
    return createHmac(this.alg, key).update(pidTime).update(plain).digest()
  }
  wrap(plain: Uint8Array): Uint8Array {
    const pt = new Uint8Array(PID_LONG_SIZE)
    writeU32(pt, 0, this.sendPid)
    this.sendPid = (this.sendPid + 1) >>> 0
    writeU32(pt, 4, this.now())
    const h = this.mac(this.sendKey, pt, plain)
    const hdr = 1 + SID_SIZE
    const out = new Uint8Array(plain.length + this.overhead)
    out.set(plain.subarray(0, hdr), 0)
    out.set(h, hdr)
    out.set(pt, hdr + this.size)
    out.set(plain.subarray(hdr), hdr + this.overhead)
    return out
  }
  unwrap(wire: Uint8Array): Uint8Array | null {
    const hdr = 1 + SID_SIZE
    if (wire.length < hdr + this.overhead + 1) {
      this.opts.counters?.inc('openvpn.tls_auth.short')
      return null
    }
    const got = wire.subarray(hdr, hdr + this.size)
    const pt = wire.subarray(hdr + this.size, hdr + this.overhead)
    const plain = new Uint8Array(wire.length - this.overhead)
    plain.set(wire.subarray(0, hdr), 0)
    plain.set(wire.subarray(hdr + this.overhead), hdr)
    const want = this.mac(this.recvKey, pt, plain)
    if (!timingSafeEqual(want, got)) {
      this.opts.counters?.inc('openvpn.tls_auth.bad_hmac')
      return null
    }
    if (!this.replay.check(readU32(pt, 0), readU32(pt, 4))) {
      this.opts.counters?.inc('openvpn.tls_auth.replay')
      return null
    }
    return plain
  }
  resetReplay(): void {
    this.replay.reset()
  }
}

export class TlsCryptWrap implements ControlWrap {
  readonly mode: 'tls-crypt' | 'tls-crypt-v2' = 'tls-crypt'
  readonly overhead = PID_LONG_SIZE + TLS_CRYPT_TAG_SIZE
  private readonly encKey: Uint8Array
  private readonly encMac: Uint8Array
  private readonly decKey: Uint8Array
  private readonly decMac: Uint8Array
  private sendPid = 1
  private readonly replay = new ReplayWindow()
  private readonly now: () => number
  /**
   * @param key 256-byte key (tls-crypt file or tls-crypt-v2 Kc)
   * @param server true for the server side (key direction 0); clients use direction 1
   * @param wkc tls-crypt-v2 wrapped client key appended to HARD_RESET_CLIENT_V3 / WKC_V1
   */
  constructor(
    key: Uint8Array,
    server: boolean,
    protected readonly opts: WrapOptions & { wkc?: Uint8Array } = {},
  ) {
    if (key.length !== 256) throw new BurrowError(ErrorCode.ERR_CONFIG, 'tls-crypt key must be 2048 bits')
    const s = slots(server ? 0 : 1)
    this.encKey = key.slice(s.out * KEY_SLOT, s.out * KEY_SLOT + 32)
    this.encMac = key.slice(s.out * KEY_SLOT + 64, s.out * KEY_SLOT + 96)
    this.decKey = key.slice(s.in * KEY_SLOT, s.in * KEY_SLOT + 32)
    this.decMac = key.slice(s.in * KEY_SLOT + 64, s.in * KEY_SLOT + 96)
    if (opts.wkc) {
      this.mode = 'tls-crypt-v2'
      this.sendPid = EARLY_NEG_START
    }
    this.now = opts.nowSeconds ?? wallSeconds
  }
  wrap(plain: Uint8Array): Uint8Array {
    const hdr = 1 + SID_SIZE
    const ad = new Uint8Array(hdr + PID_LONG_SIZE)
    ad.set(plain.subarray(0, hdr), 0)
    writeU32(ad, hdr, this.sendPid)
    this.sendPid = (this.sendPid + 1) >>> 0
    writeU32(ad, hdr + 4, this.now())
    const body = plain.subarray(hdr)
    const tag = createHmac('sha256', this.encMac).update(ad).update(body).digest()
    const c = createCipheriv('aes-256-ctr', this.encKey, tag.subarray(0, 16))
    const ct = c.update(body)
    const op = opcodeOf(plain[0])
    const wkc = (op === Opcode.P_CONTROL_HARD_RESET_CLIENT_V3 || op === Opcode.P_CONTROL_WKC_V1) && this.opts.wkc ? this.opts.wkc : undefined
    const out = new Uint8Array(ad.length + TLS_CRYPT_TAG_SIZE + ct.length + (wkc?.length ?? 0))
    out.set(ad, 0)
    out.set(tag, ad.length)
    out.set(ct, ad.length + TLS_CRYPT_TAG_SIZE)
    if (wkc) out.set(wkc, ad.length + TLS_CRYPT_TAG_SIZE + ct.length)
    return out
  }
  unwrap(wire: Uint8Array): Uint8Array | null {
    const hdr = 1 + SID_SIZE
    if (wire.length < hdr + this.overhead + 1) {
      this.opts.counters?.inc('openvpn.tls_crypt.short')
      return null
    }
    const ad = wire.subarray(0, hdr + PID_LONG_SIZE)
    const tag = wire.subarray(ad.length, ad.length + TLS_CRYPT_TAG_SIZE)
    const ct = wire.subarray(ad.length + TLS_CRYPT_TAG_SIZE)
    const d = createCipheriv('aes-256-ctr', this.decKey, tag.subarray(0, 16))
    const body = d.update(ct)
    const want = createHmac('sha256', this.decMac).update(ad).update(body).digest()
    if (!timingSafeEqual(want, tag)) {
      this.opts.counters?.inc('openvpn.tls_crypt.bad_tag')
      return null
    }
    if (!this.replay.check(readU32(ad, hdr), readU32(ad, hdr + 4))) {
      this.opts.counters?.inc('openvpn.tls_crypt.replay')
      return null
    }
    const plain = new Uint8Array(hdr + body.length)
    plain.set(wire.subarray(0, hdr), 0)
    plain.set(body, hdr)
    return plain
  }
  resetReplay(): void {
    this.replay.reset()
  }
}
