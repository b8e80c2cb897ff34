import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FakeClock } from '../../src/core/clock.js'
import { Counters } from '../../src/core/counters.js'
import { parseOvpn, loadOvpnFile } from '../../src/config/ovpn.js'
import { createOpenVpnStaticServer, createOpenVpnTunnel, serverParamsFromClient, staticParamsFromConfig } from '../../src/openvpn/tunnel.js'
import { OpenVpnStaticTunnel, type OpenVpnStaticParams, type StaticRemote } from '../../src/openvpn/tunnel-static.js'
import { connectTransport } from '../../src/transport/connect.js'
import type { Transport } from '../../src/tunnel/types.js'
import { StaticKeyCrypto, type Opened } from '../../src/openvpn/static-key.js'
import { OCC_MAGIC, OccOp, buildOcc, occOpcode } from '../../src/openvpn/occ.js'

const FIXTURE = join(import.meta.dirname, '../../fixtures/static-client.ovpn')
const closers: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await wait(10)
  }
}

/** A transport wrapper that records what the client receives and can inject messages. */
function tap(log: Uint8Array[]) {
  let current: { inject: (m: Uint8Array) => void } | undefined
  const connect = async (r: StaticRemote, signal: AbortSignal): Promise<Transport> => {
    const t = await connectTransport({ ...r, signal })
    let rx: (m: Uint8Array) => void = () => {}
    current = { inject: (m) => rx(m) }
    return {
      description: t.description,
      send: (m) => t.send(m),
      close: () => t.close(),
      attach(r2, onClose, onDrain) {
        rx = r2
        t.attach(
          (m) => {
            log.push(new Uint8Array(m))
            r2(m)
          },
          onClose,
          onDrain,
        )
      },
    }
  }
  return { connect, inject: (m: Uint8Array) => current!.inject(m) }
}

async function pair(proto: 'udp' | 'tcp', extra: Partial<OpenVpnStaticParams> = {}, clientDeps = {}) {
  const base = staticParamsFromConfig(loadOvpnFile(FIXTURE))
  const server = createOpenVpnStaticServer({ ...serverParamsFromClient(base), ...extra, pingRestart: 0 }, { proto })
  closers.push(() => server.close())
  await server.start()
  const params = { ...base, ...extra, remotes: [{ host: '127.0.0.1', port: server.port, proto }] }
  const client = new OpenVpnStaticTunnel(params, clientDeps)
  closers.push(() => client.close())
  const serverRx: Uint8Array[] = []
  const clientRx: Uint8Array[] = []
  server.attach((p) => {
    serverRx.push(new Uint8Array(p))
    server.send(p) // echo
  }, () => {})
  client.attach((p) => clientRx.push(new Uint8Array(p)), () => {})
  return { server, client, serverRx, clientRx, params }
}

const pkt = (n: number, fill: number) => new Uint8Array(n).fill(fill)

