// OpenVPN 2.x TLS-mode packet layer (OpenVPN source ssl_pkt.h / ssl_pkt.c, "protocol overview"
// in ssl.h): opcode/key_id byte, session IDs, ACK arrays, message packet-ids, data headers.
// This module handles the *plain* control packet (after tls-auth / tls-crypt unwrapping):
//   op(1) | session_id(8) | ack_len(1) | ack_id(4)*n | [remote_session_id(8) if n>0]
//         | [message_packet_id(4) unless P_ACK_V1] | payload
// Data packets: P_DATA_V1: op(1) | payload;  P_DATA_V2: op(1) | peer_id(3) | payload.
import { readU32, writeU32 } from '../../core/bytes.js'
import type { Counters } from '../../core/counters.js'
import type { ValueOf } from '../../core/enum.js'

export const Opcode = {
  P_CONTROL_HARD_RESET_CLIENT_V1: 1,
  P_CONTROL_HARD_RESET_SERVER_V1: 2,
  P_CONTROL_SOFT_RESET_V1: 3,
  P_CONTROL_V1: 4,
  P_ACK_V1: 5,
  P_DATA_V1: 6,
  P_CONTROL_HARD_RESET_CLIENT_V2: 7,
  P_CONTROL_HARD_RESET_SERVER_V2: 8,
  P_DATA_V2: 9,
  P_CONTROL_HARD_RESET_CLIENT_V3: 10,
  P_CONTROL_WKC_V1: 11,
} as const
export type Opcode = ValueOf<typeof Opcode>

export const P_KEY_ID_MASK = 0x07
export const P_OPCODE_SHIFT = 3
export const SID_SIZE = 8
/** Most ACKs carried by one packet (OpenVPN RELIABLE_ACK_SIZE). */
export const RELIABLE_ACK_SIZE = 8
/** P_DATA_V2 peer-id meaning "unset". */
export const MAX_PEER_ID = 0xffffff

export function opcodeName(op: number): string {
  for (const [k, v] of Object.entries(Opcode)) if (v === op) return k
  return `opcode_${op}`
}

export function isDataOpcode(op: number): boolean {
  return op === Opcode.P_DATA_V1 || op === Opcode.P_DATA_V2
}

export function isControlOpcode(op: number): boolean {
  return (
    op === Opcode.P_CONTROL_HARD_RESET_CLIENT_V1 ||
    op === Opcode.P_CONTROL_HARD_RESET_SERVER_V1 ||
    op === Opcode.P_CONTROL_SOFT_RESET_V1 ||
    op === Opcode.P_CONTROL_V1 ||
    op === Opcode.P_ACK_V1 ||
    op === Opcode.P_CONTROL_HARD_RESET_CLIENT_V2 ||
    op === Opcode.P_CONTROL_HARD_RESET_SERVER_V2 ||
    op === Opcode.P_CONTROL_HARD_RESET_CLIENT_V3 ||
    op === Opcode.P_CONTROL_WKC_V1
  )
}

export function opByte(opcode: number, keyId: number): number {
  return ((opcode << P_OPCODE_SHIFT) | (keyId & P_KEY_ID_MASK)) & 0xff
}
export function opcodeOf(b: number): number {
  return b >>> P_OPCODE_SHIFT
}
export function keyIdOf(b: number): number {
  return b & P_KEY_ID_MASK
}

/** A control-channel packet after unwrapping. */
export interface ControlPacket {
  opcode: Opcode
  keyId: number
  /** Sender's session id (8 bytes). */
  sessionId: Uint8Array
  /** Message packet-ids acknowledged by this packet. */
  acks: number[]
  /** Our session id as echoed by the peer; present iff acks.length > 0. */
  remoteSessionId?: Uint8Array
  /** Message packet-id; absent for P_ACK_V1. */
  packetId?: number
  /** Payload (TLS records for P_CONTROL_V1; early-negotiation TLVs for resets). */
  payload: Uint8Array
}

/** Length of the emitted plain control packet. */
export function controlPacketLength(p: ControlPacket): number {
  let n = 1 + SID_SIZE + 1 + 4 * p.acks.length
  if (p.acks.length > 0) n += SID_SIZE
  if (p.opcode !== Opcode.P_ACK_V1) n += 4
  return n + p.payload.length
}

/**
 * Parse a plain control packet. Returns null (and counts `openvpn.tls.bad_packet.<why>`) on any
 * malformed input; never throws.
 */
