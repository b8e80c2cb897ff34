import { describe, expect, it } from 'vitest'
import { exposeGc, startIdleReclaim, type IdleReclaimDeps } from '../../src/core/idle-reclaim.js'

const MiB = 1024 * 1024

function fake(rss: number) {
  const st = { rss, util: 0, gcs: 0, tick: null as null | (() => void), afterGc: rss }
  const deps: IdleReclaimDeps = {
    gc: () => {
      st.gcs += 0.5 // a reclaim is two collections
      st.rss = st.afterGc
    },
    rss: () => st.rss,
    utilization: () => st.util,
    every: (_ms, fn) => {
      st.tick = fn
      return { stop: () => (st.tick = null) }
    },
  }
  return { st, deps }
}

describe('idle reclaim', () => {
  it('collects once after a burst, when quiet, and not again until RSS grows by another step', () => {
    const { st, deps } = fake(80 * MiB)
    const seen: Array<[number, number]> = []
    const r = startIdleReclaim({ growthBytes: 16 * MiB, maxUtilization: 0.05, quietIntervals: 1, onReclaim: (a, b) => seen.push([a, b]) }, deps)!
    // a burst: busy and grown → wait
    st.rss = 130 * MiB
    st.util = 0.9
    st.tick!()
    expect(st.gcs).toBe(0)
    // quiet now → one collection
    st.util = 0.01
    st.afterGc = 98 * MiB
    st.tick!()
    expect(st.gcs).toBe(1)
    expect(seen).toEqual([[130 * MiB, 98 * MiB]])
    // still quiet, RSS where the collection left it (malloc keeps the rest): no more collections
    for (let i = 0; i < 5; i++) st.tick!()
    expect(st.gcs).toBe(1)
    // grown by less than a step: nothing; by a step: one more
    st.rss = 110 * MiB
    st.tick!()
    expect(st.gcs).toBe(1)
    st.rss = 115 * MiB
    st.afterGc = 100 * MiB
    st.tick!()
    expect(st.gcs).toBe(2)
    expect(r.runs).toBe(2)
    r.stop()
    expect(st.tick).toBeNull()
  })

  it('measures growth from a lower RSS when memory came back on its own', () => {
    const { st, deps } = fake(120 * MiB)
    startIdleReclaim({ growthBytes: 16 * MiB, quietIntervals: 1 }, deps)
    st.rss = 90 * MiB
    st.tick!()
    st.rss = 110 * MiB // +20 MiB over the new low
    st.tick!()
    expect(st.gcs).toBe(1)
  })

  it('waits for several quiet intervals in a row (V8 shrinks only after its allocation rate fell)', () => {
    const { st, deps } = fake(80 * MiB)
    startIdleReclaim({ growthBytes: 16 * MiB, quietIntervals: 2 }, deps)
    st.rss = 130 * MiB
    st.afterGc = 95 * MiB
    st.util = 0.01
    st.tick!()
    expect(st.gcs).toBe(0)
    st.util = 0.5 // busy again: the count restarts
    st.tick!()
    st.util = 0.01
    st.tick!()
    expect(st.gcs).toBe(0)
    st.tick!()
    expect(st.gcs).toBe(1)
  })

  it('a collection that returned nothing is tried once more, then that level is accepted', () => {
    const { st, deps } = fake(80 * MiB)
    startIdleReclaim({ growthBytes: 16 * MiB, quietIntervals: 1 }, deps)
    st.rss = 130 * MiB
    st.afterGc = 128 * MiB // malloc keeps it
    st.tick!()
    expect(st.gcs).toBe(1)
    st.tick!()
    expect(st.gcs).toBe(2)
    for (let i = 0; i < 5; i++) st.tick!()
    expect(st.gcs).toBe(2)
  })

  it('finds a real gc function in this runtime', () => {
    const gc = exposeGc()
    expect(typeof gc).toBe('function')
    gc!() // a full collection, no throw
  })
})
