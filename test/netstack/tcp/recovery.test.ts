import { describe, expect, it } from 'vitest'
import { TcpFlag } from '../../../src/netstack/tcp/types.js'
import { expectNone, expectOut, fill } from './harness.js'
import { client } from './script.js'
import type { Bbr } from '../../../src/netstack/tcp/congestion/bbr.js'

// Window arithmetic below is that of the loss-based controllers (CUBIC β = 0.7, PRR, RFC 5681
// restart window): those tests pin congestion: 'cubic' (the default is BBR, see config.ts).
describe('retransmission timeout (RFC 6298)', () => {
  it('retransmits the head with exponential backoff, min RTO 200 ms, and gives up after maxRetries', () => {
    const c = client({ maxRetries: 4 })
    const { I } = c
    // RTT sample from the handshake under the fake clock is 0 → RTO = 200 ms floor
    expect(c.ep.info().rto).toBe(200)
    c.ep.write(fill(1000))
    expectOut(c.host, { seq: I, len: 1000 })
    const times: number[] = []
    c.host.onOutput = (_t, s) => {
      if (s.payload.length) times.push(c.clock.now())
      expect(s.seq).toBe(I)
    }
    c.clock.runAll()
    expect(times).toEqual([200, 600, 1400, 3000])
    expect(c.ep.state).toBe('CLOSED')
    expect(c.closed.err).toMatchObject({ code: 'ETIMEDOUT' })
  })

  it('after an RTO cwnd restarts from one segment and the retransmission is not timed (Karn)', () => {
    const c = client({ congestion: 'cubic' }, { mss: 1000 })
    const { P, I } = c
    c.ep.write(fill(10_000))
    expect(c.host.out.splice(0).length).toBe(10)
    c.clock.advance(200)
    expectOut(c.host, { seq: I, len: 1000 }) // only the head: cwnd = 1 MSS
    expectNone(c.host)
    expect(c.ep.info().timeouts).toBe(1)
    c.clock.advance(50)
    c.peer({ flags: 'A', seq: P, ack: I + 1000 })
    expect(c.ep.info().srtt).toBe(0) // no sample from the retransmitted segment
    // slow start again, continuing with the lost segments
    const segs = c.host.out.splice(0)
    expect(segs.map((s) => s.seq - I)).toEqual([1000, 2000])
  })

  it('RTO is computed from RTT samples (SRTT + 4·RTTVAR, RFC 6298 §2)', () => {
    const c = client()
    const { P, I } = c
    c.ep.write(fill(100))
    c.clock.advance(300)
    c.host.out.length = 0
    // the handshake sample was 0; one 300 ms RTO fired? no: RTO was 200, so a retransmission happened
    c.peer({ flags: 'A', seq: P, ack: I + 100 })
    c.ep.write(fill(100))
    c.clock.advance(100)
    c.peer({ flags: 'A', seq: P, ack: I + 200 })
    const info = c.ep.info()
    expect(info.srtt).toBeCloseTo(12.5, 5) // 7/8·0 + 1/8·100
    expect(info.rto).toBe(Math.max(200, 12.5 + 4 * (0.75 * 0 + 0.25 * 100)))
  })
})

