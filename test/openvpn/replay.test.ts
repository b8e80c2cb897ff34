import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PACKET_ID_MAX, PacketIdSend } from '../../src/openvpn/packet-id.js'
import { ReplayVerdict as V, ReplayWindow } from '../../src/openvpn/replay.js'

describe('packet-id sender', () => {
  it('counts from 1 with a fixed time, and restart() moves to a strictly later time', () => {
    let now = 1000
    const p = new PacketIdSend(() => now)
    p.next()
    p.next()
    expect([p.id, p.time]).toEqual([2, 1000])
    p.restart() // same wall second: must still be later
    p.next()
    expect([p.id, p.time]).toEqual([1, 1001])
    now = 2000
    p.restart()
    p.next()
    expect([p.id, p.time]).toEqual([1, 2000])
  })
  it('wraps at 2^32-1 into a new time sequence instead of reusing a pair', () => {
    const p = new PacketIdSend(() => 50)
    p.next()
    p.id = PACKET_ID_MAX - 1
    p.next()
    expect([p.id, p.time]).toEqual([PACKET_ID_MAX, 50])
    p.next()
    expect([p.id, p.time]).toEqual([1, 51])
  })
})

describe('replay window (packet_id_test/add/reap)', () => {
  it('accepts in order, rejects duplicates, id 0 and time going back', () => {
    const w = new ReplayWindow(64, 15)
    expect(w.check(0, 10, 0)).toBe(V.INVALID)
    expect(w.check(1, 10, 0)).toBe(V.OK)
    expect(w.check(2, 10, 0)).toBe(V.OK)
    expect(w.check(2, 10, 0)).toBe(V.REPLAY)
    expect(w.check(1, 10, 0)).toBe(V.REPLAY)
    expect(w.check(3, 9, 0)).toBe(V.TIME_BACKTRACK)
  })
  it('accepts reordering within the window once, drops beyond the backtrack edge', () => {
    const w = new ReplayWindow(64, 15)
    expect(w.check(100, 1, 0)).toBe(V.OK)
    expect(w.check(37, 1, 0)).toBe(V.OK) // diff 63: last slot of the window
    expect(w.check(37, 1, 0)).toBe(V.REPLAY)
    expect(w.check(36, 1, 0)).toBe(V.STALE) // diff 64: outside
    expect(w.check(99, 1, 0)).toBe(V.OK)
    expect(w.check(165, 1, 0)).toBe(V.OK) // big jump forward slides the window
    expect(w.check(101, 1, 0)).toBe(V.STALE) // 165 - 101 = 64: outside
    expect(w.check(102, 1, 0)).toBe(V.OK) // diff 63, never seen
    expect(w.check(100, 1, 0)).toBe(V.STALE)
  })
  it('window edge after a slide', () => {
    const w = new ReplayWindow(64, 15)
    w.check(1, 1, 0)
    w.check(200, 1, 0)
    expect(w.check(137, 1, 0)).toBe(V.OK) // diff 63
    expect(w.check(136, 1, 0)).toBe(V.STALE) // diff 64
    expect(w.check(1, 1, 0)).toBe(V.STALE)
  })
  it('a newer time starts a new sequence (reconnecting peer), after which the old time is stale', () => {
    const w = new ReplayWindow(64, 15)
    w.check(5000, 100, 0)
    expect(w.check(1, 101, 0)).toBe(V.OK)
    expect(w.check(2, 101, 0)).toBe(V.OK)
    expect(w.check(5001, 100, 0)).toBe(V.TIME_BACKTRACK)
    expect(w.check(1, 101, 0)).toBe(V.REPLAY)
  })
  it('sender id wraparound (new time, id 1) is accepted', () => {
    const w = new ReplayWindow(64, 15)
    expect(w.check(PACKET_ID_MAX, 7, 0)).toBe(V.OK)
    expect(w.check(PACKET_ID_MAX - 1, 7, 0)).toBe(V.OK)
    expect(w.check(1, 8, 0)).toBe(V.OK)
    expect(w.check(PACKET_ID_MAX - 2, 7, 0)).toBe(V.TIME_BACKTRACK)
  })
  it('gaps close replay-time seconds after a newer packet arrived', () => {
    const w = new ReplayWindow(64, 15)
    expect(w.check(1, 1, 0)).toBe(V.OK)
    expect(w.check(3, 1, 1000)).toBe(V.OK) // id 2 missing
    expect(w.test(2, 1, 10_000)).toBe(V.OK) // still inside 15 s
    expect(w.check(4, 1, 16_500)).toBe(V.OK)
    // id 3 arrived at 1 s: more than 15 s ago, so it and everything older is closed
    expect(w.check(2, 1, 17_000)).toBe(V.STALE)
    expect(w.check(4, 1, 17_000)).toBe(V.REPLAY)
  })
  it('property: every id is accepted at most once; fresh in-window ids are accepted', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 400 }), (ids) => {
        const w = new ReplayWindow(64, 15)
        const seen = new Set<number>()
        let max = 0
        for (const id of ids) {
          const v = w.check(id, 1, 0)
          if (seen.has(id)) expect(v).not.toBe(V.OK)
          else if (id > max - 64) expect(v).toBe(V.OK)
          if (v === V.OK) {
            seen.add(id)
            max = Math.max(max, id)
          }
        }
      }),
    )
  })
})
