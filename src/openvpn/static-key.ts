// OpenVPN static-key data channel crypto (OpenVPN 2.6 src/openvpn/crypto.c openvpn_encrypt_v1 /
// openvpn_decrypt_v1, key_direction_state_init; openvpn(8) --secret, --key-direction):
//   HMAC(IV || ciphertext) || IV(16) || AES-CBC(packet_id u32be || time u32be || payload, PKCS#7)
// The key file holds key #0 (bytes 0–127) and key #1 (128–255), each cipher[64] || hmac[64]; each
// algorithm uses the leading bytes of its slot. Direction 0 sends with #0 and receives with #1,
// direction 1 the reverse, no direction uses #0 both ways.

import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync, timingSafeEqual, type Cipher, type Decipher } from 'node:crypto'
import { readU32, writeU32 } from '../core/bytes.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { PacketHmac, type HmacAlg } from './hmac.js'

export type StaticCipherName = 'AES-128-CBC' | 'AES-192-CBC' | 'AES-256-CBC'
export type StaticAuthName = 'SHA1' | 'SHA256' | 'SHA512'

const CIPHER_KEY_LEN: Record<StaticCipherName, number> = { 'AES-128-CBC': 16, 'AES-192-CBC': 24, 'AES-256-CBC': 32 }
const HMAC_LEN: Record<StaticAuthName, number> = { SHA1: 20, SHA256: 32, SHA512: 64 }
const NODE_CIPHER: Record<StaticCipherName, string> = { 'AES-128-CBC': 'aes-128-cbc', 'AES-192-CBC': 'aes-192-cbc', 'AES-256-CBC': 'aes-256-cbc' }
const NODE_HMAC: Record<StaticAuthName, HmacAlg> = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' }

export const IV_LEN = 16
const BLOCK = 16
/** PADS[k] = k bytes of value k (PKCS#7 padding). */
const PADS = Array.from({ length: BLOCK + 1 }, (_, k) => Buffer.alloc(k, k))
/** packet_id (4) + time (4), long form. */
export const PID_LEN = 8

/** Which 128-byte key of the file is used for sending and which for receiving. */
export function keySlots(direction: 0 | 1 | undefined): { send: 0 | 1; recv: 0 | 1 } {
  if (direction === 0) return { send: 0, recv: 1 }
  if (direction === 1) return { send: 1, recv: 0 }
  return { send: 0, recv: 0 }
}

export interface DirectionKeys {
  cipher: Uint8Array
  hmac: Uint8Array
}

/** Slice the send/receive cipher and HMAC keys out of the 2048-bit key file. */
export function deriveStaticKeys(
  key: Uint8Array,
  direction: 0 | 1 | undefined,
  cipher: StaticCipherName,
  auth: StaticAuthName,
): { send: DirectionKeys; recv: DirectionKeys } {
  const slots = keySlots(direction)
  const need = (Math.max(slots.send, slots.recv) + 1) * 128
  if (key.length < need) throw new BurrowError(ErrorCode.ERR_CONFIG, `static key has ${key.length * 8} bits; key direction needs ${need * 8}`)
  const pick = (slot: number): DirectionKeys => ({
    cipher: key.slice(slot * 128, slot * 128 + CIPHER_KEY_LEN[cipher]),
    hmac: key.slice(slot * 128 + 64, slot * 128 + 64 + HMAC_LEN[auth]),
  })
  return { send: pick(slots.send), recv: pick(slots.recv) }
}

/** Result codes of StaticKeyCrypto.open (drops are counted by the caller). */
export const OpenResult = { OK: 0, SHORT: 1, BAD_HMAC: 2, BAD_LENGTH: 3, BAD_PADDING: 4 } as const
export type OpenResult = (typeof OpenResult)[keyof typeof OpenResult]

export interface Opened {
  id: number
  time: number
  payload: Uint8Array
}

/** Encrypt/authenticate and verify/decrypt static-key data packets. Keys are imported once. */
export class StaticKeyCrypto {
  readonly hmacLen: number
  /** Bytes added in front of a payload on the wire, not counting CBC padding. */
  readonly overhead: number
  private readonly cipherName: string
  private readonly sendHmac: PacketHmac
  private readonly recvHmac: PacketHmac
  private readonly enc: Cipher
  private readonly dec: Decipher
  /** Random block + packet-id header, fed to the cipher together. */
  private readonly head = Buffer.alloc(IV_LEN + PID_LEN)
  private readonly pool = Buffer.alloc(4096)
  private poolAt = 4096

