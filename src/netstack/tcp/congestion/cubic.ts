// CUBIC congestion control (RFC 9438): cubic window growth W(t) = C·(t−K)^3 + W_max (§4.2),
// Reno-friendly region (§4.3), multiplicative decrease β = 0.7 (§4.6), fast convergence (§4.7),
// timeout handling (§4.8). Slow start as RFC 5681. Windows in bytes; the cubic function in segments.
import type { CongestionControl } from './types.js'
import { NewReno } from './newreno.js'
import { Bbr } from './bbr.js'

const C = 0.4
const BETA = 0.7
const ALPHA = (3 * (1 - BETA)) / (1 + BETA)

export class Cubic implements CongestionControl {
  readonly name = 'cubic'
  cwnd: number
  ssthresh = Infinity
  private mss: number
  private wMax = 0 // segments
  private k = 0 // seconds
  private epochStart = -1 // ms
  private wEst = 0 // segments (Reno-friendly estimate)
  private cwndPrior = 0

  constructor(mss: number, initialCwndSegments: number) {
    this.mss = mss
    this.cwnd = initialCwndSegments * mss
  }

  setMss(mss: number): void {
    if (mss === this.mss) return
    this.cwnd = Math.max(2 * mss, Math.round((this.cwnd / this.mss) * mss))
    this.mss = mss
  }

  onAck(acked: number, now: number, srtt: number, cwndLimited: boolean): void {
    if (!cwndLimited) {
      // application-limited: do not grow, and restart the epoch so t does not run ahead (§5.8)
      this.epochStart = -1
      return
    }
    if (this.cwnd < this.ssthresh) {
      // byte counting (RFC 3465) without the L = 2·SMSS per-ACK cap: the receiver coalesces ACKs
      // per burst (one ACK may cover many segments, as with Linux GRO), so the cap would turn slow
      // start linear; growth stops at ssthresh (as Linux's tcp_slow_start)
      this.cwnd += Math.min(acked, this.ssthresh - this.cwnd)
      return
    }
    const mss = this.mss
    const cw = this.cwnd / mss
    if (this.epochStart < 0) {
      this.epochStart = now
      if (cw < this.wMax) {
        this.k = Math.cbrt((this.wMax - cw) / C)
      } else {
        this.k = 0
        this.wMax = cw
      }
      this.wEst = cw
    }
    const t = (now - this.epochStart + srtt) / 1000
    const wCubic = C * (t - this.k) ** 3 + this.wMax
    const ackedSeg = acked / mss
    this.wEst += ALPHA * (ackedSeg / cw)
    let target: number
    if (wCubic < this.wEst) {
      target = this.wEst // Reno-friendly region
    } else {
      target = Math.min(Math.max(wCubic, cw), 1.5 * cw)
    }
    if (target > cw) this.cwnd += ((target - cw) / cw) * ackedSeg * mss
  }

  onCongestion(_now: number, flight: number): void {
    this.reduce(flight)
    this.cwnd = this.ssthresh
  }

  onRto(_now: number, flight: number): void {
    this.reduce(flight)
    this.cwnd = this.mss
  }

  onRecoveryExit(): void {
    this.cwnd = Math.max(this.cwnd, this.ssthresh)
  }

  private reduce(flight: number): void {
    const cw = Math.max(this.cwnd, Math.min(flight, this.cwnd)) / this.mss
    this.cwndPrior = cw
    // fast convergence (§4.7)
    this.wMax = cw < this.wMax ? (cw * (1 + BETA)) / 2 : cw
    this.ssthresh = Math.max(Math.floor(cw * BETA * this.mss), 2 * this.mss)
    this.epochStart = -1
  }

  /** For tests: the window before the last reduction (segments). */
  get priorCwndSegments(): number {
    return this.cwndPrior
  }
}

export function createCongestion(algo: 'cubic' | 'newreno' | 'bbr', mss: number, iw: number): CongestionControl {
  if (algo === 'bbr') return new Bbr(mss, iw)
  return algo === 'newreno' ? new NewReno(mss, iw) : new Cubic(mss, iw)
}
