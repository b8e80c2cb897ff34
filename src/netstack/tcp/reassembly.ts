// Out-of-order receive buffer (RFC 9293 §3.10.7.4 "segments beyond RCV.NXT are held"), bounded:
// only data inside the advertised window is accepted (so its bytes are covered by the receive
// buffer) and at most `maxSegments` pieces are held. Ranges are kept merged so the SACK blocks
// of RFC 2018 are read straight off them. Payload views are held, never copied.
import { seqAdd, seqDiff, seqGt, seqLe, seqLt } from './seq.js'

export interface OooRange {
  start: number // seq
  end: number // seq (exclusive)
  chunks: Uint8Array[]
}

export class Reassembly {
  /** Sorted, disjoint, non-adjacent ranges above rcvNxt. */
  readonly ranges: OooRange[] = []
  bytes = 0
  pieces = 0

  constructor(private readonly maxSegments: number) {}

  get empty(): boolean {
    return this.ranges.length === 0
  }

  /**
   * Store [seq, seq+data.length), trimming what is already held. The caller has already trimmed the
   * segment to the window and to start after rcvNxt. Returns false if dropped for the piece cap.
   */
  insert(seq: number, data: Uint8Array): boolean {
    const r = this.ranges
    let start = seq
    const end = seqAdd(seq, data.length)
    // first range whose end >= start
    let i = this.lowerBound(start)
    while (seqLt(start, end)) {
      if (i < r.length && seqLe(r[i].start, start)) {
        // start lies inside range i (or at its end): skip the covered part
        if (seqLt(start, r[i].end)) start = r[i].end
        if (!seqLt(start, end)) break
        // start == r[i].end: extend range i up to the next range or end
        const limit = i + 1 < r.length && seqLt(r[i + 1].start, end) ? r[i + 1].start : end
        if (this.pieces >= this.maxSegments) return false
        r[i].chunks.push(data.subarray(seqDiff(start, seq), seqDiff(limit, seq)))
        this.pieces++
        this.bytes += seqDiff(limit, start)
        r[i].end = limit
        start = limit
        if (i + 1 < r.length && r[i + 1].start === limit) this.mergeNext(i)
        else i++
        continue
      }
      // start is in a gap before range i (or after all ranges)
      const limit = i < r.length && seqLt(r[i].start, end) ? r[i].start : end
      if (this.pieces >= this.maxSegments) return false
      const piece = data.subarray(seqDiff(start, seq), seqDiff(limit, seq))
      this.pieces++
      this.bytes += piece.length
      if (i < r.length && r[i].start === limit) {
        r[i].chunks.unshift(piece)
        r[i].start = start
      } else {
        r.splice(i, 0, { start, end: limit, chunks: [piece] })
      }
      start = limit
    }
    return true
  }

  /**
   * If the first range reaches rcvNxt, remove it and return it trimmed to start at rcvNxt (an
   * in-order segment may have overlapped its head, e.g. a re-segmented retransmission).
   */
  takeAt(rcvNxt: number): OooRange | null {
    const r = this.ranges
    if (r.length === 0 || seqGt(r[0].start, rcvNxt)) return null
    if (seqLe(r[0].end, rcvNxt)) {
      this.dropBelow(rcvNxt)
      return this.takeAt(rcvNxt)
    }
    if (r[0].start !== rcvNxt) {
      let skip = seqDiff(rcvNxt, r[0].start)
      const chunks = r[0].chunks
      let k = 0
      while (skip >= chunks[k].length) {
        skip -= chunks[k].length
        k++
      }
      const kept = chunks.slice(k)
      kept[0] = kept[0].subarray(skip)
      this.bytes -= seqDiff(rcvNxt, r[0].start)
      this.pieces -= k
      r[0].chunks = kept
      r[0].start = rcvNxt
    }
    const first = r.shift()!
    this.bytes -= seqDiff(first.end, first.start)
    this.pieces -= first.chunks.length
    return first
  }

  /** Drop everything at or below rcvNxt (cannot happen with correct trimming; defensive). */
  dropBelow(rcvNxt: number): void {
    const r = this.ranges
    while (r.length && seqLe(r[0].end, rcvNxt)) {
      const x = r.shift()!
      this.bytes -= seqDiff(x.end, x.start)
      this.pieces -= x.chunks.length
    }
  }

  /** Range containing seq, or null. */
  find(seq: number): OooRange | null {
    const i = this.lowerBound(seq)
    const r = this.ranges
    if (i < r.length && seqLe(r[i].start, seq) && seqLt(seq, r[i].end)) return r[i]
    return null
  }

  clear(): void {
    this.ranges.length = 0
    this.bytes = 0
    this.pieces = 0
  }

  /** Index of the first range with end >= seq. */
  private lowerBound(seq: number): number {
    const r = this.ranges
    let lo = 0
    let hi = r.length
    while (lo < hi) {
      const m = (lo + hi) >>> 1
      if (seqLt(r[m].end, seq)) lo = m + 1
      else hi = m
    }
    return lo
  }

  private mergeNext(i: number): void {
    const r = this.ranges
    const a = r[i]
    const b = r[i + 1]
    for (const c of b.chunks) a.chunks.push(c)
    a.end = b.end
    r.splice(i + 1, 1)
  }
}
