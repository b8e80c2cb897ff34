// OpenVPN over TCP packet framing (openvpn(8) --proto tcp; OpenVPN 2.6 src/openvpn/socket.c
// stream_buf): every packet is preceded by its length as an unsigned 16-bit big-endian integer.
// The reassembler keeps received chunks in a list and copies each message at most once (a message
// inside one chunk is handed out as a view), so a long stream is linear, never quadratic.

import { writeU16 } from '../core/bytes.js'

export const MAX_FRAME = 0xffff

export function frameHeader(len: number): Uint8Array {
  const h = new Uint8Array(2)
  writeU16(h, 0, len)
  return h
}

export class FrameReassembler {
  private chunks: Uint8Array[] = []
  /** Index of the first live chunk (consumed chunks are dropped in batches, not shifted one by one). */
  private first = 0
  /** Offset into chunks[first] of the first unconsumed byte. */
  private off = 0
  private buffered = 0

  /** Feed a chunk; calls onMessage for each complete message. Zero-length frames are skipped. */
  push(chunk: Uint8Array, onMessage: (msg: Uint8Array) => void): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.buffered += chunk.length
    for (;;) {
      if (this.buffered < 2) return
      const len = (this.byteAt(0) << 8) | this.byteAt(1)
      if (this.buffered < 2 + len) return
      this.skip(2)
      const msg = this.take(len)
      if (len > 0) onMessage(msg)
    }
  }

  get pending(): number {
    return this.buffered
  }

  private byteAt(i: number): number {
    let k = this.first
    let pos = this.off + i
    while (pos >= this.chunks[k].length) {
      pos -= this.chunks[k].length
      k++
    }
    return this.chunks[k][pos]
  }

  private skip(n: number): void {
    this.buffered -= n
    while (n > 0) {
      const c = this.chunks[this.first]
      const avail = c.length - this.off
      if (n < avail) {
        this.off += n
        return
      }
      n -= avail
      this.first++
      this.off = 0
    }
    if (this.first === this.chunks.length) {
      this.chunks = []
      this.first = 0
    } else if (this.first > 64 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first)
      this.first = 0
    }
  }

  private take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0)
    const c0 = this.chunks[this.first]
    if (c0.length - this.off >= n) {
      const v = c0.subarray(this.off, this.off + n)
      this.skip(n)
      return v
    }
    const out = new Uint8Array(n)
    let o = 0
    while (o < n) {
      const c = this.chunks[this.first]
      const k = Math.min(n - o, c.length - this.off)
      out.set(c.subarray(this.off, this.off + k), o)
      o += k
      this.skip(k)
    }
    return out
  }
}
