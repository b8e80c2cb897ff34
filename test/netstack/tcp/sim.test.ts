import { describe, expect, it } from 'vitest'
import { runSim } from './simlink.js'

describe('two endpoints over an in-memory link', () => {
  it('moves data both ways on a clean link and closes cleanly', () => {
    const r = runSim({ pipe: { seed: 1, delayMs: 5 }, aToB: 1_000_000, bToA: 500_000 })
    expect(r.bGot).toBe(1_000_000)
    expect(r.aGot).toBe(500_000)
    expect(r.aOk && r.bOk).toBe(true)
    expect(r.aEnd && r.bEnd).toBe(true)
    expect(r.aClose).toBeUndefined()
    expect(r.bClose).toBeUndefined()
    expect(r.hostA.released.length).toBe(1)
    expect(r.hostB.released.length).toBe(1)
    expect(r.a.info().retransmits + r.b.info().retransmits).toBe(0)
  })

  for (const [cc, n] of [['cubic', 10_000_000], ['newreno', 3_000_000]] as const) {
    it(`5% loss, reordering and duplication, ${cc}: ${n / 1e6} MB byte-exact both ways`, () => {
      const r = runSim({
        pipe: { seed: 7, loss: 0.05, dup: 0.01, reorder: 0.1, jitterMs: 8, delayMs: 10, rate: 2000 },
        aToB: n,
        bToA: n,
        tcpA: { congestion: cc },
        tcpB: { congestion: cc },
      })
      console.log(cc, 'sim ms', r.timeMs, 'A', JSON.stringify(r.a.info()), 'B', JSON.stringify(r.b.info()))
      console.log(JSON.stringify(r.hostA.counters.snapshot()), JSON.stringify(r.hostB.counters.snapshot()))
      expect(r.pipes[0].dropped).toBeGreaterThan(0.03 * r.pipes[0].delivered)
      expect(r.bGot).toBe(n)
      expect(r.aGot).toBe(n)
      expect(r.aOk && r.bOk).toBe(true)
      expect(r.aEnd && r.bEnd).toBe(true)
      expect(r.a.info().fastRecoveries).toBeGreaterThan(0)
    })
  }

  it('without SACK (NewReno fast recovery) still byte-exact under loss', () => {
    const r = runSim({
      pipe: { seed: 3, loss: 0.05, dup: 0.01, reorder: 0.05, delayMs: 10, rate: 2000 },
      aToB: 1_000_000,
      bToA: 1_000_000,
      tcpA: { sack: false, timestamps: false },
      tcpB: { sack: false },
    })
    console.log('nosack sim ms', r.timeMs, JSON.stringify(r.a.info()))
    expect(r.a.info().sack).toBe(false)
    expect(r.a.info().timestamps).toBe(false)
    expect(r.bGot).toBe(1_000_000)
    expect(r.aGot).toBe(1_000_000)
    expect(r.aOk && r.bOk).toBe(true)
  })

  it('same seed gives the same trace; another seed a different one', () => {
    const o = { pipe: { seed: 42, loss: 0.05, dup: 0.01, reorder: 0.1, delayMs: 5, rate: 1000 }, aToB: 300_000, bToA: 300_000, trace: true }
    const r1 = runSim(o)
    const r2 = runSim(o)
    const r3 = runSim({ ...o, pipe: { ...o.pipe, seed: 43 } })
    expect(r1.bGot).toBe(300_000)
    expect(r1.traceHash).toBe(r2.traceHash)
    expect(r1.timeMs).toBe(r2.timeMs)
    expect(r3.traceHash).not.toBe(r1.traceHash)
  })

  it('receive-buffer autotuning grows the window to the path BDP (up to the 6 MiB cap)', () => {
    // 40 MB/s, 100 ms RTT → BDP 4 MB, far above the 256 KiB initial buffer
    const n = 40_000_000
    const r = runSim({ pipe: { seed: 9, delayMs: 50, rate: 40_000 }, aToB: n, bToA: 0, verify: false })
    expect(r.bGot).toBe(n)
    const buf = r.b.info().rcvBuf
    console.log('autotuned rcvBuf', buf, 'sim ms', r.timeMs)
    expect(buf).toBeGreaterThanOrEqual(4 * 1024 * 1024)
    expect(buf).toBeLessThanOrEqual(6 * 1024 * 1024)
    expect(r.a.info().sndScale).toBe(7)
  })

  it('sequence numbers and timestamps wrapping around 2^32 mid-transfer, under loss', () => {
    const r = runSim({
      pipe: { seed: 21, loss: 0.05, reorder: 0.05, delayMs: 5, rate: 2000 },
      aToB: 2_000_000,
      bToA: 2_000_000,
      fixedRandom: 0xffffffff - 3000, // ISS wraps after 3 KB, the timestamp clock after 3 s
    })
    expect(r.bGot).toBe(2_000_000)
    expect(r.aGot).toBe(2_000_000)
    expect(r.aOk && r.bOk).toBe(true)
    expect(r.aClose).toBeUndefined()
    expect(r.a.info().timestamps).toBe(true)
    expect(r.a.info().timeouts + r.b.info().timeouts).toBeLessThan(5)
  })
})
