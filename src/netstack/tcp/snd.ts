// Sender state (RFC 9293 §3.3.1 SND.UNA/NXT/WND/WL1/WL2) with loss recovery: fast retransmit and
// NewReno partial-ACK handling (RFC 5681 §3.2, RFC 6582) when SACK is off, SACK-based recovery
// (RFC 6675) when on, RTO reaction (RFC 6298 §5, RFC 5681 §3.1), RTT sampling with Karn's rule
// (RFC 6298 §3) or timestamps (RFC 7323 §4), sender SWS avoidance and Nagle (RFC 9293 §3.8.6.2.1,
// RFC 896). Internally positions are stream offsets: offset 0 is the byte after the SYN.
import { SendBuffer } from './sndbuf.js'
import { Scoreboard, type SentSeg } from './scoreboard.js'
import type { RttEstimator } from './rtt.js'
import type { CongestionControl } from './congestion/types.js'
import { seqDiff, seqLe, seqLt } from './seq.js'
import { HyStart } from './congestion/hystart.js'
import { RateSampler } from './rate.js'

export const AckResult = { OK: 0, TOO_NEW: 1, TOO_OLD: 2 } as const
export type AckResult = (typeof AckResult)[keyof typeof AckResult]

/** emit(startOffset, length, fin, retransmission) → false when the link refused the segment. */
export type EmitFn = (off: number, len: number, fin: boolean, rtx: boolean) => boolean

const TWO32 = 4294967296
/** Upper bound of the reordering-window multiplier (as Linux's u8 reo_wnd_steps); SRTT caps the window anyway. */
const MAX_REO_MULT = 255
/** Loss recoveries without a D-SACK before the multiplier returns to 1 (RFC 8985 §6.2 step 4). */
const REO_PERSIST = 16
/** Longest late-timer interval whose pacing credit is released at once (ms). */
const MAX_CATCHUP_MS = 10

export class Sender {
  readonly buf = new SendBuffer()
  readonly sb = new Scoreboard()
  readonly rtt: RttEstimator
  cc: CongestionControl
  /** Slow-start exit on RTT increase (RFC 9406); null = off. */
  hystart: HyStart | null = new HyStart()
  iss: number
  una = 0
  nxt = 0
  /** Peer's window in bytes (already scaled). */
  wnd = 0
  wl1 = 0
  wl2 = 0
  maxWnd = 0
  /** Peer's window-scale shift. */
  scale = 0
  mss: number
  sackOk = false
  /** Time-based loss marking (RACK-style) in addition to the RFC 6675 byte threshold. */
  rack = true
  noDelay = true
  finQueued = false
  finSent = false
  inRecovery = false
  inLoss = false
  recover = 0
  dupAcks = 0
  /** NewReno without SACK: dup ACKs counted as delivered segments (for the pipe). */
  renoDup = 0
  cwndLimited = false
  /** Usable window is zero while data waits. */
  windowBlocked = false
  /** Persist timer fired with a small non-zero window: send what fits (RFC 9293 §3.8.6.2.1 override timeout). */
  overrideSws = false
  /** The last fill() stopped because the link refused output. */
  linkBlocked = false
  /** Karn timing of one segment when timestamps are off. */
  private timedEnd = -1
  private timedAt = 0
  private readonly ackInfo = { newestSent: -1, anyRetrans: false, firstSentAt: -1 }
  /** D-SACKs received; reordering-window multiplier (RFC 8985 §6.2 step 4). */
  dsacks = 0
  reoMult = 1
  /** RACK.dsack_round: SND.NXT when the multiplier last grew (−1: none), so it grows once per round. */
  private dsackRound = -1
  /** RACK.reo_wnd_persist: recoveries left before the multiplier falls back to 1. */
  private reoPersist = 0
  private prrDelivered = 0
  private prrOut = 0
  private prrBudget = 0
  private recoverFs = 0
  private undoCwnd = 0
  /** When the window was last reduced for loss. */
  private reducedAt = 0
  private undoSsthresh = 0
  /** A loss episode whose reduction may still be undone by Eifel detection (RFC 3522). */
  private undoArmed = false
  /** RetransmitTS (RFC 3522 §3.2): timestamp tick of the episode's first retransmission (−1: none yet). */
  private rtxTs = -1
  /** End offset of that first retransmission: the first ACK covering it is the one tested. */
  private rtxEnd = -1
  spuriousRecoveries = 0
  /** Stats */
  retransmits = 0
  fastRecoveries = 0
  timeouts = 0