describe('fast retransmit (RFC 5681 / 6582)', () => {
  it('three duplicate ACKs retransmit the missing segment at once (no SACK)', () => {
    const c = client({ sack: false }, { mss: 1000 })
    const { P, I } = c
    c.ep.write(fill(10_000))
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P, ack: I + 1000 })
    c.host.out.length = 0 // slow-start growth
    c.peer({ flags: 'A', seq: P, ack: I + 1000 })
    c.peer({ flags: 'A', seq: P, ack: I + 1000 })
    expect(c.host.out.filter((s) => s.seq === I + 1000).length).toBe(0)
    c.peer({ flags: 'A', seq: P, ack: I + 1000 })
    const rtx = c.host.out.filter((s) => s.seq === ((I + 1000) >>> 0))
    expect(rtx.length).toBe(1)
    expect(rtx[0].payload).toEqual(fill(10_000).subarray(1000, 2000))
    expect(c.ep.info().fastRecoveries).toBe(1)
    expect(c.ep.info().timeouts).toBe(0)
    // NewReno partial ACK: the next hole is retransmitted immediately (RFC 6582 §3.2 step 5)
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P, ack: I + 4000 })
    expect(c.host.out.filter((s) => s.seq === ((I + 4000) >>> 0)).length).toBe(1)
  })

  it('data segments and window updates are not duplicate ACKs', () => {
    const c = client({ sack: false }, { mss: 1000 })
    const { P, I } = c
    c.ep.write(fill(5000))
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P, ack: I, data: 10 })
    c.peer({ flags: 'A', seq: P + 10, ack: I, data: 10 })
    c.peer({ flags: 'A', seq: P + 20, ack: I, window: 60000 })
    c.peer({ flags: 'A', seq: P + 20, ack: I, window: 50000 })
    expect(c.host.out.filter((s) => s.payload.length > 0).length).toBe(0)
    expect(c.ep.info().fastRecoveries).toBe(0)
  })
})

describe('SACK loss recovery (RFC 6675)', () => {
  it('retransmits exactly the holes the SACK blocks reveal', () => {
    const c = client({}, { mss: 1000, sackPermitted: true })
    const { P, I } = c
    c.ep.write(fill(10_000))
    const first = c.host.out.splice(0)
    expect(first.length).toBe(10)
    // segments 0, 3 and 4 lost; receiver got 1-2 and 5-9
    c.peer({ flags: 'A', seq: P, ack: I, options: { sack: [[I + 1000, I + 3000]] } })
    expectNone(c.host) // not enough evidence yet (2 segments SACKed above the hole)
    c.peer({ flags: 'A', seq: P, ack: I, options: { sack: [[I + 5000, I + 10_000], [I + 1000, I + 3000]] } })
    const rtx = c.host.out.splice(0).filter((s) => s.payload.length > 0)
    // cwnd = ssthresh = 0.7·10 segments; pipe = 0 lost-and-unretransmitted… holes: 0, 3, 4
    expect(rtx.map((s) => s.seq - I)).toEqual([0, 3000, 4000])
    expect(c.ep.info().fastRecoveries).toBe(1)
    // the hole at 0 filled: cumulative ACK jumps to 3000, still in recovery, nothing else resent
    c.peer({ flags: 'A', seq: P, ack: I + 3000, options: { sack: [[I + 5000, I + 10_000]] } })
    const next = c.host.out.splice(0)
    expect(next.every((s) => s.seq - I >= 10_000 || s.payload.length === 0)).toBe(true)
    c.peer({ flags: 'A', seq: P, ack: I + 10_000 })
    expect(c.ep.info().timeouts).toBe(0)
    expect(c.ep.bufferedAmount).toBe(0)
  })

  it('a lost retransmission is detected from later deliveries and sent again', () => {
    const c = client({ congestion: 'cubic' }, { mss: 1000, sackPermitted: true })
    const { P, I } = c
    c.ep.write(fill(20_000))
    c.host.out.length = 0
    c.clock.advance(10)
    c.peer({ flags: 'A', seq: P, ack: I, options: { sack: [[I + 1000, I + 4000]] } })
    const r1 = c.host.out.splice(0).filter((s) => s.seq === I)
    expect(r1.length).toBe(1)
    c.clock.advance(10)
    // more SACKs free the pipe: new data goes out after the retransmission
    c.peer({ flags: 'A', seq: P, ack: I, options: { sack: [[I + 1000, I + 6000]] } })
    const fresh = c.host.out.splice(0).filter((s) => s.payload.length > 0)
    expect(fresh.map((s) => s.seq - I)).toEqual([10_000, 11_000])
    c.clock.advance(10)
    // those later segments arrive while the head is still missing: its retransmission was lost
    c.peer({ flags: 'A', seq: P, ack: I, options: { sack: [[I + 10_000, I + 12_000], [I + 1000, I + 6000]] } })
    const again = c.host.out.splice(0).filter((s) => s.seq === I)
    expect(again.length).toBe(1)
    expect(c.ep.info().timeouts).toBe(0)
  })

  it('SACK info from data-carrying segments is used as well', () => {
    const c = client({}, { mss: 1000, sackPermitted: true })
    const { P, I } = c
    c.ep.write(fill(10_000))
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P, ack: I, data: 10, options: { sack: [[I + 1000, I + 5000]] } })
    const out = c.host.out.splice(0)
    expect(out.some((s) => s.seq === I && s.payload.length === 1000 && s.flags & TcpFlag.ACK)).toBe(true)
  })
})

