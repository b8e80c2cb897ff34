// Receiver state (RFC 9293 §3.3.1 RCV.NXT/WND, §3.10.7.4 seventh check "process the segment
// text"): in-order data is queued as zero-copy views until the application takes it, out-of-order
// data goes to the reassembly buffer, the advertised window never shrinks (§3.8.6.2.2 receiver SWS
// avoidance), delayed ACK every second full-sized segment (RFC 1122 §4.2.3.2, RFC 5681 §4.2),
// immediate ACK for out-of-order data and gap fills (RFC 5681 §4.2), and receive-buffer
// autotuning from the throughput measured per RTT (dynamic right-sizing, as Linux does), bounded
// by a stack-wide budget shared by all connections (RxShare, Linux's tcp_mem pressure in spirit).
import { Reassembly } from './reassembly.js'
import { SackGenerator } from './sack.js'
import { seqAdd, seqDiff, seqGt, seqLt } from './seq.js'

export const RxResult = {
  /** Nothing acceptable (duplicate / outside the window): ACK immediately. */
  DUP: 0,
  IN_ORDER: 1,
  OUT_OF_ORDER: 2,
} as const
export type RxResult = (typeof RxResult)[keyof typeof RxResult]

/** A connection counts as receiving for this long after its last data. */
const IDLE_AFTER_MS = 1000

/**
 * Receive memory shared by the connections of one stack. While more than one connection is
 * receiving (data within the last second), each one's window is capped at budget / receiving,
 * never below `floor`. Without it, hundreds of flows each opening a 256 KiB window let the peers
 * put far more in flight than the tunnel's UDP socket buffer holds: the excess is dropped there,
 * and the senders see heavy loss instead of flow control. A flow receiving alone keeps its full
 * autotuned window, and idle connections (a proxy's keep-alive pool) take no share.
 */
export class RxShare {
  private readonly receiving = new Set<Receiver>()
  private sweptAt = 0

  constructor(
    readonly clock: { now(): number },
    readonly budget: number,
    readonly floor: number = 4 * 1024,
  ) {}

  /** Receivers that got data within the last second. */
  get active(): number {
    this.sweep(this.clock.now())
    return this.receiving.size
  }

  /** r received data at `now`. */
  note(r: Receiver, now: number): void {
    r.lastDataAt = now
    this.receiving.add(r)
  }

  forget(r: Receiver): void {
    this.receiving.delete(r)
  }

  perConn(): number {
    const n = this.active
    if (n <= 1) return Infinity
    return Math.max(this.floor, Math.floor(this.budget / n))
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < 250) return
    this.sweptAt = now
    for (const r of this.receiving) if (now - r.lastDataAt > IDLE_AFTER_MS) this.receiving.delete(r)
  }
}

export class Receiver {
  irs = 0
  nxt = 0
  /** Right edge last advertised. */
  advRight = 0
  /** Our window-scale shift (0 when not negotiated). */
  scale = 0
  buf: number
  readonly bufMax: number
  readonly ooo: Reassembly
  readonly sack = new SackGenerator()
  private queue: Uint8Array[] = []
  private qHead = 0
  queued = 0
  /** Duplicate range to report as the first SACK block (RFC 2883), or null. */
  dsack: [number, number] | null = null
  /** Sequence number of the peer's FIN once seen (−1: none). */
  private finSeq = -1
  finReceived = false
  /** Largest segment payload seen (receiver's MSS estimate, RFC 1122 §4.2.3.2). */
  rcvMss = 536
  /** Bytes received in order since the last ACK we sent. */
  unacked = 0
  ackNow = false
  /**
   * The owed ACK must not wait for the end of the receive burst: it reports a hole (out-of-order
   * data), a filled hole or a duplicate (D-SACK). RFC 5681 §4.2 asks for an immediate ACK in
   * each case, and a sender's loss detection (RACK, SACK scoreboard) relies on seeing each one:
   * with one ACK per burst during recovery, a Linux BBR sender on a 50 ms + 1 % loss path
   * retransmitted ~5 % of segments that had already arrived and ran at 0.64× of a Linux receiver
   * (0.96× with these immediate). In-order data without holes is still acknowledged once per burst.
   */
  ackImmediate = false
  ackPending = false
  /** Drops counted by reason (the endpoint forwards them to host counters). */
  drops = 0
  // autotuning
  private rttMs = 0
  private winSampleEnd = -1
  private winSampleAt = 0
  private spaceAt = -1
  private spaceConsumed = 0
  private space = 0
  consumed = 0
  /** Stack-wide budget this receiver draws from (null: only its own buffer limits it). */
  share: RxShare | null = null
  /** When data last arrived (RxShare's notion of "receiving"). */
  lastDataAt = 0

