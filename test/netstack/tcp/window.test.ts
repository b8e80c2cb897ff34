import { describe, expect, it } from 'vitest'
import { expectNone, expectOut, fill } from './harness.js'
import { client } from './script.js'

describe('flow control', () => {
  it('zero window: persist probes with backoff, data resumes when the window opens', () => {
    const c = client({}, { mss: 1000 })
    const { P, I } = c
    c.ep.write(fill(1000))
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P, ack: I + 1000, window: 0 })
    c.ep.write(fill(5000))
    expectNone(c.host)
    const probes: number[] = []
    c.host.onOutput = (_t, s) => {
      expect(s.payload.length).toBe(0)
      expect(s.seq).toBe((I + 999) >>> 0) // an old sequence number: elicits an ACK with the window
      probes.push(c.clock.now())
    }
    c.clock.advance(1600)
    expect(probes).toEqual([200, 600, 1400])
    // the probe's answer still says 0
    c.peer({ flags: 'A', seq: P, ack: I + 1000, window: 0 })
    expect(probes.length).toBe(3)
    c.host.onOutput = null
    c.peer({ flags: 'A', seq: P, ack: I + 1000, window: 3000 })
    expect(c.host.out.splice(0).map((s) => [s.seq - I, s.payload.length])).toEqual([
      [1000, 1000],
      [2000, 1000],
      [3000, 1000],
    ])
    c.clock.advance(150)
    expect(c.host.counters.get('tcp.window_probe')).toBe(3)
  })

  it('window scale: the peer window is shifted, ours is advertised shifted', () => {
    const c = client({}, { mss: 1000, wscale: 2 })
    const { P, I } = c
    c.peer({ flags: 'A', seq: P, ack: I, window: 1000 })
    expect(c.ep.info().sndWnd).toBe(4000)
    c.ep.write(fill(10_000))
    const segs = c.host.out.splice(0)
    expect(segs.length).toBe(4)
    expect(segs[0].window).toBe(262144 >> 7)
  })

  it('pause() stops delivery, the advertised window shrinks to zero, resume() delivers and sends a window update', () => {
    const c = client({ rcvBufInitial: 8192, rcvBufMax: 8192 })
    const { P, I } = c
    c.ep.pause()
    for (let i = 0; i < 4; i++) c.peer({ flags: 'A', seq: P + i * 2048, ack: I, data: 2048 })
    const acks = c.host.out.splice(0)
    // ACK every second segment, window shrinking as the buffer fills
    expect(acks.map((a) => [a.ack - P, a.window])).toEqual([
      [4096, 4096],
      [8192, 0],
    ])
    expect(c.gotBytes()).toBe(0)
    // beyond the zero window: not accepted, duplicate ACK with window 0
    c.peer({ flags: 'A', seq: P + 8192, ack: I, data: 100 })
    expectOut(c.host, { flags: 'A', ack: P + 8192, window: 0 })
    c.ep.resume()
    c.clock.advance(0)
    expect(c.gotBytes()).toBe(8192)
    expectOut(c.host, { flags: 'A', ack: P + 8192, window: 8192 })
    expectNone(c.host)
  })

  it('data arriving before onData is set is kept, not dropped', () => {
    const c = client()
    c.ep.onData = null
    c.peer({ flags: 'A', seq: c.P, ack: c.I, data: 300 })
    expect(c.ep.info().rcvWnd).toBeLessThan(65535)
    const got: Uint8Array[] = []
    c.ep.onData = (b) => got.push(b)
    c.clock.advance(0)
    expect(got.length).toBe(1)
    expect(got[0]).toEqual(fill(300, c.P))
  })

  it('write() returns false at the send-buffer cap; onDrain fires once below the low-water mark', () => {
    const c = client({ sndBuf: 10_000, sndBufMax: 10_000 }, { mss: 1000 })
    const { P, I } = c
    let drains = 0
    c.ep.onDrain = () => drains++
    expect(c.ep.write(fill(8000))).toBe(true)
    expect(c.ep.write(fill(4000))).toBe(false)
    expect(c.ep.bufferedAmount).toBe(12_000)
    c.peer({ flags: 'A', seq: P, ack: I + 4000 })
    expect(drains).toBe(0) // 8000 queued > low water 7500 (¾ of 10 000)
    c.peer({ flags: 'A', seq: P, ack: I + 8000 })
    expect(drains).toBe(1)
    c.peer({ flags: 'A', seq: P, ack: I + 10_000 })
    expect(drains).toBe(1)
  })

  it('send-buffer autotuning: the cap grows to 2 × cwnd (up to sndBufMax), low water with it', () => {
    const c = client({ sndBuf: 10_000, sndBufMax: 100_000, congestion: 'cubic' }, { mss: 1000 })
    const { P, I } = c
    expect(c.ep.info().cwnd).toBe(10_000)
    let drains = 0
    c.ep.onDrain = () => drains++
    expect(c.ep.write(fill(8000))).toBe(true)
    expect(c.ep.write(fill(10_000))).toBe(true) // 18 000 < 2 × cwnd
    expect(c.ep.write(fill(4000))).toBe(false) // 22 000 ≥ 20 000
    c.peer({ flags: 'A', seq: P, ack: I + 4000 }) // slow start: cwnd 14 000 → cap 28 000, low water 21 000
    expect(drains).toBe(1)
    expect(c.ep.write(fill(8000))).toBe(true) // 26 000 queued < 28 000
  })

  it('link backpressure: refused output is retried on linkDrained()', () => {
    const c = client()
    c.host.linkOk = false
    c.ep.write(fill(3000))
    expectNone(c.host)
    expect(c.host.counters.get('tcp.output_refused')).toBeGreaterThan(0)
    c.host.linkOk = true
    c.ep.linkDrained()
    expect(c.host.out.splice(0).map((s) => s.payload.length)).toEqual([1460, 1460, 80])
  })
})

