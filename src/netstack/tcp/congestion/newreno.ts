// NewReno congestion control: slow start / congestion avoidance (RFC 5681 §3.1, byte counting
// per RFC 3465) and the window adjustments of RFC 6582 fast recovery.
import type { CongestionControl } from './types.js'

export class NewReno implements CongestionControl {
  readonly name: string = 'newreno'
  cwnd: number
  ssthresh = Infinity
  protected mss: number
  private caAcc = 0

  constructor(mss: number, initialCwndSegments: number) {
    this.mss = mss
    this.cwnd = initialCwndSegments * mss
  }

  setMss(mss: number): void {
    if (mss === this.mss) return
    this.cwnd = Math.max(2 * mss, Math.round((this.cwnd / this.mss) * mss))
    this.mss = mss
  }

  onAck(acked: number, _now: number, _srtt: number, cwndLimited: boolean): void {
    if (!cwndLimited) return
    if (this.cwnd < this.ssthresh) {
      // byte counting (RFC 3465) without the L = 2·SMSS per-ACK cap: the receiver coalesces ACKs
      // per burst (one ACK may cover many segments, as with Linux GRO), so the cap would turn slow
      // start linear; growth stops at ssthresh (as Linux's tcp_slow_start)
      this.cwnd += Math.min(acked, this.ssthresh - this.cwnd)
      return
    }
    this.caAcc += acked
    if (this.caAcc >= this.cwnd) {
      this.caAcc -= this.cwnd
      this.cwnd += this.mss
    }
  }

  onCongestion(_now: number, flight: number): void {
    // RFC 5681 eq. (4)
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss)
    this.cwnd = this.ssthresh
    this.caAcc = 0
  }

  onRto(_now: number, flight: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss)
    this.cwnd = this.mss
    this.caAcc = 0
  }

  onRecoveryExit(_now: number, flight: number): void {
    // RFC 6582 §3.2 step 3 option (2)
    this.cwnd = Math.max(this.mss, Math.min(this.ssthresh, flight + this.mss))
  }
}
