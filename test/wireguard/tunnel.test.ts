import { describe, expect, it } from 'vitest'
import { cidrs, keyPair, makeConfig, makeRig, startRig } from './helpers.js'
import { FakeClock } from '../../src/core/clock.js'
import { createWireGuardTunnel } from '../../src/wireguard/tunnel.js'
import { MemNet } from './memnet.js'
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

describe('several peers', () => {
  it('routes by the longest AllowedIPs prefix and checks inner sources per peer', async () => {
    const clock = new FakeClock()
    const net = new MemNet(clock)
    const c = keyPair(21)
    const a = keyPair(22)
    const b = keyPair(23)
    const client = createWireGuardTunnel(
      makeConfig(c.priv, ['10.9.0.2/32', 'fd09::2/128'], [
        { publicKey: a.pub, endpoint: { host: '192.0.2.10', port: 1000 }, allowedIps: cidrs('0.0.0.0/0', '::/0') },
        { publicKey: b.pub, endpoint: { host: '2001:db8::20', port: 2000 }, allowedIps: cidrs('10.8.0.0/16', 'fd08::/16') },
      ]),
      { clock, socket: net.factory('192.0.2.1') },
    )
    const mk = (k: typeof a, addr: string, port: number) => {
      const t = createWireGuardTunnel(makeConfig(k.priv, [], [{ publicKey: c.pub, allowedIps: cidrs('10.9.0.2/32', 'fd09::2/128') }], { listenPort: port }), {
        clock,
        socket: net.factory(addr),
      })
      const rx: Uint8Array[] = []
      t.attach((p) => rx.push(p), () => {})
      return { t, rx }
    }
    const A = mk(a, '192.0.2.10', 1000)
    const B = mk(b, '2001:db8::20', 2000)
    await A.t.start()
    await B.t.start()
    const p = client.start()
    await new Promise((res) => setImmediate(res))
    clock.advance(10)
    const info = await p
    expect(info.routes.length).toBe(4)
    expect(client.routeFor('10.8.3.4')).toBe(client.peers[1])
    expect(client.routeFor('10.7.3.4')).toBe(client.peers[0])
    expect(client.routeFor('fd08::1')).toBe(client.peers[1])
    clock.advance(10)
    client.send(icmpEcho('10.9.0.2', '10.8.3.4'))
    client.send(icmpEcho('10.9.0.2', '10.7.3.4'))
    client.send(icmpEcho('fd09::2', 'fd08::1'))
    client.send(icmpEcho('fd09::2', '2001:db8:5::1'))
    clock.advance(10)
    expect(B.rx.map((x) => parseInner(x)?.dst)).toEqual(['10.8.3.4', 'fd08:0:0:0:0:0:0:1'])
    expect(A.rx.map((x) => parseInner(x)?.dst)).toEqual(['10.7.3.4', '2001:db8:5:0:0:0:0:1'])
    // peer B may only send from 10.8.0.0/16 / fd08::/16: a packet claiming to come from 10.7.0.1 is dropped
    B.t.send(icmpEcho('10.8.0.1', '10.9.0.2'))
    const spoof = icmpEcho('10.7.0.1', '10.9.0.2')
    B.t.send(spoof)
    clock.advance(10)
    expect(client.counters.get('wireguard.disallowed_source')).toBe(1)
    await client.close()
    await A.t.close()
    await B.t.close()
  })
})

describe('roles', () => {
  it('answers a handshake initiated by the server (responder path) and keeps carrying data', async () => {
    const r = makeRig()
    await startRig(r)
    r.clock.advance(6_000) // past the initiation rate limit
    r.server.peers[0].sendInitiation(false)
    r.clock.advance(1) // 1 ms latency: the client got the initiation and answered
    // the client holds the new session in `next` until the server uses it
    expect(r.client.peers[0].next).not.toBeNull()
    expect(r.client.counters.get('wireguard.response_tx')).toBe(1)
    r.clock.advance(1)
    expect(r.server.counters.get('wireguard.handshake_complete')).toBe(2)
    r.clock.advance(1) // the server's keepalive confirms the session on the client
    expect(r.client.peers[0].next).toBeNull()
    expect(r.client.peers[0].current?.isInitiator).toBe(false)
    r.client.send(icmpEcho('10.9.0.2', '10.9.0.1', { seq: 5 }))
    r.server.send(icmpEcho('10.9.0.1', '10.9.0.2', { seq: 6 }))
    r.clock.advance(5)
    expect(r.serverRx.map((p) => parseInner(p)?.icmpSeq)).toEqual([5])
    expect(r.clientRx.map((p) => parseInner(p)?.icmpSeq)).toEqual([6])
    await r.client.close()
    await r.server.close()
  })

  it('emits up on start and down on close', async () => {
    const r = makeRig()
    const ev: string[] = []
    r.client.on('up', () => ev.push('up'))
    r.client.on('down', () => ev.push('down'))
    await startRig(r)
    await r.client.close()
    expect(ev).toEqual(['up', 'down'])
    await r.server.close()
  })
})

describe('down and recovery', () => {
  it("emits down when handshakes give up and up again once the server answers", async () => {
    const r = makeRig()
    await startRig(r)
    const ev: string[] = []
    for (const e of ['up', 'down', 'reconnecting'] as const) r.client.on(e, () => ev.push(e))
    r.net.filter = () => false // the server vanishes
    r.client.send(icmpEcho('10.9.0.2', '10.9.0.1', { seq: 1 }))
    r.clock.advance(200_000)
    expect(ev).toEqual(['reconnecting', 'down'])
    r.net.filter = () => true
    r.client.send(icmpEcho('10.9.0.2', '10.9.0.1', { seq: 2 })) // staged, starts a handshake
    r.clock.advance(10)
    expect(ev).toEqual(['reconnecting', 'down', 'up'])
    expect(r.serverRx.map((p) => parseInner(p)?.icmpSeq)).toEqual([2])
    await r.client.close()
    await r.server.close()
  })
})

describe('hostile input', () => {
  it('random datagrams of every type never throw and never deliver', async () => {
    const fc = (await import('fast-check')).default
    const r = makeRig()
    await startRig(r)
    const from = { address: '203.0.113.9', port: 4444 }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.uint8Array({ maxLength: 200 }), fc.boolean(), (type, body, exact) => {
        const len = exact ? [0, 148, 92, 64, 32, 0][type] : body.length + 4
        const d = new Uint8Array(len)
        if (len >= 4) d.set(body.subarray(0, len - 4), 4)
        if (len > 0) d[0] = type
        r.server.receive(d, from)
        r.client.receive(d, from)
      }),
      { numRuns: 500 },
    )
    r.clock.advance(10)
    expect(r.serverRx.length + r.clientRx.length).toBe(0)
    const dropped = Object.entries(r.server.counters.snapshot()).filter(([k]) => /truncated|bad_|unknown_/.test(k))
    expect(dropped.reduce((a, [, v]) => a + v, 0)).toBeGreaterThan(400)
    await r.client.close()
    await r.server.close()
  })
})