describe('path MTU and keepalive', () => {
  it('ICMP fragmentation-needed shrinks the MSS and re-sends oversized segments', () => {
    const c = client({}, { mss: 1460 })
    const { I } = c
    c.ep.write(fill(4000))
    c.host.out.length = 0
    c.ep.icmpError(new Error('frag needed'), 'frag-needed', 1000)
    expect(c.ep.info().mss).toBe(960)
    const segs = c.host.out.splice(0)
    expect(segs.length).toBeGreaterThan(0)
    for (const s of segs) expect(s.payload.length).toBeLessThanOrEqual(960)
    expect(segs[0].seq).toBe(I)
    expect(c.ep.info().timeouts).toBe(0)
    // a larger "MTU" never raises it
    c.ep.icmpError(new Error('x'), 'frag-needed', 1400)
    expect(c.ep.info().mss).toBe(960)
  })

  it('keepalive probes an idle peer and times out after the configured probes', () => {
    const c = client({ keepAliveIntervalMs: 1000, keepAliveProbes: 3 })
    const { P, I } = c
    c.ep.setKeepAlive(true, 5000)
    c.clock.advance(4999)
    expectNone(c.host)
    c.clock.advance(1)
    expectOut(c.host, { flags: 'A', seq: I - 1, ack: P, len: 0 })
    // answered: the connection is alive, next probe only after another idle period
    c.peer({ flags: 'A', seq: P, ack: I })
    c.clock.advance(4999)
    expectNone(c.host)
    c.clock.advance(1)
    expectOut(c.host, { seq: I - 1 })
    c.clock.advance(3000)
    expect(c.host.out.splice(0).length).toBe(2)
    expect(c.ep.state).toBe('CLOSED')
    expect(c.closed.err).toMatchObject({ code: 'ETIMEDOUT' })
  })
})

describe('sender SWS avoidance', () => {
  it('holds a tiny window-limited segment, then sends it when the override (persist) timer fires', () => {
    const c = client({}, { mss: 1000 }, 60_000)
    const { P, I } = c
    c.ep.write(fill(1000))
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: P, ack: I + 1000, window: 300 })
    c.ep.write(fill(5000))
    expectNone(c.host) // 300 < max window / 2: wait
    c.clock.advance(200)
    expectOut(c.host, { seq: I + 1000, len: 300 })
  })
})

describe('zero receive window', () => {
  it('a bare FIN is accepted into a zero window; data waits for the reader', () => {
    const c = client({ rcvBufInitial: 2048, rcvBufMax: 2048 })
    const { P, I } = c
    c.ep.pause()
    c.peer({ flags: 'A', seq: P, ack: I, data: 2048 })
    c.clock.advance(40)
    expectOut(c.host, { ack: P + 2048, window: 0 })
    c.peer({ flags: 'FA', seq: P + 2048, ack: I })
    expectOut(c.host, { ack: P + 2049 })
    expect(c.ep.state).toBe('CLOSE-WAIT')
    expect(c.ended.called).toBe(0)
    c.ep.resume()
    c.clock.advance(0)
    expect(c.gotBytes()).toBe(2048)
    expect(c.ended.called).toBe(1)
  })
})

describe('receiver SWS avoidance (RFC 9293 §3.8.6.2.2)', () => {
  it('a zero window reopens only once at least an MSS is free', () => {
    const c = client({ rcvBufInitial: 8000, rcvBufMax: 8000 })
    const { P, I } = c
    c.ep.onData = () => c.ep.pause() // the application takes one chunk per resume()
    c.ep.pause()
    for (let i = 0; i < 8; i++) c.peer({ flags: 'A', seq: P + i * 1000, ack: I, data: 1000 })
    c.clock.advance(40)
    expect(c.host.out.pop()!.window).toBe(0)
    c.host.out.length = 0
    c.ep.resume()
    c.clock.advance(0) // 1000 bytes free: less than an MSS, the window stays shut
    c.peer({ flags: 'A', seq: P + 7999, ack: I }) // probe
    expectOut(c.host, { ack: P + 8000, window: 0 })
    c.ep.resume()
    c.clock.advance(0) // 2000 free: window update
    expectOut(c.host, { ack: P + 8000, window: 2000 })
    expectNone(c.host)
  })
})