describe('tail loss probe and D-SACK', () => {
  it('a lost tail is repaired by a probe and time-based marking instead of an RTO', () => {
    const c = client({}, { mss: 1000, sackPermitted: true })
    const { P, I } = c
    // RTT samples of 50 ms (srtt converges from the handshake's 0)
    for (let k = 0; k < 12; k++) {
      c.ep.write(fill(100))
      c.clock.advance(50)
      c.peer({ flags: 'A', seq: P, ack: I + 100 * (k + 1) })
    }
    c.host.out.length = 0
    const B = I + 1200
    c.ep.write(fill(5000))
    expect(c.host.out.splice(0).length).toBe(5)
    c.clock.advance(50)
    c.peer({ flags: 'A', seq: P, ack: B + 3000 }) // segments at 3000 and 4000 (the tail) are lost…
    c.host.out.length = 0
    const info = c.ep.info()
    const pto = 2 * info.srtt
    expect(pto).toBeLessThan(info.rto)
    c.clock.advance(Math.ceil(pto))
    // the probe resends the last segment
    const probe = c.host.out.splice(0)
    expect(probe.map((s) => s.seq - B)).toEqual([4000])
    expect(c.host.counters.get('tcp.tlp')).toBe(1)
    c.clock.advance(50)
    // its ACK SACKs the last segment: 3000 was sent long before → lost → retransmitted
    c.peer({ flags: 'A', seq: P, ack: B + 3000, options: { sack: [[B + 4000, B + 5000]] } })
    expect(c.host.out.splice(0).filter((s) => s.payload.length).map((s) => s.seq - B)).toEqual([3000])
    c.peer({ flags: 'A', seq: P, ack: B + 5000 })
    expect(c.ep.info().timeouts).toBe(0)
  })

  it('duplicate data is reported in a D-SACK block (RFC 2883)', () => {
    const c = client({}, { mss: 1460, sackPermitted: true })
    const { P, I } = c
    c.peer({ flags: 'A', seq: P, ack: I, data: 1000 })
    c.peer({ flags: 'A', seq: P + 500, ack: I, data: 1000 })
    expectOut(c.host, { flags: 'A', ack: P + 1500, options: { sack: [[P + 500, P + 1000]] } })
    c.peer({ flags: 'A', seq: P + 3000, ack: I, data: 100 })
    c.peer({ flags: 'A', seq: P, ack: I, data: 100 })
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P + 100, ack: I, data: 100 })
    // D-SACK first, then the out-of-order block
    expectOut(c.host, { options: { sack: [[P + 100, P + 200], [P + 3000, P + 3100]] } })
  })

  it('reordering raises the duplicate threshold; D-SACKs widen the reordering window', () => {
    const c = client({}, { mss: 1000, sackPermitted: true })
    const { P, I } = c
    c.ep.write(fill(10_000))
    c.host.out.length = 0
    // segment 0 arrives late, after 1..2 were SACKed: reordering by 2 segments, no loss
    c.peer({ flags: 'A', seq: P, ack: I, options: { sack: [[I + 1000, I + 3000]] } })
    c.peer({ flags: 'A', seq: P, ack: I + 5000 })
    expect(c.ep.snd.sb.reorderBytes).toBe(2000)
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P, ack: I + 5000, options: { sack: [[I + 4000, I + 5000]] } }) // D-SACK
    expect(c.ep.snd.dsacks).toBe(1)
  })
})

