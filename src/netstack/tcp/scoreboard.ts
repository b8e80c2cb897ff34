// Send-side retransmission queue and SACK scoreboard (RFC 6675 §2–4): one record per transmitted
// segment with SACKed / lost / retransmitted marks, byte counters for the "pipe" estimate, IsLost()
// via DupThresh·SMSS of SACKed data above a hole, NextSeg() rule (1) via a lost-segment cursor,
// and detection of lost retransmissions by send time (the RACK idea of RFC 8985 §6.2, applied to
// retransmissions only). Offsets are stream offsets (see sndbuf.ts), not sequence numbers.

export interface SentSeg {
  start: number
  /** Exclusive; includes the FIN's offset when fin. */
  end: number
  fin: boolean
  sentAt: number
  xmits: number
  sacked: boolean
  lost: boolean
  retrans: boolean
  acked: boolean
  /** Delivery-rate state at the last transmission (rate.ts): C.delivered, C.delivered_time, C.first_sent_time, app-limited. */
  dlv: number
  dlvTime: number
  firstSent: number
  appLimited: boolean
}

export const DUP_THRESH = 3

/**
 * A delivered retransmitted segment tells us its send time only if the delivery came at least
 * min_RTT after the retransmission; sooner, it was probably the original (RFC 8985 §6.2 step 2).
 */
function unambiguous(s: SentSeg, now: number, minRtt: number): boolean {
  return s.xmits === 1 || now - s.sentAt >= minRtt
}

export class Scoreboard {
  segs: SentSeg[] = []
  head = 0
  sackedBytes = 0
  lostBytes = 0
  retransBytes = 0
  /** Segments below lossHint are all SACKed or marked lost. */
  private lossHint = 0
  private sackedBelowHint = 0
  /** No lost, unretransmitted, unSACKed segment lies below rtxHint. */
  private rtxHint = 0
  /** Retransmitted segments still outstanding (for lost-retransmission detection). */
  private rtxList: SentSeg[] = []
  /** Highest SACKed offset (exclusive end), −1 if none. */
  highSacked = -1
  /**
   * Largest reordering seen, in bytes: an original transmission delivered after data above it was
   * SACKed. Raises the duplicate threshold (as Linux's adaptive tp->reordering does).
   */
  reorderBytes = 0
  /**
   * Largest reordering seen, in time: how long before the newest already-delivered segment an
   * original transmission was sent that arrived after it. The RACK reordering window is kept at
   * least this wide (see Sender.onAck), so a path whose reordered packets overtake by half an RTT
   * (netem's reorder skips the delay queue) does not have every overtaken segment marked lost.
   */
  reorderTime = 0
  /** RACK.xmit_ts as of the previous ACK: send time of the newest segment delivered so far (−1: none). */
  rackTs = -1
  /** Called once per segment when it is first delivered (SACKed, or cumulatively ACKed unSACKed). */
  onDeliver: ((s: SentSeg, now: number) => void) | null = null

  get count(): number {
    return this.segs.length - this.head
  }

  first(): SentSeg | undefined {
    return this.segs[this.head]
  }

  last(): SentSeg | undefined {
    return this.head < this.segs.length ? this.segs[this.segs.length - 1] : undefined
  }

  /** Bytes to count against the pipe (RFC 6675 §4 SetPipe, computed incrementally). */
  pipe(outstanding: number): number {
    return outstanding - this.sackedBytes - this.lostBytes + this.retransBytes
  }

  get lostPending(): boolean {
    return this.lostBytes > this.retransBytes
  }

  push(seg: SentSeg): void {
    this.segs.push(seg)
  }

  private account(s: SentSeg, sign: number): void {
    const len = s.end - s.start
    if (s.sacked) this.sackedBytes += sign * len
    else {
      if (s.lost) this.lostBytes += sign * len
      if (s.retrans) this.retransBytes += sign * len
    }
  }

