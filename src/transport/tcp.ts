// TCP transport to a VPN server (RFC 9293) with OpenVPN's stream framing: u16 big-endian length
// before every packet (see framing.ts). Nagle off (setNoDelay), backpressure from socket.write(),
// onClose on reset, end-of-stream or error.

import { connect as netConnect, type Socket } from 'node:net'
import { asBuffer } from '../core/bytes.js'
import { Counters } from '../core/counters.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import type { Transport } from '../tunnel/types.js'
import { FrameReassembler, MAX_FRAME } from './framing.js'
import { codeOf } from './udp.js'

export interface TcpTransportOptions {
  host: string
  port: number
  family?: 4 | 6
  counters?: Counters
  signal?: AbortSignal
  /** Give up connecting after this many ms (default 10 s). */
  timeoutMs?: number
}

export class TcpTransport implements Transport {
  readonly description: string
  readonly counters: Counters
  private rx: ((msg: Uint8Array) => void) | undefined
  private onClose: ((err?: Error) => void) | undefined
  private onDrain: (() => void) | undefined
  private readonly reasm = new FrameReassembler()
  private closed = false

  /** Wrap an already connected socket (client or accepted server side). */
  constructor(
    private readonly sock: Socket,
    description: string,
    counters: Counters = new Counters(),
  ) {
    this.description = description
    this.counters = counters
    sock.setNoDelay(true)
    const deliver = (m: Uint8Array) => {
      this.counters.inc('tcp.rx')
      this.rx?.(m)
    }
    sock.on('data', (d: Buffer) => this.reasm.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), deliver))
    sock.on('drain', () => this.onDrain?.())
    sock.on('end', () => this.fail(new BurrowError(ErrorCode.ECONNRESET, `${this.description}: closed by peer`)))
    sock.on('error', (e) => this.fail(e))
    sock.on('close', () => this.fail())
  }

  static connect(opts: TcpTransportOptions): Promise<TcpTransport> {
    const desc = `tcp ${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new BurrowError(ErrorCode.EABORTED, `${desc}: connect aborted`))
      const sock = netConnect({ host: opts.host, port: opts.port, family: opts.family })
      const fail = (e: BurrowError) => {
        clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onAbort)
        sock.destroy()
        reject(e)
      }
      const onAbort = () => fail(new BurrowError(ErrorCode.EABORTED, `${desc}: connect aborted`))
      const onError = (e: Error) => fail(new BurrowError(codeOf(e), `${desc}: ${e.message}`, { cause: e }))
      const timer = setTimeout(() => fail(new BurrowError(ErrorCode.ETIMEDOUT, `${desc}: connect timed out`)), opts.timeoutMs ?? 10_000)
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      sock.once('error', onError)
      sock.once('connect', () => {
        clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onAbort)
        sock.removeListener('error', onError)
        resolve(new TcpTransport(sock, desc, opts.counters))
      })
    })
  }

  send(msg: Uint8Array): boolean {
    if (this.closed) return false
    if (msg.length > MAX_FRAME) {
      this.counters.inc('tcp.too_big')
      return true
    }
    this.counters.inc('tcp.tx')
    // Header and packet are two writes (no copy to prepend the length).
    const hdr = Buffer.allocUnsafe(2)
    hdr[0] = msg.length >>> 8
    hdr[1] = msg.length & 0xff
    // Writes stay corked until the end of this event-loop turn: a burst of tunnel packets (one
    // per TCP segment the netstack emits) leaves in one writev instead of one syscall each.
    if (!this.corked) {
      this.corked = true
      this.sock.cork()
      setImmediate(this.uncork)
    }
    this.sock.write(hdr)
    return this.sock.write(asBuffer(msg))
  }

  private corked = false
  private readonly uncork = (): void => {
    this.corked = false
    this.sock.uncork()
  }

  attach(rx: (msg: Uint8Array) => void, onClose: (err?: Error) => void, onDrain?: () => void): void {
    this.rx = rx
    this.onClose = onClose
    this.onDrain = onDrain
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.sock.destroy()
  }

  private fail(err?: Error): void {
    const wasClosed = this.closed
    this.close()
    if (wasClosed) return
    const cb = this.onClose
    this.onClose = undefined
    cb?.(err && !(err instanceof BurrowError) ? new BurrowError(codeOf(err), `${this.description}: ${err.message}`, { cause: err }) : err)
  }
}
