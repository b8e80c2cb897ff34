// Interop: OpenVpnStaticTunnel (openvpn(8) 2.6 static-key mode) against a real `openvpn` 2.6
// server in a network namespace with a real TUN device, reached over veth from the root
// namespace. ICMP echo (RFC 792) requests are crafted here, sent through the tunnel to the
// server's tunnel address, and the Linux kernel behind the server answers them.
//   UDP and TCP × (AES-256-CBC + SHA256, AES-256-CBC + default SHA1): echo replies come back;
//   a captured encrypted packet replayed at the client is dropped and counted;
//   restarting the server mid-session: the client recovers and pings succeed again.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readU16, writeU16 } from '../../src/core/bytes.js'
import { Counters } from '../../src/core/counters.js'
import { parseOvpn } from '../../src/config/ovpn.js'
import { createOpenVpnTunnel } from '../../src/openvpn/tunnel.js'
import type { OpenVpnStaticTunnel, StaticRemote } from '../../src/openvpn/tunnel-static.js'
import { connectTransport } from '../../src/transport/connect.js'
import type { Transport } from '../../src/tunnel/types.js'
import { Netns, interopSkipReason, run, subnetFor, uniqueId, veth, type Proc, type VethPair } from '../harness/netns.js'

const skip = interopSkipReason('openvpn-static', ['openvpn'])
const KEY = join(import.meta.dirname, '../../fixtures/static.key')
const PORT = 1194

// --- a 20-line ICMP echo helper (RFC 791 header, RFC 792 echo, RFC 1071 checksum) ---
function csum(b: Uint8Array, off: number, len: number): number {
  let s = 0
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0)
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return ~s & 0xffff
}
const v4 = (a: string) => a.split('.').map(Number)
function echoRequest(src: string, dst: string, id: number, seq: number, data = 56): Uint8Array {
  const p = new Uint8Array(20 + 8 + data)
  p.set([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0, ...v4(src), ...v4(dst)])
  writeU16(p, 2, p.length)
  writeU16(p, 10, csum(p, 0, 20))
  p.set([8, 0, 0, 0, id >> 8, id & 0xff, seq >> 8, seq & 0xff], 20)
  for (let i = 0; i < data; i++) p[28 + i] = i & 0xff
  writeU16(p, 22, csum(p, 20, 8 + data))
  return p
}
function parseEchoReply(p: Uint8Array): { src: string; id: number; seq: number } | null {
  if (p.length < 28 || p[0] >> 4 !== 4 || p[9] !== 1) return null
  const ihl = (p[0] & 15) * 4
  if (p[ihl] !== 0 || csum(p, ihl, p.length - ihl) !== 0) return null
  return { src: [...p.subarray(12, 16)].join('.'), id: readU16(p, ihl + 4), seq: readU16(p, ihl + 6) }
}

interface Env {
  ns: Netns
  link: VethPair
  serverIp: string
  tunServer: string
  tunClient: string
  dev: string
  tmp: string
}
let env: Env | undefined

beforeAll(() => {
  if (skip) return
  const ns = Netns.create('bpo')
  const net = subnetFor(0)
  const tun = subnetFor(1)
  const link = veth(null, ns, [`${net.v4(1)}/24`], [`${net.v4(2)}/24`])
  env = { ns, link, serverIp: net.v4(2), tunServer: tun.v4(1), tunClient: tun.v4(2), dev: `bpot${uniqueId()}`.slice(0, 15), tmp: mkdtempSync(join(tmpdir(), 'bpo-')) }
})
afterAll(async () => {
  if (!env) return
  await env.ns.destroy()
  env.link.destroy()
  rmSync(env.tmp, { recursive: true, force: true })
})

function startServer(proto: 'udp' | 'tcp', auth: string | undefined): Proc {
  const e = env!
  const args = [
    '--disable-dco',
    '--dev-type', 'tun', '--dev', e.dev,
    '--ifconfig', e.tunServer, e.tunClient,
    '--secret', KEY, '0',
    '--cipher', 'AES-256-CBC',
    ...(auth ? ['--auth', auth] : []),
    '--proto', proto === 'udp' ? 'udp' : 'tcp-server',
    '--local', e.serverIp, '--port', String(PORT),
    '--ping', '1',
    '--verb', '7', // 7 prints the OCC options strings
  ]
  return e.ns.spawn('openvpn', args)
}

