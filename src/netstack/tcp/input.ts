// "Segment arrives" processing (RFC 9293 §3.10.7.3 SYN-SENT and §3.10.7.4 other states), with
// RFC 5961 blind-attack mitigations (§3 RST: exact RCV.NXT match or challenge ACK; §4 SYN in a
// synchronized state: challenge ACK; §5 ACK range check) and RFC 7323 PAWS / TS.Recent (§5, §4.3).
// Delivery to the application and output happen afterwards in TcpEndpoint.input().
import { ErrorCode } from '../../core/errors.js'
import { TcpFlag, type TcpSegment } from './types.js'
import type { TcpEndpoint } from './endpoint.js'
import { TcpState } from './state.js'
import { AckResult } from './snd.js'
import { RxResult } from './rcv.js'
import { rstForUnmatched, segLen } from './segment.js'
import { seqAdd, seqDiff, seqGe, seqInRange, seqLe, seqLt } from './seq.js'

const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000 // RFC 7323 §5.5: TS.Recent invalid after 24 days idle

export function segmentArrives(ep: TcpEndpoint, seg: TcpSegment, now: number): void {
  if (ep.st === TcpState.SYN_SENT) {
    synSent(ep, seg, now)
    return
  }
  const f = seg.flags
  const rcv = ep.rcv
  const snd = ep.snd
  const len = segLen(seg)
  const o = seg.options

  // simultaneous open: the peer's SYN-ACK acknowledges our SYN (RFC 9293 §3.5 Figure 8, line 5)
  if (ep.st === TcpState.SYN_RECEIVED && (f & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === (TcpFlag.SYN | TcpFlag.ACK)) {
    if (seg.seq === rcv.irs && seg.ack === snd.seqOf(0)) {
      snd.initWindow(seg.seq, seg.ack, seg.window)
      ep.establish(now)
      rcv.ackNow = true
    } else ep.challengeAck(now)
    return
  }
  if (ep.st === TcpState.SYN_RECEIVED && (f & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === TcpFlag.SYN && seg.seq === rcv.irs) {
    ep.sendSyn() // the peer retransmitted its SYN: repeat the SYN-ACK
    return
  }

  // PAWS (RFC 7323 §5.3 R1)
  if (ep.tsOk && o.tsVal !== undefined && !(f & TcpFlag.RST)) {
    if (seqLt(o.tsVal >>> 0, ep.tsRecent) && now - ep.lastTsRecentAt < PAWS_IDLE_MS) {
      ep.host.counters.inc('tcp.paws_drop')
      // answer with an ACK, except for pure ACKs (no ACK war over stale duplicates)
      if (len > 0) rcv.ackNow = true
      return
    }
  }

  // first check: sequence number acceptability (§3.10.7.4 table)
  const wnd = Math.max(rcv.wnd, rcv.buf - rcv.queued)
  let acceptable: boolean
  let zeroWindowAck = false
  if (len === 0) {
    acceptable = wnd === 0 ? seg.seq === rcv.nxt : seqInRange(seg.seq, rcv.nxt, seqAdd(rcv.nxt, wnd))
  } else if (wnd === 0) {
    // a bare FIN at RCV.NXT takes no buffer space: accept it even into a zero window
    acceptable = seg.payload.length === 0 && !(f & TcpFlag.SYN) && seg.seq === rcv.nxt
    // RCV.WND = 0: still take valid ACKs (and RSTs) from a probe at RCV.NXT
    zeroWindowAck = !acceptable && seg.seq === rcv.nxt
  } else {
    const last = seqAdd(seg.seq, len - 1)
    acceptable = seqInRange(seg.seq, rcv.nxt, seqAdd(rcv.nxt, wnd)) || seqInRange(last, rcv.nxt, seqAdd(rcv.nxt, wnd))
  }
  if (!acceptable && !zeroWindowAck) {
    if (!(f & TcpFlag.RST)) {
      ep.host.counters.inc('tcp.out_of_window')
      if (ep.st === TcpState.TIME_WAIT && f & TcpFlag.FIN) ep.restartTimeWait(now)
      // an old duplicate: report it as a D-SACK (RFC 2883 §4.1)
      if (seg.payload.length > 0 && seqLe(seqAdd(seg.seq, seg.payload.length), rcv.nxt)) {
        rcv.dsack = [seg.seq, seqAdd(seg.seq, seg.payload.length)]
        rcv.ackImmediate = true
      }
      rcv.ackNow = true
    }
    return
  }

  // second check: RST (RFC 5961 §3.2)
  if (f & TcpFlag.RST) {
    if (ep.st === TcpState.TIME_WAIT) return // RFC 1337
    if (seg.seq === rcv.nxt) {
      ep.host.counters.inc('tcp.rst_received')
      if (ep.st === TcpState.SYN_RECEIVED) ep.fail(ErrorCode.ECONNREFUSED, 'connection reset during handshake')
      else if (ep.st === TcpState.CLOSING || ep.st === TcpState.LAST_ACK) ep.finish(undefined)
      else ep.fail(ErrorCode.ECONNRESET, 'connection reset by peer')
    } else {
      ep.challengeAck(now)
    }
    return
  }

  // TS.Recent update (RFC 7323 §4.3 (2))
  if (ep.tsOk && o.tsVal !== undefined && seqLe(seg.seq, ep.lastAckSent) && seqGe(o.tsVal >>> 0, ep.tsRecent)) {
    ep.tsRecent = o.tsVal >>> 0
    ep.lastTsRecentAt = now
  }

  // fourth check: SYN (RFC 5961 §4.2)
  if (f & TcpFlag.SYN) {
    ep.challengeAck(now)
    return
  }

  // fifth check: ACK
  if (!(f & TcpFlag.ACK)) return
  if (ep.st === TcpState.SYN_RECEIVED) {
    if (seg.ack !== snd.seqOf(0)) {
      const rst = rstForUnmatched(seg)
      if (rst) ep.host.output(ep.tuple, rst)
      return
    }
    snd.initWindow(seg.seq, seg.ack, seg.window * 2 ** snd.scale)
    ep.establish(now)
  }

  let rttSample = -1
  if (ep.tsOk && o.tsEcr !== undefined && o.tsEcr !== 0) {
    const d = seqDiff(ep.tsNow(now), o.tsEcr >>> 0)
    if (d >= 0) rttSample = d
  }
  const pure = seg.payload.length === 0 && !(f & (TcpFlag.FIN | TcpFlag.SYN))
  const r = snd.onAck(seg.seq, seg.ack, seg.window, o.sack, rttSample, pure, now)
  if (r === AckResult.TOO_NEW) {
    ep.host.counters.inc('tcp.ack_too_new')
    rcv.ackNow = true
    return
  }
  if (r === AckResult.TOO_OLD) {
    ep.challengeAck(now)
    return
  }
  if (snd.lastAcked > 0) ep.rtoRetries = 0
  if (rttSample >= 0 && seg.payload.length > 0) rcv.noteRtt(rttSample)

  if (snd.finAcked) {
    switch (ep.st) {
      case TcpState.FIN_WAIT_1:
        ep.st = TcpState.FIN_WAIT_2
        break
      case TcpState.CLOSING:
        ep.enterTimeWait(now)
        return
      case TcpState.LAST_ACK:
        ep.finish(undefined)
        return
    }
  }
  if (zeroWindowAck) {
    rcv.ackNow = true
    return
  }

  // seventh check: segment text, eighth: FIN
  const fin = (f & TcpFlag.FIN) !== 0
  if (seg.payload.length === 0 && !fin) return
  switch (ep.st) {
    case TcpState.ESTABLISHED:
    case TcpState.FIN_WAIT_1:
    case TcpState.FIN_WAIT_2: {
      const wasFin = rcv.finReceived
      const res = rcv.onSegment(seg.seq, seg.payload, fin, now)
      if (res === RxResult.DUP) {
        ep.host.counters.inc('tcp.dup_data')
        rcv.ackNow = true
        rcv.ackImmediate = true
      }
      if (rcv.drops) {
        ep.host.counters.inc('tcp.rcv_dropped', rcv.drops)
        rcv.drops = 0
      }
      if (!wasFin && rcv.finReceived) peerFin(ep, now)
      break
    }
    case TcpState.TIME_WAIT:
      if (fin) ep.restartTimeWait(now)
      rcv.ackNow = true
      break
    default:
      // CLOSE-WAIT, CLOSING, LAST-ACK: the peer already sent FIN; retransmitted data → ACK
      rcv.ackNow = true
  }
}

function peerFin(ep: TcpEndpoint, now: number): void {
  switch (ep.st) {
    case TcpState.ESTABLISHED:
      ep.st = TcpState.CLOSE_WAIT
      break
    case TcpState.FIN_WAIT_1:
      if (ep.snd.finAcked) ep.enterTimeWait(now)
      else ep.st = TcpState.CLOSING
      break
    case TcpState.FIN_WAIT_2:
      ep.enterTimeWait(now)
      break
  }
}

/** RFC 9293 §3.10.7.3 */
function synSent(ep: TcpEndpoint, seg: TcpSegment, now: number): void {
  const f = seg.flags
  const snd = ep.snd
  const rcv = ep.rcv
  if (f & TcpFlag.ACK) {
    if (seg.ack !== snd.seqOf(0)) {
      if (!(f & TcpFlag.RST)) {
        const rst = rstForUnmatched(seg)
        if (rst) ep.host.output(ep.tuple, rst)
      }
      return
    }
  }
  if (f & TcpFlag.RST) {
    if (f & TcpFlag.ACK) {
      ep.host.counters.inc('tcp.conn_refused')
      ep.fail(ErrorCode.ECONNREFUSED, 'connection refused')
    }
    return
  }
  if (!(f & TcpFlag.SYN)) return
  rcv.init(seg.seq)
  ep.negotiate(seg)
  ep.lastTsRecentAt = now
  if (f & TcpFlag.ACK) {
    snd.initWindow(seg.seq, seg.ack, seg.window)
    const o = seg.options
    if (ep.tsOk && o.tsEcr !== undefined && o.tsEcr !== 0) {
      const d = seqDiff(ep.tsNow(now), o.tsEcr >>> 0)
      if (d >= 0) snd.rtt.sample(d)
    }
    ep.establish(now)
    rcv.ackNow = true
    if (seg.payload.length > 0 || f & TcpFlag.FIN) {
      rcv.onSegment(seqAdd(seg.seq, 1), seg.payload, (f & TcpFlag.FIN) !== 0, now)
      if (rcv.finReceived) peerFin(ep, now)
    }
    return
  }
  // simultaneous open (§3.10.7.3 fourth step, "Otherwise enter SYN-RECEIVED")
  ep.st = TcpState.SYN_RECEIVED
  ep.synXmits = 0
  ep.sendSyn()
}
