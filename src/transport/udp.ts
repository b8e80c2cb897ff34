// UDP transport to a VPN server (RFC 768) over a *connected* dgram socket: the kernel delivers
// only datagrams from the connected peer (connect(2) on UDP), so spoofed sources never reach the
// tunnel. Backpressure: send() returns false while the socket's send queue is above a threshold,
// and onDrain fires when it has emptied. ICMP unreachable errors (RFC 1122 §4.1.3.3) are counted,
// not fatal.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { asBuffer } from '../core/bytes.js'
import { Counters } from '../core/counters.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import type { Transport } from '../tunnel/types.js'

/** Datagrams queued in libuv above which send() reports pressure. */
const QUEUE_HIGH = 64

export interface UdpTransportOptions {
  host: string
  port: number
  family: 4 | 6
  counters?: Counters
  signal?: AbortSignal
}

/**
 * A tunnel transport over a connected dgram socket: backpressure from the libuv send queue, ICMP
 * errors and single-datagram failures counted (not fatal), onClose once. Subclasses decide what an
 * arriving datagram is (onDatagram) and what a sent one looks like (send → sendParts).
 */
export abstract class DgramTransport implements Transport {
  readonly description: string
  readonly counters: Counters
  protected rx: ((msg: Uint8Array) => void) | undefined
  private onClose: ((err?: Error) => void) | undefined
  private onDrain: (() => void) | undefined
  protected closed = false
  private draining = false

  protected constructor(
    protected readonly sock: Socket,
    description: string,
    counters: Counters,
    /** Counter name prefix for socket-level events ("udp", "socks_udp"). */
    counterPrefix: string,
  ) {
    this.description = description
    this.counters = counters
    sock.on('message', (msg, rinfo) => this.onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), rinfo))
    sock.on('error', (err) => {
      // ICMP errors reported on a connected socket (port/host unreachable) are transient for
      // a datagram tunnel: like OpenVPN, keep the socket and let ping-restart decide.
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN') {
        this.counters.inc(`${counterPrefix}.icmp_error`)
        return
      }
      // One oversized or unbufferable datagram is a drop, not the end of the session.
      if (code === 'EMSGSIZE' || code === 'ENOBUFS') {
        this.counters.inc(`${counterPrefix}.${code === 'EMSGSIZE' ? 'emsgsize' : 'enobufs'}`)
        return
      }
      this.fail(err)
    })
    sock.on('close', () => this.fail())
  }

  /** One datagram arrived from the connected peer. */
  protected abstract onDatagram(b: Uint8Array, from: RemoteInfo): void

  abstract send(msg: Uint8Array): boolean

  /** Send one datagram made of `parts`; false = queued under pressure (onDrain follows). */
  protected sendParts(parts: Buffer | Buffer[]): boolean {
    if (this.closed) return false
    this.counters.inc('udp.tx')
    try {
      if (!this.draining && this.sock.getSendQueueCount() < QUEUE_HIGH) {
        this.sock.send(parts)
        return true
      }
      // Under pressure every send carries a callback, so the last queued one sees the queue empty.
      this.draining = true
      this.sock.send(parts, this.checkDrain)
      return false
    } catch (e) {
      // dgram throws synchronously on a socket that is closing or no longer connected: the
      // datagram is lost (UDP semantics) and the close/error path reports the socket's fate
      this.counters.inc('udp.send_error')
      setImmediate(() => this.fail(e as Error)) // not from inside the caller's send()
      return false
    }
  }

  private readonly checkDrain = (): void => {
    if (this.draining && !this.closed && this.sock.getSendQueueCount() === 0) {
      this.draining = false
      this.onDrain?.()
    }
  }

  attach(rx: (msg: Uint8Array) => void, onClose: (err?: Error) => void, onDrain?: () => void): void {
    this.rx = rx
    this.onClose = onClose
    this.onDrain = onDrain
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    try {
      this.sock.close()
    } catch {
      /* already closed */
    }
  }

  protected fail(err?: Error): void {
    const wasClosed = this.closed
    this.close()
    if (wasClosed) return
    const cb = this.onClose
    this.onClose = undefined
    cb?.(err && !(err instanceof BurrowError) ? new BurrowError(codeOf(err), `${this.description}: ${err.message}`, { cause: err }) : err)
  }
}

export class UdpTransport extends DgramTransport {
  private constructor(
    sock: Socket,
    private readonly host: string,
    private readonly port: number,
    counters: Counters,
  ) {
    super(sock, `udp ${host.includes(':') ? `[${host}]` : host}:${port}`, counters, 'udp')
  }

  protected onDatagram(b: Uint8Array, from: RemoteInfo): void {
    // A connected socket only receives from the peer; double-check anyway and count.
    if (from.port !== this.port || from.address !== this.host) {
      this.counters.inc('udp.foreign_source')
      return
    }
    this.counters.inc('udp.rx')
    this.rx?.(b)
  }

  /** Open a UDP socket connected to host:port (host must be an IP address). */
  static connect(opts: UdpTransportOptions): Promise<UdpTransport> {
    const sock = createSocket({ type: opts.family === 6 ? 'udp6' : 'udp4' })
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        sock.close()
        reject(new BurrowError(ErrorCode.EABORTED, 'connect aborted'))
      }
      if (opts.signal?.aborted) return onAbort()
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      sock.once('error', (e) => {
        opts.signal?.removeEventListener('abort', onAbort)
        sock.close()
        reject(new BurrowError(ErrorCode.ECONNREFUSED, `udp ${opts.host}:${opts.port}: ${e.message}`, { cause: e }))
      })
      sock.connect(opts.port, opts.host, () => {
        opts.signal?.removeEventListener('abort', onAbort)
        sock.removeAllListeners('error')
        growBuffers(sock)
        resolve(new UdpTransport(sock, opts.host, opts.port, opts.counters ?? new Counters()))
      })
    })
  }

  send(msg: Uint8Array): boolean {
    return this.sendParts(asBuffer(msg))
  }
}

export function codeOf(err: Error): ErrorCode {
  const c = (err as NodeJS.ErrnoException).code
  if (c && c in ErrorCode) return c as ErrorCode
  return ErrorCode.ECONNRESET
}

/** Socket buffer we ask for; Linux caps it at net.core.{r,w}mem_max without complaint. */
export const UDP_SOCKET_BUFFER = 4 << 20

/**
 * Bursts of a fast TCP flow inside the tunnel overflow the 208 KB default receive buffer
 * (UdpRcvbufErrors) long before the path is full; ask for more, best effort.
 */
export function growBuffers(sock: Socket): void {
  try {
    sock.setRecvBufferSize(UDP_SOCKET_BUFFER)
    sock.setSendBufferSize(UDP_SOCKET_BUFFER)
  } catch {
    /* not fatal: keep the default */
  }
}
