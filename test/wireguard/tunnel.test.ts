import { describe, expect, it } from 'vitest'
import { makeRig, startRig } from './helpers.js'
import { icmpEcho, parseInner, udpPacket } from './packets.js'
import { MessageType } from '../../src/wireguard/constants.js'

describe('WireGuardTunnel over an in-memory network', () => {
  it('handshakes and carries IPv4 and IPv6 both ways', async () => {
    const r = makeRig()
    await startRig(r)
    expect(r.client.info?.routes.map((c) => `${c.address}/${c.prefix}`)).toEqual(['0.0.0.0/0', '::/0'])
    expect(r.client.info?.mtu).toBe(1420)
    r.client.send(icmpEcho('10.9.0.2', '10.9.0.1', { seq: 7 }))
    r.client.send(udpPacket('fd09::2', 'fd09::1', 1000, 2000, new Uint8Array([1, 2, 3])))
    r.clock.advance(5)
    expect(r.serverRx.length).toBe(2)
    expect(parseInner(r.serverRx[0])).toMatchObject({ version: 4, src: '10.9.0.2', icmpSeq: 7 })
    expect(parseInner(r.serverRx[1])).toMatchObject({ version: 6, sport: 1000, dport: 2000 })
    // server answers (its route to 10.9.0.2 is the client)
    r.server.send(icmpEcho('10.9.0.1', '10.9.0.2', { seq: 8 }))
    r.clock.advance(5)
    expect(r.clientRx.map((p) => parseInner(p)?.icmpSeq)).toEqual([8])
    expect(r.client.counters.get('wireguard.handshake_complete')).toBe(1)
    expect(r.server.counters.get('wireguard.handshake_complete')).toBe(1)
    await r.client.close()
    await r.server.close()
  })

  it('works with a preshared key, and fails to handshake with a mismatched one', async () => {
    const psk = new Uint8Array(32).fill(7)
    const ok = makeRig({ psk })
    await startRig(ok)
    ok.client.send(icmpEcho('10.9.0.2', '10.9.0.1'))
    ok.clock.advance(5)
    expect(ok.serverRx.length).toBe(1)
    await ok.client.close()
    await ok.server.close()

    const bad = makeRig({ psk })
    ;(bad.server.peers[0] as unknown as { presharedKey: Uint8Array }).presharedKey = new Uint8Array(32).fill(8)
    await bad.server.start()
    const p = bad.client.start()
    p.catch(() => {})
    await new Promise((res) => setImmediate(res))
    bad.clock.advance(20)
    expect(bad.client.counters.get('wireguard.bad_response')).toBe(1)
    expect(bad.client.counters.get('wireguard.handshake_complete')).toBe(0)
    await bad.client.close()
    await bad.server.close()
    await expect(p).rejects.toMatchObject({ code: 'ECLOSED' })
  })

  it('pads transport plaintext to 16 bytes and the initiator sends first', async () => {
    const r = makeRig()
    r.net.logging = true
    await startRig(r)
    const types = r.net.log.map((d) => d.data[0])
    // initiation, response, then the client's keepalive (32 bytes: header + tag)
    expect(types.slice(0, 3)).toEqual([MessageType.HANDSHAKE_INITIATION, MessageType.HANDSHAKE_RESPONSE, MessageType.TRANSPORT_DATA])
    expect(r.net.log[0].data.length).toBe(148)
    expect(r.net.log[1].data.length).toBe(92)
    expect(r.net.log[2].data.length).toBe(32)
    const pkt = icmpEcho('10.9.0.2', '10.9.0.1', { payload: new Uint8Array(5) }) // 20 + 8 + 5 = 33 bytes
    r.client.send(pkt)
    expect(r.net.log.at(-1)!.data.length).toBe(16 + 48 + 16)
    r.clock.advance(5)
    expect(r.serverRx[0].length).toBe(33) // padding stripped by the inner length
    await r.client.close()
    await r.server.close()
  })

  it('drops and counts forged, truncated, replayed and misrouted packets without throwing', async () => {
    const r = makeRig()
    r.net.logging = true
    await startRig(r)
    r.client.send(icmpEcho('10.9.0.2', '10.9.0.1', { seq: 1 }))
    r.clock.advance(5)
    const data = r.net.log.filter((d) => d.data[0] === 4 && d.data.length > 32).at(-1)!
    // replay
    r.net.inject({ ...data, data: data.data.slice() })
    // forged: flip a ciphertext bit
    const forged = data.data.slice()
    forged[20] ^= 1
    r.net.inject({ ...data, data: forged })
    // truncated
    r.net.inject({ ...data, data: data.data.slice(0, 20) })
    r.net.inject({ ...data, data: data.data.slice(0, 3) })
    // bad type / reserved bytes
    const weird = data.data.slice()
    weird[1] = 1
    r.net.inject({ ...data, data: weird })
    // unknown receiver index
    const unk = data.data.slice()
    unk[4] ^= 0xff
    r.net.inject({ ...data, data: unk })
    // garbage handshakes
    r.net.inject({ ...data, data: new Uint8Array(148).fill(1, 0, 1) })
    r.clock.advance(5)
    const c = r.server.counters
    expect(r.serverRx.length).toBe(1)
    expect(c.get('wireguard.replay')).toBe(1)
    expect(c.get('wireguard.bad_mac')).toBe(1)
    expect(c.get('wireguard.truncated')).toBe(1)
    expect(c.get('wireguard.bad_type')).toBe(2)
    expect(c.get('wireguard.unknown_index')).toBe(1)
    expect(c.get('wireguard.bad_mac1')).toBe(1)
    // an inner source outside the client's AllowedIPs is dropped by the server
    r.client.send(icmpEcho('10.9.0.3', '10.9.0.1'))
    r.clock.advance(5)
    expect(r.serverRx.length).toBe(1)
    expect(c.get('wireguard.disallowed_source')).toBe(1)
    // a destination with no route on the server is dropped and counted
    r.server.send(icmpEcho('10.9.0.1', '192.0.2.9'))
    expect(c.get('wireguard.no_route')).toBe(1)
    await r.client.close()
    await r.server.close()
  })

  it('follows the client when its address changes (roaming)', async () => {
    const r = makeRig()
    await startRig(r)
    const port = r.client.localPort!
    r.net.moveSocket('198.51.100.1', port, '203.0.113.50')
    r.client.send(icmpEcho('10.9.0.2', '10.9.0.1'))
    r.clock.advance(5)
    expect(r.server.peers[0].endpoint).toEqual({ address: '203.0.113.50', port })
    r.server.send(icmpEcho('10.9.0.1', '10.9.0.2'))
    r.clock.advance(5)
    expect(r.clientRx.length).toBe(1)
    expect(r.server.counters.get('wireguard.endpoint_roamed')).toBe(1)
    await r.client.close()
    await r.server.close()
  })

  it('start() rejects with ETIMEDOUT when nobody answers for REKEY_ATTEMPT_TIME', async () => {
    const r = makeRig()
    r.net.filter = () => false
    const p = r.client.start()
    p.catch(() => {})
    await new Promise((res) => setImmediate(res))
    r.clock.advance(120_000)
    await expect(p).rejects.toMatchObject({ code: 'ETIMEDOUT' })
    // the first initiation plus retries while attempts ≤ MAX_TIMER_HANDSHAKES (18), as wireguard-go
    expect(r.client.counters.get('wireguard.initiation_tx')).toBe(20)
  })
})
