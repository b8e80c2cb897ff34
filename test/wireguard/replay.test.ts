import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ReplayFilter, REPLAY_WINDOW_SIZE } from '../../src/wireguard/replay.js'
import { REJECT_AFTER_MESSAGES } from '../../src/wireguard/constants.js'

describe('ReplayFilter (2048-bit ring, RFC 6479)', () => {
  it('has a 2016-counter window', () => {
    expect(REPLAY_WINDOW_SIZE).toBe(2016)
  })

  it('accepts each counter once', () => {
    const f = new ReplayFilter()
    expect(f.check(0)).toBe(true)
    expect(f.check(0)).toBe(false)
    expect(f.check(1)).toBe(true)
    expect(f.check(3)).toBe(true)
    expect(f.check(2)).toBe(true)
    expect(f.check(2)).toBe(false)
  })

  it('window edges: last − 2016 is accepted, last − 2017 is too old', () => {
    const f = new ReplayFilter()
    expect(f.check(5000)).toBe(true)
    expect(f.check(5000 - REPLAY_WINDOW_SIZE)).toBe(true)
    expect(f.check(5000 - REPLAY_WINDOW_SIZE - 1)).toBe(false)
    expect(f.check(5000 - REPLAY_WINDOW_SIZE)).toBe(false)
    expect(f.check(4999)).toBe(true)
  })

  it('bits of words reused after a jump are cleared, old ones stay remembered', () => {
    const f = new ReplayFilter()
    for (let i = 0; i < 64; i++) expect(f.check(i)).toBe(true)
    expect(f.check(2048 + 5)).toBe(true) // ring wraps onto the words of 0..63
    expect(f.check(2048)).toBe(true) // same word index as counter 0, cleared
    expect(f.check(63)).toBe(false) // out of window
    const g = new ReplayFilter()
    expect(g.check(100)).toBe(true)
    expect(g.check(100 + 10 * 2048)).toBe(true) // jump far: everything cleared
    expect(g.check(100 + 10 * 2048)).toBe(false)
  })

  it('rejects counters at or above REJECT_AFTER_MESSAGES and non-integers', () => {
    const f = new ReplayFilter()
    expect(f.check(REJECT_AFTER_MESSAGES)).toBe(false)
    expect(f.check(Infinity)).toBe(false)
    expect(f.check(-1)).toBe(false)
    expect(f.check(1.5)).toBe(false)
    expect(f.check(10, 10)).toBe(false)
    expect(f.check(9, 10)).toBe(true)
  })

  it('matches a naive set-based model on random sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 6000 }), fc.integer({ min: 0, max: 300 })), { maxLength: 400 }), (seq) => {
        const f = new ReplayFilter()
        const seen = new Set<number>()
        let max = -1
        for (const c of seq) {
          const expected = c > max || (max - c <= REPLAY_WINDOW_SIZE && !seen.has(c))
          expect(f.check(c)).toBe(expected)
          if (expected) {
            seen.add(c)
            max = Math.max(max, c)
          }
        }
      }),
    )
  })
})
