import { describe, expect, it } from 'vitest'
import { Scoreboard, type SentSeg } from '../../../src/netstack/tcp/scoreboard.js'
import { RateSampler } from '../../../src/netstack/tcp/rate.js'
import { fill } from './harness.js'
import { client } from './script.js'

// Reordering-tolerant loss detection (RFC 8985 §6.2): the RACK window widens to the reordering
// measured in time, D-SACKs grow its multiplier once per round, and once reordering has been seen
// a byte count of SACKed data no longer marks anything lost. A path that reorders like netem
// (reordered packets skip the delay queue) produced RTT samples of ~0, which made the window 0:
// every overtaken segment was retransmitted (more retransmissions than new data).

function seg(start: number, end: number, sentAt: number, xmits = 1): SentSeg {
  return { start, end, fin: false, sentAt, xmits, sacked: false, lost: false, retrans: false, acked: false, dlv: 0, dlvTime: 0, firstSent: 0, appLimited: false }
}

describe('reordering measured in time', () => {
  it('the segment at SND.UNA arriving after a newer one measures the extent; the window then tolerates it', () => {
    const c = client({ congestion: 'cubic' }, { mss: 1000, sackPermitted: true })
    const { P, I } = c
    // the handshake's RTT sample under the fake clock is 0: min_RTT/4 = 0, the netem-path case
    c.ep.write(fill(1000)) // A at t=0
    c.clock.advance(10)
    c.ep.write(fill(1000)) // B at t=10
    c.clock.advance(5)
    c.host.out.length = 0
    c.host.linkOk = false // A's retransmission cannot leave: its late original is still measurable
    c.peer({ flags: 'A', seq: P, ack: I, options: { sack: [[I + 1000, I + 2000]] } })
    expect(c.ep.snd.sb.lostBytes).toBe(1000) // no reordering seen yet: window 0, A marked lost
    c.peer({ flags: 'A', seq: P, ack: I + 2000 }) // …but A arrives
    expect(c.ep.snd.sb.reorderTime).toBe(10)
    expect(c.ep.snd.sb.reorderBytes).toBe(1000)
    c.host.linkOk = true

    // overtaken by 8 ms < 10 ms measured: not lost
    const base = c.ep.info().retransmits
    c.ep.write(fill(1000)) // C at t=15
    c.clock.advance(8)
    c.ep.write(fill(1000)) // D at t=23
    c.clock.advance(2)
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P, ack: I + 2000, options: { sack: [[I + 3000, I + 4000]] } })
    expect(c.ep.snd.sb.lostBytes).toBe(0)
    expect(c.host.out.filter((s) => s.payload.length > 0)).toEqual([])
    c.peer({ flags: 'A', seq: P, ack: I + 4000 })

    // overtaken by 15 ms > 10 ms: lost, retransmitted
    c.ep.write(fill(1000)) // E at t=25
    c.clock.advance(15)
    c.ep.write(fill(1000)) // F at t=40
    c.clock.advance(2)
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P, ack: I + 4000, options: { sack: [[I + 5000, I + 6000]] } })
    expect(c.host.out.filter((s) => s.payload.length > 0).map((s) => s.seq - I)).toEqual([4000])
    expect(c.ep.info().retransmits).toBe(base + 1)
  })

  it('once reordering is seen, SACKed bytes above a hole do not mark it lost by count', () => {
    const c = client({ congestion: 'cubic' }, { mss: 1000, sackPermitted: true })
    const { P, I } = c
    c.ep.write(fill(2000))
    c.clock.advance(1)
    c.peer({ flags: 'A', seq: P, ack: I, options: { sack: [[I + 1000, I + 2000]] } })
    c.peer({ flags: 'A', seq: P, ack: I + 2000 }) // reordering by one segment
    expect(c.ep.snd.sb.reorderBytes).toBe(1000)
    c.host.out.length = 0
    c.ep.write(fill(8000)) // eight segments sent in the same millisecond
    c.host.out.length = 0
    c.clock.advance(1)
    // six segments SACKed above the first: DupThresh would call it lost; sent at the same time
    // as the SACKed ones, RACK does not
    c.peer({ flags: 'A', seq: P, ack: I + 2000, options: { sack: [[I + 4000, I + 10_000]] } })
    expect(c.ep.snd.sb.lostBytes).toBe(0)
    expect(c.ep.info().fastRecoveries).toBe(0)
  })

  it('only the ACK that moved SND.UNA, or the first SACK block, measures (older news is not reordering)', () => {
    const sb = new Scoreboard()
    const a = seg(0, 1000, 0, 2) // the head, retransmitted
    const b = seg(1000, 2000, 1) // SACKed long ago in a block the receiver had no room to report
    const c = seg(2000, 3000, 30)
    sb.push(a)
    sb.push(b)
    sb.push(c)
    sb.rackTs = 30
    sb.markSacked(2000, 3000, 31, 0, true)
    const out = { newestSent: -1, anyRetrans: false, firstSentAt: -1 }
    sb.ackTo(3000, out, 40, 0)
    expect(sb.reorderTime).toBe(0)
    expect(sb.reorderBytes).toBe(1000) // the byte measure counts it (as Linux does)

    const sb2 = new Scoreboard()
    const d = seg(0, 1000, 0)
    const e = seg(1000, 2000, 20)
    const f = seg(2000, 3000, 25)
    sb2.push(d)
    sb2.push(e)
    sb2.push(f)
    sb2.rackTs = 25
    sb2.markSacked(1000, 2000, 26, 0, false) // a later block: not measured
    expect(sb2.reorderTime).toBe(0)
    sb2.rackTs = 30
    sb2.markSacked(0, 1000, 31, 0, true) // the newest news: d arrived after e and f
    expect(sb2.reorderTime).toBe(30)
  })
})

