// One TCP connection (RFC 9293 §3.3.2 state machine; §3.10 event processing lives in input.ts,
// segment building in output.ts, timer expiries in timer-handlers.ts). Options: MSS (§3.7.1),
// window scale + timestamps (RFC 7323), SACK (RFC 2018) + D-SACK (RFC 2883). Timers: RFC 6298
// retransmission, tail loss probe (RFC 8985 §7), delayed ACK, persist (§3.8.6.1), keepalive
// (RFC 1122 §4.2.3.6), TIME-WAIT 2·MSL.
//
// ── API for the stack glue ────────────────────────────────────────────────────────────────
//   const { endpoint, established } = TcpEndpoint.connect(host, tuple, opts?)        active open
//   const { endpoint, established } = TcpEndpoint.accept(host, tuple, synSeg, opts?)  passive open
//     Both send their SYN / SYN-ACK synchronously. `established` resolves when the handshake
//     completes and rejects (BurrowError ECONNREFUSED / ETIMEDOUT / ECLOSED, or the Error given to
//     icmpError) if it fails; a pre-attached catch means it never causes an unhandled rejection.
//   endpoint.input(seg)             every arriving segment of this four-tuple (payload kept as a view)
//   endpoint.icmpError(err, 'unreachable' | 'frag-needed', mtu?)   ICMP error about this tuple:
//                                   unreachable aborts a handshake (soft error once established);
//                                   frag-needed with the next-hop IP MTU lowers the MSS and resends
//   endpoint.linkDrained()          link backpressure cleared: retry output that was refused
//   endpoint.reuseForSyn(syn)       SYN for a tuple in TIME-WAIT: true = old state ended, give the
//                                   SYN to the listener (RFC 6191); false = call input(syn)
//   endpoint.state / endpoint.info()   inspection (TcpState string, TcpInfo snapshot)
//   rstForUnmatched(seg)            (segment.ts) RFC 9293 reset for a segment matching no endpoint
//   host.release(tuple) is called exactly once, when the endpoint reaches CLOSED (after TIME-WAIT).
// host.output() returning false is taken to mean "not sent": the engine keeps the data
// unsent / unretransmitted and tries again on linkDrained() or its own timers.
// TcpConn semantics: onData/onEnd/onClose may be assigned late (queued data is then delivered from
// a zero-delay clock callback); onClose fires once, when the connection is fully closed (entering
// TIME-WAIT counts: the app is done, the four-tuple stays reserved until release()).
// TIME-WAIT lasts 2·MSL with MSL = tuning.msl (default 1 s → 2 s, short for a client stack).
// Tuning defaults: config.ts (DEFAULT_TUNING), passed as the `opts` of connect()/accept().
import type { TcpConn } from '../api.js'
import { BurrowError, ErrorCode } from '../../core/errors.js'
import { TcpFlag, type FourTuple, type TcpHost, type TcpSegment } from './types.js'
import { resolveTuning, wscaleFor, type TcpTuning } from './config.js'
import { Sender } from './snd.js'
import { Receiver } from './rcv.js'
import { RttEstimator } from './rtt.js'
import { LazyTimer } from './timers.js'
import { createCongestion } from './congestion/cubic.js'
import { EMPTY_PAYLOAD } from './segment.js'
import { segmentArrives } from './input.js'
import { outputSegment, outputSyn } from './output.js'
import { seqGt } from './seq.js'
import { TcpState } from './state.js'
import { onDelackTimer, onKeepTimer, onPersistTimer, onRtxTimer } from './timer-handlers.js'

export { TcpState }

export type TcpEndpointOptions = Partial<TcpTuning>

export interface OpenResult {
  endpoint: TcpEndpoint
  established: Promise<void>
}

