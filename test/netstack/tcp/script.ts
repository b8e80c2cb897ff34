// Segment-by-segment script helpers: an endpoint opened against a scripted peer.
import { FakeClock } from '../../../src/core/clock.js'
import { TcpEndpoint, type TcpEndpointOptions } from '../../../src/netstack/tcp/endpoint.js'
import type { TcpOptions } from '../../../src/netstack/tcp/types.js'
import { expectNone, expectOut, FakeHost, mkSeg, tuple, type SegSpec } from './harness.js'

export const PEER_ISS = 5000

export interface Scripted {
  clock: FakeClock
  host: FakeHost
  ep: TcpEndpoint
  /** our first data sequence number (ISS + 1) */
  I: number
  /** peer's first data sequence number */
  P: number
  got: Uint8Array[]
  gotBytes(): number
  closed: { err: Error | undefined; called: number }
  ended: { called: number }
  /**
   * Deliver a segment from the peer as a receive burst of its own: input, then the end of the
   * event-loop phase (zero-delay clock callbacks, where a coalesced ACK is sent).
   */
  peer(s: SegSpec): void
  /** Deliver several segments in one receive burst (one poll phase), then end the burst. */
  peerBurst(segs: SegSpec[]): void
  /** Deliver a segment without ending the burst (the ACK it is owed stays pending). */
  peerNoFlush(s: SegSpec): void
}

function wire(clock: FakeClock, host: FakeHost, ep: TcpEndpoint, I: number, P: number): Scripted {
  const got: Uint8Array[] = []
  const closed = { err: undefined as Error | undefined, called: 0 }
  const ended = { called: 0 }
  ep.onData = (b) => got.push(b.slice())
  ep.onEnd = () => ended.called++
  ep.onClose = (e) => {
    closed.err = e
    closed.called++
  }
  clock.advance(0)
  return {
    clock,
    host,
    ep,
    I,
    P,
    got,
    gotBytes: () => got.reduce((n, b) => n + b.length, 0),
    closed,
    ended,
    peer: (s) => {
      ep.input(mkSeg(s))
      clock.advance(0)
    },
    peerBurst: (segs) => {
      for (const s of segs) ep.input(mkSeg(s))
      clock.advance(0)
    },
    peerNoFlush: (s) => ep.input(mkSeg(s)),
  }
}

/** Active open completed against a peer SYN-ACK with the given options. Default: no timestamps. */
export function client(
  opts: TcpEndpointOptions = {},
  synAck: TcpOptions = { mss: 1460, sackPermitted: true },
  peerWindow = 65535,
): Scripted {
  const clock = new FakeClock(0)
  const host = new FakeHost(clock)
  const { endpoint } = TcpEndpoint.connect(host, tuple(), { timestamps: false, ...opts })
  const syn = expectOut(host, { flags: 'S' })
  endpoint.input(mkSeg({ flags: 'SA', seq: PEER_ISS, ack: syn.seq + 1, window: peerWindow, options: synAck }))
  expectNone(host) // the ACK of the SYN-ACK waits for the end of the receive burst
  clock.advance(0)
  expectOut(host, { flags: 'A', seq: syn.seq + 1, ack: PEER_ISS + 1 })
  return wire(clock, host, endpoint, (syn.seq + 1) >>> 0, PEER_ISS + 1)
}

/** Passive open: peer SYN, our SYN-ACK, peer ACK. */
export function server(opts: TcpEndpointOptions = {}, synOpts: TcpOptions = { mss: 1460, sackPermitted: true }, peerWindow = 65535): Scripted {
  const clock = new FakeClock(0)
  const host = new FakeHost(clock)
  const syn = mkSeg({ flags: 'S', seq: PEER_ISS, window: peerWindow, options: synOpts })
  const { endpoint } = TcpEndpoint.accept(host, tuple(), syn, { timestamps: false, ...opts })
  const sa = expectOut(host, { flags: 'SA', ack: PEER_ISS + 1 })
  endpoint.input(mkSeg({ flags: 'A', seq: PEER_ISS + 1, ack: sa.seq + 1, window: peerWindow }))
  return wire(clock, host, endpoint, (sa.seq + 1) >>> 0, PEER_ISS + 1)
}
