// Randomized two-endpoint runs: every seed draws a path (loss, duplication, reordering, delay,
// rate) and an option mix (SACK, timestamps, window scaling, congestion control, buffer size).
import { it, expect } from 'vitest'
import { seededRandom } from '../../../src/core/clock.js'
import { runSim } from './simlink.js'
it('random paths (loss ≤ 35 %, dup, reorder, rates, option mixes): byte-exact, clean close, released', () => {
  const bad: string[] = []
  for (let seed = 1; seed <= 40; seed++) {
    const r0 = seededRandom(seed * 7919)
    const pipe = { seed, loss: r0() * 0.35, dup: r0() * 0.05, reorder: r0() * 0.3, jitterMs: r0() * 30, delayMs: 1 + r0() * 40, rate: r0() < 0.5 ? 0 : 200 + r0() * 5000, collapse: r0() < 0.3 ? r0() * 0.2 : 0, split: r0() < 0.3 ? r0() * 0.2 : 0 }
    const aToB = Math.floor(r0() * 300_000)
    const bToA = Math.floor(r0() * 300_000)
    const tcp = { sack: r0() < 0.8, timestamps: r0() < 0.8, windowScaling: r0() < 0.8, congestion: r0() < 0.5 ? 'cubic' as const : 'newreno' as const, rcvBufInitial: r0() < 0.3 ? 8192 : 262144, maxRetries: 30 }
    const r = runSim({ pipe, aToB, bToA, tcpA: tcp, tcpB: { ...tcp, sack: r0() < 0.8 }, chunk: 1 + Math.floor(r0() * 70000), limitMs: 36_000_000, stalls: r0() < 0.5 ? r0() * 0.5 : 0 })
    const ok = r.aGot === bToA && r.bGot === aToB && r.aOk && r.bOk && r.aEnd && r.bEnd && r.aClose === undefined && r.bClose === undefined && r.hostA.released.length === 1 && r.hostB.released.length === 1
    if (!ok) bad.push(`seed ${seed} ${JSON.stringify(pipe)} ${JSON.stringify(tcp)} a ${r.aGot}/${bToA} b ${r.bGot}/${aToB} ok ${r.aOk},${r.bOk} end ${r.aEnd},${r.bEnd} close ${String(r.aClose)},${String(r.bClose)} rel ${r.hostA.released.length},${r.hostB.released.length} states ${r.a.state},${r.b?.state} t ${r.timeMs}`)
  }
  if (bad.length) console.log(bad.join('\n'))
  expect(bad).toEqual([])
})
