// BBR's ACK-aggregation allowance (extra_acked): ACKs that arrive in bursts — as a user-space
// stack takes them, one batch per event-loop turn — must widen the window beyond BtlBw × RTprop.
import { describe, expect, it } from 'vitest'
import { Bbr, BbrMode } from '../../../src/netstack/tcp/congestion/bbr.js'
import type { RateSample } from '../../../src/netstack/tcp/rate.js'

const MSS = 1000

/** Drive a BBR instance with one ACK per `gapMs` carrying `perAck` bytes, rate = perAck/gapMs. */
function drive(bbr: Bbr, opts: { acks: number; perAck: number; gapMs: number; rtt: number; t0?: number; delivered0?: number }) {
  let now = opts.t0 ?? 0
  let delivered = opts.delivered0 ?? 0
  for (let i = 0; i < opts.acks; i++) {
    now += opts.gapMs
    const prior = delivered
    delivered += opts.perAck
    const rs: RateSample = {
      delivered: opts.perAck * 4,
      interval: opts.gapMs * 4,
      deliveryRate: opts.perAck / opts.gapMs,
      priorDelivered: prior - opts.perAck * 3,
      isAppLimited: false,
      rtt: opts.rtt,
      newlyDelivered: opts.perAck,
    }
    bbr.onRateSample(rs, 20 * MSS, delivered, now, false)
  }
  return { now, delivered }
}

describe('BBR ACK aggregation', () => {
  it('smooth ACKs: no allowance; ACK bursts: the window grows by the excess, capped', () => {
    const bbr = new Bbr(MSS, 10)
    // smooth ACK clock: 1 MSS per 0.1 ms (10 MB/s), RTT 1 ms — long enough to fill the pipe
    const s = drive(bbr, { acks: 400, perAck: MSS, gapMs: 0.1, rtt: 1 })
    expect(bbr.filledPipe).toBe(true)
    const smooth = bbr.aggregationCwnd()
    expect(smooth).toBeLessThanOrEqual(2 * MSS)
    // the same rate, but ACKed in batches: 40 MSS at once every 4 ms
    let now = s.now
    let delivered = s.delivered
    for (let b = 0; b < 20; b++) {
      now += 4
      for (let k = 0; k < 40; k++) {
        const prior = delivered
        delivered += MSS
        bbr.onRateSample(
          { delivered: 40 * MSS, interval: 4, deliveryRate: 10 * MSS, priorDelivered: prior - 39 * MSS, isAppLimited: false, rtt: 1, newlyDelivered: MSS },
          20 * MSS,
          delivered,
          now,
          false,
        )
      }
    }
    const bursty = bbr.aggregationCwnd()
    expect(bursty).toBeGreaterThan(20 * MSS)
    // never beyond 100 ms of BtlBw
    expect(bursty).toBeLessThanOrEqual(bbr.btlBw * 100)
  })
})

describe('BBR RTprop filter', () => {
  it('a connection opened when the clock is past 10 s does not start with ProbeRTT', () => {
    const bbr = new Bbr(MSS, 10)
    // 60 s into the process: the first samples must not count as an expired estimate
    drive(bbr, { acks: 200, perAck: MSS, gapMs: 0.5, rtt: 20, t0: 60_000 })
    expect(bbr.mode).not.toBe(BbrMode.PROBE_RTT)
    // …but 10 s without a lower sample does send it to ProbeRTT (the filter still expires)
    drive(bbr, { acks: 25_000, perAck: MSS, gapMs: 0.5, rtt: 25, t0: 60_100, delivered0: 200 * MSS })
    expect(bbr.mode).toBe(BbrMode.PROBE_RTT)
  })
})
