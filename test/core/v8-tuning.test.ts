// core/v8-tuning.ts, measured in fresh node processes (V8 flags are process-wide, and a test
// worker's heap has long grown), with the built module from dist/ (produced by `npm test`'s build
// step):
// - after tuneHeap(), the young generation reaches its maximum at its first growth, under the
//   same allocation pattern as a packet path (many short-lived objects, a small window alive);
// - after tuneHeap(), a full collection sets the old generation's next limit at 5× the live size,
//   read from V8's own trace (--trace-gc-verbose), which V8's heuristic never goes beyond 4×.
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { HEAP_GROWING_PERCENT } from '../../src/core/v8-tuning.js'

const MODULE = pathToFileURL(resolve(import.meta.dirname, '../../dist/core/v8-tuning.js')).href

function runFresh(script: string, nodeArgs: string[] = []): string {
  return execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { encoding: 'utf8' })
}

/** Young generation (new space) size in MiB after a burst, in a fresh process. */
function newSpaceAfterBurst(tune: boolean): number {
  const script = `
    import v8 from 'node:v8'
    import { tuneHeap } from ${JSON.stringify(MODULE)}
    if (${tune}) tuneHeap()
    let keep = []
    for (let i = 0; i < 200000; i++) {
      keep.push({ seq: i, body: new Uint8Array(64) })
      if (keep.length > 2000) keep = []
    }
    const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
    process.stdout.write(String(ns.space_size / 1048576))
  `
  return Number(runFresh(script))
}

/** The factors of old-generation size to next limit V8 traced over four full collections. */
function oldGenerationLimitFactors(tune: boolean): number[] {
  const script = `
    import v8 from 'node:v8'
    import vm from 'node:vm'
    import { tuneHeap } from ${JSON.stringify(MODULE)}
    if (${tune}) tuneHeap()
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc')
    const keep = []
    for (let r = 0; r < 4; r++) {
      for (let i = 0; i < 300000; i++) { const o = { i, a: [i] }; if (i % 10 === 0) keep.push(o) }
      gc()
    }
  `
  const trace = runFresh(script, ['--trace-gc-verbose'])
  // e.g. "[HeapController] Limit: old size: 15743 KB, new limit: 94826 KB (5.0)"
  return [...trace.matchAll(/\[HeapController\] Limit: old size: \d+ KB, new limit: \d+ KB \(([\d.]+)\)/g)].map((m) => Number(m[1]))
}

describe('tuneHeap', () => {
  it('lets the young generation reach its maximum at the first growth', () => {
    const plain = newSpaceAfterBurst(false)
    const tuned = newSpaceAfterBurst(true)
    expect(tuned).toBeGreaterThanOrEqual(16)
    expect(tuned).toBeGreaterThanOrEqual(2 * plain)
  })

  it('sets the old generation limit at 5x the live size after a full collection', () => {
    const plain = oldGenerationLimitFactors(false)
    const tuned = oldGenerationLimitFactors(true)
    expect(plain.length).toBeGreaterThanOrEqual(4)
    expect(Math.max(...plain)).toBeLessThanOrEqual(4)
    expect(tuned.length).toBeGreaterThanOrEqual(4)
    for (const f of tuned) expect(f).toBe(1 + HEAP_GROWING_PERCENT / 100)
  })
})