/** Inspection snapshot for tests and diagnostics. */
export interface TcpInfo {
  state: TcpState
  mss: number
  cwnd: number
  ssthresh: number
  srtt: number
  rto: number
  sndWnd: number
  rcvWnd: number
  rcvBuf: number
  inFlight: number
  retransmits: number
  fastRecoveries: number
  timeouts: number
  /** Loss events undone by Eifel detection (RFC 3522). */
  spuriousRecoveries: number
  sack: boolean
  timestamps: boolean
  sndScale: number
  rcvScale: number
}

const TS_OPT_LEN = 12

export class TcpEndpoint implements TcpConn {
  readonly tuple: FourTuple
  readonly host: TcpHost
  /** @internal */ readonly tuning: TcpTuning
  /** @internal */ st: TcpState = TcpState.CLOSED
  /** @internal */ readonly snd: Sender
  /** @internal */ readonly rcv: Receiver
  /** @internal */ tsOk = false
  /** @internal */ wsOk = false
  /** @internal */ tsRecent = 0
  /** @internal */ lastTsRecentAt = 0
  /** @internal */ lastAckSent = 0
  /** @internal */ readonly tsOffset: number
  /** @internal */ peerMss = 536
  /** @internal */ pmtuMss = Infinity
  /** @internal */ readonly ourScale: number
  /** @internal */ synXmits = 0
  /** @internal the last SYN / SYN-ACK was refused by the link */ synRefused = false
  /** @internal */ synSentAt = 0
  /** @internal */ rtoRetries = 0
  /** @internal */ lastRx = 0
  /** @internal */ softError: Error | undefined
  private challengeWindowAt = 0
  private challengeCount = 0
  private paused = false
  private delivering = false
  /** Closed by RST, timeout, ICMP or destroy(): queued data is discarded. */
  private aborted = false
  private endEmitted = false
  private closeEmitted = false
  private needDrain = false
  /** @internal */ keepAlive = false
  /** @internal */ keepIdle: number
  /** @internal */ keepProbes = 0
  /** @internal */ persistShift = 0
  /** @internal */ tlpArmed = false
  /** @internal */ tlpSent = false
  private flushScheduled = false
  /** Inside input(): an immediate ACK waits for the end of the receive burst. */
  private inBurst = false
  private burstAckScheduled = false
  /** @internal stats: pure ACKs sent */ acksSent = 0
  private closeErr: Error | undefined
  private estResolve: (() => void) | null = null
  private estReject: ((e: Error) => void) | null = null
  private _onData: ((b: Uint8Array) => void) | null = null
  private _onEnd: (() => void) | null = null
  private _onClose: ((err?: Error) => void) | null = null
  onDrain: (() => void) | null = null
  /** @internal */ readonly rtxTimer: LazyTimer
  /** @internal */ readonly delackTimer: LazyTimer
  /** @internal */ readonly persistTimer: LazyTimer
  /** @internal */ readonly keepTimer: LazyTimer
  /** @internal releases paced segments (BBR) */ readonly pacingTimer: LazyTimer
  private readonly twTimer: LazyTimer

  private constructor(host: TcpHost, tuple: FourTuple, opts?: TcpEndpointOptions) {
    this.host = host
    this.tuple = tuple
    this.tuning = resolveTuning(opts)
    const t = this.tuning
    this.ourScale = t.windowScaling ? wscaleFor(t.rcvBufMax) : 0
    const mss = host.mssFor(tuple.family)
    const rtt = new RttEstimator(t.minRto, t.maxRto, t.initialRto)
    this.snd = new Sender(host.random32() >>> 0, mss, createCongestion(t.congestion, mss, t.initialCwnd), rtt)
    this.snd.noDelay = t.noDelay
    this.snd.pacingBurstMs = t.pacingBurstMs
    this.rcv = new Receiver(t.rcvBufInitial, t.rcvBufMax, t.maxOooSegments)
    this.rcv.share = host.rxShare ?? null
    this.tsOffset = host.random32() >>> 0
    this.keepIdle = t.keepAliveIdleMs
    const clock = host.clock
    this.rtxTimer = new LazyTimer(clock, () => onRtxTimer(this))
    this.delackTimer = new LazyTimer(clock, () => onDelackTimer(this))
    this.persistTimer = new LazyTimer(clock, () => onPersistTimer(this))
    this.keepTimer = new LazyTimer(clock, () => onKeepTimer(this))
    this.pacingTimer = new LazyTimer(clock, () => {
      if (this.synchronized() && this.st !== TcpState.TIME_WAIT) this.flush()
    })
    this.twTimer = new LazyTimer(clock, () => this.finish(undefined))
  }

