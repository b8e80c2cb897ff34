// End-to-end determinism: two tunnels with injected keys, ephemerals, indexes and wall clock put
// exactly the reference bytes (vectors/wg_reference.py) on the wire — initiation, response,
// the initiator's first keepalive, a padded data packet, and the responder's first data packet.
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../../src/core/clock.js'
import { hex } from '../../src/core/bytes.js'
import { x25519PublicFromPrivate } from '../../src/wireguard/crypto.js'
import { createWireGuardTunnel } from '../../src/wireguard/tunnel.js'
import { MemNet } from './memnet.js'
import { cidrs, makeConfig } from './helpers.js'
import { INPUTS, vec } from './vectors.js'

function indexBytes(index: number): (n: number) => Uint8Array {
  return (n) => (n === 4 ? Uint8Array.of(index & 0xff, (index >>> 8) & 0xff, (index >>> 16) & 0xff, index >>> 24) : new Uint8Array(n))
}

describe('wire bytes of a full session', () => {
  it('match the independent reference byte for byte', async () => {
    const clock = new FakeClock(5_000)
    const net = new MemNet(clock)
    net.logging = true
    const srPub = x25519PublicFromPrivate(INPUTS.Sr_priv)
    const siPub = x25519PublicFromPrivate(INPUTS.Si_priv)
    const client = createWireGuardTunnel(
      makeConfig(INPUTS.Si_priv, ['10.9.0.2/32'], [{ publicKey: srPub, presharedKey: INPUTS.psk, endpoint: { host: '192.0.2.2', port: 51820 }, allowedIps: cidrs('10.9.0.0/24') }]),
      { clock, socket: net.factory('192.0.2.1'), randomBytes: indexBytes(INPUTS.I_i), generateEphemeral: () => INPUTS.Ei_priv, wallClock: () => 1_700_000_000_117.5 },
    )
    const server = createWireGuardTunnel(
      makeConfig(INPUTS.Sr_priv, ['10.9.0.1/24'], [{ publicKey: siPub, presharedKey: INPUTS.psk, allowedIps: cidrs('10.9.0.2/32') }], { listenPort: 51820 }),
      { clock, socket: net.factory('192.0.2.2'), randomBytes: indexBytes(INPUTS.I_r), generateEphemeral: () => INPUTS.Er_priv },
    )
    const got: Uint8Array[] = []
    server.attach((p) => got.push(p), () => {})
    const back: Uint8Array[] = []
    client.attach((p) => back.push(p), () => {})
    await server.start()
    const started = client.start()
    await new Promise((r) => setImmediate(r))
    clock.advance(10)
    await started
    const withHeadroom = (p: Uint8Array) => {
      const b = new Uint8Array(16 + p.length)
      b.set(p, 16)
      return b.subarray(16)
    }
    client.send(withHeadroom(INPUTS.pkt))
    clock.advance(10)
    expect(got.map(hex)).toEqual([hex(INPUTS.pkt)])
    server.send(withHeadroom(INPUTS.pktBack))
    clock.advance(10)
    expect(back.map(hex)).toEqual([hex(INPUTS.pktBack)])
    expect(net.log.map((d) => hex(d.data))).toEqual(
      ['initiation', 'response_psk', 'keepalive0_psk', 'transport1_psk', 'transport_r0_psk'].map((n) => hex(vec(n))),
    )
    await client.close()
    await server.close()
  })
})