export function parseControlPacket(buf: Uint8Array, off: number, len: number, counters?: Counters): ControlPacket | null {
  const bad = (why: string): null => {
    counters?.inc(`openvpn.tls.bad_packet.${why}`)
    return null
  }
  if (len < 1 + SID_SIZE + 1 || off < 0 || off + len > buf.length) return bad('short')
  const end = off + len
  const opcode = opcodeOf(buf[off])
  if (!isControlOpcode(opcode)) return bad('opcode')
  const keyId = keyIdOf(buf[off])
  let o = off + 1
  const sessionId = buf.slice(o, o + SID_SIZE)
  o += SID_SIZE
  const nAck = buf[o++]
  if (nAck > RELIABLE_ACK_SIZE) return bad('ack_len')
  if (o + 4 * nAck > end) return bad('short')
  const acks: number[] = []
  for (let i = 0; i < nAck; i++) {
    acks.push(readU32(buf, o))
    o += 4
  }
  let remoteSessionId: Uint8Array | undefined
  if (nAck > 0) {
    if (o + SID_SIZE > end) return bad('short')
    remoteSessionId = buf.slice(o, o + SID_SIZE)
    o += SID_SIZE
  }
  let packetId: number | undefined
  if (opcode !== Opcode.P_ACK_V1) {
    if (o + 4 > end) return bad('short')
    packetId = readU32(buf, o)
    o += 4
  } else if (o !== end) {
    return bad('ack_trailing')
  }
  if (opcode === Opcode.P_ACK_V1 && nAck === 0) return bad('empty_ack')
  return { opcode: opcode as Opcode, keyId, sessionId, acks, remoteSessionId, packetId, payload: buf.slice(o, end) }
}

/** Emit a plain control packet into buf at off; returns bytes written. */
export function emitControlPacket(p: ControlPacket, buf: Uint8Array, off: number): number {
  if (p.sessionId.length !== SID_SIZE) throw new RangeError('session id must be 8 bytes')
  if (p.acks.length > RELIABLE_ACK_SIZE) throw new RangeError('too many acks')
  let o = off
  buf[o++] = opByte(p.opcode, p.keyId)
  buf.set(p.sessionId, o)
  o += SID_SIZE
  buf[o++] = p.acks.length
  for (const a of p.acks) {
    writeU32(buf, o, a)
    o += 4
  }
  if (p.acks.length > 0) {
    if (!p.remoteSessionId || p.remoteSessionId.length !== SID_SIZE) throw new RangeError('acks need a remote session id')
    buf.set(p.remoteSessionId, o)
    o += SID_SIZE
  }
  if (p.opcode !== Opcode.P_ACK_V1) {
    writeU32(buf, o, p.packetId ?? 0)
    o += 4
  }
  buf.set(p.payload, o)
  o += p.payload.length
  return o - off
}

export function encodeControlPacket(p: ControlPacket): Uint8Array {
  const out = new Uint8Array(controlPacketLength(p))
  emitControlPacket(p, out, 0)
  return out
}

/** Header of a data-channel packet. */
export interface DataHeader {
  opcode: typeof Opcode.P_DATA_V1 | typeof Opcode.P_DATA_V2
  keyId: number
  /** P_DATA_V2 only. */
  peerId?: number
  /** Length of the header (1 or 4): the encrypted part starts here. */
  headerLen: number
}

export function parseDataHeader(buf: Uint8Array, off: number, len: number, counters?: Counters): DataHeader | null {
  if (len < 1 || off + len > buf.length) {
    counters?.inc('openvpn.tls.bad_packet.short')
    return null
  }
  const opcode = opcodeOf(buf[off])
  const keyId = keyIdOf(buf[off])
  if (opcode === Opcode.P_DATA_V1) return { opcode, keyId, headerLen: 1 }
  if (opcode === Opcode.P_DATA_V2) {
    if (len < 4) {
      counters?.inc('openvpn.tls.bad_packet.short')
      return null
    }
    return { opcode, keyId, peerId: (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3], headerLen: 4 }
  }
  counters?.inc('openvpn.tls.bad_packet.opcode')
  return null
}

export function emitDataHeader(h: Omit<DataHeader, 'headerLen'>, buf: Uint8Array, off: number): number {
  buf[off] = opByte(h.opcode, h.keyId)
  if (h.opcode === Opcode.P_DATA_V1) return 1
  const pid = h.peerId ?? MAX_PEER_ID
  buf[off + 1] = (pid >>> 16) & 0xff
  buf[off + 2] = (pid >>> 8) & 0xff
  buf[off + 3] = pid & 0xff
  return 4
}

/** Early-negotiation TLV types in a client hard reset (ssl_pkt.h). */
export const TLV_TYPE_EARLY_NEG_FLAGS = 0x0001
export const EARLY_NEG_FLAG_RESEND_WKC = 0x0001