  /** Cumulative ACK up to offset `ack`. Returns the newest send time among fully acked segments (-1 if none) and whether any acked one was retransmitted. */
  ackTo(ack: number, out: { newestSent: number; anyRetrans: boolean; firstSentAt: number }, now = 0, minRtt = 0): void {
    out.newestSent = -1
    out.anyRetrans = false
    out.firstSentAt = -1
    const segs = this.segs
    const first = this.head
    while (this.head < segs.length) {
      const s = segs[this.head]
      if (s.end <= ack) {
        this.account(s, -1)
        if (this.head < this.lossHint && s.sacked) this.sackedBelowHint -= s.end - s.start
        if (s.xmits > 1) out.anyRetrans = true
        else if (!s.sacked) {
          if (this.highSacked > s.end && this.highSacked - s.end > this.reorderBytes) this.reorderBytes = this.highSacked - s.end
          // time extent only from the segment at the old SND.UNA: its arrival is what moved the
          // cumulative ACK now. Segments above it may have arrived long ago and been SACKed in
          // blocks the receiver had no room to report (3–4 per ACK).
          if (this.head === first && this.rackTs - s.sentAt > this.reorderTime) this.reorderTime = this.rackTs - s.sentAt
        }
        if (!s.sacked && s.sentAt > out.newestSent && unambiguous(s, now, minRtt)) out.newestSent = s.sentAt
        if (out.firstSentAt < 0) out.firstSentAt = s.sentAt
        if (!s.sacked && this.onDeliver) this.onDeliver(s, now)
        s.acked = true
        this.head++
      } else {
        if (s.start < ack) {
          // partial ACK of a segment (peer re-segmented, or MSS shrank): trim
          this.account(s, -1)
          if (this.head < this.lossHint && s.sacked) this.sackedBelowHint -= ack - s.start
          s.start = ack
          this.account(s, 1)
        }
        break
      }
    }
    if (this.lossHint < this.head) {
      this.lossHint = this.head
      this.sackedBelowHint = 0
    }
    if (this.rtxHint < this.head) this.rtxHint = this.head
    if (this.head === segs.length) {
      this.segs = []
      this.head = this.lossHint = this.rtxHint = 0
      this.sackedBelowHint = 0
      this.highSacked = -1
      this.rtxList.length = 0
    } else if (this.head > 4096 && this.head * 2 > segs.length) {
      const h = this.head
      this.segs = segs.slice(h)
      this.head = 0
      this.lossHint -= h
      this.rtxHint -= h
    }
  }

  /** Index of the first segment with end > off. */
  private lowerBound(off: number): number {
    let lo = this.head
    let hi = this.segs.length
    while (lo < hi) {
      const m = (lo + hi) >>> 1
      if (this.segs[m].end <= off) lo = m + 1
      else hi = m
    }
    return lo
  }

  /**
   * Mark segments fully inside [l, r) SACKed. Returns newest send time among newly SACKed (-1 if
   * none). `latest`: this is the ACK's first SACK block, the one holding the segment whose arrival
   * triggered the ACK (RFC 2018 §4), so it may measure reordering in time (later blocks repeat old
   * news, possibly about segments that arrived long ago).
   */
  markSacked(l: number, r: number, now = 0, minRtt = 0, latest = false): number {
    let newest = -1
    const segs = this.segs
    for (let i = this.lowerBound(l); i < segs.length && segs[i].start < r; i++) {
      const s = segs[i]
      if (s.sacked || s.start < l || s.end > r) continue
      if (s.xmits === 1) {
        if (this.highSacked > s.end && this.highSacked - s.end > this.reorderBytes) this.reorderBytes = this.highSacked - s.end
        if (latest && this.rackTs - s.sentAt > this.reorderTime) this.reorderTime = this.rackTs - s.sentAt
      }
      this.account(s, -1)
      s.sacked = true
      this.account(s, 1)
      if (i < this.lossHint) this.sackedBelowHint += s.end - s.start
      if (s.sentAt > newest && unambiguous(s, now, minRtt)) newest = s.sentAt
      if (s.end > this.highSacked) this.highSacked = s.end
      if (this.onDeliver) this.onDeliver(s, now)
    }
    return newest
  }

  /**
   * Loss marking from the loss cursor upward: RFC 6675 IsLost() (more than (DupThresh−1)·SMSS SACKed
   * above), or time-based as in RACK (RFC 8985 §6.2): sent more than reoWnd before the newest
   * delivered segment (deliveredSentAt < 0 disables). Returns true if something new was marked.
   */
  markLosses(mss: number, deliveredSentAt = -1, reoWnd = 0): boolean {
    const segs = this.segs
    let cum = this.sackedBelowHint
    let i = this.lossHint
    let marked = false
    // With RACK on and reordering seen, loss is judged by time alone (RFC 8985 §6: RACK replaces
    // DupThresh): a byte threshold, even adapted to the reordering seen (Linux caps it at 300
    // segments), marks overtaken segments lost as soon as the window holds more than that.
    const byCount = deliveredSentAt < 0 || this.reorderBytes === 0
    const threshold = Math.max((DUP_THRESH - 1) * mss, Math.min(this.reorderBytes, 300 * mss))
    for (; i < segs.length; i++) {
      const s = segs[i]
      if (s.sacked) {
        cum += s.end - s.start
        continue
      }
      if (s.lost) continue
      if ((byCount && this.sackedBytes - cum > threshold) || (s.xmits === 1 && s.sentAt + reoWnd < deliveredSentAt)) {
        this.setLost(s, i)
        marked = true
      } else break
    }
    this.lossHint = i
    this.sackedBelowHint = cum
    return marked
  }