function clientConfig(proto: 'udp' | 'tcp', auth: string | undefined): string {
  const e = env!
  return [
    'dev tun',
    `remote ${e.serverIp} ${PORT} ${proto}`,
    'nobind',
    `secret ${KEY} 1`,
    'cipher AES-256-CBC',
    ...(auth ? [`auth ${auth}`] : []),
    `ifconfig ${e.tunClient} ${e.tunServer}`,
    'ping 1',
    'ping-restart 5',
    'connect-retry 1 2',
    'verb 3',
  ].join('\n')
}

/** connect() wrapper recording every message the client receives, and able to inject one. */
function tapping() {
  const seen: Uint8Array[] = []
  let inject: (m: Uint8Array) => void = () => {}
  const connect = async (r: StaticRemote, signal: AbortSignal): Promise<Transport> => {
    const t = await connectTransport({ ...r, signal })
    return {
      description: t.description,
      send: (m) => t.send(m),
      close: () => t.close(),
      attach(rx, onClose, onDrain) {
        inject = rx
        t.attach((m) => (seen.push(new Uint8Array(m)), rx(m)), onClose, onDrain)
      },
    }
  }
  return { seen, connect, inject: (m: Uint8Array) => inject(m) }
}

async function pingThrough(tunnel: OpenVpnStaticTunnel, replies: Map<number, string>, seq: number, timeoutMs = 3000, size = 56): Promise<boolean> {
  const e = env!
  tunnel.send(echoRequest(e.tunClient, e.tunServer, 0x4242, seq, size))
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (replies.has(seq)) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return false
}

function wire(tunnel: OpenVpnStaticTunnel): Map<number, string> {
  const replies = new Map<number, string>()
  tunnel.attach((p) => {
    const r = parseEchoReply(p)
    if (r && r.id === 0x4242) replies.set(r.seq, r.src)
  }, () => {})
  return replies
}

