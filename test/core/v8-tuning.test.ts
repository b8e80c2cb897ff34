// core/v8-tuning.ts: after tuneYoungGeneration(), V8's young generation reaches its maximum at
// its first growth. Measured in fresh node processes (V8 flags are process-wide, and a test
// worker's heap has long grown): the same allocation pattern as a packet path (many short-lived
// objects, a small window of them alive), with and without the call, built module from dist/
// (produced by `npm test`'s build step).
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

const MODULE = pathToFileURL(resolve(import.meta.dirname, '../../dist/core/v8-tuning.js')).href

/** Young generation (new space) size in MiB after a burst, in a fresh process. */
function newSpaceAfterBurst(tune: boolean): number {
  const script = `
    import v8 from 'node:v8'
    import { tuneYoungGeneration } from ${JSON.stringify(MODULE)}
    if (${tune}) tuneYoungGeneration()
    let keep = []
    for (let i = 0; i < 200000; i++) {
      keep.push({ seq: i, body: new Uint8Array(64) })
      if (keep.length > 2000) keep = []
    }
    const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
    process.stdout.write(String(ns.space_size / 1048576))
  `
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }))
}

describe('tuneYoungGeneration', () => {
  it('lets the young generation reach its maximum at the first growth', () => {
    const plain = newSpaceAfterBurst(false)
    const tuned = newSpaceAfterBurst(true)
    expect(tuned).toBeGreaterThanOrEqual(16)
    expect(tuned).toBeGreaterThanOrEqual(2 * plain)
  })
})
