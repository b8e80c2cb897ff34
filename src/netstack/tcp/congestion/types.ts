// Congestion-control interface shared by NewReno (RFC 5681/6582) and CUBIC (RFC 9438).
// Windows are in bytes. Loss recovery itself (which segment to resend) lives in the sender;
// the controller only decides cwnd and ssthresh.

export interface CongestionControl {
  readonly name: string
  cwnd: number
  ssthresh: number
  /** New data cumulatively (or selectively) delivered outside recovery; cwndLimited = the sender was limited by cwnd. */
  onAck(ackedBytes: number, now: number, srttMs: number, cwndLimited: boolean): void
  /** Loss detected by dup ACKs / SACK (entering fast recovery). flight = bytes in flight. */
  onCongestion(now: number, flight: number): void
  /** Retransmission timeout. */
  onRto(now: number, flight: number): void
  /** Fast recovery finished. */
  onRecoveryExit(now: number, flight: number): void
  setMss(mss: number): void
}