  /** Active open (RFC 9293 §3.10.1): sends SYN now. */
  static connect(host: TcpHost, tuple: FourTuple, opts?: TcpEndpointOptions): OpenResult {
    const ep = new TcpEndpoint(host, tuple, opts)
    const established = ep.makeEstablished()
    ep.st = TcpState.SYN_SENT
    ep.lastRx = host.clock.now()
    ep.sendSyn()
    return { endpoint: ep, established }
  }

  /** Passive open from a listener (RFC 9293 §3.10.7.2): syn is the peer's SYN; sends SYN-ACK now. */
  static accept(host: TcpHost, tuple: FourTuple, syn: TcpSegment, opts?: TcpEndpointOptions): OpenResult {
    const ep = new TcpEndpoint(host, tuple, opts)
    const established = ep.makeEstablished()
    ep.st = TcpState.SYN_RECEIVED
    ep.lastRx = host.clock.now()
    ep.rcv.init(syn.seq)
    ep.negotiate(syn)
    ep.sendSyn()
    return { endpoint: ep, established }
  }

  private makeEstablished(): Promise<void> {
    const p = new Promise<void>((res, rej) => {
      this.estResolve = res
      this.estReject = rej
    })
    p.catch(() => {})
    return p
  }

  // ── TcpConn ──────────────────────────────────────────────────────────────────────────

  get localAddress(): string {
    return this.tuple.localAddress
  }
  get localPort(): number {
    return this.tuple.localPort
  }
  get remoteAddress(): string {
    return this.tuple.remoteAddress
  }
  get remotePort(): number {
    return this.tuple.remotePort
  }
  get state(): TcpState {
    return this.st
  }
  get bufferedAmount(): number {
    return this.snd.queued
  }

  get onData(): ((b: Uint8Array) => void) | null {
    return this._onData
  }
  set onData(fn: ((b: Uint8Array) => void) | null) {
    this._onData = fn
    if (fn && (this.rcv.hasData || this.rcv.finReceived)) this.scheduleFlush()
  }
  get onEnd(): (() => void) | null {
    return this._onEnd
  }
  set onEnd(fn: (() => void) | null) {
    this._onEnd = fn
    if (fn && this.rcv.finReceived && !this.endEmitted) this.scheduleFlush()
  }
  get onClose(): ((err?: Error) => void) | null {
    return this._onClose
  }
  set onClose(fn: ((err?: Error) => void) | null) {
    this._onClose = fn
    if (fn && this.closePending()) this.scheduleFlush()
  }

  write(b: Uint8Array): boolean {
    if (this.snd.finQueued || this.isClosed() || this.st === TcpState.TIME_WAIT) {
      this.host.counters.inc('tcp.write_after_end')
      return false
    }
    if (b.length > 0) {
      this.snd.buf.write(b)
      if (this.synchronized()) this.flush()
    }
    const ok = this.snd.queued < this.sndCap()
    if (!ok) this.needDrain = true
    return ok
  }

  end(): void {
    if (this.snd.finQueued || this.isClosed()) return
    this.snd.finQueued = true
    if (this.st === TcpState.ESTABLISHED) this.st = TcpState.FIN_WAIT_1
    else if (this.st === TcpState.CLOSE_WAIT) this.st = TcpState.LAST_ACK
    if (this.synchronized()) this.flush()
  }

