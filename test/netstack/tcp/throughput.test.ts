// In-memory throughput measurement (not a timed assertion): set TCP_BENCH=1 to run.
import { describe, expect, it } from 'vitest'
import { runSim } from './simlink.js'

const bench = process.env.TCP_BENCH ? it : it.skip

describe('in-memory throughput', () => {
  bench('50 MB one way, no loss', () => {
    const n = 50 * 1024 * 1024
    const t0 = performance.now()
    const r = runSim({ pipe: { seed: 1, delayMs: 1 }, aToB: n, bToA: 0, verify: false, chunk: 256 * 1024 })
    const dt = performance.now() - t0
    console.log(`50 MB in ${dt.toFixed(0)} ms real → ${((n / 1e6) / (dt / 1000)).toFixed(1)} MB/s; sim time ${r.timeMs.toFixed(0)} ms`, JSON.stringify(r.a.info()))
    expect(r.bGot).toBe(n)
  })
})
