// RFC 6191: a new SYN for a four-tuple the listener side still holds in TIME-WAIT ends that state
// and reaches the listener, instead of being answered with a challenge ACK until 2·MSL passes.
import { describe, expect, it } from 'vitest'
import { FakeClock, seededRandom } from '../../src/core/clock.js'
import { NetStack } from '../../src/netstack/stack.js'
import { createLossyLink } from '../../src/netstack/sim/lossy-link.js'
import type { TcpConn } from '../../src/netstack/api.js'

function pair() {
  const clock = new FakeClock()
  const link = createLossyLink({ clock, seed: 1, delayMs: 1 })
  const a = new NetStack({ link: link.a, addresses: [{ address: '10.0.0.1', prefix: 24 }], clock, random: seededRandom(1), tcp: { msl: 30_000 } })
  const b = new NetStack({ link: link.b, addresses: [{ address: '10.0.0.2', prefix: 24 }], clock, random: seededRandom(2), tcp: { msl: 30_000 } })
  return { clock, a, b }
}

async function settle(clock: FakeClock, ms = 50): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1)
    await Promise.resolve()
  }
}

describe('TIME-WAIT reuse on the listening side', () => {
  it('a reconnect from the same port is accepted while the server holds TIME-WAIT', async () => {
    const { clock, a, b } = pair()
    const accepted: TcpConn[] = []
    b.listenTcp({ port: 80 }, (c) => {
      accepted.push(c)
      c.onEnd = () => c.end()
    })
    const p1 = a.connectTcp({ host: '10.0.0.2', port: 80, localPort: 40000 })
    await settle(clock)
    const c1 = await p1
    let closed1 = false
    c1.onClose = () => (closed1 = true)
    // the server closes first, so it is the side that ends up in TIME-WAIT
    accepted[0].end()
    c1.onEnd = () => c1.end()
    await settle(clock, 200)
    expect(closed1).toBe(true)
    expect(b.tcpConnections).toBe(1) // the TIME-WAIT entry (2·MSL = 60 s) still holds the tuple
    const p2 = a.connectTcp({ host: '10.0.0.2', port: 80, localPort: 40000 })
    await settle(clock, 200)
    const c2 = await p2
    expect(accepted.length).toBe(2)
    expect(c2.localPort).toBe(40000)
    expect(clock.now()).toBeLessThan(10_000)
  })
})
