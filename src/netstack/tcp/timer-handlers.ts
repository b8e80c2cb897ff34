// Timer expiries of a connection: retransmission and tail-loss probe (RFC 6298 §5, RFC 8985 §7),
// SYN retransmission (RFC 9293 §3.8.1), delayed ACK (RFC 1122 §4.2.3.2), persist / window probes
// and the SWS override (RFC 9293 §3.8.6.1, §3.8.6.2.1), keepalive (RFC 1122 §4.2.3.6).
import { ErrorCode } from '../../core/errors.js'
import type { TcpEndpoint } from './endpoint.js'
import { TcpState } from './state.js'
import { seqAdd } from './seq.js'

export function onRtxTimer(ep: TcpEndpoint): void {
  const now = ep.host.clock.now()
  const snd = ep.snd
  if (ep.st === TcpState.SYN_SENT || ep.st === TcpState.SYN_RECEIVED) {
    if (ep.synXmits > ep.tuning.synRetries) {
      if (ep.softError) ep.finish(ep.softError)
      else ep.fail(ErrorCode.ETIMEDOUT, 'connection timed out')
      return
    }
    snd.rtt.backoff()
    ep.host.counters.inc('tcp.syn_retransmit')
    ep.sendSyn()
    return
  }
  if (!ep.synchronized() || snd.outstanding === 0) return
  if (ep.tlpArmed) {
    // tail loss probe: resend the last segment so the ACK it elicits exposes tail losses
    ep.tlpArmed = false
    ep.tlpSent = true
    const s = snd.sb.probeLast(now)
    if (s) {
      ep.host.counters.inc('tcp.tlp')
      ep.emit(s.start, s.end - s.start - (s.fin ? 1 : 0), s.fin, true)
    }
    ep.rtxTimer.arm(now + snd.rtt.rto)
    return
  }
  if (++ep.rtoRetries > ep.tuning.maxRetries) {
    ep.fail(ErrorCode.ETIMEDOUT, 'connection timed out (retransmissions)')
    return
  }
  ep.host.counters.inc('tcp.rto')
  snd.onRto(now)
  snd.fill(now, ep.emit)
  ep.armPacer()
  ep.rtxTimer.arm(now + snd.rtt.rto)
}

export function onDelackTimer(ep: TcpEndpoint): void {
  if (ep.rcv.ackPending && ep.synchronized()) ep.sendAck()
}

export function onPersistTimer(ep: TcpEndpoint): void {
  const snd = ep.snd
  if (!ep.synchronized() || snd.outstanding > 0 || (snd.unsent === 0 && !snd.finQueued)) return
  if (snd.wnd > 0) {
    // a small window held back by SWS avoidance: send into it now
    snd.overrideSws = true
    ep.flush()
    snd.overrideSws = false
    return
  }
  ep.host.counters.inc('tcp.window_probe')
  // probe with an old sequence number: the peer answers with an ACK carrying its window
  ep.sendAck(seqAdd(snd.seqOf(snd.una), -1))
  ep.persistShift = Math.min(ep.persistShift + 1, 16)
  const now = ep.host.clock.now()
  ep.persistTimer.arm(now + Math.min(ep.tuning.maxRto, snd.rtt.rto * 2 ** ep.persistShift))
}

export function onKeepTimer(ep: TcpEndpoint): void {
  if (!ep.keepAlive || !ep.synchronized() || ep.st === TcpState.TIME_WAIT) return
  const now = ep.host.clock.now()
  const idleFor = now - ep.lastRx
  if (ep.snd.outstanding > 0 || ep.snd.unsent > 0) {
    // data in flight or waiting: the retransmission / persist timers watch the peer instead
    ep.keepProbes = 0
    ep.keepTimer.arm(now + ep.keepIdle)
    return
  }
  if (ep.keepProbes === 0 && idleFor < ep.keepIdle) {
    ep.keepTimer.arm(ep.lastRx + ep.keepIdle)
    return
  }
  if (ep.keepProbes >= ep.tuning.keepAliveProbes) {
    ep.fail(ErrorCode.ETIMEDOUT, 'keepalive timeout')
    return
  }
  ep.keepProbes++
  ep.host.counters.inc('tcp.keepalive_probe')
  ep.sendAck(seqAdd(ep.snd.seqOf(ep.snd.una), -1))
  ep.keepTimer.arm(now + ep.tuning.keepAliveIntervalMs)
}
