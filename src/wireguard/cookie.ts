// mac1/mac2 and cookie replies, WireGuard's DoS mitigation (WireGuard paper §5.3, §5.4.4, §5.4.7):
// mac1 = MAC(HASH(LABEL_MAC1 ‖ Spub_receiver), msg[0:mac1]); mac2 = MAC(cookie, msg[0:mac2]) with a
// cookie τ = MAC(Rm, source address) that the responder hands out under load, encrypted with
// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) under HASH(LABEL_COOKIE ‖ Spub_responder), with the
// mac1 of the message it answers as associated data. Rm rotates every COOKIE_REFRESH_TIME.
import { randomBytes } from 'node:crypto'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { COOKIE_REFRESH_TIME, LABEL_COOKIE, LABEL_MAC1 } from './constants.js'
import { hash, mac } from './kdf.js'
import { bytesEqual } from '../core/bytes.js'
import type { CookieReply } from './messages.js'

const enc = new TextEncoder()
const ZERO16 = new Uint8Array(16)

export function mac1Key(publicKey: Uint8Array): Uint8Array {
  return hash(enc.encode(LABEL_MAC1), publicKey)
}
export function cookieKey(publicKey: Uint8Array): Uint8Array {
  return hash(enc.encode(LABEL_COOKIE), publicKey)
}

/** Constant-time-ish equality for 16-byte MACs. */
function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i]
  return d === 0
}

/** Source bytes a cookie is bound to: IP (4 or 16 bytes) then the UDP port, little-endian (as wireguard-go). */
export function cookieSource(ip: Uint8Array, port: number): Uint8Array {
  const out = new Uint8Array(ip.length + 2)
  out.set(ip, 0)
  out[ip.length] = port & 0xff
  out[ip.length + 1] = (port >>> 8) & 0xff
  return out
}

/** Sender side, one per peer: adds mac1/mac2 to our handshake messages and takes cookie replies. */
export class CookieGenerator {
  private readonly mac1K: Uint8Array
  private readonly cookieK: Uint8Array
  private cookie: Uint8Array | null = null
  private cookieAt = 0
  private lastMac1: Uint8Array | null = null

  constructor(remotePublicKey: Uint8Array, private readonly now: () => number) {
    this.mac1K = mac1Key(remotePublicKey)
    this.cookieK = cookieKey(remotePublicKey)
  }

  /** Fill mac1 (and mac2 if we hold a fresh cookie) of an emitted handshake message in place. */
  addMacs(msg: Uint8Array, mac1Off: number): void {
    const m1 = mac(this.mac1K, msg.subarray(0, mac1Off))
    msg.set(m1, mac1Off)
    this.lastMac1 = m1
    const fresh = this.cookie && this.now() - this.cookieAt < COOKIE_REFRESH_TIME
    msg.set(fresh ? mac(this.cookie!, msg.subarray(0, mac1Off + 16)) : ZERO16, mac1Off + 16)
  }

  /** Take a cookie reply; false when it does not decrypt against the mac1 we last sent. */
  consumeReply(reply: CookieReply): boolean {
    if (!this.lastMac1) return false
    let cookie: Uint8Array
    try {
      cookie = xchacha20poly1305(this.cookieK, reply.nonce, this.lastMac1).decrypt(reply.encryptedCookie)
    } catch {
      return false
    }
    this.cookie = cookie
    this.cookieAt = this.now()
    this.lastMac1 = null // one reply per message sent
    return true
  }

  hasFreshCookie(): boolean {
    return this.cookie !== null && this.now() - this.cookieAt < COOKIE_REFRESH_TIME
  }
}

/** Receiver side, one per local identity: checks mac1/mac2 and makes cookie replies. */
export class CookieChecker {
  private readonly mac1K: Uint8Array
  private readonly cookieK: Uint8Array
  private secret: Uint8Array
  private secretAt: number

  constructor(
    localPublicKey: Uint8Array,
    private readonly now: () => number,
    private readonly random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n)),
  ) {
    this.mac1K = mac1Key(localPublicKey)
    this.cookieK = cookieKey(localPublicKey)
    this.secret = this.random(32)
    this.secretAt = now()
  }

  checkMac1(msg: Uint8Array, mac1Off: number): boolean {
    return macEqual(mac(this.mac1K, msg.subarray(0, mac1Off)), msg.subarray(mac1Off, mac1Off + 16))
  }

  /** mac2 must be MAC(current cookie for this source, msg[0:mac2]). */
  checkMac2(msg: Uint8Array, mac1Off: number, source: Uint8Array): boolean {
    const m2 = msg.subarray(mac1Off + 16, mac1Off + 32)
    if (bytesEqual(m2, ZERO16)) return false
    return macEqual(mac(this.currentCookie(source), msg.subarray(0, mac1Off + 16)), m2)
  }

  /** Cookie reply to a handshake message whose mac1 was valid. */
  createReply(msg: Uint8Array, mac1Off: number, receiver: number, source: Uint8Array, nonce = this.random(24)): CookieReply {
    const cookie = this.currentCookie(source)
    const aad = msg.subarray(mac1Off, mac1Off + 16)
    const encryptedCookie = xchacha20poly1305(this.cookieK, nonce, aad).encrypt(cookie)
    return { receiver, nonce, encryptedCookie }
  }

  private currentCookie(source: Uint8Array): Uint8Array {
    if (this.now() - this.secretAt >= COOKIE_REFRESH_TIME) {
      this.secret = this.random(32)
      this.secretAt = this.now()
    }
    return mac(this.secret, source)
  }
}
