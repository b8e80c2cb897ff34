// Contract between the TCP engine (src/netstack/tcp) and the stack glue (src/netstack/stack.ts).
// The TCP engine never sees wire bytes: the stack parses packets into TcpSegment (see
// wire/tcp.ts) and the engine hands TcpSegment objects back through TcpHost.output().
import type { Clock } from '../../core/clock.js'
import type { Counters } from '../../core/counters.js'
import type { RxShare } from './rcv.js'

export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const
export type TcpFlag = (typeof TcpFlag)[keyof typeof TcpFlag]

/** TCP options as parsed/emitted (RFC 9293 §3.2, RFC 7323, RFC 2018). Absent = not present. */
export interface TcpOptions {
  mss?: number
  /** Window scale shift (0..14). */
  wscale?: number
  sackPermitted?: boolean
  /** SACK blocks as [left, right) sequence-number pairs, at most 4 (3 with timestamps). */
  sack?: Array<[number, number]>
  /** Timestamps: both present or both absent. */
  tsVal?: number
  tsEcr?: number
}

/** One TCP segment without addresses. Ports live here; addresses in the FourTuple. */
export interface TcpSegment {
  srcPort: number
  dstPort: number
  seq: number
  ack: number
  flags: number
  /** Raw 16-bit window field (unscaled). */
  window: number
  urgent: number
  options: TcpOptions
  /** Payload view; the receiver may keep it (the stack does not reuse rx buffers). */
  payload: Uint8Array
}

/** Identifies a connection. Addresses as bytes (4 or 16) plus their string form. */
export interface FourTuple {
  localAddr: Uint8Array
  localPort: number
  remoteAddr: Uint8Array
  remotePort: number
  /** 4 or 6 */
  family: 4 | 6
  /** Canonical string forms, for the public API and logs. */
  localAddress: string
  remoteAddress: string
}

/** What the stack provides to every TCP endpoint. */
export interface TcpHost {
  readonly clock: Clock
  readonly counters: Counters
  /** Largest TCP payload for this family given the link MTU (MTU − IP header − 20). */
  mssFor(family: 4 | 6): number
  /** Encode and send one segment. False = link full (the engine retries on its own timers/drain). */
  output(tuple: FourTuple, seg: TcpSegment): boolean
  /** Random 32-bit values for ISNs and jitter. */
  random32(): number
  /** The endpoint reached CLOSED (after TIME-WAIT if any): remove it from the demux table. */
  release(tuple: FourTuple): void
  /** Receive memory shared by the host's connections (optional: unbounded per-connection windows). */
  readonly rxShare?: RxShare
}