describe('spurious recovery undo (RFC 3522 / 4015)', () => {
  it('an ACK echoing the original transmission restores cwnd', () => {
    const c = client({ congestion: 'cubic', timestamps: true }, { mss: 1012, sackPermitted: true, tsVal: 100, tsEcr: 0 })
    const { P, I } = c
    c.ep.write(fill(10_000))
    const segs = c.host.out.splice(0)
    expect(segs.length).toBe(10)
    const t0 = segs[0].options.tsVal!
    c.clock.advance(20)
    c.peer({ flags: 'A', seq: P, ack: I, options: { tsVal: 101, tsEcr: t0, sack: [[I + 1000, I + 4000]] } })
    expect(c.ep.info().fastRecoveries).toBe(1)
    expect(c.ep.info().cwnd).toBe(7000)
    const rtx = c.host.out.splice(0).filter((s) => s.seq === I)
    expect(rtx.length).toBe(1)
    expect(rtx[0].options.tsVal).toBe((t0 + 20) >>> 0)
    c.clock.advance(5)
    // the original head arrives late: the cumulative ACK echoes its timestamp
    c.peer({ flags: 'A', seq: P, ack: I + 4000, options: { tsVal: 102, tsEcr: t0 } })
    const info = c.ep.info()
    expect(info.spuriousRecoveries).toBe(1)
    expect(info.cwnd).toBeGreaterThanOrEqual(10_000)
    expect(c.ep.snd.inRecovery).toBe(false)
  })

  it('an ACK echoing the retransmission keeps the reduction', () => {
    const c = client({ congestion: 'cubic', timestamps: true }, { mss: 1012, sackPermitted: true, tsVal: 100, tsEcr: 0 })
    const { P, I } = c
    c.ep.write(fill(10_000))
    const t0 = c.host.out.splice(0)[0].options.tsVal!
    c.clock.advance(20)
    c.peer({ flags: 'A', seq: P, ack: I, options: { tsVal: 101, tsEcr: t0, sack: [[I + 1000, I + 4000]] } })
    c.host.out.length = 0
    c.clock.advance(20)
    c.peer({ flags: 'A', seq: P, ack: I + 4000, options: { tsVal: 102, tsEcr: (t0 + 20) >>> 0 } })
    expect(c.ep.info().spuriousRecoveries).toBe(0)
    expect(c.ep.info().cwnd).toBeLessThan(10_000)
  })

  it('only the first ACK covering the first retransmission is tested, then detection is disarmed', () => {
    const c = client({ congestion: 'cubic', timestamps: true }, { mss: 1012, sackPermitted: true, tsVal: 100, tsEcr: 0 })
    const { P, I } = c
    c.ep.write(fill(10_000))
    const t0 = c.host.out.splice(0)[0].options.tsVal!
    c.clock.advance(20)
    c.peer({ flags: 'A', seq: P, ack: I, options: { tsVal: 101, tsEcr: t0, sack: [[I + 1000, I + 4000]] } })
    expect(c.ep.snd.inRecovery).toBe(true)
    c.host.out.length = 0
    c.clock.advance(20)
    // the retransmission filled the hole: a genuine loss, detection is over for this episode
    c.peer({ flags: 'A', seq: P, ack: I + 4000, options: { tsVal: 102, tsEcr: (t0 + 20) >>> 0 } })
    expect(c.ep.snd.inRecovery).toBe(true)
    c.clock.advance(5)
    // a later ACK in the same recovery echoes an original (pre-loss) transmission: no undo
    c.peer({ flags: 'A', seq: P, ack: I + 5000, options: { tsVal: 103, tsEcr: t0 } })
    expect(c.ep.info().spuriousRecoveries).toBe(0)
    expect(c.ep.info().cwnd).toBeLessThan(10_000)
  })
})

