// OpenVPN static-key data channel crypto (OpenVPN 2.6 src/openvpn/crypto.c openvpn_encrypt_v1 /
// openvpn_decrypt_v1, key_direction_state_init; openvpn(8) --secret, --key-direction):
//   HMAC(IV || ciphertext) || IV(16) || AES-CBC(packet_id u32be || time u32be || payload, PKCS#7)
// The key file holds key #0 (bytes 0–127) and key #1 (128–255), each cipher[64] || hmac[64]; each
// algorithm uses the leading bytes of its slot. Direction 0 sends with #0 and receives with #1,
// direction 1 the reverse, no direction uses #0 both ways.

import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomFillSync, timingSafeEqual, type KeyObject } from 'node:crypto'
import { readU32, writeU32 } from '../core/bytes.js'
import { BurrowError, ErrorCode } from '../core/errors.js'

export type StaticCipherName = 'AES-128-CBC' | 'AES-192-CBC' | 'AES-256-CBC'
export type StaticAuthName = 'SHA1' | 'SHA256' | 'SHA512'

const CIPHER_KEY_LEN: Record<StaticCipherName, number> = { 'AES-128-CBC': 16, 'AES-192-CBC': 24, 'AES-256-CBC': 32 }
const HMAC_LEN: Record<StaticAuthName, number> = { SHA1: 20, SHA256: 32, SHA512: 64 }
const NODE_CIPHER: Record<StaticCipherName, string> = { 'AES-128-CBC': 'aes-128-cbc', 'AES-192-CBC': 'aes-192-cbc', 'AES-256-CBC': 'aes-256-cbc' }
const NODE_HMAC: Record<StaticAuthName, string> = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' }

export const IV_LEN = 16
const BLOCK = 16
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
  private readonly hmacName: string
  private readonly sendCipher: KeyObject
  private readonly sendHmac: KeyObject
  private readonly recvCipher: KeyObject
  private readonly recvHmac: KeyObject
  private readonly hdr = Buffer.alloc(PID_LEN)

  constructor(key: Uint8Array, direction: 0 | 1 | undefined, cipher: StaticCipherName, auth: StaticAuthName) {
    const k = deriveStaticKeys(key, direction, cipher, auth)
    this.hmacLen = HMAC_LEN[auth]
    this.overhead = this.hmacLen + IV_LEN + PID_LEN
    this.cipherName = NODE_CIPHER[cipher]
    this.hmacName = NODE_HMAC[auth]
    this.sendCipher = createSecretKey(k.send.cipher)
    this.sendHmac = createSecretKey(k.send.hmac)
    this.recvCipher = createSecretKey(k.recv.cipher)
    this.recvHmac = createSecretKey(k.recv.hmac)
  }

  /** Wire length of a packet carrying `payloadLen` bytes. */
  sealedLength(payloadLen: number): number {
    return this.hmacLen + IV_LEN + ((PID_LEN + payloadLen) & ~(BLOCK - 1)) + BLOCK
  }

  /**
   * Build one wire packet into a fresh buffer. node:crypto cannot encrypt into a caller's buffer,
   * so the ciphertext is produced once and copied once into the packet; the 8-byte packet-id
   * header is fed to the cipher separately (it yields no output until a block is full), so the
   * caller's payload is never copied or written to.
   */
  seal(payload: Uint8Array, id: number, time: number, iv?: Uint8Array): Buffer {
    const total = this.sealedLength(payload.length)
    const out = Buffer.allocUnsafe(total)
    const ivAt = this.hmacLen
    if (iv) out.set(iv, ivAt)
    else randomFillSync(out, ivAt, IV_LEN)
    const c = createCipheriv(this.cipherName, this.sendCipher, out.subarray(ivAt, ivAt + IV_LEN))
    let o = ivAt + IV_LEN
    const hdr = this.hdr
    writeU32(hdr, 0, id)
    writeU32(hdr, 4, time)
    o += c.update(hdr).copy(out, o)
    o += c.update(Buffer.from(payload.buffer, payload.byteOffset, payload.length)).copy(out, o)
    o += c.final().copy(out, o)
    createHmac(this.hmacName, this.sendHmac).update(out.subarray(ivAt, o)).digest().copy(out, 0)
    return out
  }

  /** Verify and decrypt one wire packet; `res.payload` is a view into a fresh buffer. */
  open(msg: Uint8Array, res: Opened): OpenResult {
    const h = this.hmacLen
    if (msg.length < h + IV_LEN + BLOCK) return OpenResult.SHORT
    const buf = Buffer.from(msg.buffer, msg.byteOffset, msg.length)
    const mac = createHmac(this.hmacName, this.recvHmac).update(buf.subarray(h)).digest()
    if (!timingSafeEqual(mac, buf.subarray(0, h))) return OpenResult.BAD_HMAC
    const ctLen = msg.length - h - IV_LEN
    if (ctLen % BLOCK !== 0) return OpenResult.BAD_LENGTH
    const d = createDecipheriv(this.cipherName, this.recvCipher, buf.subarray(h, h + IV_LEN))
    d.setAutoPadding(false)
    const pt = d.update(buf.subarray(h + IV_LEN))
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
