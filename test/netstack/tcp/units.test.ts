import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { seqAdd, seqDiff, seqGt, seqInRange, seqLt, seqMax } from '../../../src/netstack/tcp/seq.js'
import { Reassembly } from '../../../src/netstack/tcp/reassembly.js'
import { SackGenerator } from '../../../src/netstack/tcp/sack.js'
import { SendBuffer } from '../../../src/netstack/tcp/sndbuf.js'
import { Scoreboard, type SentSeg } from '../../../src/netstack/tcp/scoreboard.js'
import { Cubic } from '../../../src/netstack/tcp/congestion/cubic.js'
import { NewReno } from '../../../src/netstack/tcp/congestion/newreno.js'
import { RttEstimator } from '../../../src/netstack/tcp/rtt.js'
import { LazyTimer } from '../../../src/netstack/tcp/timers.js'
import { wscaleFor } from '../../../src/netstack/tcp/config.js'
import { FakeClock } from '../../../src/core/clock.js'

describe('seq', () => {
  it('compares modulo 2^32 across the wrap', () => {
    expect(seqLt(0xfffffff0, 5)).toBe(true)
    expect(seqGt(5, 0xfffffff0)).toBe(true)
    expect(seqAdd(0xffffffff, 2)).toBe(1)
    expect(seqDiff(1, 0xffffffff)).toBe(2)
    expect(seqMax(0xfffffff0, 3)).toBe(3)
    expect(seqInRange(2, 0xfffffffe, 10)).toBe(true)
    expect(seqInRange(10, 0xfffffffe, 10)).toBe(false)
  })
  it('seqDiff inverts seqAdd for |n| < 2^31', () => {
    fc.assert(fc.property(fc.nat(0xffffffff), fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), (a, n) => seqDiff(seqAdd(a, n), a) === n))
  })
})

describe('Reassembly', () => {
  it('merges ranges and hands them over when the gap fills', () => {
    const r = new Reassembly(100)
    const b = (n: number, v: number) => new Uint8Array(n).fill(v)
    r.insert(0xfffffff0 + 20, b(10, 2)) // [4, 14) across the wrap
    r.insert(0xfffffff0 + 40, b(10, 4)) // [24, 34)
    r.insert(0xfffffff0 + 10, b(40, 9)) // overlaps both, fills [0,4) and [14,24) and [34,40)
    expect(r.ranges.length).toBe(1)
    expect(r.ranges[0].start).toBe(0xfffffffa)
    expect(r.bytes).toBe(40)
    const got = r.takeAt(0xfffffffa)!
    const flat = Buffer.concat(got.chunks)
    expect(flat.length).toBe(40)
    expect([...flat.subarray(0, 10)]).toEqual(Array(10).fill(9))
    expect([...flat.subarray(10, 20)]).toEqual(Array(10).fill(2))
    expect([...flat.subarray(30, 40)]).toEqual(Array(10).fill(4))
    expect(r.empty).toBe(true)
    expect(r.bytes).toBe(0)
  })

  it('matches a naive model under random inserts (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 1, max: 40 })), { maxLength: 40 }), (ops) => {
        const base = 0xffffff00
        const r = new Reassembly(1000)
        const model = new Map<number, number>()
        for (const [off, len] of ops) {
          const d = new Uint8Array(len)
          for (let i = 0; i < len; i++) d[i] = (off + i) & 0xff
          r.insert(seqAdd(base, off + 1), d)
          for (let i = 0; i < len; i++) if (!model.has(off + 1 + i)) model.set(off + 1 + i, (off + i) & 0xff)
        }
        // ranges: sorted, disjoint, non-adjacent, contents equal the model
        let total = 0
        let prevEnd = -1
        for (const rg of r.ranges) {
          const s = seqDiff(rg.start, base)
          const e = seqDiff(rg.end, base)
          expect(s).toBeGreaterThan(prevEnd)
          prevEnd = e
          const flat = Buffer.concat(rg.chunks)
          expect(flat.length).toBe(e - s)
          for (let i = 0; i < flat.length; i++) expect(flat[i]).toBe(model.get(s + i))
          total += e - s
        }
        expect(total).toBe(model.size)
        expect(r.bytes).toBe(model.size)
      }),
      { numRuns: 200 },
    )
  })

  it('refuses pieces beyond its segment cap', () => {
    const r = new Reassembly(2)
    expect(r.insert(10, new Uint8Array(5))).toBe(true)
    expect(r.insert(30, new Uint8Array(5))).toBe(true)
    expect(r.insert(50, new Uint8Array(5))).toBe(false)
    expect(r.ranges.length).toBe(2)
  })
})

describe('SACK generation', () => {
  it('reports the newest arrival first and only what is held', () => {
    const r = new Reassembly(100)
    const g = new SackGenerator()
    for (const s of [100, 300, 500, 700, 900]) {
      r.insert(s, new Uint8Array(50))
      g.noteArrival(s)
    }
    expect(g.blocks(r, 3)).toEqual([
      [900, 950],
      [700, 750],
      [500, 550],
    ])
    r.takeAt(100)
    r.dropBelow(950)
    expect(g.blocks(r, 3)).toBeUndefined()
  })
})