describe('slow-start exit on RTT increase (HyStart++, RFC 9406)', () => {
  it('ends slow start when a round’s minimum RTT grows by ≥ max(4 ms, minRTT/8)', async () => {
    const { HyStart } = await import('../../../src/netstack/tcp/congestion/hystart.js')
    const h = new HyStart()
    // round 1 (ends at offset 10): 8 samples of 10 ms
    for (let k = 1; k <= 9; k++) expect(h.onAck(k, 10, 10)).toBe(false)
    // round 2: RTT 13 ms (< 10 + 4) → keep going
    for (let k = 10; k <= 19; k++) expect(h.onAck(k, 30, 13)).toBe(false)
    // round 3: RTT 14 ms vs last round 13 → still below the threshold
    for (let k = 30; k <= 39; k++) expect(h.onAck(k, 50, 14)).toBe(false)
    // round 4: 18.5 ms ≥ 14 + 4 after 8 samples → exit
    const res: boolean[] = []
    for (let k = 50; k <= 57; k++) res.push(h.onAck(k, 70, 18.5))
    expect(res).toEqual([false, false, false, false, false, false, false, true])
    expect(h.exits).toBe(1)
  })
})

describe('proportional rate reduction (RFC 6937)', () => {
  it('spreads the reduction: about 0.7 segment sent per segment delivered during recovery', () => {
    const c = client({ congestion: 'cubic', timestamps: false }, { mss: 1000, sackPermitted: true })
    const { P, I } = c
    c.ep.write(fill(40_000))
    expect(c.host.out.splice(0).length).toBe(10)
    // head lost; segments 1..9 SACKed one ACK at a time
    let sent = 0
    const perAck: number[] = []
    for (let k = 2; k <= 10; k++) {
      c.peer({ flags: 'A', seq: P, ack: I, options: { sack: [[I + 1000, I + k * 1000]] } })
      const n = c.host.out.splice(0).filter((s) => s.payload.length > 0).length
      perAck.push(n)
      sent += n
    }
    expect(c.ep.snd.inRecovery).toBe(true)
    // recovery entered at the third SACKed segment; 7 more were delivered after → ~0.7·9 sent in all
    expect(sent).toBeGreaterThanOrEqual(5)
    expect(sent).toBeLessThanOrEqual(7)
    expect(Math.max(...perAck)).toBeLessThanOrEqual(2) // no burst
  })
})

describe('pacing (BBR)', () => {
  it('releases segments at the pacing rate: a burst of at most 2 segments, then one per credit', () => {
    const c = client({ congestion: 'bbr' }, { mss: 1000, sackPermitted: true })
    const { I } = c
    const cc = c.ep.snd.cc as Bbr
    expect(cc.name).toBe('bbr')
    cc.pacingRate = 500 // bytes per ms: one 1000-byte segment every 2 ms
    cc.cwnd = 100_000
    c.ep.write(fill(6000))
    // the credit is capped at max(2 segments, 2 ms × rate): two segments go at once
    expect(c.host.out.splice(0).map((s) => s.seq - I)).toEqual([0, 1000])
    c.clock.advance(1.9)
    expectNone(c.host)
    c.clock.advance(0.1)
    expect(c.host.out.splice(0).map((s) => s.seq - I)).toEqual([2000])
    c.clock.advance(4)
    expect(c.host.out.splice(0).map((s) => s.seq - I)).toEqual([3000, 4000])
    c.clock.advance(2)
    expect(c.host.out.splice(0).map((s) => s.seq - I)).toEqual([5000])
  })
})
