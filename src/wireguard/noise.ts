// Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard runs it (WireGuard paper §5.4.2–§5.4.5,
// Noise spec rev. 34 §7.5 IKpsk2), in protocol order: initiator creates the initiation, responder
// consumes it and creates the response, initiator consumes the response, both derive transport
// keys. Pure functions over explicit state; randomness (ephemeral keys, indexes) and time
// (TAI64N) come in as inputs, so message bytes are deterministic for tests.
import type { KeyObject } from 'node:crypto'
import { CONSTRUCTION, IDENTIFIER, KEY_LEN, TAI64N_LEN } from './constants.js'
import { hash, kdf1, kdf2, kdf3 } from './kdf.js'
import { aeadOpen, aeadSeal, x25519, x25519PrivateKeyObject, x25519PublicFromPrivate } from './crypto.js'
import type { HandshakeInitiation, HandshakeResponse } from './messages.js'

const enc = new TextEncoder()
const ZERO_KEY = new Uint8Array(KEY_LEN)
const EMPTY = new Uint8Array(0)

/** Ci = HASH(CONSTRUCTION). */
export const INITIAL_CHAIN_KEY: Uint8Array = hash(enc.encode(CONSTRUCTION))
/** HASH(Ci ‖ IDENTIFIER); HASH(that ‖ Spub_r) is the initial hash for a given responder. */
const INITIAL_HASH_PREFIX: Uint8Array = hash(INITIAL_CHAIN_KEY, enc.encode(IDENTIFIER))

export function initialHash(responderStatic: Uint8Array): Uint8Array {
  return hash(INITIAL_HASH_PREFIX, responderStatic)
}

export interface StaticIdentity {
  privateKey: Uint8Array
  publicKey: Uint8Array
  key: KeyObject
}

export function staticIdentity(privateKey: Uint8Array): StaticIdentity {
  return { privateKey, publicKey: x25519PublicFromPrivate(privateKey), key: x25519PrivateKeyObject(privateKey) }
}

/** Symmetric state between handshake messages. */
export interface HandshakeState {
  chainKey: Uint8Array
  hash: Uint8Array
  localEphemeral?: KeyObject
  localEphemeralPublic?: Uint8Array
  remoteEphemeral?: Uint8Array
  localIndex: number
  remoteIndex: number
}

export interface InitiationInputs {
  ephemeralPrivate: Uint8Array
  /** 12-byte TAI64N. */
  timestamp: Uint8Array
  senderIndex: number
}

/** Initiator, message 1. mac1/mac2 are left zero (cookie.ts fills them over the emitted bytes). */
export function createInitiation(
  local: StaticIdentity,
  remoteStatic: Uint8Array,
  inputs: InitiationInputs,
): { msg: HandshakeInitiation; state: HandshakeState } | null {
  const eph = x25519PrivateKeyObject(inputs.ephemeralPrivate)
  const ephPub = x25519PublicFromPrivate(inputs.ephemeralPrivate)
  let h = initialHash(remoteStatic)
  let c = kdf1(INITIAL_CHAIN_KEY, ephPub)
  h = hash(h, ephPub)
  const es = x25519(eph, remoteStatic)
  if (!es) return null
  let k: Uint8Array
  ;[c, k] = kdf2(c, es)
  const encryptedStatic = aeadSeal(k, 0, local.publicKey, h)
  h = hash(h, encryptedStatic)
  const ss = x25519(local.key, remoteStatic)
  if (!ss) return null
  ;[c, k] = kdf2(c, ss)
  const encryptedTimestamp = aeadSeal(k, 0, inputs.timestamp, h)
  h = hash(h, encryptedTimestamp)
  return {
    msg: {
      sender: inputs.senderIndex,
      ephemeral: ephPub,
      encryptedStatic,
      encryptedTimestamp,
      mac1: new Uint8Array(16),
      mac2: new Uint8Array(16),
    },
    state: { chainKey: c, hash: h, localEphemeral: eph, localEphemeralPublic: ephPub, localIndex: inputs.senderIndex, remoteIndex: 0 },
  }
}

export interface ConsumedInitiation {
  remoteStatic: Uint8Array
  timestamp: Uint8Array
  state: HandshakeState
}

