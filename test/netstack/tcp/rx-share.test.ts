import { describe, expect, it } from 'vitest'
import { FakeClock } from '../../../src/core/clock.js'
import { Receiver, RxShare } from '../../../src/netstack/tcp/rcv.js'

const KiB = 1024

function receiver(share: RxShare, irs: number): Receiver {
  const r = new Receiver(256 * KiB, 6 * 1024 * KiB, 64)
  r.share = share
  r.init(irs)
  return r
}

/** Window in bytes a fresh ACK would advertise (scale 0 → field is bytes, capped at 65535). */
function advertised(r: Receiver): number {
  r.scale = 4
  return r.windowField(1000) * 16
}

describe('RxShare: receive window shared by the connections receiving at once', () => {
  it('one connection receiving alone keeps its own buffer; several split the budget', () => {
    const clock = new FakeClock(10_000)
    const share = new RxShare(clock, 64 * KiB, 4 * KiB)
    const a = receiver(share, 1000)
    const b = receiver(share, 5000)
    const c = receiver(share, 9000)
    expect(share.perConn()).toBe(Infinity)
    a.onSegment(1001, new Uint8Array(100), false, clock.now())
    expect(share.active).toBe(1)
    expect(a.cap).toBe(256 * KiB)
    b.onSegment(5001, new Uint8Array(100), false, clock.now())
    c.onSegment(9001, new Uint8Array(100), false, clock.now())
    expect(share.active).toBe(3)
    expect(a.cap).toBe(Math.floor((64 * KiB) / 3))
    // the advertised window follows the cap (never less than what was offered before)
    const w = advertised(b)
    expect(w).toBeLessThanOrEqual(Math.floor((64 * KiB) / 3) + 16)
    expect(w).toBeGreaterThan(Math.floor((64 * KiB) / 3) - 200)
  })

  it('the floor holds with many connections, and idle ones stop counting after a second', () => {
    const clock = new FakeClock(10_000)
    const share = new RxShare(clock, 64 * KiB, 4 * KiB)
    const rs = Array.from({ length: 40 }, (_, i) => receiver(share, i * 100_000))
    for (const [i, r] of rs.entries()) r.onSegment(i * 100_000 + 1, new Uint8Array(10), false, clock.now())
    expect(share.active).toBe(40)
    expect(share.perConn()).toBe(4 * KiB) // 64 KiB / 40 < floor
    clock.advance(600)
    rs[0].onSegment(11, new Uint8Array(10), false, clock.now())
    rs[1].onSegment(100_011, new Uint8Array(10), false, clock.now())
    clock.advance(600)
    // only the two that received within the last second still share
    expect(share.active).toBe(2)
    expect(rs[0].cap).toBe(32 * KiB)
    // a closed connection (TIME-WAIT / CLOSED) leaves at once
    rs[1].detach()
    expect(share.active).toBe(1)
    expect(rs[0].cap).toBe(256 * KiB)
  })

  it('a window already advertised is never withdrawn when the share shrinks', () => {
    const clock = new FakeClock(0)
    const share = new RxShare(clock, 64 * KiB, 4 * KiB)
    const a = receiver(share, 0)
    a.onSegment(1, new Uint8Array(10), false, clock.now())
    const before = advertised(a) // alone: the whole 256 KiB buffer
    expect(before).toBeGreaterThan(200 * KiB)
    const others = Array.from({ length: 7 }, (_, i) => receiver(share, (i + 1) * 1_000_000))
    for (const [i, r] of others.entries()) r.onSegment((i + 1) * 1_000_000 + 1, new Uint8Array(10), false, clock.now())
    // cap is now 8 KiB, but the right edge stays where it was
    expect(a.cap).toBe(8 * KiB)
    expect(advertised(a)).toBeGreaterThanOrEqual(before - 16)
  })
})