  destroy(err?: Error): void {
    if (this.isClosed()) return
    if (this.synchronized() && this.st !== TcpState.TIME_WAIT) {
      this.sendSegment(TcpFlag.RST | TcpFlag.ACK, this.snd.seqOf(this.snd.nxt), EMPTY_PAYLOAD)
    }
    this.finish(err ?? null)
  }

  pause(): void {
    this.paused = true
  }
  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.scheduleFlush()
  }

  setKeepAlive(enable: boolean, initialDelayMs?: number): void {
    this.keepAlive = enable
    if (initialDelayMs !== undefined && initialDelayMs > 0) this.keepIdle = initialDelayMs
    if (enable) this.keepTimer.arm(this.host.clock.now() + this.keepIdle)
    else this.keepTimer.clear()
  }

  setNoDelay(noDelay: boolean): void {
    this.snd.noDelay = noDelay
    if (noDelay && this.synchronized()) this.flush()
  }

  // ── stack glue ───────────────────────────────────────────────────────────────────────

  /** Process one arriving segment of this connection. */
  input(seg: TcpSegment): void {
    if (this.isClosed()) return
    const now = this.host.clock.now()
    this.lastRx = now
    this.keepProbes = 0
    this.inBurst = true
    try {
      segmentArrives(this, seg, now)
      if (this.isClosed()) return
      this.deliver()
      if (this.isClosed()) return
      this.flush()
    } finally {
      this.inBurst = false
    }
  }

  /**
   * ACK coalescing per receive burst (as GRO does for Linux): an ACK owed to arriving segments is
   * sent once, after every segment that arrived in the same event-loop poll phase was processed
   * (a zero-delay clock callback: setImmediate on the real clock, the same instant on FakeClock),
   * carrying the newest cumulative ACK, window and SACK blocks. Data sent meanwhile carries it.
   * ACKs that report holes, filled holes or duplicates go out at once (Receiver.ackImmediate).
   */
  private scheduleBurstAck(): void {
    if (this.burstAckScheduled) return
    this.burstAckScheduled = true
    this.host.clock.schedule(this.host.clock.now(), () => {
      this.burstAckScheduled = false
      if (this.isClosed() || !this.rcv.ackNow) return
      if (this.st === TcpState.SYN_SENT || this.st === TcpState.SYN_RECEIVED) return
      this.sendAck()
    })
  }

  /** ICMP destination unreachable / fragmentation needed (RFC 1122 §4.2.3.9, RFC 1191, RFC 8201). */
  icmpError(err: Error, kind: 'unreachable' | 'frag-needed', mtu?: number): void {
    if (this.isClosed()) return
    if (kind === 'frag-needed') {
      if (mtu === undefined) return
      const ipHdr = this.tuple.family === 4 ? 20 : 40
      const m = Math.max(this.tuple.family === 4 ? 536 : 1220, mtu - ipHdr - 20)
      if (m >= this.baseMss()) return
      this.pmtuMss = m
      this.host.counters.inc('tcp.pmtu_reduced')
      this.snd.setMss(this.effMss())
      if (this.snd.sb.markLostLargerThan(this.snd.mss) && this.synchronized()) this.flush()
      return
    }
    if (this.st === TcpState.SYN_SENT || this.st === TcpState.SYN_RECEIVED) this.finish(err)
    else this.softError = err
  }

  /**
   * A new SYN for this four-tuple while in TIME-WAIT (RFC 9293 §3.6.1 / RFC 6191): if its sequence
   * number (or timestamp) is beyond the old connection, the TIME-WAIT state ends now (released) and
   * true is returned, so the stack can hand the SYN to its listener. Otherwise false: pass the
   * segment to input() as usual (it gets a challenge ACK).
   */
  reuseForSyn(seg: TcpSegment): boolean {
    if (this.st !== TcpState.TIME_WAIT || (seg.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) !== TcpFlag.SYN) return false
    const tsv = seg.options.tsVal
    const newer = this.tsOk && tsv !== undefined ? seqGt(tsv >>> 0, this.tsRecent) : seqGt(seg.seq, this.rcv.nxt)
    if (!newer) return false
    this.host.counters.inc('tcp.time_wait_reused')
    this.finish(undefined, false)
    return true
  }

  /** The link accepts output again. */
  linkDrained(): void {
    if (this.synchronized()) this.flush()
    else if (this.synRefused && (this.st === TcpState.SYN_SENT || this.st === TcpState.SYN_RECEIVED)) this.sendSyn()
  }

  info(): TcpInfo {
    const s = this.snd
    return {
      state: this.st,
      mss: s.mss,
      cwnd: s.cc.cwnd,
      ssthresh: s.cc.ssthresh,
      srtt: s.rtt.srtt,
      rto: s.rtt.rto,
      sndWnd: s.wnd,
      rcvWnd: this.rcv.wnd,
      rcvBuf: this.rcv.buf,
      inFlight: s.pipe,
      retransmits: s.retransmits,
      fastRecoveries: s.fastRecoveries,
      timeouts: s.timeouts,
      spuriousRecoveries: s.spuriousRecoveries,
      sack: s.sackOk,
      timestamps: this.tsOk,
      sndScale: s.scale,
      rcvScale: this.rcv.scale,
    }
  }

  // ── internals used by input.ts ───────────────────────────────────────────────────────

  /** @internal */ isClosed(): boolean {
    return this.st === TcpState.CLOSED
  }

  /** @internal */ synchronized(): boolean {
    return this.st !== TcpState.CLOSED && this.st !== TcpState.SYN_SENT && this.st !== TcpState.SYN_RECEIVED
  }

  /** @internal MSS before option overhead: peer's MSS, our link and the path MTU. */
  baseMss(): number {
    return Math.min(this.peerMss, this.host.mssFor(this.tuple.family), this.pmtuMss)
  }
  /** @internal payload per segment */
  effMss(): number {
    return Math.max(48, this.baseMss() - (this.tsOk ? TS_OPT_LEN : 0)) // floor as Linux tcp_min_snd_mss
  }

  /** @internal option negotiation from the peer's SYN (RFC 7323 §2.2/§3.2, RFC 2018 §2). */
  negotiate(syn: TcpSegment): void {
    const o = syn.options
    const t = this.tuning
    this.tsOk = t.timestamps && o.tsVal !== undefined
    if (this.tsOk) {
      this.tsRecent = o.tsVal! >>> 0
      this.lastTsRecentAt = this.host.clock.now()
    }
    this.snd.sackOk = t.sack && o.sackPermitted === true
    this.wsOk = t.windowScaling && o.wscale !== undefined
    if (this.wsOk) {
      this.snd.scale = Math.min(14, o.wscale!)
      this.rcv.scale = this.ourScale
    } else {
      this.snd.scale = 0
      this.rcv.scale = 0
    }
    this.peerMss = o.mss !== undefined && o.mss > 0 ? o.mss : this.tuple.family === 4 ? 536 : 1220
  }

  /** @internal handshake complete */
  establish(now: number): void {
    this.st = this.snd.finQueued ? TcpState.FIN_WAIT_1 : TcpState.ESTABLISHED
    this.rtxTimer.clear()
    this.rtoRetries = 0
    this.snd.setMss(this.effMss())
    this.snd.cc.cwnd = this.tuning.initialCwnd * this.snd.mss
    if (this.synXmits === 1 && !this.tsOk) this.snd.rtt.sample(now - this.synSentAt)
    if (this.keepAlive) this.keepTimer.arm(now + this.keepIdle)
    const r = this.estResolve
    this.estResolve = this.estReject = null
    if (r) r()
  }

  /** @internal SYN or SYN-ACK (retransmission included) */
  sendSyn(): void {
    outputSyn(this)
  }

  /** @internal our timestamp clock (ms ticks, RFC 7323 §5.4) */
  tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0
  }

  /** @internal build and output one segment carrying the current ACK and window */
  sendSegment(flags: number, seq: number, payload: Uint8Array): boolean {
    return outputSegment(this, flags, seq, payload)
  }

  /** @internal pure ACK (also challenge ACKs, window updates, probes use seq override) */
  sendAck(seq = this.snd.seqOf(this.snd.nxt)): boolean {
    this.acksSent++
    return this.sendSegment(TcpFlag.ACK, seq, EMPTY_PAYLOAD)
  }

  /** @internal RFC 5961 §7: challenge ACKs, rate-limited per endpoint */
  challengeAck(now: number): void {
    if (now - this.challengeWindowAt >= 1000) {
      this.challengeWindowAt = now
      this.challengeCount = 0
    }
    if (++this.challengeCount > 100) {
      this.host.counters.inc('tcp.challenge_ack_limited')
      return
    }
    this.host.counters.inc('tcp.challenge_ack')
    this.sendAck()
  }

  /** @internal */ readonly emit = (off: number, len: number, fin: boolean, rtx: boolean): boolean => {
    const snd = this.snd
    const payload = len > 0 ? snd.buf.view(off, len) : EMPTY_PAYLOAD
    let flags = TcpFlag.ACK
    if (fin) flags |= TcpFlag.FIN
    if (len > 0 && off + len === snd.buf.end) flags |= TcpFlag.PSH
    if (rtx) this.host.counters.inc('tcp.retransmit')
    return this.sendSegment(flags, snd.seqOf(off), payload)
  }

  /** @internal send data/ACKs as allowed and (re)arm timers */
  flush(): void {
    const now = this.host.clock.now()
    const snd = this.snd
    if (this.synchronized() && this.st !== TcpState.TIME_WAIT) snd.fill(now, this.emit)
    this.armPacer()
    const rcv = this.rcv
    if (rcv.ackNow) {
      if (this.inBurst && !rcv.ackImmediate) this.scheduleBurstAck()
      else this.sendAck()
    } else if (rcv.ackPending) this.delackTimer.armIfIdle(now + this.tuning.delayedAckMs)
    if (snd.outstanding > 0) {
      if (snd.lastAcked > 0) {
        snd.lastAcked = 0
        this.tlpSent = false
        this.armRtx(now)
      } else if (!this.rtxTimer.armed) this.armRtx(now)
      this.persistTimer.clear()
      this.persistShift = 0
    } else {
      if (this.synchronized()) this.rtxTimer.clear()
      if (snd.windowBlocked) this.persistTimer.armIfIdle(now + snd.rtt.rto)
      else {
        this.persistTimer.clear()
        this.persistShift = 0
      }
    }
    if (this.needDrain && snd.queued <= this.sndLowWater()) {
      this.needDrain = false
      this.onDrain?.()
    }
  }

  /** Send-buffer size now: sndBuf, grown to 2 × cwnd up to sndBufMax (send-buffer autotuning). */
  private sndCap(): number {
    const t = this.tuning
    return Math.min(t.sndBufMax, Math.max(t.sndBuf, 2 * this.snd.cc.cwnd))
  }
  private sndLowWater(): number {
    const t = this.tuning
    const cap = this.sndCap()
    return cap === t.sndBuf ? t.sndLowWater : Math.floor((cap * t.sndLowWater) / t.sndBuf)
  }

  /** @internal the pacer held segments back: release them when the credit allows */
  armPacer(): void {
    if (this.snd.pacedUntil >= 0) this.pacingTimer.arm(this.snd.pacedUntil)
    else this.pacingTimer.clear()
  }

  /** Retransmission timer, or the tail-loss-probe timer when a probe is due first (RFC 8985 §7.2). */
  private armRtx(now: number): void {
    const snd = this.snd
    const rto = snd.rtt.rto
    if (this.tuning.tlp && snd.sackOk && snd.rtt.sampled && !snd.inRecovery && !snd.inLoss && !this.tlpSent) {
      let pto = Math.max(2 * snd.rtt.srtt, 10)
      if (snd.outstanding <= snd.mss) pto += 200 // WCDelAckT: the peer may be delaying its ACK
      if (pto < rto) {
        this.tlpArmed = true
        this.rtxTimer.arm(now + pto)
        return
      }
    }
    this.tlpArmed = false
    this.rtxTimer.arm(now + rto)
  }

  /** @internal hand queued data to the application (zero-copy) */
  deliver(): void {
    if (this.delivering) return
    this.delivering = true
    const rcv = this.rcv
    let freed = false
    // after a clean close the queued data is still the application's: keep delivering it
    while (!this.paused && this._onData && !this.aborted) {
      const c = rcv.shift()
      if (!c) break
      freed = true
      this._onData(c)
    }
    this.delivering = false
    if (this.aborted) return
    if (rcv.finReceived && !rcv.hasData && !this.endEmitted && this._onEnd) {
      this.endEmitted = true
      this._onEnd()
      if (this.aborted) return
    }
    if (this.st === TcpState.CLOSED || this.st === TcpState.TIME_WAIT) {
      this.maybeEmitClose()
      return
    }
    if (freed) {
      const now = this.host.clock.now()
      if (this.snd.rtt.sampled) rcv.noteRtt(this.snd.rtt.srtt)
      rcv.autotune(now, this.snd.mss)
      if (rcv.wantsWindowUpdate(this.snd.mss) && !rcv.finReceived) rcv.ackNow = true
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    this.host.clock.schedule(this.host.clock.now(), () => {
      this.flushScheduled = false
      this.deliver()
      this.maybeEmitClose()
      if (this.synchronized() && this.st !== TcpState.TIME_WAIT) this.flush()
    })
  }

  /** @internal enter TIME-WAIT (RFC 9293 §3.10.7.4): the app sees close now, release after 2·MSL */
  enterTimeWait(now: number): void {
    this.st = TcpState.TIME_WAIT
    this.rcv.detach()
    this.rtxTimer.clear()
    this.persistTimer.clear()
    this.keepTimer.clear()
    this.twTimer.arm(now + 2 * this.tuning.msl)
    this.deliver()
    this.maybeEmitClose()
  }

  /** @internal restart the 2·MSL timer (retransmitted FIN in TIME-WAIT) */
  restartTimeWait(now: number): void {
    this.twTimer.arm(now + 2 * this.tuning.msl)
  }

  /** @internal go to CLOSED: release, report close (err null = no error). */
  finish(err: Error | null | undefined, abort: boolean = err !== undefined): void {
    if (this.isClosed()) return
    const wasTw = this.st === TcpState.TIME_WAIT
    this.st = TcpState.CLOSED
    this.rcv.detach()
    for (const t of [this.rtxTimer, this.delackTimer, this.persistTimer, this.keepTimer, this.twTimer, this.pacingTimer]) t.dispose()
    if (err) this.closeErr = err
    if (abort) this.aborted = true
    const rej = this.estReject
    this.estResolve = this.estReject = null
    if (rej) rej(err ?? new BurrowError(ErrorCode.ECLOSED, 'connection closed before it was established'))
    this.host.release(this.tuple)
    if (!wasTw) {
      this.deliver()
      this.maybeEmitClose()
    }
  }

  private closePending(): boolean {
    return (this.st === TcpState.CLOSED || this.st === TcpState.TIME_WAIT) && !this.closeEmitted
  }

  /** onClose once the connection is over and (unless aborted) every received byte was delivered. */
  private maybeEmitClose(): void {
    if (this.closeEmitted || !this._onClose || !this.closePending()) return
    if (!this.aborted && this.rcv.hasData) return
    this.closeEmitted = true
    const fn = this._onClose
    fn(this.closeErr)
  }

  /** @internal connection error (RST, timeout) */
  fail(code: ErrorCode, msg: string): void {
    const err = new BurrowError(code, `${msg} (${this.tuple.remoteAddress}:${this.tuple.remotePort})`, this.softError ? { cause: this.softError } : undefined)
    this.finish(err)
  }
}
