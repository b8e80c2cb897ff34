// Retransmission timeout computation (RFC 6298 §2–5): SRTT/RTTVAR smoothing, Karn's rule is
// applied by the caller (no samples from retransmitted segments unless timestamps disambiguate,
// RFC 7323 §4), exponential backoff bounded by maxRto.

export class RttEstimator {
  srtt = 0
  rttvar = 0
  /** Smallest RTT seen (ms), used for the reordering window. */
  minRtt = Infinity
  private hasSample = false
  private baseRto: number
  private backoffShift = 0

  constructor(
    private readonly minRto: number,
    private readonly maxRto: number,
    initialRto: number,
  ) {
    this.baseRto = initialRto
  }

  get sampled(): boolean {
    return this.hasSample
  }

  /** Current RTO including backoff (ms). */
  get rto(): number {
    return Math.min(this.maxRto, this.baseRto * 2 ** this.backoffShift)
  }

  sample(r: number): void {
    if (r < 0) return
    if (r < this.minRtt) this.minRtt = r
    if (!this.hasSample) {
      this.srtt = r
      this.rttvar = r / 2
      this.hasSample = true
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r)
      this.srtt = 0.875 * this.srtt + 0.125 * r
    }
    // G (clock granularity) = 1 ms
    this.baseRto = Math.min(this.maxRto, Math.max(this.minRto, this.srtt + Math.max(1, 4 * this.rttvar)))
  }

  /** RFC 6298 §5.5: double the RTO after a timeout. */
  backoff(): void {
    if (this.rto < this.maxRto) this.backoffShift++
  }

  /** A new RTT sample or newly acknowledged data ends the backoff (§5.7 / Linux behaviour). */
  resetBackoff(): void {
    this.backoffShift = 0
  }

  get backoffs(): number {
    return this.backoffShift
  }
}