  /** Delivery-rate estimation for model-based congestion control (rate.ts). */
  readonly rate = new RateSampler()
  /** Pacing (when cc.pacingRate > 0): byte credit, time of the last refill, and when sending may resume. */
  private pacingCredit = 0
  private pacingAt = -1
  /** fill() stopped for pacing: the next segment may go at this time (−1: not paced). */
  pacedUntil = -1
  /** Largest burst the pacer releases at once, in ms of the pacing rate (≥ 2 segments). */
  pacingBurstMs = 2

  constructor(iss: number, mss: number, cc: CongestionControl, rtt: RttEstimator) {
    this.iss = iss
    this.mss = mss
    this.cc = cc
    this.rtt = rtt
    if (cc.modelBased) this.hystart = null
    this.sb.onDeliver = (s, now) => this.rate.onDelivered(s, now)
  }

  seqOf(off: number): number {
    return (this.iss + 1 + off) % TWO32
  }
  offOf(seq: number): number {
    return this.una + seqDiff(seq, this.seqOf(this.una))
  }
  get outstanding(): number {
    return this.nxt - this.una
  }
  get finOff(): number {
    return this.buf.end
  }
  get finAcked(): boolean {
    return this.finSent && this.una > this.buf.end
  }
  get pipe(): number {
    return Math.max(0, this.sb.pipe(this.outstanding) - this.renoDup)
  }
  /** Bytes written and not yet acknowledged (the API's bufferedAmount). */
  get queued(): number {
    return this.buf.length
  }
  get unsent(): number {
    return this.buf.end - this.nxt
  }

  /** Window from a SYN or SYN-ACK (never scaled, RFC 7323 §2.2). */
  initWindow(seq: number, ack: number, wnd: number): void {
    this.wnd = wnd
    this.wl1 = seq
    this.wl2 = ack
    this.maxWnd = Math.max(this.maxWnd, wnd)
  }