describe('OpenVpnStaticTunnel between two in-process endpoints', () => {
  for (const proto of ['udp', 'tcp'] as const) {
    it(`${proto}: round trip, TunnelInfo from the fixture config`, async () => {
      const { server, client, serverRx, clientRx } = await pair(proto)
      const info = await client.start()
      expect(info.addresses).toEqual([{ address: '10.8.0.2', prefix: 32 }])
      expect(info.routes).toEqual([
        { address: '10.8.0.1', prefix: 32 },
        { address: '10.8.0.0', prefix: 24 },
      ])
      expect(info.mtu).toBe(1500)
      expect(info.description).toBe(`openvpn static-key ${proto} 127.0.0.1:${server.port}`)
      for (let i = 0; i < 20; i++) expect(client.send(pkt(20 + i * 70, i))).toBe(true)
      await until(() => clientRx.length === 20)
      expect(serverRx.map((p) => p.length)).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i * 70))
      expect(clientRx[19]).toEqual(pkt(20 + 19 * 70, 19))
      // the initial ping was swallowed by the server, not delivered as a packet
      expect(server.counters.get('openvpn.ping_rx')).toBe(1)
      expect(client.send(pkt(1501, 1))).toBe(true)
      expect(client.counters.get('openvpn.tx_too_big')).toBe(1)
    })
  }

  it('sends the ping magic only when idle, and the peer swallows it', async () => {
    const clock = new FakeClock(0)
    const { server, client, serverRx } = await pair('udp', { ping: 2 }, { clock })
    await client.start()
    await until(() => server.counters.get('openvpn.ping_rx') === 1)
    clock.advance(1000)
    client.send(pkt(40, 1)) // traffic at t=1 s postpones the next ping to t=3 s
    clock.advance(1500)
    expect(client.counters.get('openvpn.ping_tx')).toBe(0)
    clock.advance(600)
    expect(client.counters.get('openvpn.ping_tx')).toBe(1)
    clock.advance(2000)
    expect(client.counters.get('openvpn.ping_tx')).toBe(2)
    await until(() => server.counters.get('openvpn.ping_rx') === 3)
    expect(serverRx.length).toBe(1) // only the real packet reached the server's rx
  })

  it('drops a replayed packet and a forged one, counting both', async () => {
    const seen: Uint8Array[] = []
    const t = tap(seen)
    const { client, clientRx } = await pair('udp', {}, { connect: t.connect })
    await client.start()
    client.send(pkt(60, 5))
    await until(() => clientRx.length === 1)
    t.inject(seen[0])
    expect(client.counters.get('openvpn.replay')).toBe(1)
    const forged = new Uint8Array(seen[0])
    forged[forged.length - 1] ^= 0x80
    t.inject(forged)
    expect(client.counters.get('openvpn.bad_hmac')).toBe(1)
    t.inject(seen[0].subarray(0, 10))
    expect(client.counters.get('openvpn.bad_length')).toBe(1)
    expect(clientRx.length).toBe(1)
  })

  it('ping-restart reconnects (next remote) with a fresh packet-id time the server accepts', async () => {
    const clock = new FakeClock(0)
    const wall = 1_700_000_000
    const events: string[] = []
    const { server, client, clientRx } = await pair('udp', { pingRestart: 5 }, { clock, nowSec: () => wall })
    client.on('up', () => events.push('up')).on('down', () => events.push('down')).on('reconnecting', () => events.push('reconnecting'))
    await client.start()
    client.send(pkt(30, 1))
    await until(() => clientRx.length === 1)
    // silence from the server: nothing received for 5 s (fake clock) → restart
    clock.advance(5000)
    expect(client.counters.get('openvpn.ping_restart')).toBe(1)
    await until(() => client.counters.get('openvpn.session') === 2)
    expect(events.join()).toBe('up,down,reconnecting')
    // same wall second: the new session must still use a later time, or the server drops it
    client.send(pkt(30, 2))
    await until(() => clientRx.length === 2)
    // over UDP the new session is announced only once the server has answered
    expect(events.join()).toBe('up,down,reconnecting,up')
    expect(server.counters.get('openvpn.replay') + server.counters.get('openvpn.time_backtrack')).toBe(0)
  })

  it('a server restarted within the same second (reused packet-id time) is recovered by ping-restart', async () => {
    const clock = new FakeClock(0)
    const base = staticParamsFromConfig(loadOvpnFile(FIXTURE))
    const W = 1_700_000_123
    const mk = async (port = 0) => {
      const s = createOpenVpnStaticServer(serverParamsFromClient(base), { proto: 'udp', port }, { nowSec: () => W })
      await s.start()
      s.attach((p) => s.send(p), () => {})
      return s
    }
    let server = await mk()
    const port = server.port
    const rx: Uint8Array[] = []
    const client = new OpenVpnStaticTunnel({ ...base, pingRestart: 5, remotes: [{ host: '127.0.0.1', port, proto: 'udp' }] }, { clock })
    closers.push(() => client.close())
    client.attach((p) => rx.push(p), () => {})
    await client.start()
    for (let i = 0; i < 3; i++) client.send(pkt(10, i))
    await until(() => rx.length === 3)
    await server.close()
    server = await mk(port)
    closers.push(() => server.close())
    client.send(pkt(10, 9))
    await until(() => client.counters.get('openvpn.replay') >= 1)
    expect(rx.length).toBe(3)
    clock.advance(5000)
    await until(() => client.counters.get('openvpn.replay_reset') === 1)
    await until(() => {
      client.send(pkt(10, 10))
      return rx.length >= 4
    })
  })

  it('tcp: reconnects after the server side resets, retrying with backoff until it is back', async () => {
    const base = staticParamsFromConfig(loadOvpnFile(FIXTURE))
    const counters = new Counters()
    let server = createOpenVpnStaticServer(serverParamsFromClient(base), { proto: 'tcp' })
    await server.start()
    const port = server.port
    const rx: Uint8Array[] = []
    const echo = (s: OpenVpnStaticTunnel) => s.attach((p) => s.send(p), () => {})
    echo(server)
    const client = new OpenVpnStaticTunnel({ ...base, connectRetry: 0, remotes: [{ host: '127.0.0.1', port, proto: 'tcp' }] }, { counters })
    closers.push(() => client.close())
    client.attach((p) => rx.push(p), () => {})
    await client.start()
    client.send(pkt(10, 1))
    await until(() => rx.length === 1)
    await server.close()
    await until(() => counters.get('openvpn.connect_failed') >= 1)
    server = createOpenVpnStaticServer(serverParamsFromClient(base), { proto: 'tcp', port })
    closers.push(() => server.close())
    await server.start()
    echo(server)
    await until(() => {
      client.send(pkt(10, 2))
      return rx.length >= 2
    }, 8000)
    expect(counters.get('openvpn.reconnect')).toBe(1)
  })

  it('answers OCC_REQUEST with an options string, reconnects on OCC_EXIT, sends OCC_EXIT on close', async () => {
    const base = staticParamsFromConfig(loadOvpnFile(FIXTURE))
    const srv = new StaticKeyCrypto(base.key, 0, base.cipher, base.auth)
    const sock = createSocket('udp4')
    sock.bind(0, '127.0.0.1')
    await once(sock, 'listening')
    closers.push(() => void sock.close())
    const got: Array<{ op: number; text: string }> = []
    let peer: { port: number; address: string } | undefined
    let id = 1
    const o: Opened = { id: 0, time: 0, payload: new Uint8Array(0) }
    sock.on('message', (m, r) => {
      peer = r
      if (srv.open(m, o) !== 0) return
      const op = occOpcode(o.payload)
      got.push({ op, text: Buffer.from(o.payload.subarray(OCC_MAGIC.length + 1)).toString() })
    })
    const sendOcc = (op: OccOp) => sock.send(srv.seal(buildOcc(op), id++, 1000), peer!.port, peer!.address)
    const events: string[] = []
    const client = new OpenVpnStaticTunnel({ ...base, explicitExitNotify: 1, remotes: [{ host: '127.0.0.1', port: sock.address().port, proto: 'udp' }] })
    client.on('reconnecting', () => events.push('reconnecting'))
    await client.start()
    await until(() => got.length === 1) // the initial ping (opcode -1)
    sendOcc(OccOp.REQUEST)
    await until(() => got.some((g) => g.op === OccOp.REPLY))
    expect(got.find((g) => g.op === OccOp.REPLY)!.text).toBe(
      // as `openvpn --verb 4` prints the expected remote options string for the fixture's server side
      'V4,dev-type tun,link-mtu 1572,tun-mtu 1500,proto UDPv4,ifconfig 10.8.0.1 10.8.0.2,keydir 1,cipher AES-256-CBC,auth SHA256,keysize 256,secret\0',
    )
    sendOcc(OccOp.EXIT)
    await until(() => events.length === 1)
    await until(() => got.filter((g) => g.op === -1).length === 2) // new session's first ping
    await client.close()
    await until(() => got.some((g) => g.op === OccOp.EXIT))
  })

  it('udp: a silent server costs one attempt per ping-restart; connect-retry-max then gives up with an error', async () => {
    const base = staticParamsFromConfig(loadOvpnFile(FIXTURE))
    const silent = createSocket('udp4')
    silent.bind(0, '127.0.0.1')
    await once(silent, 'listening')
    closers.push(() => void silent.close())
    const clock = new FakeClock(0)
    const events: string[] = []
    const client = new OpenVpnStaticTunnel(
      { ...base, pingRestart: 1, connectRetry: 1, connectRetryMax: 2, remotes: [{ host: '127.0.0.1', port: silent.address().port, proto: 'udp' }] },
      { clock },
    )
    closers.push(() => client.close())
    for (const ev of ['up', 'down', 'reconnecting', 'error'] as const) client.on(ev, (a) => events.push(ev === 'error' ? `error:${(a as Error).message}` : ev))
    await client.start()
    clock.advance(1000) // ping-restart #1
    expect(events).toEqual(['up', 'down', 'reconnecting'])
    clock.advance(1000) // connect-retry pause
    // wait for the second session's first packet (its hello ping), so its ping-restart timer runs
    await until(() => client.counters.get('openvpn.session') === 2)
    // the new UDP session is not 'up': the silent server never answered
    expect(events).toEqual(['up', 'down', 'reconnecting'])
    clock.advance(1000) // ping-restart #2: second dead session = connect-retry-max
    await until(() => events.length === 4)
    expect(events.slice(3)).toEqual([expect.stringMatching(/^error:.*no answer from any server after 2 attempt/)])
  })

  it('gives up after connect-retry-max rounds and refuses TLS-mode configs', async () => {
    const base = staticParamsFromConfig(loadOvpnFile(FIXTURE))
    const client = new OpenVpnStaticTunnel({ ...base, connectRetry: 0, connectRetryMax: 2, remotes: [{ host: '127.0.0.1', port: 1, proto: 'tcp' }] })
    await expect(client.start()).rejects.toMatchObject({ code: 'ECONNREFUSED', message: expect.stringMatching(/after 2 round/) })
    await client.close()
    const tls = parseOvpn('client\nremote vpn.example\nca ca.pem\n', { readFile: () => new Uint8Array(0) })
    expect(() => createOpenVpnTunnel(tls)).toThrow(expect.objectContaining({ code: 'ERR_NOT_IMPLEMENTED', message: 'OpenVPN TLS mode is not implemented yet (static-key only)' }))
  })
})
