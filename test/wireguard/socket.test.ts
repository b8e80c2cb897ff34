// Two tunnels over real node:dgram sockets on loopback (IPv4 and IPv6 endpoints), RealClock.
import { describe, expect, it } from 'vitest'
import { createWireGuardTunnel } from '../../src/wireguard/tunnel.js'
import { cidrs, keyPair, makeConfig } from './helpers.js'
import { icmpEcho, parseInner } from './packets.js'

async function pair(host: string) {
  const c = keyPair(31)
  const s = keyPair(32)
  const server = createWireGuardTunnel(makeConfig(s.priv, ['10.9.0.1/24'], [{ publicKey: c.pub, allowedIps: cidrs('10.9.0.2/32') }]))
  const got: number[] = []
  server.attach((p) => got.push(parseInner(p)!.icmpSeq!), () => {})
  await server.start()
  const client = createWireGuardTunnel(
    makeConfig(c.priv, ['10.9.0.2/32'], [{ publicKey: s.pub, endpoint: { host, port: server.localPort! }, allowedIps: cidrs('10.9.0.0/24') }]),
  )
  return { client, server, got }
}

describe('node:dgram socket', () => {
  for (const host of ['127.0.0.1', '::1']) {
    it(`carries packets between two tunnels over ${host}`, async () => {
      const { client, server, got } = await pair(host)
      try {
        await client.start(AbortSignal.timeout(5_000))
        for (let i = 1; i <= 200; i++) client.send(icmpEcho('10.9.0.2', '10.9.0.1', { seq: i }))
        const end = Date.now() + 5_000
        while (got.length < 200 && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
        expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
        // the server learned the client's address from the handshake, in plain (unmapped) form
        expect(server.peers[0].endpoint?.address).toBe(host)
      } finally {
        await client.close()
        await server.close()
      }
    })
  }

  it('start() rejects with EABORTED when the signal fires first', async () => {
    const c = keyPair(33)
    const t = createWireGuardTunnel(makeConfig(c.priv, [], [{ publicKey: keyPair(34).pub, endpoint: { host: '127.0.0.1', port: 9 }, allowedIps: cidrs('0.0.0.0/0') }]))
    await expect(t.start(AbortSignal.timeout(200))).rejects.toMatchObject({ code: 'EABORTED' })
  })
})
