// net.Socket-compatible stream.Duplex over a netstack TcpConn (Node.js `net` and `stream` API
// semantics: half-close per RFC 9293 §3.6 maps to end()/'end', RST to destroy()). Glue for the
// proxies and the in-process API only; the hot path inside the stack stays on TcpConn callbacks.
// Backpressure is end to end: a full TcpConn send buffer holds the _write callback until onDrain,
// and a full readable buffer pauses the TcpConn, which shrinks the advertised TCP window.
import { Duplex } from 'node:stream'
import { asBuffer } from '../core/bytes.js'
import { RealClock, type Clock } from '../core/clock.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { ipFamily } from './addr.js'
import type { NetStackApi, TcpConn } from './api.js'

export interface TcpSocketOptions {
  /** Keep the writable side open after the peer's FIN (default true, like stream.Duplex). */
  allowHalfOpen?: boolean
  /** Clock for setTimeout() idle timers (default: real time). */
  clock?: Clock
  /**
   * Readable buffer before the TcpConn is paused (default 256 KiB). Each pause/resume cycle
   * costs the stack one timer turn (≥ 1 ms on a real clock), so a small value caps throughput.
   */
  readableHighWaterMark?: number
  writableHighWaterMark?: number
}

export interface ConnectSocketOptions extends TcpSocketOptions {
  /** Address family for name lookups (default 0: IPv4 first, then IPv6). */
  family?: 0 | 4 | 6
  localPort?: number
  signal?: AbortSignal
  /** Connect timeout per address (default: the stack's, 20 s). */
  timeoutMs?: number
}

function withCode(err: Error): Error {
  if ((err as { code?: unknown }).code) return err
  return new BurrowError(ErrorCode.ECONNRESET, err.message || 'connection reset', { cause: err })
}

/** The Duplex returned by tcpConnToSocket: the subset of net.Socket the proxies use. */
/** Deliver early once this much received data is waiting for the end of the poll phase. */
const RX_BATCH_MAX = 256 * 1024

export class TcpSocket extends Duplex {
  readonly connecting = false
  readonly pending = false
  bytesRead = 0
  private bytesOut = 0
  private connPaused = false
  private connClosed = false
  private peerFin = false
  private finSent = false
  private heldWrite: ((err?: Error | null) => void) | null = null
  private readonly clock: Clock
  private idleMs = 0
  private lastActive = 0
  private cancelIdle: (() => void) | null = null
  private rxQueue: Uint8Array[] = []
  private rxQueued = 0
  private readonly flushRx = (): void => {
    const q = this.rxQueue
    if (q.length === 0 || this.destroyed) return
    this.rxQueue = []
    this.rxQueued = 0
    // a single segment is handed over as a view (the payload is ours to keep: TcpConn
    // contract); several are joined with one copy, far cheaper than a syscall each downstream
    const chunk = q.length === 1 ? asBuffer(q[0]) : Buffer.concat(q)
    if (!this.push(chunk) && !this.connPaused) {
      this.connPaused = true
      this.conn.pause()
    }
  }

  constructor(
    private readonly conn: TcpConn,
    opts: TcpSocketOptions = {},
  ) {
    super({
      allowHalfOpen: opts.allowHalfOpen ?? true,
      readableHighWaterMark: opts.readableHighWaterMark ?? 256 * 1024,
      writableHighWaterMark: opts.writableHighWaterMark,
    })
    this.clock = opts.clock ?? new RealClock()
    conn.onData = (b) => {
      this.bytesRead += b.length
      this.touch()
      // Segments that arrive in one event-loop poll phase are handed on as one chunk, so a
      // piped consumer does one write() per burst instead of one per ~1.4 KB segment.
      if (this.rxQueue.length === 0) setImmediate(this.flushRx)
      this.rxQueue.push(b)
      this.rxQueued += b.length
      if (this.rxQueued >= RX_BATCH_MAX) this.flushRx()
    }
    conn.onEnd = () => {
      this.peerFin = true
      this.touch()
      this.flushRx()
      this.push(null)
    }
    conn.onDrain = () => {
      const cb = this.heldWrite
      this.heldWrite = null
      cb?.()
    }
    conn.onClose = (err) => {
      this.connClosed = true
      this.stopIdle()
      if (err) {
        this.destroy(withCode(err))
        return
      }
      const cb = this.heldWrite
      this.heldWrite = null
      cb?.(new BurrowError(ErrorCode.EPIPE, 'connection closed'))
      // a clean close means both FINs were exchanged: end the readable side and let
      // autoDestroy finish once the application has read everything
      this.flushRx()
      if (!this.readableEnded) this.push(null)
      if (this.readableEnded) this.destroy()
      else this.once('end', () => this.destroy())
    }
    process.nextTick(() => {
      if (this.destroyed) return
      this.emit('connect')
      this.emit('ready')
    })
  }