  /**
   * Process the ACK field (RFC 9293 §3.10.7.4 fifth check, RFC 5961 §5.2). rttSample ≥ 0 is a
   * timestamp-derived RTT. Returns bytes newly acknowledged via `acked` and an AckResult.
   */
  onAck(
    seq: number,
    ack: number,
    wndRaw: number,
    sacks: Array<[number, number]> | undefined,
    rttSample: number,
    pureAck: boolean,
    now: number,
  ): AckResult {
    const ackOff = this.offOf(ack)
    if (ackOff > this.nxt) return AckResult.TOO_NEW
    if (ackOff < this.una - Math.max(this.maxWnd, 1)) return AckResult.TOO_OLD
    this.lastAcked = 0
    const wnd = wndRaw * 2 ** this.scale
    let wndChanged = false
    if (seqLt(this.wl1, seq) || (this.wl1 === seq && seqLe(this.wl2, ack)) || ackOff > this.una) {
      if (ackOff >= this.una) {
        if (wnd !== this.wnd) wndChanged = true
        this.wnd = wnd
        this.wl1 = seq
        this.wl2 = ack
        if (wnd > this.maxWnd) this.maxWnd = wnd
      }
    }
    let delivered = -1
    const sackedBefore = this.sb.sackedBytes
    const reorderTimeBefore = this.sb.reorderTime
    this.rate.begin()
    if (sacks && this.sackOk) {
      if (this.dsackRound >= 0 && ackOff >= this.dsackRound) this.dsackRound = -1
      let latest = true
      for (const [l, r] of sacks) {
        let lo = this.offOf(l)
        const hi = this.offOf(r)
        const first = latest
        latest = false
        if (hi <= this.una && seqLt(l, r)) {
          // D-SACK (RFC 2883 §4): a retransmission was unnecessary → widen the reordering window,
          // once per round trip (RFC 8985 §6.2 step 4)
          this.dsacks++
          if (this.dsackRound < 0) {
            this.dsackRound = this.nxt
            if (this.reoMult < MAX_REO_MULT) this.reoMult++
            this.reoPersist = REO_PERSIST
          }
          continue
        }
        if (hi <= this.una || hi > this.nxt || lo >= hi) continue
        if (lo < this.una) lo = this.una
        // the first block reports the segment whose arrival triggered this ACK (RFC 2018 §4); when
        // a D-SACK comes first (RFC 2883 §4), that duplicate was the news and no block measures
        const t = this.sb.markSacked(lo, hi, now, this.rtt.minRtt, first)
        if (t > delivered) delivered = t
      }
    }
    if (ackOff > this.una) {
      const acked = ackOff - this.una
      this.lastAcked = acked
      this.sb.ackTo(ackOff, this.ackInfo, now, this.rtt.minRtt)
      if (this.ackInfo.newestSent > delivered) delivered = this.ackInfo.newestSent
      this.una = ackOff
      this.buf.release(Math.min(ackOff, this.buf.end))
      // Eifel detection (RFC 3522 §3.2) with the RFC 4015 response: only the first ACK that
      // acknowledges the episode's first retransmission is tested, then detection is disarmed. If
      // it echoes a timestamp older than that retransmission (TSecr < RetransmitTS), the original
      // transmission arrived: the loss was spurious, undo the reduction.
      if (this.undoArmed && this.rtxTs >= 0 && ackOff >= this.rtxEnd) {
        const spurious = (this.inRecovery || this.inLoss) && rttSample >= 0 && Math.floor(now) - rttSample < this.rtxTs
        this.undoArmed = false
        if (spurious) this.undo()
      }
      if (rttSample >= 0) this.rtt.sample(rttSample)
      else if (this.timedEnd >= 0 && ackOff >= this.timedEnd) {
        this.rtt.sample(now - this.timedAt)
        this.timedEnd = -1
      }
      this.rtt.resetBackoff()
      this.dupAcks = 0
      this.renoDup = Math.max(0, this.renoDup - acked)
      if (this.inRecovery || this.inLoss) {
        if (ackOff >= this.recover) {
          if (this.inRecovery) this.cc.onRecoveryExit(now, this.pipe)
          else this.cc.onLossExit?.(now)
          if (this.reoPersist > 0 && --this.reoPersist === 0) {
            this.reoMult = 1
            this.sb.reorderTime = 0
          }
          this.inRecovery = this.inLoss = false
          this.undoArmed = false
          this.renoDup = 0
        } else if (this.inRecovery && !this.sackOk) {
          // RFC 6582 §3.2 step 5: partial ACK → retransmit the first unacknowledged segment
          this.sb.markHeadLost()
        }
      }
      if (!this.inRecovery) {
        if (this.hystart && this.cc.cwnd < this.cc.ssthresh && !this.inLoss && this.hystart.onAck(ackOff, this.nxt, rttSample)) {
          this.cc.ssthresh = this.cc.cwnd
        }
        this.cc.onAck(acked, now, this.rtt.srtt, this.cwndLimited)
      }
    } else if (pureAck && ackOff === this.una && !wndChanged && this.outstanding > 0) {
      this.dupAcks++
      if (!this.sackOk) this.renoDup = Math.min(this.renoDup + this.mss, this.outstanding)
    }
    let marked = false
    if (this.sackOk) {
      // RFC 8985 §6.2 step 4: reordering window min_RTT/4, scaled up by D-SACKs, at most SRTT; once
      // reordering has been seen, never narrower than the largest reordering measured in time
      // (a min_RTT taken from a packet that overtook the others can be ~0: the window would be
      // too), and never wider than RTO/2 (the timeout stays the later of the two)
      const base = this.rtt.minRtt === Infinity ? 0 : this.rtt.minRtt / 4
      const reoWnd = this.sb.reorderBytes > 0 ? Math.min(Math.max(Math.min(this.rtt.srtt, base * this.reoMult), this.sb.reorderTime), this.rtt.rto / 2) : base
      if (this.sb.detectLostRetransmits(delivered, reoWnd)) {
        marked = true
        // a retransmission sent under the reduced window was lost too: the reduction was not
        // enough (the path still drops at this rate), so react once more, at most once per RTT —
        // as the RTO this detection pre-empts would have (RFC 5681 §3.1, RFC 6675 §5.1)
        if (this.inRecovery && now - this.reducedAt >= Math.max(1, this.rtt.srtt)) this.reduceAgain(now)
      }
      if (this.sb.markLosses(this.mss, this.rack ? delivered : -1, reoWnd)) marked = true
    }
    if (!this.inRecovery && !this.inLoss && this.outstanding > 0 && (marked || this.dupAcks >= 3)) {
      this.enterRecovery(now)
    }
    if (delivered > this.sb.rackTs) this.sb.rackTs = delivered
    if (this.sb.reorderTime > reorderTimeBefore) this.reoPersist = REO_PERSIST
    if (this.inRecovery) this.prrUpdate(this.lastAcked + this.sb.sackedBytes - sackedBefore)
    if (this.cc.onRateSample) {
      const rs = this.rate.finish(this.rtt.minRtt)
      this.cc.onRateSample(rs, this.pipe, this.rate.delivered, now, this.inRecovery || this.inLoss)
    }
    return AckResult.OK
  }

  /** Bytes newly acknowledged by the last onAck(). */
  lastAcked = 0

