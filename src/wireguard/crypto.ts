// Primitives of Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses them (WireGuard paper §5.4):
// X25519 (RFC 7748) and ChaCha20-Poly1305 (RFC 8439) from node:crypto, with WireGuard's 96-bit
// nonce = 32 zero bits ‖ 64-bit little-endian counter; TAI64N timestamps (paper §5.4.2,
// cr.yp.to/libtai/tai64.html); base64 key text as `wg` prints it.
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto'
import { KEY_LEN, AEAD_TAG_SIZE, TAI64N_LEN } from './constants.js'

// DER wrappers of raw X25519 keys (RFC 8410 §7 PKCS#8 / §4 SubjectPublicKeyInfo).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')

export function x25519PrivateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_LEN) throw new RangeError('X25519 private key must be 32 bytes')
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' })
}

export function x25519PublicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_LEN) throw new RangeError('X25519 public key must be 32 bytes')
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}

/** The raw public key of a raw private key. */
export function x25519PublicFromPrivate(raw: Uint8Array): Uint8Array {
  const der = createPublicKey(x25519PrivateKeyObject(raw)).export({ format: 'der', type: 'spki' })
  return new Uint8Array(der.subarray(der.length - KEY_LEN))
}

/** A fresh raw private key (RFC 7748 §6.1 clamping happens inside X25519). */
export function x25519GeneratePrivate(): Uint8Array {
  const { privateKey } = generateKeyPairSync('x25519')
  const der = privateKey.export({ format: 'der', type: 'pkcs8' })
  return new Uint8Array(der.subarray(der.length - KEY_LEN))
}

/** DH(priv, pub). Null when the result is all zero (low-order point), which WireGuard rejects. */
export function x25519(priv: KeyObject, pubRaw: Uint8Array): Uint8Array | null {
  let out: Buffer
  try {
    out = diffieHellman({ privateKey: priv, publicKey: x25519PublicKeyObject(pubRaw) })
  } catch {
    return null // OpenSSL refuses an all-zero shared secret
  }
  let acc = 0
  for (let i = 0; i < out.length; i++) acc |= out[i]
  return acc === 0 ? null : new Uint8Array(out)
}

export type AeadKey = KeyObject

export function aeadKey(raw: Uint8Array): AeadKey {
  return createSecretKey(raw)
}

/** WireGuard's ChaCha20-Poly1305 nonce: 4 zero bytes then the 64-bit counter, little-endian. */
export function writeNonce(nonce: Uint8Array, counter: number): void {
  const lo = counter >>> 0
  const hi = Math.floor(counter / 0x1_0000_0000) >>> 0
  nonce[0] = nonce[1] = nonce[2] = nonce[3] = 0
  nonce[4] = lo & 0xff
  nonce[5] = (lo >>> 8) & 0xff
  nonce[6] = (lo >>> 16) & 0xff
  nonce[7] = lo >>> 24
  nonce[8] = hi & 0xff
  nonce[9] = (hi >>> 8) & 0xff
  nonce[10] = (hi >>> 16) & 0xff
  nonce[11] = hi >>> 24
}

const sealNonce = Buffer.alloc(12)
const openNonce = Buffer.alloc(12)
const EMPTY = new Uint8Array(0)

/** AEAD(key, counter, plaintext, aad) = ciphertext ‖ 16-byte tag (control plane helper). */
export function aeadSeal(key: AeadKey | Uint8Array, counter: number, plaintext: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
  writeNonce(sealNonce, counter)
  const c = createCipheriv('chacha20-poly1305', key, sealNonce, { authTagLength: AEAD_TAG_SIZE })
  if (aad.length) c.setAAD(aad, { plaintextLength: plaintext.length })
  const head = c.update(plaintext)
  c.final()
  const out = new Uint8Array(head.length + AEAD_TAG_SIZE)
  out.set(head, 0)
  out.set(c.getAuthTag(), head.length)
  return out
}

/** Inverse of aeadSeal; null when authentication fails or the input is shorter than a tag. */
export function aeadOpen(key: AeadKey | Uint8Array, counter: number, sealed: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array | null {
  if (sealed.length < AEAD_TAG_SIZE) return null
  writeNonce(openNonce, counter)
  const n = sealed.length - AEAD_TAG_SIZE
  const d = createDecipheriv('chacha20-poly1305', key, openNonce, { authTagLength: AEAD_TAG_SIZE })
  d.setAuthTag(sealed.subarray(n))
  if (aad.length) d.setAAD(aad, { plaintextLength: n })
  const out = d.update(sealed.subarray(0, n))
  try {
    d.final()
  } catch {
    return null
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length)
}

/** TAI64 label of the Unix epoch (2^62) plus the 10 s TAI−UTC offset of 1970, as wireguard-go uses. */
const TAI64_BASE = 0x4000_0000_0000_000an

/**
 * TAI64N of a wall-clock time in ms with nanoseconds (12 bytes, big-endian). The nanosecond part
 * is rounded down to 2^24 ns as wireguard-go does, so timestamps don't leak precise clock values.
 */
export function tai64n(wallMs: number, extraNs = 0): Uint8Array {
  const secs = Math.floor(wallMs / 1000)
  let nanos = Math.floor((wallMs - secs * 1000) * 1e6) + extraNs
  nanos -= nanos % 0x100_0000
  const out = new Uint8Array(TAI64N_LEN)
  const s = TAI64_BASE + BigInt(secs)
  for (let i = 0; i < 8; i++) out[i] = Number((s >> BigInt(56 - 8 * i)) & 0xffn)
  out[8] = (nanos >>> 24) & 0xff
  out[9] = (nanos >>> 16) & 0xff
  out[10] = (nanos >>> 8) & 0xff
  out[11] = nanos & 0xff
  return out
}

/** Byte-wise big-endian comparison (TAI64N values compare as integers). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

/** Key text as `wg` prints it (standard base64); parsing lives in config/wgquick.ts parseWgKey. */
export function encodeKey(raw: Uint8Array): string {
  return Buffer.from(raw).toString('base64')
}
