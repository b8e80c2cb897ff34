import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FakeClock } from '../../src/core/clock.js'
import { createLossyLink, type LossyLinkOptions } from '../../src/netstack/sim/lossy-link.js'

function rig(opts: Omit<LossyLinkOptions, 'clock'>) {
  const clock = new FakeClock(0)
  const l = createLossyLink({ ...opts, clock })
  const atB: Array<[number, number]> = [] // [time, first byte/id]
  const atA: Array<[number, number]> = []
  let drainsA = 0
  l.b.attach(
    (p) => atB.push([clock.now(), p[0] | (p[1] << 8)]),
    () => {},
  )
  l.a.attach(
    (p) => atA.push([clock.now(), p[0]]),
    () => drainsA++,
  )
  const pkt = (id: number, len = 100) => {
    const p = new Uint8Array(len)
    p[0] = id & 0xff
    p[1] = id >> 8
    return p
  }
  return { clock, l, atA, atB, pkt, drains: () => drainsA }
}

describe('LossyLinkPair', () => {
  it('delivers after the delay, both ways, without impairments', () => {
    const { clock, l, atA, atB, pkt } = rig({ seed: 1, delayMs: 7 })
    l.a.send(pkt(1))
    l.b.send(pkt(2))
    clock.advance(6)
    expect(atB).toEqual([])
    clock.advance(1)
    expect(atB).toEqual([[7, 1]])
    expect(atA).toEqual([[7, 2]])
    expect(l.a.stats.delivered).toBe(1)
  })

  it('loses, duplicates and reorders in the configured proportions', () => {
    const { clock, l, atB, pkt } = rig({ seed: 42, loss: 0.1, duplicate: 0.05, reorder: 0.1, delayMs: 5, reorderDelayMs: 10 })
    const N = 20000
    for (let i = 0; i < N; i++) {
      l.a.send(pkt(i))
      clock.advance(1)
    }
    clock.advance(100)
    const s = l.a.stats
    expect(s.lost / N).toBeGreaterThan(0.09)
    expect(s.lost / N).toBeLessThan(0.11)
    expect(s.duplicated / (N - s.lost)).toBeGreaterThan(0.04)
    expect(s.duplicated / (N - s.lost)).toBeLessThan(0.06)
    expect(s.delivered).toBe(N - s.lost + s.duplicated)
    expect(atB.length).toBe(s.delivered)
    let inversions = 0
    for (let i = 1; i < atB.length; i++) if (atB[i][1] < atB[i - 1][1] && atB[i][1] !== atB[i - 1][1]) inversions++
    expect(inversions).toBeGreaterThan(N * 0.05)
  })

  it('serialises at the bottleneck rate and tail-drops beyond the queue', () => {
    const { clock, l, atB, pkt } = rig({ seed: 3, bandwidth: 10, queueBytes: 1000 }) // 10 B/ms
    for (let i = 0; i < 15; i++) l.a.send(pkt(i, 100)) // 1500 B offered at once
    expect(l.a.stats.tailDropped).toBe(5)
    expect(l.a.stats.maxQueueBytes).toBe(1000)
    clock.advance(1000)
    expect(atB.map(([t]) => t)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    expect(l.a.queuedBytes).toBe(0)
  })

  it('reports backpressure and drains at half the limit', () => {
    const { clock, l, pkt, drains } = rig({ seed: 3, bandwidth: 10, queueBytes: 10_000, backpressureBytes: 500 })
    const oks = []
    for (let i = 0; i < 8; i++) oks.push(l.a.send(pkt(i, 100)))
    expect(oks).toEqual([true, true, true, true, true, false, false, false])
    clock.advance(50)
    expect(drains()).toBe(0)
    clock.advance(1000)
    expect(drains()).toBe(1)
    expect(l.a.stats.backpressured).toBe(3)
  })

  it('drops oversize packets and everything while down', () => {
    const { clock, l, atB, pkt } = rig({ seed: 1, mtu: 200 })
    l.a.send(pkt(1, 201))
    l.a.down = true
    l.a.send(pkt(2))
    l.a.down = false
    l.a.send(pkt(3))
    clock.advance(1)
    expect(atB.map((x) => x[1])).toEqual([3])
    expect(l.a.stats.oversize).toBe(1)
    expect(l.a.stats.lost).toBe(1)
  })

  it('gives the same trace for the same seed and a different one for another', () => {
    const runs = [5, 5, 6].map((seed) => {
      const { clock, l, pkt } = rig({ seed, loss: 0.05, duplicate: 0.02, reorder: 0.05, delayMs: 3, jitterMs: 2, trace: true })
      for (let i = 0; i < 2000; i++) {
        l.a.send(pkt(i, 60 + (i % 50)))
        if (i % 3 === 0) l.b.send(pkt(i, 40))
        clock.advance(0.5)
      }
      clock.advance(100)
      return { digest: l.traceDigest(), trace: l.trace }
    })
    expect(runs[0].trace).toEqual(runs[1].trace)
    expect(runs[0].digest).toBe(runs[1].digest)
    expect(runs[0].digest).not.toBe(runs[2].digest)
    expect(runs[0].digest).toMatch(/^\d+:[0-9a-f]{8}$/)
    const dirs = new Set(runs[0].trace.map((e) => e[1]))
    expect(dirs).toEqual(new Set(['a>b', 'b>a']))
  })

  it('conserves packets and keeps each one intact whatever the settings (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.nat(),
          loss: fc.double({ min: 0, max: 1, noNaN: true }),
          duplicate: fc.double({ min: 0, max: 1, noNaN: true }),
          reorder: fc.double({ min: 0, max: 1, noNaN: true }),
          delayMs: fc.nat({ max: 50 }),
          jitterMs: fc.nat({ max: 20 }),
          bandwidth: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 })),
          queueBytes: fc.integer({ min: 100, max: 100_000 }),
        }),
        fc.array(fc.integer({ min: 1, max: 1600 }), { maxLength: 200 }),
        (opts, sizes) => {
          const { clock, l, atB } = rig({ ...opts, mtu: 1500 })
          const seen: Uint8Array[] = []
          l.b.attach(
            (p) => seen.push(p),
            () => {},
          )
          sizes.forEach((n, i) => {
            const p = new Uint8Array(n)
            p.fill(i & 0xff)
            l.a.send(p)
            clock.advance(0.3)
          })
          clock.runAll()
          const s = l.a.stats
          expect(atB).toHaveLength(0) // rx replaced above
          expect(s.sent).toBe(sizes.length)
          expect(s.delivered).toBe(s.sent - s.lost - s.tailDropped - s.oversize + s.duplicated)
          expect(seen).toHaveLength(s.delivered)
          for (const p of seen) expect(p.every((x) => x === p[0])).toBe(true)
          expect(l.a.queuedBytes).toBe(0)
        },
      ),
      { numRuns: 200 },
    )
  })
})