  private setLost(s: SentSeg, i: number): void {
    if (s.lost || s.sacked) return
    this.account(s, -1)
    s.lost = true
    this.account(s, 1)
    if (i < this.rtxHint) this.rtxHint = i
  }

  /** Mark the first outstanding segment lost (dup-ACK threshold without SACK; NewReno partial ACK). */
  markHeadLost(): boolean {
    const s = this.segs[this.head]
    if (!s || s.lost || s.sacked) return false
    this.setLost(s, this.head)
    return true
  }

  /** RTO: everything not SACKed is lost, no retransmission is in flight any more (RFC 6675 §5.1). */
  markAllLost(): void {
    const segs = this.segs
    for (let i = this.head; i < segs.length; i++) {
      const s = segs[i]
      if (s.sacked) continue
      this.account(s, -1)
      s.lost = true
      s.retrans = false
      this.account(s, 1)
    }
    this.rtxList.length = 0
    this.rtxHint = this.head
    this.lossHint = segs.length
    this.sackedBelowHint = this.sackedBytes
  }

  /** RFC 6675 NextSeg() rule (1): first lost segment not yet retransmitted, or undefined. */
  nextLost(): { seg: SentSeg; index: number } | undefined {
    if (!this.lostPending) return undefined
    const segs = this.segs
    for (let i = this.rtxHint; i < segs.length; i++) {
      const s = segs[i]
      if (s.lost && !s.retrans && !s.sacked) {
        this.rtxHint = i
        return { seg: s, index: i }
      }
    }
    this.rtxHint = segs.length
    return undefined
  }

  /** Spurious loss event: forget every lost / retransmitted mark (RFC 4015 response). */
  undoLost(): void {
    const segs = this.segs
    for (let i = this.head; i < segs.length; i++) {
      const s = segs[i]
      if (s.sacked || (!s.lost && !s.retrans)) continue
      this.account(s, -1)
      s.lost = false
      s.retrans = false
      this.account(s, 1)
    }
    this.rtxList.length = 0
    this.lossHint = this.head
    this.sackedBelowHint = 0
    this.rtxHint = this.head
  }

  /** Tail loss probe (RFC 8985 §7.3): the last segment is sent again without being marked lost. */
  probeLast(now: number): SentSeg | undefined {
    const s = this.last()
    if (!s || s.sacked) return undefined
    s.xmits++
    s.sentAt = now
    return s
  }

  /** Split segs[index] so its first part is at most `len` bytes (PMTU shrink). */
  split(index: number, len: number): void {
    const s = this.segs[index]
    const cut = s.start + len
    if (cut >= s.end - (s.fin ? 1 : 0)) return
    const tail: SentSeg = { ...s, start: cut }
    s.end = cut
    s.fin = false
    this.segs.splice(index + 1, 0, tail)
    if (this.lossHint > index) this.lossHint++
    if (this.rtxHint > index) this.rtxHint++
  }

  /** Record a retransmission of a lost segment. */
  retransmitted(s: SentSeg, now: number): void {
    this.account(s, -1)
    s.retrans = true
    s.xmits++
    s.sentAt = now
    this.account(s, 1)
    this.rtxList.push(s)
  }

  /**
   * Lost retransmissions: a retransmission sent more than reoWnd before a segment that has since
   * been delivered is presumed lost again (RFC 8985 §6.2 step 5, restricted to retransmissions).
   */
  detectLostRetransmits(deliveredSentAt: number, reoWnd: number): boolean {
    if (this.rtxList.length === 0 || deliveredSentAt < 0) return false
    let marked = false
    let w = 0
    const list = this.rtxList
    for (let k = 0; k < list.length; k++) {
      const s = list[k]
      if (s.acked || s.sacked || !s.retrans) continue
      if (s.sentAt + reoWnd < deliveredSentAt) {
        this.account(s, -1)
        s.retrans = false
        this.account(s, 1)
        const idx = this.lowerBound(s.start)
        if (idx < this.rtxHint) this.rtxHint = idx
        marked = true
        continue
      }
      list[w++] = s
    }
    list.length = w
    return marked
  }

  /** PMTU shrink: segments longer than mss were dropped on the path; mark them lost (no cwnd reduction). */
  markLostLargerThan(mss: number): boolean {
    let any = false
    const segs = this.segs
    for (let i = this.head; i < segs.length; i++) {
      const s = segs[i]
      if (s.sacked || s.end - s.start - (s.fin ? 1 : 0) <= mss) continue
      this.account(s, -1)
      s.lost = true
      s.retrans = false
      this.account(s, 1)
      if (i < this.rtxHint) this.rtxHint = i
      any = true
    }
    return any
  }

  clear(): void {
    this.segs = []
    this.head = this.lossHint = this.rtxHint = 0
    this.sackedBytes = this.lostBytes = this.retransBytes = 0
    this.sackedBelowHint = 0
    this.highSacked = -1
    this.rtxList.length = 0
  }
}
