// BBR congestion control, version 1 (draft-cardwell-iccrg-bbr-congestion-control-00/-02): a model
// of the path — bottleneck bandwidth BtlBw (windowed max of delivery-rate samples over 10 round
// trips) and round-trip propagation time RTprop (windowed min over 10 s) — drives a pacing rate
// (pacing_gain × BtlBw) and a window (cwnd_gain × BDP + quantum). States: Startup (gain 2/ln 2),
// Drain, ProbeBW (gain cycle 5/4, 3/4, 1 ×6), ProbeRTT (cwnd 4 segments for 200 ms every 10 s).
// Losses do not reduce the model; during recovery the window follows packet conservation for one
// round (draft §4.2.3.4 "Modulating cwnd in loss recovery") and is restored afterwards.
// Rate samples come from rate.ts (draft-cheng-iccrg-delivery-rate-estimation).
// ACK aggregation (draft-cardwell-iccrg-bbr-congestion-control-02 §4.6.4.3, "extra_acked"): a
// user-space stack takes ACKs in batches, one per event-loop turn, so the data acknowledged in a
// burst exceeds what BtlBw × elapsed predicts; the largest such excess over the last 10 rounds is
// added to the window (capped at 100 ms of BtlBw and at cwnd) so the sender keeps sending between
// batches instead of idling on a window sized for a perfectly smooth ACK clock.
import type { CongestionControl } from './types.js'
import type { RateSample } from '../rate.js'

export const BbrMode = { STARTUP: 0, DRAIN: 1, PROBE_BW: 2, PROBE_RTT: 3 } as const
export type BbrMode = (typeof BbrMode)[keyof typeof BbrMode]

const HIGH_GAIN = 2 / Math.LN2
const CYCLE = [5 / 4, 3 / 4, 1, 1, 1, 1, 1, 1]
const BTLBW_FILTER_ROUNDS = 10
const RTPROP_FILTER_MS = 10_000
const PROBE_RTT_MS = 200
const MIN_PIPE_SEGMENTS = 4
const FULL_BW_THRESH = 1.25
const FULL_BW_ROUNDS = 3
/** Rounds per slot of the two-slot extra_acked max filter (10 rounds in all). */
const EXTRA_ACKED_WIN_ROUNDS = 5
/** Cap on the aggregation allowance: this many ms at BtlBw. */
const EXTRA_ACKED_MAX_MS = 100

export class Bbr implements CongestionControl {
  readonly name = 'bbr'
  readonly modelBased = true
  cwnd: number
  ssthresh = Infinity
  pacingRate: number
  mode: BbrMode = BbrMode.STARTUP
  /** BtlBw estimate in bytes per ms (0: none yet). */
  btlBw = 0
  rtProp = Infinity
  private rtPropStamp = 0
  private mss: number
  private readonly initialCwnd: number
  private pacingGain = HIGH_GAIN
  private cwndGain = HIGH_GAIN
  /** Per-round maxima for the BtlBw filter: [round, rate]. */
  private bwSamples: Array<[number, number]> = []
  roundCount = 0
  private nextRoundDelivered = 0
  private roundStart = false
  filledPipe = false
  private fullBw = 0
  private fullBwCount = 0
  private cycleIndex = 0
  private cycleStamp = 0
  private probeRttDoneStamp = 0
  private probeRttRoundDone = false
  private priorCwnd = 0
  private conservation = false
  private conservationEndRound = 0
  private inLossRecovery = false
  private rtoReset = false
  // ACK aggregation estimate
  private ackEpochAt = 0
  private ackEpochAcked = 0
  private readonly extraAcked = [0, 0]
  private extraAckedIdx = 0
  private extraAckedRounds = 0

  constructor(mss: number, initialCwndSegments: number) {
    this.mss = mss
    this.initialCwnd = initialCwndSegments * mss
    this.cwnd = this.initialCwnd
    // no RTT yet: assume 1 ms (the draft's fallback), so the first flight is not held back
    this.pacingRate = (HIGH_GAIN * this.cwnd) / 1
  }

  setMss(mss: number): void {
    if (mss === this.mss) return
    this.cwnd = Math.max(MIN_PIPE_SEGMENTS * mss, Math.round((this.cwnd / this.mss) * mss))
    this.mss = mss
  }

  // loss-based hooks: BBR keeps its model; these only drive the recovery window modulation
  onAck(): void {}

  onCongestion(): void {
    // draft: upon entering fast recovery save cwnd, use packet conservation for one round
    if (!this.inLossRecovery) this.priorCwnd = this.saveCwnd()
    this.inLossRecovery = true
    this.conservation = true
    this.conservationEndRound = this.roundCount + 1
    this.rtoReset = true // cwnd = inflight + delivered on the next ACK
  }

