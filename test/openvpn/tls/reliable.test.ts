import { describe, expect, it } from 'vitest'
import { FakeClock, seededRandom } from '../../../src/core/clock.js'
import { Counters } from '../../../src/core/counters.js'
import { Reliable, type ReliableOut } from '../../../src/openvpn/tls/reliable.js'
import { Opcode } from '../../../src/openvpn/tls/packet.js'

type Action = 'pass' | 'drop' | 'dup' | 'hold'
/** Two reliability endpoints joined by a scripted channel. script(dir, pkt, n) decides per packet. */
function pair(script: (dir: 'ab' | 'ba', p: ReliableOut, n: number) => Action, opts: { window?: number } = {}) {
  const clock = new FakeClock()
  const ca = new Counters()
  const cb = new Counters()
  const gotA: string[] = []
  const gotB: string[] = []
  const wire: { dir: 'ab' | 'ba'; p: ReliableOut }[] = []
  const held: { dir: 'ab' | 'ba'; p: ReliableOut }[] = []
  let n = 0
  const send = (dir: 'ab' | 'ba') => (p: ReliableOut) => {
    wire.push({ dir, p })
    const act = script(dir, p, n++)
    const to = dir === 'ab' ? b : a
    const go = () => clock.schedule(clock.now() + 10, () => to.receive(p.opcode, p.packetId, p.acks, p.payload))
    if (act === 'pass') go()
    else if (act === 'dup') {
      go()
      go()
    }
    else if (act === 'hold') held.push({ dir, p })
  }
  const a: Reliable = new Reliable({ clock, output: send('ab'), deliver: (_o, pl) => gotA.push(new TextDecoder().decode(pl)), counters: ca, sendWindow: opts.window })
  const b: Reliable = new Reliable({ clock, output: send('ba'), deliver: (_o, pl) => gotB.push(new TextDecoder().decode(pl)), counters: cb, sendWindow: opts.window })
  const release = () => {
    for (const h of held.splice(0).reverse()) {
      const to = h.dir === 'ab' ? b : a
      to.receive(h.p.opcode, h.p.packetId, h.p.acks, h.p.payload)
    }
  }
  return { clock, a, b, gotA, gotB, wire, ca, cb, release }
}
const msg = (s: string) => new TextEncoder().encode(s)
const msgs = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`)

describe('reliable', () => {
  it('delivers in order and empties the send window once acknowledged', () => {
    const t = pair(() => 'pass')
    for (const m of msgs(5)) t.a.send(Opcode.P_CONTROL_V1, msg(m))
    t.clock.advance(100)
    expect(t.gotB).toEqual(msgs(5))
    expect(t.a.unacked).toBe(0)
    expect(t.a.retransmits).toBe(0)
    // ACKs travelled as standalone P_ACK_V1 (B had nothing to say)
    expect(t.wire.filter((w) => w.dir === 'ba').every((w) => w.p.opcode === Opcode.P_ACK_V1 && w.p.packetId === undefined)).toBe(true)
  })

  it('piggybacks ACKs on a reply sent before the ack flush', () => {
    const t = pair(() => 'pass')
    const clock = t.clock
    // B replies synchronously from its deliver hook
    const b2 = new Reliable({ clock, output: (p) => t.wire.push({ dir: 'ba', p }), deliver: () => b2.send(Opcode.P_CONTROL_V1, msg('reply')) })
    b2.receive(Opcode.P_CONTROL_V1, 0, [], msg('hi'))
    clock.advance(1)
    const out = t.wire.filter((w) => w.dir === 'ba').map((w) => w.p)
    expect(out).toHaveLength(1)
    expect(out[0]).toMatchObject({ opcode: Opcode.P_CONTROL_V1, packetId: 0, acks: [0] })
  })

  it('retransmits a lost message after the timeout and still delivers in order', () => {
    let dropped = false
    const t = pair((dir, p) => {
      if (dir === 'ab' && p.packetId === 1 && !dropped) return (dropped = true), 'drop'
      return 'pass'
    })
    for (const m of msgs(3)) t.a.send(Opcode.P_CONTROL_V1, msg(m))
    t.clock.advance(100)
    expect(t.gotB).toEqual(['m0'])
    t.clock.advance(2000)
    expect(t.gotB).toEqual(msgs(3))
    expect(t.a.retransmits).toBe(1)
    expect(t.a.unacked).toBe(0)
  })

  it('delivers duplicates once and re-acknowledges them', () => {
    const t = pair((dir) => (dir === 'ab' ? 'dup' : 'pass'))
    for (const m of msgs(4)) t.a.send(Opcode.P_CONTROL_V1, msg(m))
    t.clock.advance(100)
    expect(t.gotB).toEqual(msgs(4))
    expect(t.cb.get('openvpn.reliable.duplicate')).toBe(4)
    expect(t.a.unacked).toBe(0)
  })

  it('reorders into sequence', () => {
    const t = pair((dir) => (dir === 'ab' ? 'hold' : 'pass'))
    for (const m of msgs(5)) t.a.send(Opcode.P_CONTROL_V1, msg(m))
    expect(t.gotB).toEqual([])
    t.release() // delivered 4,3,2,1,0
    expect(t.gotB).toEqual(msgs(5))
    t.clock.advance(100)
    expect(t.a.unacked).toBe(0)
  })

  it('lost ACKs cause a retransmission that is acknowledged again but not re-delivered', () => {
    let acksDropped = 0
    const t = pair((dir) => (dir === 'ba' && acksDropped++ < 1 ? 'drop' : 'pass'))
    t.a.send(Opcode.P_CONTROL_V1, msg('x'))
    t.clock.advance(100)
    expect(t.a.unacked).toBe(1)
    t.clock.advance(2000)
    expect(t.gotB).toEqual(['x'])
    expect(t.a.unacked).toBe(0)
    expect(t.cb.get('openvpn.reliable.duplicate')).toBe(1)
  })

  it('backs off exponentially up to the ceiling', () => {
    const t = pair(() => 'drop')
    t.a.send(Opcode.P_CONTROL_V1, msg('x'))
    const times: number[] = []
    const start = t.wire.length
    for (let i = 0; i < 60; i++) {
      t.clock.advance(1000)
      while (times.length < t.wire.length - start) times.push(t.clock.now())
    }
    // first send at 0 (before the loop), retransmissions at 2, 6, 14, 30, 46 s (timeouts 2,4,8,16,16)
    expect(times.slice(0, 5)).toEqual([2000, 6000, 14000, 30000, 46000])
  })

  it('keeps at most sendWindow messages in flight', () => {
    const t = pair((dir) => (dir === 'ab' ? 'hold' : 'pass'), { window: 3 })
    for (const m of msgs(10)) t.a.send(Opcode.P_CONTROL_V1, msg(m))
    expect(new Set(t.wire.filter((w) => w.dir === 'ab').map((w) => w.p.packetId))).toEqual(new Set([0, 1, 2]))
    t.release()
    t.clock.advance(50)
    // after ACKs arrive the window slides
    expect(t.a.unacked).toBe(7)
  })

  it('drops messages beyond the receive window without acknowledging them', () => {
    const c = new Counters()
    const out: ReliableOut[] = []
    const clock = new FakeClock()
    const r = new Reliable({ clock, output: (p) => out.push(p), deliver: () => {}, counters: c })
    r.receive(Opcode.P_CONTROL_V1, 100, [], msg('far'))
    clock.advance(1)
    expect(out).toEqual([])
    expect(c.get('openvpn.reliable.beyond_window')).toBe(1)
  })

  it('survives a seeded lossy, duplicating, reordering channel in both directions', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = seededRandom(seed)
      const t = pair(() => {
        const x = rnd()
        return x < 0.25 ? 'drop' : x < 0.35 ? 'dup' : x < 0.45 ? 'hold' : 'pass'
      })
      for (const m of msgs(30)) {
        t.a.send(Opcode.P_CONTROL_V1, msg(m))
        t.b.send(Opcode.P_CONTROL_V1, msg(m))
      }
      for (let i = 0; i < 400 && (t.a.unacked || t.b.unacked); i++) {
        t.clock.advance(500)
        if (i % 3 === 0) t.release()
      }
      expect(t.gotB).toEqual(msgs(30))
      expect(t.gotA).toEqual(msgs(30))
      expect(t.a.unacked + t.b.unacked).toBe(0)
    }
  })
})
