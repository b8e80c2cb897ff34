// Test scaffolding: a Link (src/tunnel/types.ts) over a tunbridge child's pipes, each IP packet
// framed by a u16 big-endian length (the same framing OpenVPN uses over TCP, RFC-less). Never
// used by the product.
import type { Readable, Writable } from 'node:stream'
import type { Link } from '../../src/tunnel/types.js'

/** Bytes queued in the pipe before send() reports backpressure. */
const SEND_LIMIT = 1 << 20

export class PipeLink implements Link {
  readonly mtu: number
  /** Two bytes in front of each packet for the length prefix, written in place. */
  readonly headroom = 2
  private rx: ((pkt: Uint8Array) => void) | null = null
  private drain: (() => void) | null = null
  private pending: Uint8Array | null = null
  private corked = false
  private wantDrain = false
  private closed = false
  /** Packets sent / received, for diagnostics. */
  sent = 0
  received = 0

  constructor(
    private readonly out: Writable,
    inp: Readable,
    mtu = 1500,
  ) {
    this.mtu = mtu
    inp.on('data', (chunk: Buffer) => this.onChunk(chunk))
    out.on('drain', () => {
      if (this.wantDrain) {
        this.wantDrain = false
        this.drain?.()
      }
    })
    out.on('error', () => {
      this.closed = true
    })
  }

  attach(rx: (pkt: Uint8Array) => void, onDrain: () => void): void {
    this.rx = rx
    this.drain = onDrain
  }

  send(pkt: Uint8Array): boolean {
    if (this.closed || pkt.length === 0 || pkt.length > 0xffff) return true
    let frame: Uint8Array
    if (pkt.byteOffset >= 2) {
      // The contract leaves `headroom` bytes free in front: write the length there, no copy.
      frame = new Uint8Array(pkt.buffer, pkt.byteOffset - 2, pkt.length + 2)
    } else {
      frame = new Uint8Array(pkt.length + 2)
      frame.set(pkt, 2)
    }
    frame[0] = pkt.length >>> 8
    frame[1] = pkt.length & 0xff
    // Batch the packets of one tick into one writev.
    if (!this.corked) {
      this.corked = true
      this.out.cork()
      process.nextTick(() => {
        this.corked = false
        this.out.uncork()
      })
    }
    this.sent++
    this.out.write(frame)
    if (this.out.writableLength >= SEND_LIMIT) {
      this.wantDrain = true
      return false
    }
    return true
  }

  private onChunk(chunk: Uint8Array): void {
    let buf = chunk
    if (this.pending) {
      const merged = new Uint8Array(this.pending.length + chunk.length)
      merged.set(this.pending)
      merged.set(chunk, this.pending.length)
      buf = merged
      this.pending = null
    }
    let off = 0
    while (buf.length - off >= 2) {
      const len = (buf[off] << 8) | buf[off + 1]
      if (buf.length - off < len + 2) break
      this.received++
      if (len > 0) this.rx?.(buf.subarray(off + 2, off + 2 + len))
      off += len + 2
    }
    if (off < buf.length) this.pending = buf.slice(off)
  }
}
