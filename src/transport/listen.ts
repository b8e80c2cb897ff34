// Server-side transports for an in-process OpenVPN static-key peer (the demo and tests): a UDP
// socket bound to one address, or a TCP listener with OpenVPN's u16 framing. Like OpenVPN's
// point-to-point server, the peer is whoever last sent a packet that the tunnel authenticated:
// the tunnel calls confirmPeer() after a packet passes HMAC and replay checks, and replies go there.

import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Server, type Socket } from 'node:net'
import { asBuffer } from '../core/bytes.js'
import { Counters } from '../core/counters.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import type { Transport } from '../tunnel/types.js'
import { FrameReassembler, MAX_FRAME } from './framing.js'
import { growBuffers } from './udp.js'
import type { TransportProto } from './connect.js'

/** A transport whose remote end is learned from authenticated traffic. */
export interface ListenTransport extends Transport {
  /** The address actually bound. */
  readonly port: number
  readonly address: string
  /** Make the source of the packet just delivered to rx the peer that send() answers. */
  confirmPeer(): void
}

export function isListenTransport(t: Transport): t is ListenTransport {
  return typeof (t as Partial<ListenTransport>).confirmPeer === 'function'
}

export interface ListenTransportOptions {
  proto: TransportProto
  /** Address to bind (default 127.0.0.1). */
  host?: string
  /** Port (default 0 = any free port). */
  port?: number
  counters?: Counters
}

export async function listenTransport(opts: ListenTransportOptions): Promise<ListenTransport> {
  const host = opts.host ?? '127.0.0.1'
  const counters = opts.counters ?? new Counters()
  return opts.proto === 'udp' ? UdpListenTransport.bind(host, opts.port ?? 0, counters) : TcpListenTransport.bind(host, opts.port ?? 0, counters)
}

class UdpListenTransport implements ListenTransport {
  readonly description: string
  private rx: ((m: Uint8Array) => void) | undefined
  private onClose: ((e?: Error) => void) | undefined
  private peer: { address: string; port: number } | undefined
  private last: { address: string; port: number } | undefined
  private closed = false

  private constructor(
    private readonly sock: UdpSocket,
    readonly address: string,
    readonly port: number,
    private readonly counters: Counters,
  ) {
    this.description = `udp listen ${address}:${port}`
    sock.on('message', (msg, rinfo) => {
      this.last = { address: rinfo.address, port: rinfo.port }
      this.rx?.(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength))
    })
    sock.on('error', (e) => this.fail(e))
  }

  static bind(host: string, port: number, counters: Counters): Promise<UdpListenTransport> {
    const sock = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' })
    return new Promise((resolve, reject) => {
      sock.once('error', (e) => reject(new BurrowError(ErrorCode.EADDRINUSE, `udp ${host}:${port}: ${e.message}`, { cause: e })))
      sock.bind(port, host, () => {
        sock.removeAllListeners('error')
        growBuffers(sock)
        resolve(new UdpListenTransport(sock, host, sock.address().port, counters))
      })
    })
  }

  confirmPeer(): void {
    this.peer = this.last
  }

  send(msg: Uint8Array): boolean {
    if (this.closed) return false
    if (!this.peer) {
      this.counters.inc('listen.no_peer')
      return true
    }
    this.sock.send(asBuffer(msg), this.peer.port, this.peer.address)
    return true
  }

  attach(rx: (m: Uint8Array) => void, onClose: (e?: Error) => void): void {
    this.rx = rx
    this.onClose = onClose
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.sock.close()
  }

  private fail(e: Error): void {
    if (this.closed) return
    this.close()
    this.onClose?.(e)
  }
}

class TcpListenTransport implements ListenTransport {
  readonly description: string
  private rx: ((m: Uint8Array) => void) | undefined
  private onClose: ((e?: Error) => void) | undefined
  private onDrain: (() => void) | undefined
  private peer: Socket | undefined
  private last: Socket | undefined
  private readonly conns = new Set<Socket>()
  private closed = false

  private constructor(
    private readonly server: Server,
    readonly address: string,
    readonly port: number,
    private readonly counters: Counters,
  ) {
    this.description = `tcp listen ${address}:${port}`
    server.on('connection', (s) => this.accept(s))
    server.on('error', (e) => this.fail(e))
  }

  static bind(host: string, port: number, counters: Counters): Promise<TcpListenTransport> {
    const server = createServer()
    return new Promise((resolve, reject) => {
      server.once('error', (e) => reject(new BurrowError(ErrorCode.EADDRINUSE, `tcp ${host}:${port}: ${e.message}`, { cause: e })))
      server.listen(port, host, () => {
        server.removeAllListeners('error')
        const a = server.address()
        resolve(new TcpListenTransport(server, host, typeof a === 'object' && a ? a.port : port, counters))
      })
    })
  }

  private accept(s: Socket): void {
    if (this.closed) return void s.destroy()
    s.setNoDelay(true)
    this.conns.add(s)
    const reasm = new FrameReassembler()
    const deliver = (m: Uint8Array) => {
      this.last = s
      this.rx?.(m)
    }
    s.on('data', (d: Buffer) => reasm.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), deliver))
    s.on('drain', () => s === this.peer && this.onDrain?.())
    s.on('error', () => s.destroy())
    s.on('end', () => s.destroy())
    s.on('close', () => {
      this.conns.delete(s)
      if (this.peer === s) this.peer = undefined
    })
  }

  confirmPeer(): void {
    if (this.last && this.last !== this.peer) {
      const old = this.peer
      this.peer = this.last
      old?.destroy()
    }
  }

  send(msg: Uint8Array): boolean {
    if (this.closed) return false
    if (!this.peer || msg.length > MAX_FRAME) {
      this.counters.inc(this.peer ? 'listen.too_big' : 'listen.no_peer')
      return true
    }
    const hdr = Buffer.allocUnsafe(2)
    hdr[0] = msg.length >>> 8
    hdr[1] = msg.length & 0xff
    this.peer.cork()
    this.peer.write(hdr)
    const ok = this.peer.write(asBuffer(msg))
    this.peer.uncork()
    return ok
  }

  attach(rx: (m: Uint8Array) => void, onClose: (e?: Error) => void, onDrain?: () => void): void {
    this.rx = rx
    this.onClose = onClose
    this.onDrain = onDrain
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const s of this.conns) s.destroy()
    this.server.close()
  }

  private fail(e: Error): void {
    if (this.closed) return
    this.close()
    this.onClose?.(e)
  }
}
