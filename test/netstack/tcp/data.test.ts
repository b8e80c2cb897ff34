import { describe, expect, it } from 'vitest'
import { expectNone, expectOut, fill } from './harness.js'
import { client, server } from './script.js'

describe('data transfer and ACKs', () => {
  it('delayed ACK: one segment is acked after 40 ms, two full segments at once', () => {
    const c = client()
    const { P, I } = c
    c.peer({ flags: 'PA', seq: P, ack: I, data: 1460 })
    expect(c.gotBytes()).toBe(1460)
    expectNone(c.host)
    c.clock.advance(39)
    expectNone(c.host)
    c.clock.advance(1)
    expectOut(c.host, { flags: 'A', seq: I, ack: P + 1460 })
    c.peer({ flags: 'A', seq: P + 1460, ack: I, data: 1460 })
    expectNone(c.host)
    c.peer({ flags: 'A', seq: P + 2920, ack: I, data: 1460 })
    expectOut(c.host, { flags: 'A', ack: P + 4380 })
    c.clock.advance(100)
    expectNone(c.host)
  })

  it('ACK coalescing: segments of one receive burst get one ACK, at the end of the burst', () => {
    const c = client()
    const { P, I } = c
    const acks0 = c.ep.acksSent
    // six full segments in one poll phase: no ACK until the burst ends, then exactly one
    for (let k = 0; k < 6; k++) c.peerNoFlush({ flags: 'A', seq: P + 1460 * k, ack: I, data: 1460 })
    expect(c.gotBytes()).toBe(6 * 1460)
    expectNone(c.host)
    c.clock.advance(0)
    expectOut(c.host, { flags: 'A', seq: I, ack: P + 6 * 1460 })
    expectNone(c.host)
    // a burst of a single segment is still a delayed ACK (≤ 40 ms)
    c.peerBurst([{ flags: 'A', seq: P + 6 * 1460, ack: I, data: 1460 }])
    expectNone(c.host)
    c.clock.advance(40)
    expectOut(c.host, { flags: 'A', ack: P + 7 * 1460 })
    expect(c.ep.acksSent - acks0).toBe(2)
  })

  it('ACK coalescing: in-order data is acked once per burst; holes, gap fills and duplicates at once (RFC 5681 §4.2)', () => {
    const c = client()
    const { P, I } = c
    // two in-order segments in one burst: one ACK at the burst end
    c.peerBurst([
      { flags: 'A', seq: P, ack: I, data: 1000 },
      { flags: 'A', seq: P + 1000, ack: I, data: 1000 },
    ])
    expectOut(c.host, { flags: 'A', ack: P + 2000 })
    expectNone(c.host)
    // out of order: every arrival is reported by its own ACK, newest block first, so no block
    // goes unreported when a burst opens more holes than one ACK can carry
    c.peerBurst([
      { flags: 'A', seq: P + 3000, ack: I, data: 500 },
      { flags: 'A', seq: P + 4000, ack: I, data: 500 },
    ])
    expectOut(c.host, { flags: 'A', ack: P + 2000, options: { sack: [[P + 3000, P + 3500]] } })
    expectOut(c.host, { flags: 'A', ack: P + 2000, options: { sack: [[P + 4000, P + 4500], [P + 3000, P + 3500]] } })
    expectNone(c.host)
    c.peerBurst([
      { flags: 'A', seq: P + 3500, ack: I, data: 500 },
      { flags: 'A', seq: P + 2000, ack: I, data: 1000 },
    ])
    expectOut(c.host, { flags: 'A', ack: P + 2000, options: { sack: [[P + 3000, P + 4500]] } })
    const a = expectOut(c.host, { flags: 'A', ack: P + 4500 })
    expect(a.options.sack).toBeUndefined()
    expectNone(c.host)
    // an old duplicate inside a burst: a D-SACK right away
    c.peerBurst([{ flags: 'A', seq: P + 1000, ack: I, data: 1000 }])
    expectOut(c.host, { flags: 'A', ack: P + 4500, options: { sack: [[P + 1000, P + 2000]] } })
    expectNone(c.host)
    expect(c.gotBytes()).toBe(4500)
  })

  it('ACK coalescing: data we send during the burst carries the ACK (no separate pure ACK)', () => {
    const c = client()
    const { P, I } = c
    c.ep.onData = () => {
      c.ep.write(fill(100))
    }
    c.peerBurst([
      { flags: 'A', seq: P, ack: I, data: 1460 },
      { flags: 'A', seq: P + 1460, ack: I, data: 1460 },
    ])
    // a reply after each delivery: the first carries ACK P+1460, the second P+2920, no pure ACK
    expectOut(c.host, { flags: 'PA', ack: P + 1460, len: 100 })
    expectOut(c.host, { flags: 'PA', ack: P + 2920, len: 100 })
    expectNone(c.host)
  })

  it('a pure ACK that cannot carry every SACK block still counts as sent (no ACK war)', () => {
    const c = client({ timestamps: true }, { mss: 1460, sackPermitted: true, tsVal: 1, tsEcr: 0 })
    const { P, I } = c
    let ts = 2
    c.peer({ flags: 'A', seq: P, ack: I, data: 100, options: { tsVal: ts++, tsEcr: 0 } })
    for (const off of [1000, 3000, 5000, 7000]) c.peer({ flags: 'A', seq: P + off, ack: I, data: 100, options: { tsVal: ts++, tsEcr: 0 } })
    c.host.out.length = 0
    // a duplicate: D-SACK + 4 held ranges do not fit beside timestamps (3 blocks max)
    c.peer({ flags: 'A', seq: P, ack: I, data: 100, options: { tsVal: ts++, tsEcr: 0 } })
    const a = expectOut(c.host, { flags: 'A', ack: P + 100 })
    expect(a.options.sack!.length).toBe(3)
    expect(a.options.sack![0]).toEqual([P, P + 100])
    // the peer's pure ACKs must not be answered with ACKs
    c.peer({ flags: 'A', seq: P + 100, ack: I, options: { tsVal: ts++, tsEcr: 0 } })
    c.peer({ flags: 'A', seq: P + 100, ack: I, options: { tsVal: ts++, tsEcr: 0 } })
    expectNone(c.host)
  })

  it('out-of-order data is acked at once with SACK blocks; the gap fill is acked at once too', () => {
    const c = client()
    const { P, I } = c
    c.peer({ flags: 'A', seq: P + 1000, ack: I, data: 500 })
    expectOut(c.host, { flags: 'A', ack: P, options: { sack: [[P + 1000, P + 1500]] } })
    c.peer({ flags: 'A', seq: P + 2000, ack: I, data: 500 })
    // newest block first (RFC 2018 §4)
    expectOut(c.host, { flags: 'A', ack: P, options: { sack: [[P + 2000, P + 2500], [P + 1000, P + 1500]] } })
    c.peer({ flags: 'A', seq: P + 1500, ack: I, data: 500 }) // joins the two blocks
    expectOut(c.host, { flags: 'A', ack: P, options: { sack: [[P + 1000, P + 2500]] } })
    expect(c.gotBytes()).toBe(0)
    c.peer({ flags: 'A', seq: P, ack: I, data: 1000 })
    const a = expectOut(c.host, { flags: 'A', ack: P + 2500 })
    expect(a.options.sack).toBeUndefined()
    const all = new Uint8Array(2500)
    let o = 0
    for (const b of c.got) {
      all.set(b, o)
      o += b.length
    }
    // fill(n, seq) is keyed by the segment's seq: check each piece
    expect(all.subarray(0, 1000)).toEqual(fill(1000, P))
    expect(all.subarray(1000, 1500)).toEqual(fill(500, P + 1000))
    expect(all.subarray(1500, 2000)).toEqual(fill(500, P + 1500))
    expect(all.subarray(2000, 2500)).toEqual(fill(500, P + 2000))
  })

  it('duplicate and overlapping data: acked immediately, delivered once', () => {
    const c = client()
    const { P, I } = c
    c.peer({ flags: 'A', seq: P, ack: I, data: 1000 })
    c.peer({ flags: 'A', seq: P, ack: I, data: 1000 })
    expectOut(c.host, { flags: 'A', ack: P + 1000 })
    c.peer({ flags: 'A', seq: P + 500, ack: I, data: fill(1000, 0) })
    expect(c.gotBytes()).toBe(1500)
    expect(c.got[1]).toEqual(fill(1000, 0).subarray(500))
  })

  it('write() is cut into MSS segments within cwnd (IW10) and the peer window; ACKs release the buffer', () => {
    const c = client({}, { mss: 1000 }, 65535)
    const { P, I } = c
    const data = fill(20_000, 3)
    expect(c.ep.write(data)).toBe(true)
    const segs = c.host.out.splice(0)
    expect(segs.length).toBe(10) // initial window 10 segments
    expect(segs.map((s) => s.payload.length)).toEqual(Array(10).fill(1000))
    expect(segs[3].seq).toBe((I + 3000) >>> 0)
    expect(segs[3].payload).toEqual(data.subarray(3000, 4000))
    expect(c.ep.bufferedAmount).toBe(20_000)
    c.peer({ flags: 'A', seq: P, ack: I + 2000 })
    expect(c.ep.bufferedAmount).toBe(18_000)
    // slow start: 2 acked segments → cwnd grows by 2 → 4 new segments
    expect(c.host.out.length).toBe(4)
    expect(c.host.out[0].seq).toBe((I + 10_000) >>> 0)
    expect(c.host.out[3].flags & 0x08).toBe(0)
  })

  it('PSH is set on the segment that empties the send buffer', () => {
    const c = client()
    c.ep.write(fill(100))
    expectOut(c.host, { flags: 'PA', len: 100 })
  })

  it('Nagle: off by default; setNoDelay(false) holds small segments while data is unacked', () => {
    const c = client()
    const { P, I } = c
    c.ep.write(fill(10))
    c.ep.write(fill(10))
    expect(c.host.out.splice(0).length).toBe(2)
    c.ep.setNoDelay(false)
    c.peer({ flags: 'A', seq: P, ack: I + 20 })
    c.ep.write(fill(10))
    expectOut(c.host, { len: 10 }) // nothing in flight: goes out
    c.ep.write(fill(10))
    c.ep.write(fill(10))
    expectNone(c.host)
    c.peer({ flags: 'A', seq: P, ack: I + 30 })
    expectOut(c.host, { seq: I + 30, len: 20 })
  })

  it('server side moves data too', () => {
    const s = server()
    s.ep.write(fill(3000))
    expect(s.host.out.splice(0).map((x) => x.payload.length)).toEqual([1460, 1460, 80])
    s.peer({ flags: 'A', seq: s.P, ack: s.I + 3000, data: 10 })
    expect(s.gotBytes()).toBe(10)
    expect(s.ep.bufferedAmount).toBe(0)
  })

  it('SACK blocks on a data segment do not push it past the peer MSS', () => {
    const c = client()
    const { P, I } = c
    c.peer({ flags: 'A', seq: P + 1000, ack: I, data: 100 })
    c.host.out.length = 0
    c.ep.write(fill(5000))
    for (const s of c.host.out) {
      const opt = s.options.sack ? 2 + 8 * s.options.sack.length : 0
      expect(s.payload.length + opt).toBeLessThanOrEqual(1460 + 2)
    }
  })
})

