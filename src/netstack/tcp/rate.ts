// Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation-00): every transmitted
// segment records the connection's delivered count, delivered time and first-sent time and whether
// the sender was application-limited; on each ACK the most recently sent segment among the newly
// delivered ones yields a rate sample = data delivered / max(send interval, ACK interval).
import type { SentSeg } from './scoreboard.js'

export interface RateSample {
  /** Bytes delivered over the sample interval (0: no valid sample). */
  delivered: number
  /** Sample interval in ms. */
  interval: number
  /** Bytes per ms (0 when invalid). */
  deliveryRate: number
  /** C.delivered when the sampled segment was sent (P.delivered). */
  priorDelivered: number
  isAppLimited: boolean
  /** RTT of the sampled segment (ms), −1 if ambiguous (a retransmission) or delivered out of order (SACKed). */
  rtt: number
  /** Bytes newly delivered (ACKed or SACKed) by this ACK. */
  newlyDelivered: number
}

export class RateSampler {
  /** C.delivered: total bytes delivered (cumulatively ACKed or SACKed). */
  delivered = 0
  /** C.delivered_time */
  deliveredTime = 0
  /** C.first_sent_time */
  firstSentTime = 0
  /** C.app_limited: delivered count marking the end of an app-limited phase (0 = not limited). */
  appLimited = 0
  /** Smallest in-order RTT sample (ms): the floor for a valid sample interval (see finish()). */
  minRtt = Infinity
  readonly rs: RateSample = { delivered: 0, interval: 0, deliveryRate: 0, priorDelivered: 0, isAppLimited: false, rtt: -1, newlyDelivered: 0 }
  private priorTime = 0
  private sendElapsed = 0
  private ackElapsed = 0
  private best: SentSeg | null = null

  /** A segment is (re)transmitted; pipeBefore = bytes in flight before it. */
  onSend(s: SentSeg, pipeBefore: number, now: number): void {
    if (pipeBefore === 0) {
      this.firstSentTime = now
      this.deliveredTime = now
    }
    s.dlv = this.delivered
    s.dlvTime = this.deliveredTime
    s.firstSent = this.firstSentTime
    s.appLimited = this.appLimited !== 0
  }

  /** Start of ACK processing. */
  begin(): void {
    this.rs.newlyDelivered = 0
    this.best = null
  }

  /** A segment was delivered for the first time (SACKed or cumulatively ACKed). */
  onDelivered(s: SentSeg, now: number): void {
    const len = s.end - s.start
    this.delivered += len
    this.deliveredTime = now
    this.rs.newlyDelivered += len
    const b = this.best
    if (b === null || s.dlv > b.dlv || (s.dlv === b.dlv && s.sentAt > b.sentAt)) {
      this.best = s
      this.rs.priorDelivered = s.dlv
      this.priorTime = s.dlvTime
      this.rs.isAppLimited = s.appLimited
      this.sendElapsed = s.sentAt - s.firstSent
      this.ackElapsed = this.deliveredTime - s.dlvTime
      // RTT only from an in-order delivery: a SACKed segment arrived above a hole, i.e. it may have
      // overtaken the segments sent before it, and its RTT then says nothing about the path the
      // rest of the flight took (netem-style reordering skips the delay queue: ~0.1 ms on a 20 ms
      // path, which would shrink BBR's BDP to nothing). Retransmissions are ambiguous (Karn).
      this.rs.rtt = s.xmits === 1 && !s.sacked ? now - s.sentAt : -1
      this.firstSentTime = s.sentAt
    }
  }

  /** End of ACK processing: complete the sample (invalid when the interval is below minRtt). */
  finish(minRtt: number): RateSample {
    const rs = this.rs
    if (this.appLimited !== 0 && this.delivered > this.appLimited) this.appLimited = 0
    rs.delivered = 0
    rs.deliveryRate = 0
    if (this.best === null) return rs
    if (rs.rtt >= 0 && rs.rtt < this.minRtt) this.minRtt = rs.rtt
    // the interval floor is the smaller of the caller's min RTT and our in-order one, unless the
    // caller's is implausibly below ours: a timestamp RTT from a packet that overtook the others
    // (or ms-granular timestamps) can be ~0, and then every burst of SACKs would be a rate sample
    if (this.minRtt !== Infinity && (minRtt === Infinity || minRtt < this.minRtt / 2)) minRtt = this.minRtt
    rs.interval = Math.max(this.sendElapsed, this.ackElapsed)
    rs.delivered = this.delivered - rs.priorDelivered
    // the draft: intervals shorter than min_rtt are bogus (ACK compression, stretched sends)
    if (rs.interval <= 0 || (minRtt !== Infinity && rs.interval < minRtt)) {
      rs.delivered = 0
      return rs
    }
    void this.priorTime
    rs.deliveryRate = rs.delivered / rs.interval
    return rs
  }

  /** The application ran out of data with room to send: mark the phase app-limited. */
  markAppLimited(pipe: number): void {
    this.appLimited = Math.max(this.delivered + pipe, 1)
  }
}
