import { describe, expect, it } from 'vitest'
import { expectNone, expectOut, fill, mkSeg } from './harness.js'
import { client, server } from './script.js'

describe('closing', () => {
  it('active close: FIN, half-close (data still arrives), peer FIN, TIME-WAIT 2·MSL then release', () => {
    const c = client({ msl: 1000 })
    const { P, I } = c
    c.ep.end()
    expect(c.ep.state).toBe('FIN-WAIT-1')
    expectOut(c.host, { flags: 'FA', seq: I, ack: P })
    expect(c.ep.write(fill(1))).toBe(false)
    c.peer({ flags: 'A', seq: P, ack: I + 1 })
    expect(c.ep.state).toBe('FIN-WAIT-2')
    // half-close: the peer keeps sending
    c.peer({ flags: 'PA', seq: P, ack: I + 1, data: 700 })
    expect(c.gotBytes()).toBe(700)
    c.clock.advance(40)
    expectOut(c.host, { flags: 'A', seq: I + 1, ack: P + 700 })
    c.peer({ flags: 'FA', seq: P + 700, ack: I + 1 })
    expectOut(c.host, { flags: 'A', seq: I + 1, ack: P + 701 })
    expect(c.ep.state).toBe('TIME-WAIT')
    expect(c.ended.called).toBe(1)
    c.clock.advance(0)
    expect(c.closed.called).toBe(1)
    expect(c.closed.err).toBeUndefined()
    expect(c.host.released.length).toBe(0)
    // a retransmitted FIN is acked again and restarts 2·MSL
    c.clock.advance(1500)
    c.peer({ flags: 'FA', seq: P + 700, ack: I + 1 })
    expectOut(c.host, { flags: 'A', ack: P + 701 })
    c.clock.advance(1999)
    expect(c.host.released.length).toBe(0)
    c.clock.advance(1)
    expect(c.host.released.length).toBe(1)
    expect(c.ep.state).toBe('CLOSED')
    expect(c.closed.called).toBe(1)
    expectNone(c.host)
  })

  it('passive close: peer FIN → CLOSE-WAIT, we keep writing (half-close), end() → LAST-ACK → CLOSED, no TIME-WAIT', () => {
    const s = server()
    const { P, I } = s
    s.peer({ flags: 'FA', seq: P, ack: I, data: 5 })
    expect(s.ep.state).toBe('CLOSE-WAIT')
    expectOut(s.host, { flags: 'A', ack: P + 6 })
    expect(s.gotBytes()).toBe(5)
    expect(s.ended.called).toBe(1)
    expect(s.ep.write(fill(1000))).toBe(true)
    expectOut(s.host, { flags: 'PA', seq: I, len: 1000 })
    s.ep.end()
    expect(s.ep.state).toBe('LAST-ACK')
    expectOut(s.host, { flags: 'FA', seq: I + 1000, ack: P + 6 })
    s.peer({ flags: 'A', seq: P + 6, ack: I + 1001 })
    expect(s.ep.state).toBe('CLOSED')
    expect(s.host.released.length).toBe(1)
    s.clock.advance(0)
    expect(s.closed.called).toBe(1)
    expect(s.closed.err).toBeUndefined()
  })

  it('FIN rides on the last data segment; end() before the handshake completes', () => {
    const c = client()
    c.ep.write(fill(10))
    c.host.out.length = 0
    c.peer({ flags: 'A', seq: c.P, ack: c.I + 10 })
    c.ep.write(fill(10))
    c.ep.end()
    // Nagle off: the data went out alone, then the FIN
    const segs = c.host.out.splice(0)
    expect(segs.map((x) => x.payload.length)).toEqual([10, 0])
    expect(segs[1].flags & 1).toBe(1)
  })

  it('simultaneous close: FIN-WAIT-1 → CLOSING → TIME-WAIT', () => {
    const c = client()
    const { P, I } = c
    c.ep.end()
    expectOut(c.host, { flags: 'FA', seq: I })
    c.peer({ flags: 'FA', seq: P, ack: I }) // their FIN does not ack ours
    expect(c.ep.state).toBe('CLOSING')
    expectOut(c.host, { flags: 'A', seq: I + 1, ack: P + 1 })
    c.peer({ flags: 'A', seq: P + 1, ack: I + 1 })
    expect(c.ep.state).toBe('TIME-WAIT')
    c.clock.advance(2000)
    expect(c.host.released.length).toBe(1)
  })

  it('FIN that acks our FIN goes straight to TIME-WAIT', () => {
    const c = client()
    c.ep.end()
    c.host.out.length = 0
    c.peer({ flags: 'FA', seq: c.P, ack: c.I + 1 })
    expect(c.ep.state).toBe('TIME-WAIT')
  })

  it('out-of-order FIN is held until the gap is filled', () => {
    const c = client()
    const { P, I } = c
    c.peer({ flags: 'FA', seq: P + 100, ack: I, data: 50 })
    expect(c.ep.state).toBe('ESTABLISHED')
    expectOut(c.host, { flags: 'A', ack: P })
    c.peer({ flags: 'A', seq: P, ack: I, data: 100 })
    expect(c.ep.state).toBe('CLOSE-WAIT')
    expectOut(c.host, { flags: 'A', ack: P + 151 })
    expect(c.gotBytes()).toBe(150)
    expect(c.ended.called).toBe(1)
  })

  it('destroy() sends RST and reports close once', () => {
    const c = client()
    c.ep.write(fill(100))
    c.host.out.length = 0
    const err = new Error('bye')
    c.ep.destroy(err)
    expectOut(c.host, { flags: 'RA', seq: c.I + 100 })
    expect(c.ep.state).toBe('CLOSED')
    expect(c.closed.err).toBe(err)
    c.ep.destroy()
    c.clock.runAll()
    expect(c.closed.called).toBe(1)
    expect(c.host.released.length).toBe(1)
  })
})

