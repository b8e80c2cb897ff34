// The four WireGuard messages (WireGuard paper §5.4.2 initiation, §5.4.3 response, §5.4.7 cookie
// reply, §5.4.6 transport data). Each starts with type (1 byte) and three zero bytes; indexes and
// counters are little-endian. parseX returns a repr of views into the buffer or null; emitX writes
// into the caller's buffer and returns the bytes written.
import {
  MessageType,
  HANDSHAKE_INITIATION_SIZE,
  HANDSHAKE_RESPONSE_SIZE,
  COOKIE_REPLY_SIZE,
  TRANSPORT_HEADER_SIZE,
  TRANSPORT_MIN_SIZE,
} from './constants.js'

export function readU32LE(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
}
export function writeU32LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff
  b[o + 1] = (v >>> 8) & 0xff
  b[o + 2] = (v >>> 16) & 0xff
  b[o + 3] = (v >>> 24) & 0xff
}

export interface HandshakeInitiation {
  sender: number
  /** Unencrypted ephemeral public key (32). */
  ephemeral: Uint8Array
  /** AEAD(static public key) (32 + 16). */
  encryptedStatic: Uint8Array
  /** AEAD(TAI64N) (12 + 16). */
  encryptedTimestamp: Uint8Array
  mac1: Uint8Array
  mac2: Uint8Array
}

export interface HandshakeResponse {
  sender: number
  receiver: number
  ephemeral: Uint8Array
  /** AEAD of the empty string (16). */
  encryptedNothing: Uint8Array
  mac1: Uint8Array
  mac2: Uint8Array
}

export interface CookieReply {
  receiver: number
  nonce: Uint8Array
  /** XAEAD(cookie) (16 + 16). */
  encryptedCookie: Uint8Array
}

export interface TransportHeader {
  receiver: number
  /** 64-bit counter; values ≥ 2^53 come back as Infinity so they fail every window check. */
  counter: number
}

/** Offsets of mac1/mac2 within the handshake messages (mac1 covers [0, mac1), mac2 covers [0, mac2)). */
export const INITIATION_MAC1_OFFSET = 116
export const INITIATION_MAC2_OFFSET = 132
export const RESPONSE_MAC1_OFFSET = 60
export const RESPONSE_MAC2_OFFSET = 76

/** Message type of a datagram, or 0 when the header is malformed (short or non-zero reserved bytes). */
export function messageType(b: Uint8Array): number {
  if (b.length < 4 || b[1] !== 0 || b[2] !== 0 || b[3] !== 0) return 0
  return b[0]
}

function header(b: Uint8Array, off: number, type: number): void {
  b[off] = type
  b[off + 1] = b[off + 2] = b[off + 3] = 0
}

export function parseInitiation(b: Uint8Array, off: number, len: number): HandshakeInitiation | null {
  if (len !== HANDSHAKE_INITIATION_SIZE || b[off] !== MessageType.HANDSHAKE_INITIATION) return null
  if (b[off + 1] | b[off + 2] | b[off + 3]) return null
  return {
    sender: readU32LE(b, off + 4),
    ephemeral: b.subarray(off + 8, off + 40),
    encryptedStatic: b.subarray(off + 40, off + 88),
    encryptedTimestamp: b.subarray(off + 88, off + 116),
    mac1: b.subarray(off + 116, off + 132),
    mac2: b.subarray(off + 132, off + 148),
  }
}

export function emitInitiation(m: HandshakeInitiation, b: Uint8Array, off: number): number {
  header(b, off, MessageType.HANDSHAKE_INITIATION)
  writeU32LE(b, off + 4, m.sender)
  b.set(m.ephemeral, off + 8)
  b.set(m.encryptedStatic, off + 40)
  b.set(m.encryptedTimestamp, off + 88)
  b.set(m.mac1, off + 116)
  b.set(m.mac2, off + 132)
  return HANDSHAKE_INITIATION_SIZE
}

export function parseResponse(b: Uint8Array, off: number, len: number): HandshakeResponse | null {
  if (len !== HANDSHAKE_RESPONSE_SIZE || b[off] !== MessageType.HANDSHAKE_RESPONSE) return null
  if (b[off + 1] | b[off + 2] | b[off + 3]) return null
  return {
    sender: readU32LE(b, off + 4),
    receiver: readU32LE(b, off + 8),
    ephemeral: b.subarray(off + 12, off + 44),
    encryptedNothing: b.subarray(off + 44, off + 60),
    mac1: b.subarray(off + 60, off + 76),
    mac2: b.subarray(off + 76, off + 92),
  }
}

export function emitResponse(m: HandshakeResponse, b: Uint8Array, off: number): number {
  header(b, off, MessageType.HANDSHAKE_RESPONSE)
  writeU32LE(b, off + 4, m.sender)
  writeU32LE(b, off + 8, m.receiver)
  b.set(m.ephemeral, off + 12)
  b.set(m.encryptedNothing, off + 44)
  b.set(m.mac1, off + 60)
  b.set(m.mac2, off + 76)
  return HANDSHAKE_RESPONSE_SIZE
}

export function parseCookieReply(b: Uint8Array, off: number, len: number): CookieReply | null {
  if (len !== COOKIE_REPLY_SIZE || b[off] !== MessageType.COOKIE_REPLY) return null
  if (b[off + 1] | b[off + 2] | b[off + 3]) return null
  return {
    receiver: readU32LE(b, off + 4),
    nonce: b.subarray(off + 8, off + 32),
    encryptedCookie: b.subarray(off + 32, off + 64),
  }
}

export function emitCookieReply(m: CookieReply, b: Uint8Array, off: number): number {
  header(b, off, MessageType.COOKIE_REPLY)
  writeU32LE(b, off + 4, m.receiver)
  b.set(m.nonce, off + 8)
  b.set(m.encryptedCookie, off + 32)
  return COOKIE_REPLY_SIZE
}

/** Header of a transport message; the encrypted packet follows at off + 16. */
export function parseTransportHeader(b: Uint8Array, off: number, len: number): TransportHeader | null {
  if (len < TRANSPORT_MIN_SIZE || b[off] !== MessageType.TRANSPORT_DATA) return null
  if (b[off + 1] | b[off + 2] | b[off + 3]) return null
  const lo = readU32LE(b, off + 8)
  const hi = readU32LE(b, off + 12)
  return { receiver: readU32LE(b, off + 4), counter: hi >= 0x20_0000 ? Infinity : hi * 0x1_0000_0000 + lo }
}

export function emitTransportHeader(receiver: number, counter: number, b: Uint8Array, off: number): number {
  header(b, off, MessageType.TRANSPORT_DATA)
  writeU32LE(b, off + 4, receiver)
  writeU32LE(b, off + 8, counter >>> 0)
  writeU32LE(b, off + 12, Math.floor(counter / 0x1_0000_0000) >>> 0)
  return TRANSPORT_HEADER_SIZE
}