  /** A new loss episode: remember the window to restore and wait for its first retransmission. */
  private saveUndo(): void {
    this.undoCwnd = this.cc.cwnd
    this.undoSsthresh = this.cc.ssthresh
    this.undoArmed = true
    this.rtxTs = -1
    this.rtxEnd = -1
  }

  private undo(): void {
    this.cc.cwnd = Math.max(this.cc.cwnd, this.undoCwnd)
    this.cc.ssthresh = Math.max(this.cc.ssthresh, this.undoSsthresh)
    this.inRecovery = this.inLoss = false
    this.renoDup = 0
    this.undoArmed = false
    this.sb.undoLost()
    this.spuriousRecoveries++
  }

  /**
   * Proportional Rate Reduction (RFC 6937 §3, PRR-SSRB): how much may be sent on this ACK while in
   * fast recovery, spreading the window reduction over the recovery round.
   */
  private prrUpdate(deliveredData: number): void {
    if (deliveredData < 0) deliveredData = 0
    this.prrDelivered += deliveredData
    const pipe = this.pipe
    const ssthresh = this.cc.ssthresh
    let sndcnt: number
    if (pipe > ssthresh) {
      sndcnt = Math.ceil((this.prrDelivered * ssthresh) / Math.max(1, this.recoverFs)) - this.prrOut
    } else {
      const limit = Math.max(this.prrDelivered - this.prrOut, deliveredData) + this.mss
      sndcnt = Math.min(ssthresh - pipe, limit)
    }
    this.prrBudget = Math.max(0, sndcnt)
    if (this.prrOut === 0 && this.prrBudget < this.mss) this.prrBudget = this.mss // the fast retransmit
  }

  private reduceAgain(now: number): void {
    this.undoArmed = false
    this.reducedAt = now
    this.prrDelivered = 0
    this.prrOut = 0
    this.recoverFs = this.pipe
    this.recover = this.nxt
    this.cc.onCongestion(now, this.pipe)
  }

  private enterRecovery(now: number): void {
    this.reducedAt = now
    this.saveUndo()
    this.prrDelivered = 0
    this.prrOut = 0
    this.recoverFs = this.outstanding
    this.inRecovery = true
    this.fastRecoveries++
    this.recover = this.nxt
    this.cc.onCongestion(now, this.outstanding)
    this.sb.markHeadLost()
    this.timedEnd = -1
  }

  /** Retransmission timeout (RFC 6298 §5.4–5.6, RFC 6675 §5.1). */
  onRto(now: number): void {
    this.timeouts++
    if (!this.inLoss) this.saveUndo()
    this.cc.onRto(now, this.pipe)
    this.sb.markAllLost()
    this.inLoss = true
    this.inRecovery = false
    this.recover = this.nxt
    this.dupAcks = 0
    this.renoDup = 0
    this.timedEnd = -1
    this.rtt.backoff()
  }

  /** MSS shrank (PMTU): everything in flight larger than the new MSS will be re-cut on retransmission. */
  setMss(mss: number): void {
    this.mss = mss
    this.cc.setMss(mss)
  }