describe('RST and SYN handling (RFC 5961)', () => {
  it('RST exactly at RCV.NXT resets the connection', () => {
    const c = client()
    c.peer({ flags: 'R', seq: c.P })
    expect(c.ep.state).toBe('CLOSED')
    expect(c.closed.err).toMatchObject({ code: 'ECONNRESET' })
    expect(c.host.released.length).toBe(1)
    expectNone(c.host)
  })

  it('in-window RST not at RCV.NXT gets a challenge ACK; out-of-window RST is dropped silently', () => {
    const c = client()
    const { P, I } = c
    c.peer({ flags: 'R', seq: P + 10 })
    expect(c.ep.state).toBe('ESTABLISHED')
    expectOut(c.host, { flags: 'A', seq: I, ack: P })
    c.peer({ flags: 'R', seq: P + 10_000_000 })
    c.peer({ flags: 'R', seq: P - 1 })
    expectNone(c.host)
    expect(c.ep.state).toBe('ESTABLISHED')
    expect(c.host.counters.get('tcp.challenge_ack')).toBe(1)
  })

  it('SYN on an established connection gets a challenge ACK', () => {
    const c = client()
    c.peer({ flags: 'S', seq: c.P + 5 })
    expectOut(c.host, { flags: 'A', seq: c.I, ack: c.P })
    c.peer({ flags: 'S', seq: c.P - 1000 }) // out of window too: ACK, never reset
    expectOut(c.host, { flags: 'A', ack: c.P })
    expect(c.ep.state).toBe('ESTABLISHED')
  })

  it('ACK for data never sent is answered with an ACK and dropped; too-old ACK gets a challenge ACK', () => {
    const c = client()
    c.peer({ flags: 'A', seq: c.P, ack: c.I + 5000, data: 10 })
    expectOut(c.host, { flags: 'A', ack: c.P })
    expect(c.gotBytes()).toBe(0)
    c.peer({ flags: 'A', seq: c.P, ack: c.I - 200_000 })
    expectOut(c.host, { flags: 'A', ack: c.P })
    expect(c.host.counters.get('tcp.challenge_ack')).toBe(1)
  })

  it('out-of-window data is answered with a duplicate ACK', () => {
    const c = client()
    c.peer({ flags: 'A', seq: c.P + 10_000_000, ack: c.I, data: 10 })
    expectOut(c.host, { flags: 'A', ack: c.P })
    expect(c.gotBytes()).toBe(0)
  })
})

describe('close ordering with a paused reader', () => {
  it('data queued while paused is still delivered after the connection closed; then onEnd, then onClose', () => {
    const c = client({ msl: 100 })
    const { P, I } = c
    const events: string[] = []
    c.ep.onData = (b) => events.push(`data ${b.length}`)
    c.ep.onEnd = () => events.push('end')
    c.ep.onClose = (e) => events.push(`close ${e ? e.message : 'ok'}`)
    c.ep.pause()
    c.peer({ flags: 'PA', seq: P, ack: I, data: 500 })
    c.ep.end()
    c.peer({ flags: 'FA', seq: P + 500, ack: I + 1 })
    expect(c.ep.state).toBe('TIME-WAIT')
    c.clock.advance(1000)
    expect(c.ep.state).toBe('CLOSED')
    expect(c.host.released.length).toBe(1)
    expect(events).toEqual([])
    c.ep.resume()
    c.clock.advance(0)
    expect(events).toEqual(['data 500', 'end', 'close ok'])
  })

  it('a reset discards queued data and reports the error at once', () => {
    const c = client()
    const events: string[] = []
    c.ep.onData = (b) => events.push(`data ${b.length}`)
    c.ep.onClose = (e) => events.push(`close ${(e as { code?: string }).code}`)
    c.ep.pause()
    c.peer({ flags: 'PA', seq: c.P, ack: c.I, data: 500 })
    c.peer({ flags: 'R', seq: c.P + 500 })
    expect(events).toEqual(['close ECONNRESET'])
    c.ep.resume()
    c.clock.advance(0)
    expect(events).toEqual(['close ECONNRESET'])
  })
})

describe('TIME-WAIT reuse (RFC 6191)', () => {
  it('a SYN beyond the old sequence space ends TIME-WAIT; an old one does not', () => {
    const c = client()
    c.ep.end()
    c.peer({ flags: 'FA', seq: c.P, ack: c.I + 1 })
    expect(c.ep.state).toBe('TIME-WAIT')
    expect(c.ep.reuseForSyn(mkSeg({ flags: 'S', seq: c.P - 10 }))).toBe(false)
    expect(c.ep.reuseForSyn(mkSeg({ flags: 'SA', seq: c.P + 10 }))).toBe(false)
    expect(c.ep.state).toBe('TIME-WAIT')
    expect(c.ep.reuseForSyn(mkSeg({ flags: 'S', seq: c.P + 100_000 }))).toBe(true)
    expect(c.ep.state).toBe('CLOSED')
    expect(c.host.released.length).toBe(1)
  })
})
