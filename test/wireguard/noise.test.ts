// Handshake vectors: fixed static keys, ephemerals, timestamp and indexes → exact message bytes,
// compared with vectors/vectors.txt produced by an independent Python implementation
// (vectors/wg_reference.py). Interop with wireguard-go is covered in test/interop/wireguard.test.ts.
import { describe, expect, it } from 'vitest'
import { hex } from '../../src/core/bytes.js'
import { hash, hmacBlake2s, kdf1, kdf2, kdf3 } from '../../src/wireguard/kdf.js'
import { CookieGenerator } from '../../src/wireguard/cookie.js'
import { tai64n, x25519PublicFromPrivate } from '../../src/wireguard/crypto.js'
import { emitInitiation, emitResponse, parseInitiation, parseResponse, INITIATION_MAC1_OFFSET, RESPONSE_MAC1_OFFSET } from '../../src/wireguard/messages.js'
import { consumeInitiation, consumeResponse, createInitiation, createResponse, deriveTransportKeys, staticIdentity } from '../../src/wireguard/noise.js'
import { INPUTS, vec } from './vectors.js'

const enc = new TextEncoder()

describe('BLAKE2s building blocks', () => {
  it('HASH is BLAKE2s-256 (RFC 7693 Appendix B "abc")', () => {
    expect(hex(hash(enc.encode('abc')))).toBe('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982')
  })
  it('KDFn chains HMAC outputs as in the paper', () => {
    const k = new Uint8Array(32).fill(1)
    const x = enc.encode('input')
    const t0 = hmacBlake2s(k, x)
    const t1 = hmacBlake2s(t0, Uint8Array.of(1))
    const t2 = hmacBlake2s(t0, t1, Uint8Array.of(2))
    const t3 = hmacBlake2s(t0, t2, Uint8Array.of(3))
    expect(kdf1(k, x)).toEqual(t1)
    expect(kdf2(k, x)).toEqual([t1, t2])
    expect(kdf3(k, x)).toEqual([t1, t2, t3])
  })
})

describe('TAI64N', () => {
  it('encodes 2^62 + 10 + seconds and whitens nanoseconds to 2^24', () => {
    expect(hex(tai64n(1_700_000_000_117.5))).toBe(hex(INPUTS.timestamp))
    expect(hex(tai64n(0))).toBe('400000000000000a00000000')
  })
})

function initiation() {
  const si = staticIdentity(INPUTS.Si_priv)
  const srPub = x25519PublicFromPrivate(INPUTS.Sr_priv)
  const c = createInitiation(si, srPub, { ephemeralPrivate: INPUTS.Ei_priv, timestamp: INPUTS.timestamp, senderIndex: INPUTS.I_i })!
  const bytes = new Uint8Array(148)
  emitInitiation(c.msg, bytes, 0)
  new CookieGenerator(srPub, () => 0).addMacs(bytes, INITIATION_MAC1_OFFSET)
  return { si, srPub, c, bytes }
}

describe('Noise_IKpsk2 handshake vectors', () => {
  it('static public keys match the reference', () => {
    expect(hex(x25519PublicFromPrivate(INPUTS.Si_priv))).toBe(hex(vec('Si_pub')))
    expect(hex(x25519PublicFromPrivate(INPUTS.Sr_priv))).toBe(hex(vec('Sr_pub')))
  })

  it('initiation bytes (with mac1, zero mac2) are exact', () => {
    expect(hex(initiation().bytes)).toBe(hex(vec('initiation')))
  })

  for (const withPsk of [false, true]) {
    const name = withPsk ? 'psk' : 'nopsk'
    it(`responder consumes it and its response is exact (${name}); both sides derive the reference keys`, () => {
      const { si, c, bytes } = initiation()
      const sr = staticIdentity(INPUTS.Sr_priv)
      const parsed = parseInitiation(bytes, 0, bytes.length)!
      const consumed = consumeInitiation(sr, parsed)!
      expect(consumed).not.toBeNull()
      expect(hex(consumed.remoteStatic)).toBe(hex(si.publicKey))
      expect(hex(consumed.timestamp)).toBe(hex(INPUTS.timestamp))
      expect(consumed.state.remoteIndex).toBe(INPUTS.I_i)
      const psk = withPsk ? INPUTS.psk : undefined
      const r = createResponse(consumed.state, si.publicKey, psk, { ephemeralPrivate: INPUTS.Er_priv, senderIndex: INPUTS.I_r })!
      const rb = new Uint8Array(92)
      emitResponse(r.msg, rb, 0)
      new CookieGenerator(si.publicKey, () => 0).addMacs(rb, RESPONSE_MAC1_OFFSET)
      expect(hex(rb)).toBe(hex(vec(`response_${name}`)))

      const done = consumeResponse(c.state, si, psk, parseResponse(rb, 0, rb.length)!)!
      expect(done).not.toBeNull()
      expect(done.remoteIndex).toBe(INPUTS.I_r)
      const ki = deriveTransportKeys(done, true)
      const kr = deriveTransportKeys(r.state, false)
      expect(hex(ki.send)).toBe(hex(vec(`T_send_i_${name}`)))
      expect(hex(ki.recv)).toBe(hex(vec(`T_recv_i_${name}`)))
      expect(kr.send).toEqual(ki.recv)
      expect(kr.recv).toEqual(ki.send)
      expect(done.hash).toEqual(r.state.hash)
    })
  }

  it('a response made with a different PSK does not authenticate', () => {
    const { si, c, bytes } = initiation()
    const consumed = consumeInitiation(staticIdentity(INPUTS.Sr_priv), parseInitiation(bytes, 0, 148)!)!
    const r = createResponse(consumed.state, si.publicKey, INPUTS.psk, { ephemeralPrivate: INPUTS.Er_priv, senderIndex: 1 })!
    expect(consumeResponse(c.state, si, undefined, r.msg)).toBeNull()
  })

  it('an initiation for another responder, or with any bit flipped, is rejected', () => {
    const { bytes } = initiation()
    expect(consumeInitiation(staticIdentity(INPUTS.Er_priv), parseInitiation(bytes, 0, 148)!)).toBeNull()
    for (const at of [10, 45, 90, 115]) {
      const b = bytes.slice()
      b[at] ^= 0x40
      expect(consumeInitiation(staticIdentity(INPUTS.Sr_priv), parseInitiation(b, 0, 148)!)).toBeNull()
    }
  })
})
