// HyStart++ slow-start exit (RFC 9406 §4.2): per round trip, the minimum of the first
// N_RTT_SAMPLE RTT samples is compared with the previous round's; an increase of at least
// clamp(lastRoundMinRTT/8, 4 ms, 16 ms) means a queue is building, so slow start ends before it
// overshoots the bottleneck buffer. Simplification: no Conservative Slow Start phase — on exit
// ssthresh is set to cwnd at once (as the original HyStart did) and congestion avoidance follows.
const MIN_RTT_THRESH = 4
const MAX_RTT_THRESH = 16
const MIN_RTT_DIVISOR = 8
const N_RTT_SAMPLE = 8

export class HyStart {
  private windowEnd = -1
  private lastRoundMinRtt = Infinity
  private currentRoundMinRtt = Infinity
  private rttSampleCount = 0
  /** Slow-start exits it caused (stats / tests). */
  exits = 0

  /**
   * One ACK during slow start. una/nxt are stream offsets after the ACK; rtt < 0 = no sample.
   * Returns true when slow start should end now.
   */
  onAck(una: number, nxt: number, rtt: number): boolean {
    if (this.windowEnd < 0 || una >= this.windowEnd) {
      // a new round starts (§4.2: windowEnd = SND.NXT)
      this.lastRoundMinRtt = this.currentRoundMinRtt
      this.currentRoundMinRtt = Infinity
      this.rttSampleCount = 0
      this.windowEnd = nxt
    }
    if (rtt < 0) return false
    if (rtt < this.currentRoundMinRtt) this.currentRoundMinRtt = rtt
    this.rttSampleCount++
    if (this.rttSampleCount < N_RTT_SAMPLE || this.lastRoundMinRtt === Infinity || this.currentRoundMinRtt === Infinity) return false
    const thresh = Math.max(MIN_RTT_THRESH, Math.min(MAX_RTT_THRESH, this.lastRoundMinRtt / MIN_RTT_DIVISOR))
    if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
      this.exits++
      this.windowEnd = -1
      return true
    }
    return false
  }
}
