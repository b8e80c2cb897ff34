// Stream glue shared by the proxies: a byte reader for the SOCKS handshakes (control plane, so
// async is fine) and a half-close aware bidirectional splice (RFC 9293 §3.6 half-close semantics
// carried end to end: a FIN from one side becomes end() on the other).

import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'

export class EofError extends Error {
  constructor(message = 'connection closed during handshake') {
    super(message)
    this.name = 'EofError'
  }
}

/** Buffers incoming bytes from a socket and hands out exact-length reads. */
export class ByteReader {
  private chunks: Buffer[] = []
  private buffered = 0
  private want = 0
  private pending: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null
  private ended: Error | null = null
  private detached = false
  private readonly onData = (chunk: Buffer) => {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    if (this.buffered > this.limit) this.sock.pause()
    this.pump()
  }
  private readonly onEnd = () => this.fail(new EofError())
  private readonly onClose = () => this.fail(new EofError())
  private readonly onError = (e: Error) => this.fail(e)

  constructor(
    private readonly sock: Socket,
    private readonly limit = 64 * 1024,
  ) {
    sock.on('data', this.onData)
    sock.on('end', this.onEnd)
    sock.on('close', this.onClose)
    sock.on('error', this.onError)
    sock.resume()
  }

  /** Read exactly n bytes (rejects with EofError if the peer closes first). */
  read(n: number): Promise<Buffer> {
    if (this.pending) throw new Error('ByteReader: concurrent read')
    return new Promise<Buffer>((resolve, reject) => {
      this.want = n
      this.pending = { resolve, reject }
      this.pump()
    })
  }

  private pump(): void {
    const p = this.pending
    if (!p) return
    if (this.buffered >= this.want) {
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
      const out = all.subarray(0, this.want)
      const rest = all.subarray(this.want)
      this.chunks = rest.length ? [rest] : []
      this.buffered = rest.length
      this.pending = null
      if (this.buffered <= this.limit && !this.detached) this.sock.resume()
      p.resolve(out)
    } else if (this.ended) {
      this.pending = null
      p.reject(this.ended)
    }
  }

  private fail(e: Error): void {
    if (!this.ended) this.ended = e
    this.pump()
  }

  /** Stop reading: remove listeners, pause the socket and return any bytes read ahead. */
  detach(): Buffer {
    this.detached = true
    this.sock.off('data', this.onData)
    this.sock.off('end', this.onEnd)
    this.sock.off('close', this.onClose)
    this.sock.off('error', this.onError)
    this.sock.pause()
    const rest = Buffer.concat(this.chunks)
    this.chunks = []
    this.buffered = 0
    return rest
  }
}

/**
 * Connect two duplex streams both ways with backpressure. A FIN on one side is passed on as end()
 * to the other, so half-closed connections keep flowing in the other direction. An error or an
 * abortive close on either side destroys both. Returns a function that destroys both.
 */
export function splice(a: Duplex, b: Duplex, onDone?: () => void): () => void {
  let done = false
  const destroyBoth = () => {
    a.destroy()
    b.destroy()
  }
  const closed = (s: Duplex, other: Duplex) => () => {
    // A clean close (both halves finished) leaves the other side to flush what it still holds.
    if (!(s.readableEnded && s.writableFinished)) other.destroy()
    if (a.destroyed && b.destroyed && !done) {
      done = true
      onDone?.()
    }
  }
  a.on('error', () => b.destroy())
  b.on('error', () => a.destroy())
  a.on('close', closed(a, b))
  b.on('close', closed(b, a))
  a.pipe(b)
  b.pipe(a)
  return destroyBoth
}

/**
 * Send a final message (if any) and close: end() for an orderly FIN, then destroy() when the peer
 * closes its side or after `graceMs` at the latest. The grace timer is cleared on close.
 */
export function closeWith(sock: Socket, bytes?: Uint8Array, graceMs = 2000): void {
  if (sock.destroyed) return
  if (!bytes || !sock.writable) {
    sock.destroy()
    return
  }
  const t = setTimeout(() => sock.destroy(), graceMs)
  sock.once('close', () => clearTimeout(t))
  // Keep reading (and discarding) until the peer closes: closing with unread input would send a
  // RST that can overtake the reply.
  sock.on('data', () => {})
  sock.once('end', () => sock.destroy())
  sock.end(bytes)
  sock.resume()
}