  get remoteAddress(): string {
    return this.conn.remoteAddress
  }
  get remotePort(): number {
    return this.conn.remotePort
  }
  get remoteFamily(): 'IPv4' | 'IPv6' {
    return ipFamily(this.conn.remoteAddress) === 6 ? 'IPv6' : 'IPv4'
  }
  get localAddress(): string {
    return this.conn.localAddress
  }
  get localPort(): number {
    return this.conn.localPort
  }
  get localFamily(): 'IPv4' | 'IPv6' {
    return ipFamily(this.conn.localAddress) === 6 ? 'IPv6' : 'IPv4'
  }
  get bytesWritten(): number {
    return this.bytesOut
  }
  /** Bytes accepted by the TcpConn but not yet acknowledged by the peer. */
  get bufferSize(): number {
    return this.conn.bufferedAmount
  }
  get readyState(): 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.destroyed) return 'closed'
    const r = !this.readableEnded
    const w = !this.writableEnded
    return r && w ? 'open' : r ? 'readOnly' : w ? 'writeOnly' : 'closed'
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: this.localFamily, port: this.localPort }
  }

  setNoDelay(noDelay = true): this {
    this.conn.setNoDelay(noDelay)
    return this
  }

  setKeepAlive(enable = false, initialDelayMs = 0): this {
    this.conn.setKeepAlive(enable, initialDelayMs || undefined)
    return this
  }

  /** Emit 'timeout' after ms of inactivity (no data in or out); 0 disables. Like net.Socket. */
  setTimeout(ms: number, cb?: () => void): this {
    this.idleMs = ms > 0 ? ms : 0
    this.stopIdle()
    if (cb) {
      if (this.idleMs) this.once('timeout', cb)
      else this.removeListener('timeout', cb)
    }
    if (this.idleMs) {
      this.lastActive = this.clock.now()
      this.armIdle()
    }
    return this
  }

  get timeout(): number | undefined {
    return this.idleMs || undefined
  }

  /** net.Socket.resetAndDestroy(): abort with RST (destroy() does the same here). */
  resetAndDestroy(): this {
    return this.destroy()
  }

  ref(): this {
    return this
  }
  unref(): this {
    return this
  }

  override _read(): void {
    if (this.connPaused) {
      this.connPaused = false
      this.conn.resume()
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.connClosed) {
      cb(new BurrowError(ErrorCode.EPIPE, 'write after the connection closed'))
      return
    }
    this.touch()
    this.bytesOut += chunk.length
    // TcpConn.write copies into the send buffer; false = accepted, but wait for onDrain
    if (this.conn.write(chunk)) cb()
    else this.heldWrite = cb
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    if (this.connClosed) {
      cb(new BurrowError(ErrorCode.EPIPE, 'write after the connection closed'))
      return
    }
    this.touch()
    let ok = true
    for (const { chunk } of chunks) {
      this.bytesOut += chunk.length
      ok = this.conn.write(chunk)
    }
    if (ok) cb()
    else this.heldWrite = cb
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.connClosed) this.conn.end()
    this.finSent = true
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.stopIdle()
    this.heldWrite = null
    if (!this.connClosed) {
      this.connClosed = true
      const c = this.conn
      c.onData = null
      c.onEnd = null
      c.onDrain = null
      c.onClose = null
      // after FIN both ways (autoDestroy) the TcpConn finishes its own close; otherwise abort
      if (err || !this.finSent || !this.peerFin) c.destroy(err ?? undefined)
    }
    cb(err)
  }

  private touch(): void {
    if (this.idleMs) this.lastActive = this.clock.now()
  }

  private armIdle(): void {
    if (!this.idleMs || this.cancelIdle || this.destroyed) return
    this.cancelIdle = this.clock.schedule(this.lastActive + this.idleMs, () => {
      this.cancelIdle = null
      if (!this.idleMs || this.destroyed) return
      if (this.clock.now() - this.lastActive >= this.idleMs) {
        this.emit('timeout')
        // like net.Socket: one 'timeout' per idle period; the next activity re-arms it
        this.lastActive = this.clock.now()
      }
      this.armIdle()
    })
  }

  private stopIdle(): void {
    this.cancelIdle?.()
    this.cancelIdle = null
  }
}

/** Wrap an established TcpConn as a net.Socket-like Duplex ('connect'/'ready' on next tick). */
export function tcpConnToSocket(conn: TcpConn, opts?: TcpSocketOptions): TcpSocket {
  return new TcpSocket(conn, opts)
}

/**
 * Resolve (through stack.resolver when host is a name) and connect, trying each address in
 * order; resolves with a connected socket or rejects with the last BurrowError.
 */
export async function connectSocket(stack: NetStackApi, host: string, port: number, opts: ConnectSocketOptions = {}): Promise<TcpSocket> {
  let h = host
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  const addrs = ipFamily(h) !== 0 ? [h] : await stack.resolver.lookup(h, opts.family ?? 0)
  let last: unknown = new BurrowError(ErrorCode.ENOTFOUND, `no address for ${host}`)
  for (const address of addrs) {
    if (opts.signal?.aborted) throw new BurrowError(ErrorCode.EABORTED, `connect to ${host}:${port} aborted`)
    try {
      const conn = await stack.connectTcp({ host: address, port, localPort: opts.localPort, signal: opts.signal, timeoutMs: opts.timeoutMs })
      return tcpConnToSocket(conn, opts)
    } catch (e) {
      last = e
      const code = (e as { code?: string }).code
      if (code === ErrorCode.EABORTED) break
    }
  }
  throw last
}