describe('SendBuffer', () => {
  it('returns views inside a block, copies across blocks, releases acked blocks', () => {
    const sb = new SendBuffer()
    const a = new Uint8Array(300 * 1024)
    for (let i = 0; i < a.length; i++) a[i] = i & 0xff
    sb.write(a)
    const v = sb.view(1000, 1448)
    expect(v.byteOffset).toBeGreaterThanOrEqual(0)
    expect(v[0]).toBe(1000 & 0xff)
    const cross = sb.view(256 * 1024 - 10, 20)
    for (let i = 0; i < 20; i++) expect(cross[i]).toBe((256 * 1024 - 10 + i) & 0xff)
    sb.release(260 * 1024)
    expect(sb.length).toBe(40 * 1024)
    expect(sb.view(290 * 1024, 4)[0]).toBe((290 * 1024) & 0xff)
  })
})

function seg(start: number, end: number): SentSeg {
  return { start, end, fin: false, sentAt: 0, xmits: 1, sacked: false, lost: false, retrans: false, acked: false, dlv: 0, dlvTime: 0, firstSent: 0, appLimited: false }
}

describe('Scoreboard (RFC 6675)', () => {
  it('IsLost needs more than DupThresh−1 segments SACKed above; pipe accounts lost and retransmitted', () => {
    const sb = new Scoreboard()
    for (let i = 0; i < 10; i++) sb.push(seg(i * 100, i * 100 + 100))
    sb.markSacked(100, 300)
    expect(sb.markLosses(100)).toBe(false)
    sb.markSacked(300, 400)
    expect(sb.markLosses(100)).toBe(true)
    expect(sb.lostBytes).toBe(100)
    expect(sb.pipe(1000)).toBe(1000 - 300 - 100)
    const nl = sb.nextLost()!
    expect(nl.seg.start).toBe(0)
    sb.retransmitted(nl.seg, 5)
    expect(sb.pipe(1000)).toBe(1000 - 300)
    expect(sb.nextLost()).toBeUndefined()
    sb.ackTo(400, { newestSent: 0, anyRetrans: false, firstSentAt: 0 })
    expect(sb.sackedBytes + sb.lostBytes + sb.retransBytes).toBe(0)
    expect(sb.count).toBe(6)
  })
  it('RTO marks everything not SACKed lost', () => {
    const sb = new Scoreboard()
    for (let i = 0; i < 5; i++) sb.push(seg(i * 100, i * 100 + 100))
    sb.markSacked(200, 300)
    sb.markAllLost()
    expect(sb.lostBytes).toBe(400)
    const order: number[] = []
    for (let n = sb.nextLost(); n; n = sb.nextLost()) {
      order.push(n.seg.start)
      sb.retransmitted(n.seg, 1)
    }
    expect(order).toEqual([0, 100, 300, 400])
  })
})

describe('congestion control', () => {
  it('NewReno: slow start, halving, congestion avoidance +1 MSS per RTT', () => {
    const c = new NewReno(1000, 10)
    c.onAck(1000, 0, 10, true)
    expect(c.cwnd).toBe(11_000)
    c.onAck(1000, 0, 10, false) // application-limited: no growth
    expect(c.cwnd).toBe(11_000)
    c.onCongestion(0, 11_000)
    expect(c.cwnd).toBe(5500)
    for (let i = 0; i < 6; i++) c.onAck(1000, 0, 10, true)
    expect(c.cwnd).toBe(6500)
    c.onRto(0, 6500)
    expect(c.cwnd).toBe(1000)
    expect(c.ssthresh).toBe(3250)
  })
  it('CUBIC: β = 0.7 reduction, concave regrowth toward W_max, then convex probing', () => {
    const mss = 1000
    const c = new Cubic(mss, 10)
    c.cwnd = 100 * mss
    c.ssthresh = 50 * mss
    c.onCongestion(0, 100 * mss)
    expect(c.cwnd).toBe(70 * mss)
    // K = cbrt(W_max·(1−β)/C) = cbrt(100·0.3/0.4) ≈ 4.22 s
    const at = (tMs: number) => {
      // one RTT (100 ms) worth of ACKs at time t
      const n = Math.round(c.cwnd / mss)
      for (let i = 0; i < n; i++) c.onAck(mss, tMs, 100, true)
      return c.cwnd / mss
    }
    let t = 0
    let w = 70
    const samples: number[] = []
    while (t < 8000) {
      t += 100
      w = at(t)
      samples.push(w)
    }
    const atK = samples[41]
    expect(atK).toBeGreaterThan(95)
    expect(atK).toBeLessThan(103)
    expect(samples[79]).toBeGreaterThan(110) // beyond W_max: convex growth
    expect(w).toBeGreaterThan(samples[60])
  })
})

describe('RTT estimator and timers', () => {
  it('RFC 6298 smoothing and backoff bounds', () => {
    const r = new RttEstimator(200, 120_000, 1000)
    expect(r.rto).toBe(1000)
    r.sample(100)
    expect(r.rto).toBe(300) // 100 + 4·50
    for (let i = 0; i < 20; i++) r.backoff()
    expect(r.rto).toBe(120_000)
    r.resetBackoff()
    expect(r.rto).toBe(300)
  })
  it('LazyTimer: pushing the deadline later does not fire early; earlier re-schedules', () => {
    const clock = new FakeClock(0)
    const fired: number[] = []
    const t = new LazyTimer(clock, () => fired.push(clock.now()))
    t.arm(100)
    t.arm(300)
    clock.advance(200)
    expect(fired).toEqual([])
    t.arm(250)
    clock.advance(100)
    expect(fired).toEqual([250])
    t.arm(400)
    t.clear()
    clock.runAll()
    expect(fired).toEqual([250])
  })
  it('window scale for the autotuning ceiling', () => {
    expect(wscaleFor(65535)).toBe(0)
    expect(wscaleFor(6 * 1024 * 1024)).toBe(7)
    expect(wscaleFor(1 << 30)).toBe(14)
  })
})