  /** Send what cwnd, the peer's window, Nagle and SWS avoidance allow. */
  fill(now: number, emit: EmitFn): void {
    this.linkBlocked = false
    this.windowBlocked = false
    this.cwndLimited = false
    const mss = this.mss
    const wasPaced = this.pacedUntil >= 0
    this.pacedUntil = -1
    const rate = this.cc.pacingRate ?? 0
    if (rate > 0) {
      // token bucket: credit = rate × time since the last refill. After idle or a cwnd stall at
      // most one burst (pacingBurstMs); while the pacer itself held data back, the whole elapsed
      // time counts (up to MAX_CATCHUP_MS): real-clock timers fire late (Node: ≥ 1 ms, more under
      // load), and dropping that credit would send below the pacing rate
      const elapsed = this.pacingAt < 0 ? Infinity : now - this.pacingAt
      const cap = Math.max(2 * mss, rate * (wasPaced ? Math.max(this.pacingBurstMs, Math.min(elapsed, MAX_CATCHUP_MS)) : this.pacingBurstMs))
      this.pacingCredit = this.pacingAt < 0 ? cap : Math.min(cap, this.pacingCredit + rate * elapsed)
      this.pacingAt = now
    }
    for (;;) {
      const room = this.inRecovery && !this.cc.modelBased ? (this.prrBudget > 0 ? Math.max(this.prrBudget, mss) : 0) : this.cc.cwnd - this.pipe
      // RFC 6675 NextSeg rule (1): lost segments first
      if (this.sb.lostPending) {
        if (room < mss && this.pipe !== 0) {
          this.cwndLimited = true
          return
        }
        const nl = this.sb.nextLost()
        if (nl) {
          const s: SentSeg = nl.seg
          if (s.end - s.start - (s.fin ? 1 : 0) > mss) this.sb.split(nl.index, mss)
          const len = s.end - s.start - (s.fin ? 1 : 0)
          if (rate > 0 && this.pacingCredit < len) {
            this.pacedUntil = now + Math.max(0.001, (len - this.pacingCredit) / rate)
            return
          }
          const pipeBefore = this.pipe
          if (!emit(s.start, len, s.fin, true)) {
            this.linkBlocked = true
            return
          }
          if (rate > 0) this.pacingCredit -= len
          this.rate.onSend(s, pipeBefore, now)
          this.sb.retransmitted(s, now)
          this.retransmits++
          if (this.undoArmed && this.rtxTs < 0 && (this.inRecovery || this.inLoss)) {
            // a segment already retransmitted in an earlier episode: an ACK echoing that older
            // retransmission would look spurious, so the ambiguity disables detection (RFC 3522 §3.2)
            if (s.xmits > 2) this.undoArmed = false
            this.rtxTs = Math.floor(now)
            this.rtxEnd = s.end
          }
          if (this.inRecovery) this.prrSent(len)
          continue
        }
      }
      // rule (2): new data (and the FIN)
      const end = this.buf.end
      const avail = end - this.nxt
      const finNow = this.finQueued && !this.finSent
      if (avail <= 0 && !finNow) {
        // out of data with room to send: rate samples from this phase are app-limited
        if (this.cc.cwnd - this.pipe >= mss && !this.sb.lostPending) this.rate.markAppLimited(this.pipe)
        return
      }
      const wndRoom = this.una + this.wnd - this.nxt
      let len = Math.min(mss, avail, Math.max(0, wndRoom))
      if (avail > 0 && len <= 0) {
        this.windowBlocked = true
        this.rwndLimited()
        return
      }
      if (len < mss && len < avail) {
        // SWS avoidance: a window-limited small segment only if ≥ half the largest window seen
        if (!this.overrideSws && (len < this.maxWnd / 2 || this.maxWnd === 0)) {
          if (len > 0 || this.outstanding === 0) this.windowBlocked = this.outstanding === 0
          this.rwndLimited()
          return
        }
      } else if (len < mss && !this.noDelay && this.outstanding > 0 && !(finNow && len === avail)) {
        return // Nagle
      }
      if (len > room) {
        if (room < mss || room <= 0) {
          this.cwndLimited = true
          return
        }
        len = Math.min(len, room)
      }
      const fin = finNow && this.nxt + len === end
      if (len === 0 && !fin) return
      if (rate > 0 && this.pacingCredit < Math.max(len, 1)) {
        this.pacedUntil = now + Math.max(0.001, (Math.max(len, 1) - this.pacingCredit) / rate)
        return
      }
      const pipeBefore = this.pipe
      if (!emit(this.nxt, len, fin, false)) {
        this.linkBlocked = true
        return
      }
      if (rate > 0) this.pacingCredit -= len
      if (this.inRecovery) this.prrSent(len)
      const segEnd = this.nxt + len + (fin ? 1 : 0)
      const seg: SentSeg = { start: this.nxt, end: segEnd, fin, sentAt: now, xmits: 1, sacked: false, lost: false, retrans: false, acked: false, dlv: 0, dlvTime: 0, firstSent: 0, appLimited: false }
      this.rate.onSend(seg, pipeBefore, now)
      this.sb.push(seg)
      if (this.timedEnd < 0) {
        this.timedEnd = segEnd
        this.timedAt = now
      }
      this.nxt = segEnd
      if (fin) this.finSent = true
    }
  }

  /**
   * The peer's receive window, not cwnd or pacing, stopped us. Rate samples from this phase show
   * the receiver's window, not the path: mark them app-limited, so BBR neither takes a plateau
   * while a receiver's autotuning opens its window (Linux starts at 64 KiB and grows it per
   * round) for the bottleneck and leaves Startup, nor lowers its estimate from them.
   */
  private rwndLimited(): void {
    if (this.cc.cwnd - this.pipe >= this.mss && !this.sb.lostPending) this.rate.markAppLimited(this.pipe)
  }

  private prrSent(len: number): void {
    this.prrOut += len
    this.prrBudget -= len
  }

  /** Forget Karn timing (a retransmission happened). */
  cancelTiming(): void {
    this.timedEnd = -1
  }
}
