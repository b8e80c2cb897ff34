// UDP sockets (RFC 768) on the netstack: a port table, ephemeral ports chosen at random from the
// IANA dynamic range 49152-65535 (RFC 6335 §6, RFC 6056 §3.3.1 "simple port randomization"), and
// the UdpSocket of api.ts. The stack owns the wire; a socket only sees datagrams and ICMP errors.
import type { Counters } from '../../core/counters.js'
import { BurrowError, type ErrorCode } from '../../core/errors.js'
import { cidrContains, parseIp } from '../addr.js'
import type { UdpRemote, UdpSocket } from '../api.js'
import type { Cidr } from '../../tunnel/types.js'

export const EPHEMERAL_LOW = 49152
export const EPHEMERAL_HIGH = 65535

/**
 * Pick a free port in [49152, 65535]: random probes first, then a scan from a random start.
 * Returns 0 when every port is taken.
 */
export function pickEphemeralPort(inUse: (port: number) => boolean, random: () => number): number {
  const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1
  for (let i = 0; i < 16; i++) {
    const p = EPHEMERAL_LOW + Math.floor(random() * span)
    if (!inUse(p)) return p
  }
  const start = Math.floor(random() * span)
  for (let i = 0; i < span; i++) {
    const p = EPHEMERAL_LOW + ((start + i) % span)
    if (!inUse(p)) return p
  }
  return 0
}

/** What a UDP socket needs from the stack. */
export interface UdpSender {
  /** Emit one datagram; false if it could not be queued (counted by the stack). */
  sendUdp(localPort: number, dst: Uint8Array, dstPort: number, data: Uint8Array): boolean
  /** The socket closed: free its port. */
  unbindUdp(sock: UdpSocketImpl): void
  readonly counters: Counters
}

export class UdpSocketImpl implements UdpSocket {
  onMessage: ((data: Uint8Array, from: UdpRemote) => void) | null = null
  onError: ((err: Error, from?: UdpRemote) => void) | null = null
  private closed = false
  // one-entry cache: most sockets talk to one peer, so parse its address once
  private lastAddr = ''
  private lastBytes: Uint8Array | null = null

  constructor(
    private readonly stack: UdpSender,
    readonly localPort: number,
    /** Restrict to one family (openUdp({family})); 0 = both. */
    readonly family: 0 | 4 | 6,
    private readonly allow: Cidr[] | undefined,
  ) {}

  send(data: Uint8Array, address: string, port: number): boolean {
    const c = this.stack.counters
    if (this.closed) {
      c.inc('udp.send_closed')
      return false
    }
    let dst = this.lastBytes
    if (address !== this.lastAddr || dst === null) {
      dst = parseIp(address)
      if (!dst) {
        c.inc('udp.bad_address')
        return false
      }
      this.lastAddr = address
      this.lastBytes = dst
    }
    if ((this.family === 4 && dst.length !== 4) || (this.family === 6 && dst.length !== 16) || !(port > 0 && port <= 0xffff)) {
      c.inc('udp.bad_address')
      return false
    }
    return this.stack.sendUdp(this.localPort, dst, port, data)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.stack.unbindUdp(this)
    this.onMessage = null
    this.onError = null
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Called by the stack for each datagram addressed to this port. */
  deliver(src: Uint8Array, from: UdpRemote, data: Uint8Array): void {
    if (this.closed) return
    if (this.family !== 0 && src.length !== (this.family === 4 ? 4 : 16)) {
      this.stack.counters.inc('udp.wrong_family')
      return
    }
    if (this.allow && !this.allowed(src)) {
      this.stack.counters.inc('udp.not_allowed')
      return
    }
    const cb = this.onMessage
    if (!cb) {
      this.stack.counters.inc('udp.no_handler')
      return
    }
    cb(data, from)
  }

  /** Called by the stack for an ICMP error quoting a datagram this socket sent. */
  deliverError(code: ErrorCode, message: string, to: UdpRemote): void {
    if (this.closed) return
    this.stack.counters.inc('udp.icmp_error')
    this.onError?.(new BurrowError(code, message), to)
  }

  private allowed(src: Uint8Array): boolean {
    for (const c of this.allow!) if (cidrContains(c, src)) return true
    return false
  }
}