  constructor(key: Uint8Array, direction: 0 | 1 | undefined, cipher: StaticCipherName, auth: StaticAuthName) {
    const k = deriveStaticKeys(key, direction, cipher, auth)
    this.hmacLen = HMAC_LEN[auth]
    this.overhead = this.hmacLen + IV_LEN + PID_LEN
    this.cipherName = NODE_CIPHER[cipher]
    this.sendHmac = new PacketHmac(NODE_HMAC[auth], k.send.hmac)
    this.recvHmac = new PacketHmac(NODE_HMAC[auth], k.recv.hmac)
    const zero = Buffer.alloc(IV_LEN)
    this.enc = createCipheriv(this.cipherName, createSecretKey(k.send.cipher), zero).setAutoPadding(false)
    this.dec = createDecipheriv(this.cipherName, createSecretKey(k.recv.cipher), zero).setAutoPadding(false)
  }

  /** Wire length of a packet carrying `payloadLen` bytes. */
  sealedLength(payloadLen: number): number {
    return this.hmacLen + IV_LEN + ((PID_LEN + payloadLen) & ~(BLOCK - 1)) + BLOCK
  }

  /**
   * Build one wire packet into a fresh buffer.
   *
   * Per-packet IVs without a per-packet cipher object: one long-lived CBC context (no padding)
   * is kept, and each packet starts by encrypting a fresh random block R through it; the output
   * E(R xor C_prev) is unpredictable and becomes the packet's IV, and the chain then continues
   * over the packet-id header, payload and PKCS#7 padding exactly as CBC under that IV would
   * (the construction of RFC 4346 §6.2.3.2 option 2b). The receiver sees an ordinary
   * IV || CBC ciphertext. The caller's payload is never copied or written to.
   */
  seal(payload: Uint8Array, id: number, time: number): Buffer {
    const n = payload.length
    const total = this.sealedLength(n)
    const out = Buffer.allocUnsafe(total)
    const head = this.head
    this.nextRandomBlock(head)
    writeU32(head, IV_LEN, id)
    writeU32(head, IV_LEN + 4, time)
    const c = this.enc
    let o = this.hmacLen
    o += c.update(head).copy(out, o) // 16 bytes out (the IV); the 8-byte header stays buffered
    o += c.update(Buffer.from(payload.buffer, payload.byteOffset, n)).copy(out, o)
    const padLen = BLOCK - ((PID_LEN + n) % BLOCK)
    o += c.update(PADS[padLen]).copy(out, o)
    this.sendHmac.digest(out.subarray(this.hmacLen, o)).copy(out, 0)
    return out
  }

  private nextRandomBlock(dst: Buffer): void {
    if (this.poolAt >= this.pool.length) {
      randomFillSync(this.pool)
      this.poolAt = 0
    }
    this.pool.copy(dst, 0, this.poolAt, this.poolAt + BLOCK)
    this.poolAt += BLOCK
  }

  /** Verify and decrypt one wire packet; `res.payload` is a view into a fresh buffer. */
  open(msg: Uint8Array, res: Opened): OpenResult {
    const h = this.hmacLen
    if (msg.length < h + IV_LEN + BLOCK) return OpenResult.SHORT
    const buf = Buffer.from(msg.buffer, msg.byteOffset, msg.length)
    const mac = this.recvHmac.digest(buf.subarray(h))
    if (!timingSafeEqual(mac, buf.subarray(0, h))) return OpenResult.BAD_HMAC
    const ctLen = msg.length - h - IV_LEN
    if (ctLen % BLOCK !== 0) return OpenResult.BAD_LENGTH
    // Long-lived CBC decryption context: feeding the IV block first makes it the chaining value
    // for the ciphertext (its own output is discarded), so no per-packet decipher is created.
    const pt = this.dec.update(buf.subarray(h)).subarray(IV_LEN)
    // PKCS#7 check (the HMAC already authenticated the ciphertext, so no padding oracle here).
    const pad = pt[pt.length - 1]
    if (pad < 1 || pad > BLOCK || pt.length - pad < PID_LEN) return OpenResult.BAD_PADDING
    for (let i = pt.length - pad; i < pt.length - 1; i++) if (pt[i] !== pad) return OpenResult.BAD_PADDING
    res.id = readU32(pt, 0)
    res.time = readU32(pt, 4)
    res.payload = pt.subarray(PID_LEN, pt.length - pad)
    return OpenResult.OK
  }
}