describe('D-SACK multiplier (RFC 8985 §6.2 step 4)', () => {
  it('grows once per round trip, however many D-SACKs the round brings', () => {
    const c = client({ congestion: 'cubic' }, { mss: 1000, sackPermitted: true })
    const { P, I } = c
    c.ep.write(fill(4000))
    c.peer({ flags: 'A', seq: P, ack: I + 2000 })
    c.peer({ flags: 'A', seq: P, ack: I + 2000, options: { sack: [[I, I + 1000]] } })
    c.peer({ flags: 'A', seq: P, ack: I + 2000, options: { sack: [[I + 1000, I + 2000]] } })
    expect(c.ep.snd.dsacks).toBe(2)
    expect(c.ep.snd.reoMult).toBe(2)
    c.peer({ flags: 'A', seq: P, ack: I + 4000 }) // the round (SND.NXT at the first D-SACK) is over
    c.ep.write(fill(1000))
    c.peer({ flags: 'A', seq: P, ack: I + 4000, options: { sack: [[I + 3000, I + 4000]] } })
    expect(c.ep.snd.reoMult).toBe(3)
  })
})

describe('delivery-rate samples (BBR)', () => {
  it('a SACKed delivery gives no RTT; an in-order one does', () => {
    const r = new RateSampler()
    const a = seg(0, 1000, 0)
    const b = seg(1000, 2000, 0.5)
    r.onSend(a, 0, 0)
    r.onSend(b, 1000, 0.5)
    r.begin()
    b.sacked = true // b overtook a
    r.onDelivered(b, 0.6)
    expect(r.finish(Infinity).rtt).toBe(-1)
    r.begin()
    r.onDelivered(a, 20)
    expect(r.finish(Infinity).rtt).toBe(20)
    expect(r.minRtt).toBe(20)
  })

  it('a caller min RTT far below the in-order one does not let a burst of SACKs pass as a rate', () => {
    const r = new RateSampler()
    const a = seg(0, 1000, 0)
    r.onSend(a, 0, 0)
    r.begin()
    r.onDelivered(a, 20) // in order: 20 ms
    r.finish(Infinity)
    const u = seg(1000, 2000, 19.9) // overtakes the delay queue: delivered 0.1 ms after sending
    r.onSend(u, 0, 19.9)
    r.begin()
    u.sacked = true
    r.onDelivered(u, 20)
    r.finish(0.1)
    const burst = Array.from({ length: 10 }, (_, i) => seg(2000 + i * 1000, 3000 + i * 1000, 20 + i * 0.01))
    for (const s of burst) r.onSend(s, 1000, s.sentAt)
    r.begin()
    for (const s of burst) {
      s.sacked = true
      r.onDelivered(s, 20.2)
    }
    // 10 kB over 0.2 ms would be a 50 MB/s sample: valid against the caller's 0.1 ms, not against
    // the 20 ms the in-order deliveries show
    const rs = r.finish(0.1)
    expect(rs.interval).toBeLessThan(1)
    expect(rs.deliveryRate).toBe(0)
  })
})

describe('receive-window-limited sending (BBR Startup)', () => {
  it('rate samples taken while the peer’s window, not cwnd, holds the sender back are app-limited', () => {
    // first flight, then the samples of the second one: cwnd is 10 segments
    const second = (peerWindow: number) => {
      const c = client({}, { mss: 1000, sackPermitted: true }, peerWindow)
      c.ep.write(fill(40_000))
      c.clock.advance(50)
      c.peer({ flags: 'A', seq: c.P, ack: c.I + 4000, window: peerWindow })
      const sentBefore = c.ep.snd.nxt // the first flight ends here
      c.clock.advance(50)
      c.peer({ flags: 'A', seq: c.P, ack: c.I + sentBefore, window: peerWindow })
      expect(c.ep.snd.nxt).toBeGreaterThan(sentBefore)
      c.clock.advance(50)
      c.peer({ flags: 'A', seq: c.P, ack: c.I + c.ep.snd.nxt, window: peerWindow }) // the second flight
      return c.ep.snd.rate.rs.isAppLimited
    }
    expect(second(4000)).toBe(true) // the 4000-byte window stops the sender
    expect(second(65535)).toBe(false) // cwnd does
  })
})
