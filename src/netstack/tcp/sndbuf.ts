// Send buffer (RFC 9293 §3.8.6 "the sender's queue"): write() copies the application's bytes once
// into large blocks; segments are cut as subarray views of those blocks (a copy happens only for
// the rare segment that straddles two blocks). Positions are 53-bit stream offsets, so the
// mod-2^32 sequence space is only converted at the edges (see snd.ts).

// Blocks start small and double up to BLOCK: a connection that only ever sends a request line
// keeps 16 KiB, not 256 KiB, per connection (with hundreds of flows that is most of the
// process's memory, and freed large blocks fragment the allocator's heap).
const FIRST_BLOCK = 16 * 1024
const BLOCK = 256 * 1024

export class SendBuffer {
  private blocks: Uint8Array[] = []
  private starts: number[] = []
  private fills: number[] = []
  private head = 0
  /** Offset of the first retained byte (everything below was acknowledged). */
  base = 0
  /** Offset after the last written byte. */
  end = 0

  /** Bytes retained (unacknowledged + unsent). */
  get length(): number {
    return this.end - this.base
  }

  write(b: Uint8Array): void {
    let src = 0
    while (src < b.length) {
      const last = this.blocks.length - 1
      if (last < this.head || this.fills[last] === this.blocks[last].length) {
        const grown = Math.min(BLOCK, Math.max(FIRST_BLOCK, 2 * (this.blocks[last]?.length ?? 0)))
        this.blocks.push(new Uint8Array(Math.max(grown, Math.min(b.length - src, 4 * BLOCK))))
        this.starts.push(this.end)
        this.fills.push(0)
        continue
      }
      const blk = this.blocks[last]
      const fill = this.fills[last]
      const n = Math.min(b.length - src, blk.length - fill)
      blk.set(b.subarray(src, src + n), fill)
      this.fills[last] = fill + n
      this.end += n
      src += n
    }
  }

  /** Bytes [off, off+len) — a view when inside one block, else a fresh copy. */
  view(off: number, len: number): Uint8Array {
    let i = this.find(off)
    let rel = off - this.starts[i]
    if (rel + len <= this.fills[i]) return this.blocks[i].subarray(rel, rel + len)
    const out = new Uint8Array(len)
    let o = 0
    while (o < len) {
      const n = Math.min(len - o, this.fills[i] - rel)
      out.set(this.blocks[i].subarray(rel, rel + n), o)
      o += n
      i++
      rel = 0
    }
    return out
  }

  /** Drop bytes below `upto` (acknowledged). */
  release(upto: number): void {
    if (upto <= this.base) return
    this.base = Math.min(upto, this.end)
    const n = this.blocks.length
    while (this.head < n) {
      const full = this.fills[this.head] === this.blocks[this.head].length
      if (this.starts[this.head] + this.fills[this.head] <= this.base && (full || this.head < n - 1)) {
        ;(this.blocks as Array<Uint8Array | undefined>)[this.head] = undefined
        this.head++
      } else break
    }
    if (this.head > 32 && this.head * 2 > n) {
      this.blocks = this.blocks.slice(this.head)
      this.starts = this.starts.slice(this.head)
      this.fills = this.fills.slice(this.head)
      this.head = 0
    }
  }

  private find(off: number): number {
    let lo = this.head
    let hi = this.blocks.length - 1
    while (lo < hi) {
      const m = (lo + hi + 1) >>> 1
      if (this.starts[m] <= off) lo = m
      else hi = m - 1
    }
    return lo
  }
}
