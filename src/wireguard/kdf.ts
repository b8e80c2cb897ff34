// WireGuard's hash, MAC and key-derivation functions (WireGuard paper §5.4, "Notation"):
// HASH = BLAKE2s-256, MAC = keyed BLAKE2s-128, HMAC = HMAC-BLAKE2s (RFC 2104 over BLAKE2s, RFC 7693),
// KDFn = HKDF (RFC 5869) with HMAC-BLAKE2s, returning n 32-byte outputs.
import { blake2s } from '@noble/hashes/blake2.js'
import { hmac } from '@noble/hashes/hmac.js'

/** HASH(a || b || …): unkeyed BLAKE2s with a 32-byte digest. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create({ dkLen: 32 })
  for (const p of parts) h.update(p)
  return h.digest()
}

/** MAC(key, input): keyed BLAKE2s with a 16-byte digest. */
export function mac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2s(input, { key, dkLen: 16 })
}

/** HMAC(key, input) with BLAKE2s (block 64 bytes, output 32). */
export function hmacBlake2s(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = hmac.create(blake2s, key)
  for (const p of parts) h.update(p)
  return h.digest()
}

const ONE = Uint8Array.of(1)
const TWO = Uint8Array.of(2)
const THREE = Uint8Array.of(3)

/** KDF1(key, input) = τ1. */
export function kdf1(key: Uint8Array, input: Uint8Array): Uint8Array {
  const t0 = hmacBlake2s(key, input)
  return hmacBlake2s(t0, ONE)
}

/** KDF2(key, input) = (τ1, τ2). */
export function kdf2(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const t0 = hmacBlake2s(key, input)
  const t1 = hmacBlake2s(t0, ONE)
  const t2 = hmacBlake2s(t0, t1, TWO)
  return [t1, t2]
}

/** KDF3(key, input) = (τ1, τ2, τ3). */
export function kdf3(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const t0 = hmacBlake2s(key, input)
  const t1 = hmacBlake2s(t0, ONE)
  const t2 = hmacBlake2s(t0, t1, TWO)
  const t3 = hmacBlake2s(t0, t2, THREE)
  return [t1, t2, t3]
}
