import { describe, expect, it } from 'vitest'
import { FakeClock, seededRandom } from '../../src/core/clock.js'
import { fromHex, hex, readU16, readU32, writeU16, writeU32 } from '../../src/core/bytes.js'

describe('FakeClock', () => {
  it('fires timers in time then insertion order, including ones scheduled while firing', () => {
    const c = new FakeClock(100)
    const log: string[] = []
    c.schedule(130, () => log.push('b'))
    c.schedule(110, () => {
      log.push('a')
      c.schedule(115, () => log.push('a2'))
    })
    const cancel = c.schedule(120, () => log.push('never'))
    c.schedule(130, () => log.push('c'))
    cancel()
    c.advance(25)
    expect(log).toEqual(['a', 'a2'])
    expect(c.now()).toBe(125)
    c.advance(10)
    expect(log).toEqual(['a', 'a2', 'b', 'c'])
    expect(c.runAll()).toBe(true)
  })
  it('schedules in the past run at now', () => {
    const c = new FakeClock(50)
    let at = -1
    c.schedule(10, () => (at = c.now()))
    c.advance(0)
    expect(at).toBe(50)
  })
})

describe('bytes', () => {
  it('reads and writes big-endian', () => {
    const b = new Uint8Array(6)
    writeU16(b, 0, 0xbeef)
    writeU32(b, 2, 0xdeadc0de)
    expect(hex(b)).toBe('beefdeadc0de')
    expect(readU16(b, 0)).toBe(0xbeef)
    expect(readU32(b, 2)).toBe(0xdeadc0de)
    expect(fromHex('be:ef de')).toEqual(new Uint8Array([0xbe, 0xef, 0xde]))
    expect(() => fromHex('abc')).toThrow()
  })
  it('seeded random is deterministic', () => {
    const a = seededRandom(7)
    const b = seededRandom(7)
    const xs = Array.from({ length: 5 }, a)
    expect(Array.from({ length: 5 }, b)).toEqual(xs)
    expect(new Set(xs).size).toBe(5)
  })
})
