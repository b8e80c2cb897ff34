// Endpoint hostnames are resolved at start and again when handshakes go unanswered, so a server
// that moves to a new address (DNS updated) is found without restarting the client (simulation).
import { describe, expect, it } from 'vitest'
import { makeRig, startRig, SERVER_ADDR, SERVER_PORT, type Rig } from './helpers.js'
import { icmpEcho } from './packets.js'
import { MessageType } from '../../src/wireguard/constants.js'

const NEW_ADDR = '198.51.100.99'

async function run(r: Rig, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    r.clock.advance(100)
    await new Promise((res) => setImmediate(res))
  }
}

function rigWithDns() {
  const dns = { answer: [SERVER_ADDR], calls: 0 }
  const r = makeRig({
    endpointHost: 'vpn.example.test',
    clientOpts: {
      resolver: async (host) => {
        expect(host).toBe('vpn.example.test')
        dns.calls++
        return dns.answer
      },
    },
  })
  r.net.logging = true
  return { r, dns }
}

describe('endpoint re-resolution', () => {
  it('follows a changed DNS answer after the server stops answering', async () => {
    const { r, dns } = rigWithDns()
    await startRig(r)
    expect(dns.calls).toBe(1)
    expect(r.client.peers[0].endpoint).toEqual({ address: SERVER_ADDR, port: SERVER_PORT })
    // the server moves; DNS now points at the new address
    r.net.moveSocket(SERVER_ADDR, SERVER_PORT, NEW_ADDR)
    dns.answer = [NEW_ADDR]
    r.client.send(icmpEcho('10.9.0.2', '10.9.0.1', { seq: 1 }))
    await run(r, 30_000)
    expect(dns.calls).toBeGreaterThanOrEqual(2)
    expect(r.client.counters.get('wireguard.endpoint_changed')).toBe(1)
    expect(r.client.peers[0].endpoint).toEqual({ address: NEW_ADDR, port: SERVER_PORT })
    expect(r.client.counters.get('wireguard.handshake_complete')).toBe(2)
    // the first ping was lost with the old address; a new one gets through
    r.client.send(icmpEcho('10.9.0.2', '10.9.0.1', { seq: 2 }))
    await run(r, 100)
    expect(r.serverRx.length).toBe(1)
    const toNew = r.net.log.filter((d) => d.to.address === NEW_ADDR && d.data[0] === MessageType.HANDSHAKE_INITIATION)
    expect(toNew.length).toBeGreaterThanOrEqual(1)
  })

  it('re-resolves during the first handshake when the resolved address never answers', async () => {
    const { r, dns } = rigWithDns()
    await r.server.start() // then the server moves before the client ever reaches it

    r.net.moveSocket(SERVER_ADDR, SERVER_PORT, NEW_ADDR)
    const p = r.client.start()
    await run(r, 100)
    dns.answer = [NEW_ADDR]
    let done = false
    p.then(() => (done = true))
    await run(r, 20_000)
    expect(done).toBe(true)
    expect(r.client.peers[0].endpoint?.address).toBe(NEW_ADDR)
    // initiations: the first ones to the stale address, then the new one
    const inits = r.net.log.filter((d) => d.data[0] === MessageType.HANDSHAKE_INITIATION)
    expect(inits[0].to.address).toBe(SERVER_ADDR)
    expect(inits.at(-1)!.to.address).toBe(NEW_ADDR)
    await r.client.close()
    await r.server.close()
  })

  it('keeps the endpoint while the old address is still in the answer', async () => {
    const { r, dns } = rigWithDns()
    await startRig(r)
    dns.answer = ['198.51.100.7', SERVER_ADDR]
    r.net.filter = (d) => d.from.address !== SERVER_ADDR
    r.client.send(icmpEcho('10.9.0.2', '10.9.0.1'))
    await run(r, 30_000)
    expect(dns.calls).toBeGreaterThanOrEqual(2)
    expect(r.client.peers[0].endpoint?.address).toBe(SERVER_ADDR)
    expect(r.client.counters.get('wireguard.endpoint_changed')).toBe(0)
  })
})