describe('bounded out-of-order buffer', () => {
  it('drops (and counts) pieces beyond the cap; SACK blocks describe only what is held', () => {
    const c = client({ maxOooSegments: 2 })
    const { P, I } = c
    c.peer({ flags: 'A', seq: P + 1000, ack: I, data: 100 })
    c.peer({ flags: 'A', seq: P + 2000, ack: I, data: 100 })
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P + 3000, ack: I, data: 100 })
    const a = expectOut(c.host, { flags: 'A', ack: P })
    expect(a.options.sack).toEqual([
      [P + 2000, P + 2100],
      [P + 1000, P + 1100],
    ])
    expect(c.host.counters.get('tcp.rcv_dropped')).toBe(1)
    // filling the gap delivers what was held; the dropped piece is simply missing (sender resends)
    c.peer({ flags: 'A', seq: P, ack: I, data: 1000 })
    expectOut(c.host, { ack: P + 1100 })
  })

  it('data beyond the advertised window is trimmed, never buffered', () => {
    const c = client({ rcvBufInitial: 4096, rcvBufMax: 4096 })
    const { P, I } = c
    c.ep.pause()
    c.peer({ flags: 'A', seq: P, ack: I, data: 3000 })
    c.peer({ flags: 'A', seq: P + 3000, ack: I, data: 3000 })
    c.clock.advance(40)
    const a = c.host.out.pop()!
    expect(a.ack).toBe((P + 4096) >>> 0)
    expect(a.window).toBe(0)
    c.ep.resume()
    c.clock.advance(0)
    expect(c.gotBytes()).toBe(4096)
  })
})

