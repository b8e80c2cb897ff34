// Building outgoing segments: SYN / SYN-ACK options (RFC 9293 §3.7.1 MSS, RFC 7323 §2.2/§3.2
// window scale and timestamps, RFC 2018 §2 SACK-permitted) and every other segment's ACK, window,
// timestamps and SACK blocks (RFC 2018 §3–4), kept within 40 option bytes and the peer's MSS.
import { TcpFlag, type TcpOptions, type TcpSegment } from './types.js'
import type { TcpEndpoint } from './endpoint.js'
import { TcpState } from './state.js'
import { EMPTY_PAYLOAD } from './segment.js'

const TS_OPT_LEN = 12

export function outputSyn(ep: TcpEndpoint): void {
  const now = ep.host.clock.now()
  const synAck = ep.st === TcpState.SYN_RECEIVED
  const o: TcpOptions = { mss: ep.host.mssFor(ep.tuple.family) }
  const t = ep.tuning
  if (t.windowScaling && (!synAck || ep.wsOk)) o.wscale = ep.ourScale
  if (t.sack && (!synAck || ep.snd.sackOk)) o.sackPermitted = true
  if (t.timestamps && (!synAck || ep.tsOk)) {
    o.tsVal = ep.tsNow(now)
    o.tsEcr = synAck ? ep.tsRecent : 0
  }
  const flags = synAck ? TcpFlag.SYN | TcpFlag.ACK : TcpFlag.SYN
  const seg: TcpSegment = {
    srcPort: ep.tuple.localPort,
    dstPort: ep.tuple.remotePort,
    seq: ep.snd.iss,
    ack: synAck ? ep.rcv.nxt : 0,
    flags,
    window: ep.rcv.synWindow(),
    urgent: 0,
    options: o,
    payload: EMPTY_PAYLOAD,
  }
  ep.synXmits++
  if (ep.synXmits === 1) ep.synSentAt = now
  if (synAck) ep.lastAckSent = ep.rcv.nxt
  if (!ep.host.output(ep.tuple, seg)) {
    // refused by the link: resend on linkDrained() (or the retransmission timer)
    ep.synRefused = true
    ep.synXmits--
    ep.host.counters.inc('tcp.output_refused')
  } else ep.synRefused = false
  ep.rtxTimer.arm(now + ep.snd.rtt.rto)
}

export function outputSegment(ep: TcpEndpoint, flags: number, seq: number, payload: Uint8Array): boolean {
  const now = ep.host.clock.now()
  const rcv = ep.rcv
  const o: TcpOptions = {}
  let optLen = 0
  if (ep.tsOk) {
    o.tsVal = ep.tsNow(now)
    o.tsEcr = ep.tsRecent
    optLen = TS_OPT_LEN
  }
  let sackComplete = true
  if (ep.snd.sackOk && (!rcv.ooo.empty || rcv.dsack) && !(flags & TcpFlag.RST)) {
    // options ≤ 40 bytes and the segment ≤ the peer's MSS
    const room = Math.min(40 - optLen, ep.baseMss() - payload.length - optLen)
    let max = Math.max(0, Math.floor((room - 2) / 8))
    const d = rcv.dsack && max > 0 ? rcv.dsack : null
    if (d) max--
    const blocks = rcv.sack.blocks(rcv.ooo, max)
    if (d) o.sack = blocks ? [d, ...blocks] : [d]
    else if (blocks && blocks.length) o.sack = blocks
    // a data segment short of room for every block is followed by a pure ACK that carries them;
    // a pure ACK carries all that fits in 40 option bytes and counts as sent (else every
    // arriving ACK would trigger another one: an ACK war between two SACK receivers)
    const fewer = !rcv.ooo.empty && (!blocks || blocks.length < Math.min(rcv.ooo.ranges.length, ep.tsOk ? 3 : 4))
    if (payload.length > 0 && ((rcv.dsack && !d) || fewer)) {
      sackComplete = false
    }
  }
  const hasAck = (flags & TcpFlag.ACK) !== 0
  const seg: TcpSegment = {
    srcPort: ep.tuple.localPort,
    dstPort: ep.tuple.remotePort,
    seq,
    ack: hasAck ? rcv.nxt : 0,
    flags,
    window: flags & TcpFlag.RST ? 0 : rcv.windowField(ep.snd.mss),
    urgent: 0,
    options: o,
    payload,
  }
  const ok = ep.host.output(ep.tuple, seg)
  if (ok && hasAck) {
    ep.lastAckSent = rcv.nxt
    if (sackComplete) {
      rcv.ackSent()
      ep.delackTimer.clear()
    }
  }
  if (!ok) ep.host.counters.inc('tcp.output_refused')
  return ok
}