  constructor(bufInitial: number, bufMax: number, maxOooSegments: number) {
    this.buf = bufInitial
    this.bufMax = bufMax
    this.ooo = new Reassembly(maxOooSegments)
  }

  init(irs: number): void {
    this.irs = irs
    this.nxt = seqAdd(irs, 1)
    this.advRight = this.nxt
  }

  /** Stop counting against the shared budget (TIME-WAIT or CLOSED). */
  detach(): void {
    this.share?.forget(this)
  }

  /** Buffer space this connection may offer now: its own buffer, capped by its share. */
  get cap(): number {
    return this.share ? Math.min(this.buf, this.share.perConn()) : this.buf
  }

  /** Advertised window right now (bytes beyond RCV.NXT the peer may send). */
  get wnd(): number {
    return Math.max(0, seqDiff(this.advRight, this.nxt))
  }

  /** Where in-window data must end: the advertised edge, or further if the buffer has room. */
  private limit(): number {
    const room = this.buf - this.queued
    const r = seqAdd(this.nxt, Math.max(0, room))
    return seqGt(r, this.advRight) ? r : this.advRight
  }

  /**
   * Accept payload (and FIN) of an acceptable segment. Trims to [RCV.NXT, window edge).
   */
  onSegment(seq: number, data: Uint8Array, fin: boolean, now: number): RxResult {
    let len = data.length
    if (seqLt(seq, this.nxt)) {
      const d = seqDiff(this.nxt, seq)
      // D-SACK (RFC 2883 §4.1): report the duplicate part in the next ACK
      if (len > 0) this.dsack = [seq, d >= len ? seqAdd(seq, len) : this.nxt]
      if (d > len || (d === len && !fin)) return RxResult.DUP
      if (d === len && fin && this.finReceived) return RxResult.DUP
      data = data.subarray(d)
      len -= d
      seq = this.nxt
    }
    const lim = this.limit()
    if (seqGt(seqAdd(seq, len), lim)) {
      const keep = Math.max(0, seqDiff(lim, seq))
      if (keep < len) {
        data = data.subarray(0, keep)
        len = keep
        fin = false
        this.drops++
      }
    }
    if (len > this.rcvMss) this.rcvMss = len
    if (len > 0 && this.share) this.share.note(this, now)
    if (fin) this.finSeq = seqAdd(seq, len)
    if (seq !== this.nxt) {
      if (len === 0) return fin ? RxResult.OUT_OF_ORDER : RxResult.DUP
      if (!this.ooo.insert(seq, data)) this.drops++
      this.sack.noteArrival(seq)
      this.ackNow = true
      this.ackImmediate = true
      return RxResult.OUT_OF_ORDER
    }
    const hadOoo = !this.ooo.empty
    if (len > 0) {
      this.push(data)
      this.nxt = seqAdd(this.nxt, len)
      this.unacked += len
    }
    if (hadOoo) {
      for (;;) {
        const r = this.ooo.takeAt(this.nxt)
        if (!r) break
        for (const c of r.chunks) this.push(c)
        this.unacked += seqDiff(r.end, this.nxt)
        this.nxt = r.end
      }
      this.ackNow = true // gap filled (RFC 5681 §4.2)
      this.ackImmediate = true
    }
    if (this.finSeq >= 0 && !this.finReceived && this.finSeq === this.nxt) {
      this.nxt = seqAdd(this.nxt, 1)
      this.finReceived = true
      this.ooo.clear()
      this.ackNow = true
    }
    // more than one full-sized segment unacknowledged → ACK now (every second segment)
    if (this.unacked > this.rcvMss) this.ackNow = true
    else if (len > 0) this.ackPending = true
    this.measureWindowRtt(now)
    return RxResult.IN_ORDER
  }

