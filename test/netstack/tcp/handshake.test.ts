import { describe, expect, it } from 'vitest'
import { FakeClock } from '../../../src/core/clock.js'
import { TcpEndpoint } from '../../../src/netstack/tcp/endpoint.js'
import { rstForUnmatched } from '../../../src/netstack/tcp/segment.js'
import { TcpFlag } from '../../../src/netstack/tcp/types.js'
import { expectNone, expectOut, FakeHost, mkSeg, tuple } from './harness.js'
import { PEER_ISS } from './script.js'

describe('three-way handshake', () => {
  it('active open negotiates MSS, window scale, SACK and timestamps', async () => {
    const clock = new FakeClock(1000)
    const host = new FakeHost(clock)
    const { endpoint: ep, established } = TcpEndpoint.connect(host, tuple())
    expect(ep.state).toBe('SYN-SENT')
    const syn = expectOut(host, { flags: 'S', ack: 0, options: { mss: 1460, wscale: 7, sackPermitted: true, tsVal: 'any', tsEcr: 0 } })
    expect(syn.window).toBe(65535)
    clock.advance(30)
    ep.input(mkSeg({ flags: 'SA', seq: PEER_ISS, ack: syn.seq + 1, window: 29200, options: { mss: 1400, wscale: 2, sackPermitted: true, tsVal: 777, tsEcr: syn.options.tsVal } }))
    expectNone(host) // the ACK goes out at the end of the receive burst
    clock.advance(0)
    const ack = expectOut(host, { flags: 'A', seq: syn.seq + 1, ack: PEER_ISS + 1, options: { tsEcr: 777 } })
    // our window is now scaled by 2^7
    expect(ack.window).toBe(262144 >> 7)
    expectNone(host)
    await established
    const info = ep.info()
    expect(info.state).toBe('ESTABLISHED')
    expect(info.mss).toBe(1400 - 12)
    expect(info.sndScale).toBe(2)
    expect(info.rcvScale).toBe(7)
    expect(info.sack).toBe(true)
    expect(info.timestamps).toBe(true)
    expect(info.srtt).toBe(30) // RTT from the timestamp echo
    expect(info.sndWnd).toBe(29200) // SYN-ACK window is never scaled
  })

  it('without the peer offering options, none are used (and windows are unscaled)', async () => {
    const clock = new FakeClock(0)
    const host = new FakeHost(clock)
    const { endpoint: ep, established } = TcpEndpoint.connect(host, tuple())
    const syn = expectOut(host, { flags: 'S' })
    ep.input(mkSeg({ flags: 'SA', seq: PEER_ISS, ack: syn.seq + 1, window: 8192, options: {} }))
    clock.advance(0)
    const ack = expectOut(host, { flags: 'A', options: {} })
    expect(ack.options.tsVal).toBeUndefined()
    expect(ack.window).toBe(65535) // 16-bit cap without scaling
    await established
    const info = ep.info()
    expect(info.mss).toBe(536) // RFC 9293 default when no MSS option
    expect(info.sack || info.timestamps).toBe(false)
    expect(info.sndScale + info.rcvScale).toBe(0)
  })

  it('passive open answers only the options the peer offered', async () => {
    const clock = new FakeClock(0)
    const host = new FakeHost(clock)
    const syn = mkSeg({ flags: 'S', seq: PEER_ISS, window: 64240, options: { mss: 1200, sackPermitted: true } })
    const { endpoint: ep, established } = TcpEndpoint.accept(host, tuple(), syn)
    expect(ep.state).toBe('SYN-RECEIVED')
    const sa = expectOut(host, { flags: 'SA', ack: PEER_ISS + 1, options: { mss: 1460, sackPermitted: true } })
    expect(sa.options.wscale).toBeUndefined()
    expect(sa.options.tsVal).toBeUndefined()
    // a retransmitted SYN gets the SYN-ACK again
    ep.input(syn)
    expectOut(host, { flags: 'SA', seq: sa.seq, ack: PEER_ISS + 1 })
    // a wrong ACK gets a RST (RFC 9293 §3.10.7.4 SYN-RECEIVED)
    ep.input(mkSeg({ flags: 'A', seq: PEER_ISS + 1, ack: sa.seq + 77 }))
    expectOut(host, { flags: 'R', seq: sa.seq + 77 })
    ep.input(mkSeg({ flags: 'A', seq: PEER_ISS + 1, ack: sa.seq + 1, window: 64240 }))
    await established
    expect(ep.state).toBe('ESTABLISHED')
    expect(ep.info().mss).toBe(1200)
    expectNone(host)
  })

  it('passive open with window scale and timestamps', () => {
    const clock = new FakeClock(0)
    const host = new FakeHost(clock)
    const syn = mkSeg({ flags: 'S', seq: PEER_ISS, options: { mss: 1460, wscale: 9, sackPermitted: true, tsVal: 12345, tsEcr: 0 } })
    const { endpoint: ep } = TcpEndpoint.accept(host, tuple(), syn)
    const sa = expectOut(host, { flags: 'SA', options: { wscale: 7, sackPermitted: true, tsEcr: 12345, tsVal: 'any' } })
    ep.input(mkSeg({ flags: 'A', seq: PEER_ISS + 1, ack: sa.seq + 1, window: 100, options: { tsVal: 12346, tsEcr: sa.options.tsVal } }))
    expect(ep.state).toBe('ESTABLISHED')
    expect(ep.info().sndWnd).toBe(100 << 9)
  })

  it('simultaneous open', async () => {
    const clock = new FakeClock(0)
    const host = new FakeHost(clock)
    const { endpoint: ep, established } = TcpEndpoint.connect(host, tuple(), { timestamps: false })
    const syn = expectOut(host, { flags: 'S' })
    ep.input(mkSeg({ flags: 'S', seq: PEER_ISS, options: { mss: 1460 } }))
    expect(ep.state).toBe('SYN-RECEIVED')
    expectOut(host, { flags: 'SA', seq: syn.seq, ack: PEER_ISS + 1 })
    ep.input(mkSeg({ flags: 'SA', seq: PEER_ISS, ack: syn.seq + 1, options: { mss: 1460 } }))
    clock.advance(0)
    await established
    expect(ep.state).toBe('ESTABLISHED')
    expectOut(host, { flags: 'A', seq: syn.seq + 1, ack: PEER_ISS + 1 })
  })

  it('RST|ACK to the SYN → ECONNREFUSED; a bad ACK gets a RST', async () => {
    const clock = new FakeClock(0)
    const host = new FakeHost(clock)
    const { endpoint: ep, established } = TcpEndpoint.connect(host, tuple())
    const syn = expectOut(host, { flags: 'S' })
    ep.input(mkSeg({ flags: 'SA', seq: PEER_ISS, ack: syn.seq + 999 }))
    expectOut(host, { flags: 'R', seq: syn.seq + 999 })
    ep.input(mkSeg({ flags: 'RA', seq: 0, ack: syn.seq + 2 })) // unacceptable ACK: ignored
    expect(ep.state).toBe('SYN-SENT')
    let closeErr: Error | undefined
    ep.onClose = (e) => (closeErr = e)
    ep.input(mkSeg({ flags: 'RA', seq: 0, ack: syn.seq + 1 }))
    await expect(established).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    expect(ep.state).toBe('CLOSED')
    expect(host.released.length).toBe(1)
    clock.advance(0)
    expect(closeErr).toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('SYN retransmission backs off and gives up with ETIMEDOUT', async () => {
    const clock = new FakeClock(0)
    const host = new FakeHost(clock)
    const { established } = TcpEndpoint.connect(host, tuple(), { synRetries: 3 })
    const times: number[] = []
    host.onOutput = (_t, s) => {
      if (s.flags & TcpFlag.SYN) times.push(clock.now())
    }
    clock.runAll()
    expect(times).toEqual([1000, 3000, 7000])
    await expect(established).rejects.toMatchObject({ code: 'ETIMEDOUT' })
    expect(host.released.length).toBe(1)
  })

  it('ICMP unreachable during connect fails the connection with that error', async () => {
    const clock = new FakeClock(0)
    const host = new FakeHost(clock)
    const { endpoint: ep, established } = TcpEndpoint.connect(host, tuple())
    const err = Object.assign(new Error('host unreachable'), { code: 'EHOSTUNREACH' })
    ep.icmpError(err, 'unreachable')
    await expect(established).rejects.toBe(err)
    expect(ep.state).toBe('CLOSED')
  })
})

describe('rstForUnmatched (RFC 9293 §3.10.7.1)', () => {
  it('answers ACK segments with seq = SEG.ACK', () => {
    const r = rstForUnmatched(mkSeg({ flags: 'A', seq: 100, ack: 5555, data: 10 }, 1234, 80))!
    expect(r.flags).toBe(TcpFlag.RST)
    expect(r.seq).toBe(5555)
    expect(r.srcPort).toBe(80)
    expect(r.dstPort).toBe(1234)
  })
  it('answers a SYN with RST|ACK acking SEG.SEQ + SEG.LEN', () => {
    const r = rstForUnmatched(mkSeg({ flags: 'S', seq: 0xffffffff }))!
    expect(r.flags).toBe(TcpFlag.RST | TcpFlag.ACK)
    expect(r.seq).toBe(0)
    expect(r.ack).toBe(0)
    const f = rstForUnmatched(mkSeg({ flags: 'F', seq: 10, data: 5 }))!
    expect(f.ack).toBe(16)
  })
  it('never answers a RST', () => {
    expect(rstForUnmatched(mkSeg({ flags: 'R', seq: 1 }))).toBeNull()
    expect(rstForUnmatched(mkSeg({ flags: 'RA', seq: 1, ack: 2 }))).toBeNull()
  })
})

describe('link backpressure during the handshake', () => {
  it('a refused SYN is sent again on linkDrained()', () => {
    const clock = new FakeClock(0)
    const host = new FakeHost(clock)
    host.linkOk = false
    const { endpoint: ep } = TcpEndpoint.connect(host, tuple())
    expectNone(host)
    host.linkOk = true
    clock.advance(10)
    ep.linkDrained()
    expectOut(host, { flags: 'S' })
  })
})