  onRto(_now: number, flight: number): void {
    if (!this.inLossRecovery) this.priorCwnd = this.saveCwnd()
    this.inLossRecovery = true
    this.conservation = false
    // draft: BBROnEnterRTO — cwnd = packets in flight + 1 (everything is lost now, so 1 segment)
    void flight
    this.cwnd = this.mss
  }

  onRecoveryExit(): void {
    this.restoreAfterLoss()
  }

  onLossExit(): void {
    this.restoreAfterLoss()
  }

  private restoreAfterLoss(): void {
    if (!this.inLossRecovery) return
    this.inLossRecovery = false
    this.conservation = false
    this.cwnd = Math.max(this.cwnd, this.priorCwnd)
  }

  private saveCwnd(): number {
    return this.mode === BbrMode.PROBE_RTT ? Math.max(this.priorCwnd, this.cwnd) : this.cwnd
  }

  private bdp(gain: number): number {
    if (this.rtProp === Infinity || this.btlBw === 0) return this.initialCwnd
    return gain * this.btlBw * this.rtProp
  }

  private targetCwnd(gain: number): number {
    // + a quantum of 3 segments for delayed / stretched ACKs and pacing granularity
    return Math.max(this.bdp(gain) + 3 * this.mss + this.aggregationCwnd(), MIN_PIPE_SEGMENTS * this.mss)
  }

  /** Window allowance for ACKs that arrive in bursts (0 until the pipe is full). */
  aggregationCwnd(): number {
    if (!this.filledPipe || this.btlBw === 0) return 0
    return Math.min(Math.max(this.extraAcked[0], this.extraAcked[1]), this.btlBw * EXTRA_ACKED_MAX_MS)
  }

  private updateAckAggregation(acked: number, now: number): void {
    if (acked <= 0 || this.btlBw === 0) return
    if (this.roundStart && ++this.extraAckedRounds >= EXTRA_ACKED_WIN_ROUNDS) {
      this.extraAckedRounds = 0
      this.extraAckedIdx ^= 1
      this.extraAcked[this.extraAckedIdx] = 0
    }
    let expected = this.btlBw * (now - this.ackEpochAt)
    // ACKs no faster than the model predicts start a new epoch
    if (this.ackEpochAcked <= expected) {
      this.ackEpochAcked = 0
      this.ackEpochAt = now
      expected = 0
    }
    this.ackEpochAcked += acked
    const extra = Math.min(this.ackEpochAcked - expected, this.cwnd)
    if (extra > this.extraAcked[this.extraAckedIdx]) this.extraAcked[this.extraAckedIdx] = extra
  }

  onRateSample(rs: RateSample, inflight: number, delivered: number, now: number, inRecovery: boolean): void {
    if (rs.newlyDelivered === 0 && rs.delivered === 0) return
    // round counting (draft §4.1.1.3)
    if (rs.newlyDelivered > 0 && rs.priorDelivered >= this.nextRoundDelivered) {
      this.nextRoundDelivered = delivered
      this.roundCount++
      this.roundStart = true
    } else this.roundStart = false
    // BtlBw max filter
    if (rs.deliveryRate > 0 && (rs.deliveryRate >= this.btlBw || !rs.isAppLimited)) this.updateBw(rs.deliveryRate)
    this.updateAckAggregation(rs.newlyDelivered, now)
    if (this.mode === BbrMode.PROBE_BW) this.checkCyclePhase(inflight, now)
    this.checkFullPipe(rs)
    this.checkDrain(inflight, now)
    // RTprop min filter
    // no estimate yet is not an expired one: a connection opened when the clock is past 10 s would
    // otherwise enter ProbeRTT (cwnd 4 segments for 200 ms) on its first ACK
    const expired = this.rtProp !== Infinity && now > this.rtPropStamp + RTPROP_FILTER_MS
    if (rs.rtt >= 0 && (rs.rtt <= this.rtProp || expired)) {
      this.rtProp = Math.max(rs.rtt, 0.01)
      this.rtPropStamp = now
    }
    this.checkProbeRtt(inflight, now, expired)
    // control parameters
    this.setPacingRate()
    this.setCwnd(rs.newlyDelivered, inflight, delivered, inRecovery)
  }

  private updateBw(rate: number): void {
    const r = this.roundCount
    const last = this.bwSamples[this.bwSamples.length - 1]
    if (last && last[0] === r) last[1] = Math.max(last[1], rate)
    else this.bwSamples.push([r, rate])
    while (this.bwSamples.length && this.bwSamples[0][0] <= r - BTLBW_FILTER_ROUNDS) this.bwSamples.shift()
    let m = 0
    for (const [, v] of this.bwSamples) if (v > m) m = v
    this.btlBw = m
  }

