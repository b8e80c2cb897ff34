// Interop: our userspace WireGuard peer against a real wireguard-go (0.0.20220316) in a network
// namespace. The server side is configured with `wg setconf` (never wg-quick up); our tunnel runs
// in this process in the root namespace and reaches it over a veth pair. Inner traffic is crafted
// by hand (ICMP echo, UDP to a python echo server) and the replies must come from the wireguard-go
// interface address.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { interopSkipReason, Netns, subnetFor, uniqueId, veth, type Proc, type VethPair } from '../harness/netns.js'
import { encodeKey, x25519GeneratePrivate, x25519PublicFromPrivate } from '../../src/wireguard/crypto.js'
import { createWireGuardTunnel, type WireGuardTunnel } from '../../src/wireguard/tunnel.js'
import { parseWgQuick } from '../../src/config/wgquick.js'
import { icmpEcho, parseInner, sameIp, udpPacket, type ParsedInner } from '../wireguard/packets.js'

const skip = interopSkipReason('wireguard-go', ['wireguard-go', 'wg', 'python3'])

const UDP_ECHO = `
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print('ready', flush=True)
while True:
    d, a = s.recvfrom(65535)
    s.sendto(b'echo:' + d, a)
`

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

async function waitFor<T>(fn: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`)
    await sleep(20)
  }
}

describe.skipIf(skip !== null)('WireGuard interop with wireguard-go', () => {
  let ns: Netns
  let link: VethPair
  let dir: string
  const outer = subnetFor(37)
  const inner = subnetFor(38)
  const clientPriv = x25519GeneratePrivate()
  const serverPriv = x25519GeneratePrivate()
  const psk = x25519GeneratePrivate() // any 32 random bytes
  const procs: Proc[] = []
  let wgIf = ''

  async function startWireguardGo(port: number, withPsk: boolean, clientEndpoint?: string): Promise<Proc> {
    const p = ns.spawn('wireguard-go', ['-f', wgIf], { env: { ...process.env, LOG_LEVEL: 'error' } })
    procs.push(p)
    await waitFor(() => (existsSync(`/var/run/wireguard/${wgIf}.sock`) ? true : undefined), 10_000, 'wireguard-go UAPI socket')
    const conf = join(dir, `${wgIf}.conf`)
    writeFileSync(
      conf,
      [
        '[Interface]',
        `PrivateKey = ${encodeKey(serverPriv)}`,
        `ListenPort = ${port}`,
        '',
        '[Peer]',
        `PublicKey = ${encodeKey(x25519PublicFromPrivate(clientPriv))}`,
        ...(withPsk ? [`PresharedKey = ${encodeKey(psk)}`] : []),
        ...(clientEndpoint ? [`Endpoint = ${clientEndpoint}`] : []),
        `AllowedIPs = ${inner.v4(2)}/32, ${inner.v6(2)}/128`,
        '',
      ].join('\n'),
    )
    ns.exec('wg', ['setconf', wgIf, conf])
    ns.exec('ip', ['addr', 'add', `${inner.v4(1)}/24`, 'dev', wgIf])
    ns.exec('ip', ['-6', 'addr', 'add', `${inner.v6(1)}/64`, 'dev', wgIf, 'nodad'])
    ns.exec('ip', ['link', 'set', wgIf, 'up'])
    return p
  }

  async function stopWireguardGo(p: Proc): Promise<void> {
    await p.kill()
    await waitFor(() => (existsSync(`/var/run/wireguard/${wgIf}.sock`) ? undefined : true), 5_000, 'UAPI socket removal')
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bpw-'))
    ns = Netns.create('bpw')
    wgIf = `bpw${uniqueId()}`.slice(0, 15)
    link = veth(null, ns, [`${outer.v4(1)}/24`], [`${outer.v4(2)}/24`])
    // bound to the wildcard so it survives wireguard-go restarts (the interface address comes and goes)
    const echo = ns.spawn('python3', ['-c', UDP_ECHO, '0.0.0.0', '7777'])
    procs.push(echo)
    await echo.waitFor(/ready/)
  })

  afterAll(async () => {
    for (const p of procs.reverse()) await p.kill().catch(() => {})
    link?.destroy()
    await ns?.destroy()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  function clientConfig(port: number, withPsk: boolean) {
    return parseWgQuick(
      [
        '[Interface]',
        `PrivateKey = ${encodeKey(clientPriv)}`,
        `Address = ${inner.v4(2)}/32, ${inner.v6(2)}/128`,
        `DNS = ${inner.v4(1)}, example.internal`,
        '',
        '[Peer]',
        `PublicKey = ${encodeKey(x25519PublicFromPrivate(serverPriv))}`,
        ...(withPsk ? [`PresharedKey = ${encodeKey(psk)}`] : []),
        `Endpoint = ${outer.v4(2)}:${port}`,
        `AllowedIPs = ${inner.v4(0)}/24, ${inner.v6(0)}/64`,
        '',
      ].join('\n'),
      'interop.conf',
    )
  }

  async function withClient(port: number, withPsk: boolean, fn: (t: WireGuardTunnel, rx: ParsedInner[]) => Promise<void>): Promise<void> {
    const t = createWireGuardTunnel(clientConfig(port, withPsk))
    const rx: ParsedInner[] = []
    t.attach((p) => {
      const q = parseInner(p)
      if (q) rx.push(q)
    }, () => {})
    try {
      const info = await t.start(AbortSignal.timeout(15_000))
      expect(info.dns).toEqual([inner.v4(1)])
      expect(info.searchDomains).toEqual(['example.internal'])
      await fn(t, rx)
    } finally {
      await t.close()
    }
  }

  async function pingBoth(t: WireGuardTunnel, rx: ParsedInner[], id: number): Promise<void> {
    t.send(icmpEcho(inner.v4(2), inner.v4(1), { id, seq: 1 }))
    const r4 = await waitFor(() => rx.find((p) => p.version === 4 && p.icmpType === 0 && p.icmpId === id), 5_000, 'ICMP echo reply')
    expect(sameIp(r4.src, inner.v4(1))).toBe(true)
    t.send(icmpEcho(inner.v6(2), inner.v6(1), { id: id + 1, seq: 1 }))
    const r6 = await waitFor(() => rx.find((p) => p.version === 6 && p.icmpType === 129 && p.icmpId === id + 1), 5_000, 'ICMPv6 echo reply')
    expect(sameIp(r6.src, inner.v6(1))).toBe(true)
  }

  for (const withPsk of [false, true]) {
    it(`handshakes and exchanges ICMP (v4+v6) and UDP ${withPsk ? 'with' : 'without'} a PresharedKey`, async () => {
      const port = 40000 + (process.pid % 10000) + (withPsk ? 1 : 0)
      const wg = await startWireguardGo(port, withPsk)
      try {
        await withClient(port, withPsk, async (t, rx) => {
          await pingBoth(t, rx, withPsk ? 100 : 200)
          const msg = new TextEncoder().encode(`hello ${withPsk}`)
          t.send(udpPacket(inner.v4(2), inner.v4(1), 5555, 7777, msg))
          const u = await waitFor(() => rx.find((p) => p.proto === 17 && p.sport === 7777), 5_000, 'UDP echo')
          expect(new TextDecoder().decode(u.payload)).toBe(`echo:hello ${withPsk}`)
          expect(sameIp(u.src, inner.v4(1))).toBe(true)
          expect(t.counters.get('wireguard.bad_mac')).toBe(0)
          // wireguard-go saw our handshake and traffic
          const dump = ns.exec('wg', ['show', wgIf, 'transfer'])
          expect(dump).toMatch(/\t[1-9][0-9]*\t[1-9][0-9]*/)
        })
      } finally {
        await stopWireguardGo(wg)
      }
    })
  }

  it('re-handshakes after the server restarts with the same keys', async () => {
    const port = 40000 + (process.pid % 10000) + 2
    let wg = await startWireguardGo(port, true)
    try {
      await withClient(port, true, async (t, rx) => {
        await pingBoth(t, rx, 300)
        await stopWireguardGo(wg)
        wg = await startWireguardGo(port, true)
        // the old session is gone on the server; keep sending until a reply comes back
        const before = t.counters.get('wireguard.handshake_complete')
        let seq = 1
        const id = 400
        const reply = waitFor(() => rx.find((p) => p.icmpId === id), 40_000, 'echo reply after restart')
        const timer = setInterval(() => t.send(icmpEcho(inner.v4(2), inner.v4(1), { id, seq: seq++ })), 1000)
        try {
          await reply
        } finally {
          clearInterval(timer)
        }
        expect(t.counters.get('wireguard.handshake_complete')).toBeGreaterThan(before)
      })
    } finally {
      await stopWireguardGo(wg)
    }
  }, 60_000)

  it('answers handshakes that wireguard-go initiates (we are the responder) and replies to its pings', async () => {
    const port = 40000 + (process.pid % 10000) + 3
    const clientPort = 40000 + (process.pid % 10000) + 4
    const wg = await startWireguardGo(port, true, `${outer.v4(1)}:${clientPort}`)
    const cfg = parseWgQuick(
      [
        '[Interface]',
        `PrivateKey = ${encodeKey(clientPriv)}`,
        `ListenPort = ${clientPort}`,
        `Address = ${inner.v4(2)}/32`,
        '[Peer]',
        `PublicKey = ${encodeKey(x25519PublicFromPrivate(serverPriv))}`,
        `PresharedKey = ${encodeKey(psk)}`,
        `AllowedIPs = ${inner.v4(0)}/24, ${inner.v6(0)}/64`,
      ].join('\n'),
      'responder.conf',
    )
    const t = createWireGuardTunnel(cfg)
    let requests = 0
    t.attach((p) => {
      const q = parseInner(p)
      if (q && q.icmpType === (q.version === 4 ? 8 : 128)) {
        requests++
        t.send(icmpEcho(q.dst, q.src, { id: q.icmpId, seq: q.icmpSeq, payload: q.payload.slice(), reply: true }))
      }
    }, () => {})
    try {
      await t.start() // no endpoint: resolves at once and waits to be called
      const ping = ns.spawn('ping', ['-c', '3', '-i', '0.2', '-W', '3', inner.v4(2)])
      await ping.waitFor(/3 received/, 15_000)
      const ping6 = ns.spawn('ping', ['-6', '-c', '2', '-i', '0.2', '-W', '3', inner.v6(2)])
      await ping6.waitFor(/2 received/, 15_000)
      expect(requests).toBe(5)
      expect(t.counters.get('wireguard.response_tx')).toBe(1)
      expect(t.peers[0].current?.isInitiator).toBe(false)
    } finally {
      await t.close()
      await stopWireguardGo(wg)
    }
  })
})