describe('TIME-WAIT', () => {
  it('a new SYN in TIME-WAIT gets a challenge ACK, not a reset', () => {
    const c = client()
    c.ep.end()
    c.peer({ flags: 'FA', seq: c.P, ack: c.I + 1 })
    expect(c.ep.state).toBe('TIME-WAIT')
    c.host.out.length = 0
    c.peer({ flags: 'S', seq: c.P + 100_000 })
    expectOut(c.host, { flags: 'A', ack: c.P + 1 })
    expect(c.ep.state).toBe('TIME-WAIT')
  })
})

describe('timestamps (RFC 7323)', () => {
  it('PAWS drops an old-timestamp segment (data gets an ACK, a pure ACK nothing); TS.Recent follows in-order data', () => {
    const c = client({ timestamps: true }, { mss: 1460, sackPermitted: true, tsVal: 1000, tsEcr: 0 })
    const { P, I } = c
    c.peer({ flags: 'A', seq: P, ack: I, data: 100, options: { tsVal: 1005, tsEcr: 0 } })
    c.clock.advance(40)
    expectOut(c.host, { ack: P + 100, options: { tsEcr: 1005 } })
    c.peer({ flags: 'A', seq: P + 100, ack: I, data: 100, options: { tsVal: 900, tsEcr: 0 } })
    expectOut(c.host, { ack: P + 100 })
    expect(c.gotBytes()).toBe(100)
    c.peer({ flags: 'A', seq: P + 100, ack: I, options: { tsVal: 900, tsEcr: 0 } })
    expectNone(c.host)
    expect(c.host.counters.get('tcp.paws_drop')).toBe(2)
    // out-of-order data does not move TS.Recent (§4.3): the echo stays with the in-order segment
    c.peer({ flags: 'A', seq: P + 300, ack: I, data: 100, options: { tsVal: 2000, tsEcr: 0 } })
    expectOut(c.host, { ack: P + 100, options: { tsEcr: 1005 } })
    c.peer({ flags: 'A', seq: P + 100, ack: I, data: 200, options: { tsVal: 1500, tsEcr: 0 } })
    expectOut(c.host, { ack: P + 400, options: { tsEcr: 1500 } })
  })
})

