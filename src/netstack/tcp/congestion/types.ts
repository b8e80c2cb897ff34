// Congestion-control interface shared by NewReno (RFC 5681/6582), CUBIC (RFC 9438) and BBR
// (draft-cardwell-iccrg-bbr-congestion-control). Windows are in bytes. Loss recovery itself (which
// segment to resend) lives in the sender; the controller only decides cwnd, ssthresh and, for
// model-based controllers, the pacing rate.
import type { RateSample } from '../rate.js'

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
  /** Model-based controllers (BBR) size cwnd themselves during recovery: the sender skips PRR. */
  readonly modelBased?: boolean
  /** Pacing rate in bytes per ms; 0 / undefined = no pacing. */
  readonly pacingRate?: number
  /**
   * Every ACK, after loss detection: the delivery-rate sample, bytes in flight (pipe), total bytes
   * delivered so far (C.delivered), and whether the sender is in loss recovery.
   */
  onRateSample?(rs: RateSample, inflight: number, delivered: number, now: number, inRecovery: boolean): void
  /** The RTO loss state ended (all data outstanding at the timeout acknowledged). */
  onLossExit?(now: number): void
}