  private push(c: Uint8Array): void {
    this.queue.push(c)
    this.queued += c.length
  }

  get hasData(): boolean {
    return this.queued > 0
  }

  /** Next queued chunk for the application (zero-copy), or undefined. */
  shift(): Uint8Array | undefined {
    if (this.qHead >= this.queue.length) return undefined
    const c = this.queue[this.qHead]
    ;(this.queue as Array<Uint8Array | undefined>)[this.qHead] = undefined
    this.qHead++
    if (this.qHead === this.queue.length) {
      this.queue.length = 0
      this.qHead = 0
    } else if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.qHead)
      this.qHead = 0
    }
    this.queued -= c.length
    this.consumed += c.length
    return c
  }

  /**
   * Raw 16-bit window field for the next segment (never shrinking the right edge, receiver SWS
   * avoidance), updating advRight.
   */
  windowField(mss: number): number {
    const cap = this.cap
    const free = Math.max(0, cap - this.queued)
    let right = seqAdd(this.nxt, free)
    const cur = seqDiff(this.advRight, this.nxt)
    if (seqLt(right, this.advRight)) right = this.advRight
    else if (seqDiff(right, this.advRight) < Math.min(cap >>> 1, mss)) right = this.advRight // receiver SWS avoidance
    let win = Math.max(0, seqDiff(right, this.nxt))
    let field = Math.floor(win / 2 ** this.scale)
    if (field > 65535) field = 65535
    if (field * 2 ** this.scale < cur && field < 65535) field++
    win = field * 2 ** this.scale
    const edge = seqAdd(this.nxt, win)
    if (seqGt(edge, this.advRight)) this.advRight = edge
    return field
  }

  /** Window field for SYN / SYN-ACK (unscaled, RFC 7323 §2.2). */
  synWindow(): number {
    const w = Math.min(65535, this.cap)
    this.advRight = seqAdd(this.nxt, w)
    return w
  }

  /** The window we could advertise now versus what the peer knows: worth a window update? */
  wantsWindowUpdate(mss: number): boolean {
    const cur = this.wnd
    const potential = Math.min(this.cap - this.queued, 65535 * 2 ** this.scale)
    return potential - cur >= Math.max(mss, 1) && potential >= 2 * cur
  }

  ackSent(): void {
    this.ackImmediate = false
    this.dsack = null
    this.unacked = 0
    this.ackNow = false
    this.ackPending = false
  }

  /** RTT sample for autotuning (from timestamps or the sender's estimate). */
  noteRtt(ms: number): void {
    if (ms <= 0) ms = 1
    // quick to follow a smaller sample, smoothed upward (a min-leaning estimate, as Linux)
    this.rttMs = this.rttMs === 0 || ms < this.rttMs ? ms : (7 * this.rttMs + ms) / 8
  }

  /** Window-based RTT measurement when timestamps are off (time to receive one window). */
  private measureWindowRtt(now: number): void {
    if (this.winSampleEnd === -1) {
      this.winSampleEnd = this.advRight
      this.winSampleAt = now
      return
    }
    if (!seqLt(this.nxt, this.winSampleEnd)) {
      const dt = now - this.winSampleAt
      if (dt > 0 && this.rttMs === 0) this.noteRtt(dt)
      this.winSampleEnd = this.advRight
      this.winSampleAt = now
    }
  }

  /**
   * Dynamic right-sizing: once per RTT compare what the application consumed with the buffer,
   * grow toward 2× the per-RTT throughput (plus slack for reordering) up to bufMax.
   */
  autotune(now: number, mss: number): void {
    if (this.buf >= this.bufMax || this.rttMs === 0) return
    if (this.spaceAt < 0) {
      this.spaceAt = now
      this.spaceConsumed = this.consumed
      return
    }
    if (now - this.spaceAt < this.rttMs) return
    const copied = this.consumed - this.spaceConsumed
    this.spaceAt = now
    this.spaceConsumed = this.consumed
    if (copied <= this.space) return
    let rcvwin = 2 * copied + 16 * mss
    if (this.space > 0) rcvwin += (2 * rcvwin * (copied - this.space)) / this.space
    this.space = copied
    if (rcvwin > this.buf) this.buf = Math.min(this.bufMax, Math.ceil(rcvwin))
  }
}