describe.skipIf(!!skip)('OpenVPN 2.6 static-key server interop', () => {
  const cases = [
    ['udp', 'SHA256'],
    ['udp', undefined],
    ['tcp', 'SHA256'],
    ['tcp', undefined],
  ] as const
  for (const [proto, auth] of cases) {
    it(`${proto}, AES-256-CBC, auth ${auth ?? 'default (SHA1)'}: echo replies come back; a replayed packet is dropped and counted`, async () => {
      const server = startServer(proto, auth)
      let tunnel: OpenVpnStaticTunnel | undefined
      try {
        await server.waitFor(/UDPv4 link remote|Listening for incoming TCP connection/, 15_000)
        const cfg = parseOvpn(clientConfig(proto, auth), { file: join(env!.tmp, 'client.ovpn') })
        const tap = tapping()
        const counters = new Counters()
        tunnel = createOpenVpnTunnel(cfg, { counters, connect: tap.connect })
        const replies = wire(tunnel)
        const info = await tunnel.start(AbortSignal.timeout(15_000))
        expect(info.addresses).toEqual([{ address: env!.tunClient, prefix: 32 }])
        // what we answer to the server's OCC_REQUEST is exactly the options string it expects
        const expected = server.output().match(/Expected Remote Options String \(VER=V4\): '([^']*)'/)
        expect(expected?.[1]).toBe(tunnel.optionsString())
        // TCP: the server finishes its side once the connection is accepted
        let ok = false
        for (let seq = 1; seq <= 10 && !ok; seq++) ok = await pingThrough(tunnel, replies, seq, 1500)
        expect(ok).toBe(true)
        // every padding length and a full-MTU (1500-byte) packet
        const sizes = [...Array.from({ length: 16 }, (_, i) => i), 1000, 1472]
        for (let i = 0; i < sizes.length; i++) expect(await pingThrough(tunnel, replies, 100 + i, 3000, sizes[i])).toBe(true)
        expect(replies.get(100)).toBe(env!.tunServer)
        // replay the first captured data packet at the client
        const rxBefore = counters.get('openvpn.rx')
        const replay0 = counters.get('openvpn.replay')
        tap.inject(tap.seen[0])
        tap.inject(tap.seen[tap.seen.length - 1])
        expect(counters.get('openvpn.replay') + counters.get('openvpn.stale') - replay0).toBe(2)
        expect(counters.get('openvpn.rx')).toBe(rxBefore)
        expect(counters.get('openvpn.bad_hmac')).toBe(0)
        expect(server.output()).not.toMatch(/bad packet ID|Authenticate\/Decrypt packet error/)
      } finally {
        await tunnel?.close()
        await server.kill()
      }
    })
  }

  for (const proto of ['udp', 'tcp'] as const) {
    it(`${proto}: restarting the server mid-session, the client recovers and pings succeed again`, async () => {
      let server = startServer(proto, 'SHA256')
      let tunnel: OpenVpnStaticTunnel | undefined
      try {
        await server.waitFor(/UDPv4 link remote|Listening for incoming TCP connection/, 15_000)
        const counters = new Counters()
        tunnel = createOpenVpnTunnel(parseOvpn(clientConfig(proto, 'SHA256'), { file: join(env!.tmp, 'c.ovpn') }), { counters })
        const events: string[] = []
        tunnel.on('down', () => events.push('down')).on('up', () => events.push('up')).on('reconnecting', () => events.push('reconnecting'))
        const replies = wire(tunnel)
        await tunnel.start(AbortSignal.timeout(15_000))
        let ok = false
        for (let seq = 1; seq <= 10 && !ok; seq++) ok = await pingThrough(tunnel, replies, seq, 1500)
        expect(ok).toBe(true)
        await server.kill()
        // UDP: silence for ping-restart (5 s) makes the client re-create its transport; TCP: the reset does
        const t0 = Date.now()
        while (!events.includes('reconnecting') && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50))
        expect(events.slice(0, 3)).toEqual(['up', 'down', 'reconnecting'])
        server = startServer(proto, 'SHA256')
        await server.waitFor(/UDPv4 link remote|Listening for incoming TCP connection/, 15_000)
        let back = false
        for (let seq = 200; seq < 230 && !back; seq++) back = await pingThrough(tunnel, replies, seq, 1000)
        expect(back).toBe(true)
        expect(events.filter((e) => e === 'up').length).toBeGreaterThanOrEqual(2)
        expect(counters.get(proto === 'udp' ? 'openvpn.ping_restart' : 'openvpn.reconnect')).toBeGreaterThanOrEqual(1)
        expect(server.output()).not.toMatch(/bad packet ID/)
      } finally {
        await tunnel?.close()
        await server.kill()
      }
    })
  }

  it('udp: after an outage longer than ping-restart, the still-running server accepts the new session even within the same wall-clock second', async () => {
    const server = startServer('udp', 'SHA256')
    let tunnel: OpenVpnStaticTunnel | undefined
    const e = env!
    try {
      await server.waitFor(/UDPv4 link remote|Listening for incoming TCP connection/, 15_000)
      const counters = new Counters()
      // A frozen wall clock: the reconnect happens "in the same second" as the first session, so
      // only a packet-id time bumped past the last one used keeps the server from seeing replays.
      const frozen = Math.floor(Date.now() / 1000)
      tunnel = createOpenVpnTunnel(parseOvpn(clientConfig('udp', 'SHA256'), { file: join(e.tmp, 'o.ovpn') }), { counters, nowSec: () => frozen })
      const events: string[] = []
      tunnel.on('up', () => events.push('up')).on('reconnecting', () => events.push('reconnecting'))
      const replies = wire(tunnel)
      await tunnel.start(AbortSignal.timeout(15_000))
      let ok = false
      for (let seq = 1; seq <= 10 && !ok; seq++) ok = await pingThrough(tunnel, replies, seq, 1500)
      expect(ok).toBe(true)
      run('ip', ['link', 'set', e.link.a, 'down'])
      try {
        const t0 = Date.now()
        while (!events.includes('reconnecting') && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50))
        expect(events).toContain('reconnecting')
      } finally {
        run('ip', ['link', 'set', e.link.a, 'up'])
      }
      let back = false
      for (let seq = 300; seq < 330 && !back; seq++) back = await pingThrough(tunnel, replies, seq, 1000)
      expect(back).toBe(true)
      expect(counters.get('openvpn.ping_restart')).toBeGreaterThanOrEqual(1)
      const bad = server.output().split('\n').filter((l) => /bad packet ID/.test(l))
      expect(bad).toEqual([])
    } finally {
      await tunnel?.close()
      await server.kill()
    }
  })
})