  private checkFullPipe(rs: RateSample): void {
    if (this.filledPipe || !this.roundStart || rs.isAppLimited) return
    if (this.btlBw >= this.fullBw * FULL_BW_THRESH) {
      this.fullBw = this.btlBw
      this.fullBwCount = 0
      return
    }
    if (++this.fullBwCount >= FULL_BW_ROUNDS) this.filledPipe = true
  }

  private checkDrain(inflight: number, now: number): void {
    if (this.mode === BbrMode.STARTUP && this.filledPipe) {
      this.mode = BbrMode.DRAIN
      this.pacingGain = 1 / HIGH_GAIN
      this.cwndGain = HIGH_GAIN
    }
    if (this.mode === BbrMode.DRAIN && inflight <= this.bdp(1)) this.enterProbeBw(now)
  }

  private enterProbeBw(now: number): void {
    this.mode = BbrMode.PROBE_BW
    this.cwndGain = 2
    // start anywhere but the 3/4 phase (deterministic here: the first unity phase)
    this.cycleIndex = 2
    this.cycleStamp = now
    this.pacingGain = CYCLE[this.cycleIndex]
  }

  private checkCyclePhase(inflight: number, now: number): void {
    const elapsed = now - this.cycleStamp > this.rtProp
    let advance: boolean
    if (this.pacingGain === 1) advance = elapsed
    else if (this.pacingGain > 1) advance = elapsed && inflight >= this.bdp(this.pacingGain)
    else advance = elapsed || inflight <= this.bdp(1)
    // a probing phase that saw loss recovery moves on as well
    if (this.pacingGain > 1 && elapsed && this.inLossRecovery) advance = true
    if (advance) {
      this.cycleIndex = (this.cycleIndex + 1) % CYCLE.length
      this.cycleStamp = now
      this.pacingGain = CYCLE[this.cycleIndex]
    }
  }

  private checkProbeRtt(inflight: number, now: number, expired: boolean): void {
    if (this.mode !== BbrMode.PROBE_RTT && expired) {
      this.mode = BbrMode.PROBE_RTT
      this.pacingGain = 1
      this.cwndGain = 1
      this.priorCwnd = this.saveCwnd()
      this.probeRttDoneStamp = 0
    }
    if (this.mode !== BbrMode.PROBE_RTT) return
    if (this.probeRttDoneStamp === 0 && inflight <= MIN_PIPE_SEGMENTS * this.mss) {
      this.probeRttDoneStamp = now + PROBE_RTT_MS
      this.probeRttRoundDone = false
      this.nextRoundDelivered = 0 // next ACK starts a round
    } else if (this.probeRttDoneStamp !== 0) {
      if (this.roundStart) this.probeRttRoundDone = true
      if (this.probeRttRoundDone && now > this.probeRttDoneStamp) {
        this.rtPropStamp = now
        this.cwnd = Math.max(this.cwnd, this.priorCwnd)
        if (this.filledPipe) this.enterProbeBw(now)
        else {
          this.mode = BbrMode.STARTUP
          this.pacingGain = HIGH_GAIN
          this.cwndGain = HIGH_GAIN
        }
      }
    }
  }

  private setPacingRate(): void {
    if (this.btlBw === 0) return
    const rate = this.pacingGain * this.btlBw
    if (this.filledPipe || rate > this.pacingRate) this.pacingRate = rate
  }

  private setCwnd(newly: number, inflight: number, delivered: number, inRecovery: boolean): void {
    if (this.inLossRecovery && !inRecovery && this.conservation) {
      // the sender left recovery without telling us (undo): restore
      this.restoreAfterLoss()
    }
    if (this.conservation && this.roundCount >= this.conservationEndRound) this.conservation = false
    if (this.rtoReset) {
      // entering recovery: cwnd = inflight + newly delivered (packet conservation)
      this.rtoReset = false
      this.cwnd = Math.max(inflight + Math.max(newly, this.mss), MIN_PIPE_SEGMENTS * this.mss)
    } else if (this.conservation) {
      this.cwnd = Math.max(this.cwnd, inflight + newly)
    } else {
      const target = this.targetCwnd(this.cwndGain)
      if (this.filledPipe) this.cwnd = Math.min(this.cwnd + newly, target)
      else if (this.cwnd < target || delivered < this.initialCwnd) this.cwnd += newly
      this.cwnd = Math.max(this.cwnd, MIN_PIPE_SEGMENTS * this.mss)
    }
    if (this.mode === BbrMode.PROBE_RTT) this.cwnd = Math.min(this.cwnd, MIN_PIPE_SEGMENTS * this.mss)
  }
}