describe('re-segmented retransmissions', () => {
  it('an in-order segment overlapping the head of held out-of-order data releases all of it', () => {
    const c = client()
    const { P, I } = c
    c.peer({ flags: 'A', seq: P + 100, ack: I, data: fill(100, 1) }) // held [100, 200)
    c.peer({ flags: 'A', seq: P + 300, ack: I, data: fill(100, 3) }) // held [300, 400)
    c.host.out.length = 0
    // the peer collapses its retransmission: [0, 150) overlaps the first held range
    c.peer({ flags: 'A', seq: P, ack: I, data: fill(150, 0) })
    expectOut(c.host, { ack: P + 200, options: { sack: [[P + 300, P + 400]] } })
    c.peer({ flags: 'A', seq: P + 150, ack: I, data: fill(250, 9) }) // covers everything to 400
    expectOut(c.host, { ack: P + 400 })
    const all = Buffer.concat(c.got)
    expect(all.length).toBe(400)
    expect([...all.subarray(0, 150)]).toEqual([...fill(150, 0)])
    expect([...all.subarray(150, 200)]).toEqual([...fill(100, 1).subarray(50)])
    // (real TCP bytes are identical either way; the engine keeps the newest in-order copy)
    expect([...all.subarray(200, 400)]).toEqual([...fill(250, 9).subarray(50)])
  })
})
