// Byte reader for proxy handshakes (RFC 9110 §9.3.6 CONNECT, RFC 1928/1929 SOCKS5): buffers what
// a socket delivers and hands out exact byte counts or a header block, so a handshake can be
// written as straight-line async code. Bytes the proxy sent after its reply (the first bytes of
// the tunnel) stay buffered and are returned by detach() for the transport's framing.
import type { Socket } from 'node:net'
import { BurrowError, ErrorCode } from '../core/errors.js'

export class HandshakeReader {
  private chunks: Uint8Array[] = []
  private buffered = 0
  private failure: Error | undefined
  private wake: (() => void) | undefined
  private readonly onData = (d: Buffer) => {
    this.chunks.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
    this.buffered += d.byteLength
    this.notify()
  }
  private readonly onEnd = () => this.fail(new BurrowError(ErrorCode.ECONNRESET, `${this.what}: the proxy closed the connection during the handshake`))
  private readonly onError = (e: Error) => this.fail(e)

  constructor(
    private readonly sock: Socket,
    private readonly what: string,
  ) {
    sock.on('data', this.onData)
    sock.on('end', this.onEnd)
    sock.on('close', this.onEnd)
    sock.on('error', this.onError)
  }

  /** Make every pending and future read reject with `e` (timeouts, aborts, socket errors). */
  fail(e: Error): void {
    if (!this.failure) this.failure = e
    this.notify()
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private async waitFor(cond: () => boolean): Promise<void> {
    while (!cond()) {
      if (this.failure) throw this.failure
      await new Promise<void>((res) => (this.wake = res))
    }
  }

  private flat(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0]
    const out = new Uint8Array(this.buffered)
    let o = 0
    for (const c of this.chunks) {
      out.set(c, o)
      o += c.length
    }
    this.chunks = this.buffered ? [out] : []
    return out
  }

  private take(n: number): Uint8Array {
    const all = this.flat()
    const head = all.slice(0, n)
    const rest = all.subarray(n)
    this.chunks = rest.length ? [rest] : []
    this.buffered = rest.length
    return head
  }

  /** Exactly n bytes. */
  async read(n: number): Promise<Uint8Array> {
    await this.waitFor(() => this.buffered >= n)
    return this.take(n)
  }

  /**
   * Everything up to and including the first CRLF CRLF; rejects when more than `max` bytes
   * arrive without one.
   */
  async readHeader(max: number): Promise<Uint8Array> {
    let end = -1
    await this.waitFor(() => {
      end = indexOfCrlfCrlf(this.flat())
      if (end < 0 && this.buffered > max) {
        this.fail(new BurrowError(ErrorCode.ERR_PROTOCOL, `${this.what}: the proxy's response header is longer than ${max} bytes`))
        return false
      }
      return end >= 0
    })
    return this.take(end + 4)
  }

  /** Stop listening (the socket is left paused) and return the bytes read past the handshake. */
  detach(): Uint8Array {
    this.sock.pause()
    this.sock.off('data', this.onData)
    this.sock.off('end', this.onEnd)
    this.sock.off('close', this.onEnd)
    this.sock.off('error', this.onError)
    const rest = this.buffered ? this.flat() : new Uint8Array(0)
    this.chunks = []
    this.buffered = 0
    return rest
  }
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i
  }
  return -1
}