/** Responder, message 1. Null when any decryption fails (the caller has checked mac1 already). */
export function consumeInitiation(local: StaticIdentity, msg: HandshakeInitiation): ConsumedInitiation | null {
  let h = initialHash(local.publicKey)
  h = hash(h, msg.ephemeral)
  let c = kdf1(INITIAL_CHAIN_KEY, msg.ephemeral)
  const es = x25519(local.key, msg.ephemeral)
  if (!es) return null
  let k: Uint8Array
  ;[c, k] = kdf2(c, es)
  const remoteStatic = aeadOpen(k, 0, msg.encryptedStatic, h)
  if (!remoteStatic || remoteStatic.length !== KEY_LEN) return null
  h = hash(h, msg.encryptedStatic)
  const ss = x25519(local.key, remoteStatic)
  if (!ss) return null
  ;[c, k] = kdf2(c, ss)
  const timestamp = aeadOpen(k, 0, msg.encryptedTimestamp, h)
  if (!timestamp || timestamp.length !== TAI64N_LEN) return null
  h = hash(h, msg.encryptedTimestamp)
  return {
    remoteStatic: new Uint8Array(remoteStatic),
    timestamp: new Uint8Array(timestamp),
    state: { chainKey: c, hash: h, remoteEphemeral: new Uint8Array(msg.ephemeral), localIndex: 0, remoteIndex: msg.sender },
  }
}

export interface ResponseInputs {
  ephemeralPrivate: Uint8Array
  senderIndex: number
}

/** Responder, message 2. */
export function createResponse(
  state: HandshakeState,
  remoteStatic: Uint8Array,
  presharedKey: Uint8Array | undefined,
  inputs: ResponseInputs,
): { msg: HandshakeResponse; state: HandshakeState } | null {
  if (!state.remoteEphemeral) return null
  const eph = x25519PrivateKeyObject(inputs.ephemeralPrivate)
  const ephPub = x25519PublicFromPrivate(inputs.ephemeralPrivate)
  let h = hash(state.hash, ephPub)
  let c = kdf1(state.chainKey, ephPub)
  const ee = x25519(eph, state.remoteEphemeral)
  const se = x25519(eph, remoteStatic)
  if (!ee || !se) return null
  c = kdf1(c, ee)
  c = kdf1(c, se)
  const [c2, tau, k] = kdf3(c, presharedKey ?? ZERO_KEY)
  h = hash(h, tau)
  const encryptedNothing = aeadSeal(k, 0, EMPTY, h)
  h = hash(h, encryptedNothing)
  return {
    msg: {
      sender: inputs.senderIndex,
      receiver: state.remoteIndex,
      ephemeral: ephPub,
      encryptedNothing,
      mac1: new Uint8Array(16),
      mac2: new Uint8Array(16),
    },
    state: { chainKey: c2, hash: h, localEphemeral: eph, localEphemeralPublic: ephPub, remoteEphemeral: state.remoteEphemeral, localIndex: inputs.senderIndex, remoteIndex: state.remoteIndex },
  }
}

/** Initiator, message 2. Null when the response does not authenticate. */
export function consumeResponse(
  state: HandshakeState,
  local: StaticIdentity,
  presharedKey: Uint8Array | undefined,
  msg: HandshakeResponse,
): HandshakeState | null {
  if (!state.localEphemeral) return null
  let h = hash(state.hash, msg.ephemeral)
  let c = kdf1(state.chainKey, msg.ephemeral)
  const ee = x25519(state.localEphemeral, msg.ephemeral)
  const se = x25519(local.key, msg.ephemeral)
  if (!ee || !se) return null
  c = kdf1(c, ee)
  c = kdf1(c, se)
  const [c2, tau, k] = kdf3(c, presharedKey ?? ZERO_KEY)
  h = hash(h, tau)
  if (!aeadOpen(k, 0, msg.encryptedNothing, h)) return null
  h = hash(h, msg.encryptedNothing)
  return { chainKey: c2, hash: h, remoteEphemeral: new Uint8Array(msg.ephemeral), localIndex: state.localIndex, remoteIndex: msg.sender }
}

/** Transport keys (paper §5.4.5): (Tsend_i, Trecv_i) = KDF2(C, ε); the responder's are swapped. */
export function deriveTransportKeys(state: HandshakeState, isInitiator: boolean): { send: Uint8Array; recv: Uint8Array } {
  const [t1, t2] = kdf2(state.chainKey, EMPTY)
  return isInitiator ? { send: t1, recv: t2 } : { send: t2, recv: t1 }
}
