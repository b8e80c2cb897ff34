// Hostile / garbage segments never throw out of the engine and never break its invariants.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { TcpEndpoint } from '../../../src/netstack/tcp/endpoint.js'
import type { TcpSegment } from '../../../src/netstack/tcp/types.js'
import { fill } from './harness.js'
import { client } from './script.js'

const u32 = fc.nat(0xffffffff)

describe('hostile input', () => {
  it('random segments around the connection state never throw', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dseq: fc.integer({ min: -70_000, max: 70_000 }),
            dack: fc.integer({ min: -70_000, max: 70_000 }),
            wildSeq: fc.option(u32, { nil: undefined }),
            flags: fc.nat(0xff),
            window: fc.nat(0xffff),
            len: fc.nat(3000),
            sack: fc.option(fc.array(fc.tuple(fc.integer({ min: -80_000, max: 80_000 }), fc.integer({ min: -80_000, max: 80_000 })), { maxLength: 4 }), { nil: undefined }),
            ts: fc.option(fc.tuple(u32, u32), { nil: undefined }),
            mss: fc.option(fc.nat(0xffff), { nil: undefined }),
            wscale: fc.option(fc.nat(255), { nil: undefined }),
            advance: fc.nat(500),
          }),
          { maxLength: 60 },
        ),
        fc.boolean(),
        (steps, ts) => {
          const c = client({ timestamps: ts }, ts ? { mss: 1460, sackPermitted: true, wscale: 3, tsVal: 1, tsEcr: 0 } : { mss: 1460, sackPermitted: true })
          c.ep.write(fill(50_000))
          for (const s of steps) {
            const seg: TcpSegment = {
              srcPort: 80,
              dstPort: 40000,
              seq: s.wildSeq ?? (c.P + s.dseq) >>> 0,
              ack: (c.I + s.dack) >>> 0,
              flags: s.flags,
              window: s.window,
              urgent: 0,
              options: {
                ...(s.sack ? { sack: s.sack.map(([l, r]) => [(c.I + l) >>> 0, (c.I + r) >>> 0] as [number, number]) } : {}),
                ...(s.ts ? { tsVal: s.ts[0], tsEcr: s.ts[1] } : {}),
                ...(s.mss !== undefined ? { mss: s.mss } : {}),
                ...(s.wscale !== undefined ? { wscale: s.wscale } : {}),
              },
              payload: fill(s.len, s.dseq),
            }
            c.ep.input(seg)
            c.clock.advance(s.advance)
            const info = c.ep.info()
            expect(c.ep.bufferedAmount).toBeGreaterThanOrEqual(0)
            expect(info.inFlight).toBeGreaterThanOrEqual(0)
            expect(Number.isFinite(info.cwnd)).toBe(true)
            for (const o of c.host.out) expect(o.payload.length).toBeLessThanOrEqual(1460)
            c.host.out.length = 0
          }
          c.ep.destroy()
          c.clock.runAll(10_000_000)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('a SYN with absurd options is tamed (wscale ≤ 14, tiny MSS floored)', () => {
    const c = client({}, { mss: 1, wscale: 200, sackPermitted: true })
    const info = c.ep.info()
    expect(info.sndScale).toBe(14)
    expect(info.mss).toBeGreaterThanOrEqual(48)
    expect(c.ep).toBeInstanceOf(TcpEndpoint)
  })
})
