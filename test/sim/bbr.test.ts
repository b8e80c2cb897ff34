// BBR (draft-cardwell-iccrg-bbr-congestion-control) against CUBIC over the simulated link under
// FakeClock: on a long lossy path (50 ms RTT, 1 % random loss, 100 Mbit/s) a loss-based sender is
// held to a few Mbit/s (Mathis: MSS/RTT·1.22/√p ≈ 2.8 Mbit/s) while BBR keeps the pipe full; on a
// clean path BBR's pacing fills the pipe without keeping the bottleneck queue full.
import { describe, expect, it } from 'vitest'
import type { TcpConn } from '../../src/netstack/api.js'
import type { LossyLinkOptions } from '../../src/netstack/sim/lossy-link.js'
import type { TcpTuning } from '../../src/netstack/tcp/config.js'
import { driveUntil, settle, simPair } from './helpers.js'

interface Timed {
  mbps: number
  link: { tailDropped: number; lost: number; maxQueueBytes: number; sentBytes: number }
  info: Record<string, unknown>
}

/** a → b as fast as the sender goes for `ms` of fake time; goodput counted at b. */
async function timedRun(link: Omit<LossyLinkOptions, 'clock'>, tcp: Partial<TcpTuning>, ms: number): Promise<Timed> {
  const { clock, link: l, a, b } = simPair(link, { tcp }, { tcp })
  let got = 0
  b.listenTcp({ port: 5001 }, (c) => {
    c.onData = (d) => {
      got += d.length
    }
  })
  const conn: TcpConn = await settle(clock, a.connectTcp({ host: '10.0.0.2', port: 5001 }), 30_000)
  const chunk = new Uint8Array(64 * 1024)
  const pump = () => {
    while (conn.write(chunk)) {
      /* fill the send buffer */
    }
  }
  conn.onDrain = pump
  pump()
  const t0 = clock.now()
  await driveUntil(clock, () => clock.now() - t0 >= ms, ms + 100, 50)
  const info = (conn as unknown as { info(): Record<string, unknown> }).info()
  const s = l.a.stats
  a.close()
  b.close()
  return { mbps: (got * 8) / 1e6 / (ms / 1000), link: { tailDropped: s.tailDropped, lost: s.lost, maxQueueBytes: s.maxQueueBytes, sentBytes: s.sentBytes }, info }
}

const LONG_LOSSY = { seed: 11, delayMs: 25, loss: 0.01, bandwidth: 12_500, queueBytes: 1 << 20 }

describe('BBR congestion control over the simulated link', () => {
  it('keeps ≥ 60 % of a 100 Mbit/s, 50 ms RTT path with 1 % random loss; CUBIC stays at a few Mbit/s', async () => {
    const bbr = await timedRun(LONG_LOSSY, { congestion: 'bbr' }, 6000)
    const cubic = await timedRun(LONG_LOSSY, { congestion: 'cubic' }, 6000)
    console.log(`[bbr] 50 ms RTT + 1 % loss, 100 Mbit/s, 6 s: BBR ${bbr.mbps.toFixed(1)} Mbit/s, CUBIC ${cubic.mbps.toFixed(1)} Mbit/s; bbr ${JSON.stringify(bbr.link)} ${JSON.stringify(bbr.info)}`)
    expect(bbr.link.lost).toBeGreaterThan(100) // the loss really happened
    expect(bbr.mbps).toBeGreaterThan(60)
    expect(cubic.mbps).toBeLessThan(10)
  }, 120_000)

  it('fills a clean 100 Mbit/s, 20 ms RTT path without a standing queue overflowing', async () => {
    const r = await timedRun({ seed: 12, delayMs: 10, bandwidth: 12_500, queueBytes: 1 << 20 }, { congestion: 'bbr' }, 4000)
    console.log(`[bbr] clean 100 Mbit/s, 20 ms RTT, 4 s: ${r.mbps.toFixed(1)} Mbit/s; ${JSON.stringify(r.link)} ${JSON.stringify(r.info)}`)
    expect(r.mbps).toBeGreaterThan(85)
    // startup overshoot is bounded (≤ 2 BDP ≈ 0.5 MB queued), no tail drops at all
    expect(r.link.tailDropped).toBe(0)
    expect(r.link.maxQueueBytes).toBeLessThan(600_000)
  }, 120_000)
})
