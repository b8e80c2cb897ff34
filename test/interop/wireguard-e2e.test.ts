// End to end, as a user runs it: a real wireguard-go server (test/harness/wg-server.ts) in the
// "vpn" namespace of the vpn-lan topology (test/harness/vpn-lan.ts), routing to a "lan" namespace
// the root namespace cannot reach; the client's wg-quick .conf written to a temp dir; the built
// CLI (`node dist/cli/main.js --config wg0.conf …`) started in the root namespace; curl through its
// SOCKS5 (names resolved by the lan's dnsmasq through the tunnel) and HTTP proxies, over the
// tunnel's inner IPv4 and IPv6; SOCKS5 UDP ASSOCIATE to the lan's UDP echo; and a server restart
// (new wireguard-go process, same keys) in the middle of the session. Every body is
// sha256-checked against the deterministic pattern (pattern.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import dgram from 'node:dgram'
import net from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { interopSkipReason, type Proc } from '../harness/netns.js'
import { patternSha256 } from '../harness/pattern.js'
import { createVpnLan, type VpnLan } from '../harness/vpn-lan.js'
import {
  addV6Leg,
  curlSha256,
  startCli,
  startLanHttp,
  startWgServer,
  wgKeyPair,
  wgPresharedKey,
  type CliSession,
  type Fetched,
  type V6Leg,
  type WgKeyPair,
  type WgServer,
} from '../harness/wg-server.js'

const skip = interopSkipReason('wireguard e2e (CLI ⇄ wireguard-go)', ['wireguard-go', 'wg', 'curl', 'dnsmasq'])

const MB = 1_000_000
const WG_PORT = 51820
const V6_HTTP_PORT = 8086

/** A minimal SOCKS5 UDP ASSOCIATE client: one datagram to host:port, resolves with the reply payload. */
async function socks5UdpEcho(socksPort: number, host: string, port: number, payload: Buffer, timeoutMs = 10_000): Promise<{ from: string; data: Buffer }> {
  const ctl = net.connect({ host: '127.0.0.1', port: socksPort })
  const udp = dgram.createSocket('udp4')
  const buffered: Buffer[] = []
  let wake: (() => void) | null = null
  ctl.on('data', (d) => {
    buffered.push(d)
    wake?.()
  })
  const read = async (n: number): Promise<Buffer> => {
    for (;;) {
      const all = Buffer.concat(buffered)
      if (all.length >= n) {
        buffered.length = 0
        if (all.length > n) buffered.push(all.subarray(n))
        return all.subarray(0, n)
      }
      await new Promise<void>((r, j) => {
        wake = r
        ctl.once('close', () => j(new Error('SOCKS control connection closed')))
      })
    }
  }
  try {
    await new Promise<void>((r, j) => ctl.once('connect', r).once('error', j))
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r))
    ctl.write(Buffer.from([5, 1, 0]))
    expect([...(await read(2))]).toEqual([5, 0])
    const myPort = udp.address().port
    ctl.write(Buffer.from([5, 3, 0, 1, 127, 0, 0, 1, myPort >> 8, myPort & 255]))
    const head = await read(4)
    expect(head[1]).toBe(0) // succeeded
    expect(head[3]).toBe(1) // IPv4 relay address (we connected over IPv4)
    const rest = await read(6)
    const relayIp = [...rest.subarray(0, 4)].join('.')
    const relayPort = rest.readUInt16BE(4)
    // RFC 1928 §7 header: RSV(2) FRAG ATYP DST.ADDR DST.PORT
    const addr = net.isIPv4(host)
      ? Buffer.from([1, ...host.split('.').map(Number)])
      : Buffer.concat([Buffer.from([3, Buffer.byteLength(host)]), Buffer.from(host)])
    const dgramOut = Buffer.concat([Buffer.from([0, 0, 0]), addr, Buffer.from([port >> 8, port & 255]), payload])
    const got = new Promise<{ from: string; data: Buffer }>((resolve) => {
      udp.on('message', (m) => {
        if (m[3] !== 1) return // the relay answers with the IPv4 source of the reply
        resolve({ from: `${[...m.subarray(4, 8)].join('.')}:${m.readUInt16BE(8)}`, data: m.subarray(10) })
      })
    })
    const end = Date.now() + timeoutMs
    // UDP may be lost while the first handshake runs: resend each second until an answer comes.
    for (;;) {
      udp.send(dgramOut, relayPort, relayIp)
      const r = await Promise.race([got, new Promise<null>((res) => setTimeout(() => res(null), 1000))])
      if (r) return r
      if (Date.now() > end) throw new Error(`no UDP echo from ${host}:${port} through SOCKS5 within ${timeoutMs} ms`)
    }
  } finally {
    ctl.destroy()
    udp.close()
  }
}

interface Variant {
  name: string
  psk: boolean
  /** Body sizes: the main variant moves 100 MB through each proxy type. */
  big: number
  small: number
}

const VARIANTS: Variant[] = [
  { name: 'with PresharedKey', psk: true, big: 100 * MB, small: 8 * MB },
  { name: 'without PresharedKey', psk: false, big: 10 * MB, small: 4 * MB },
]

describe.skipIf(skip !== null)('WireGuard end to end: CLI ⇄ wireguard-go ⇄ lan', () => {
  let env: VpnLan
  let v6: V6Leg
  let server: WgServer
  let lanHttp6: Proc
  const clients = VARIANTS.map(() => ({ keys: undefined as unknown as WgKeyPair, psk: '' }))

  beforeAll(async () => {
    env = await createVpnLan({ prefix: 'bpg' })
    v6 = addV6Leg(env, 90)
    lanHttp6 = await startLanHttp(env.lan, V6_HTTP_PORT)
    for (const [i, v] of VARIANTS.entries()) {
      clients[i].keys = wgKeyPair()
      clients[i].psk = v.psk ? wgPresharedKey() : ''
    }
    server = await startWgServer({
      ns: env.vpn,
      prefix: 'bpg',
      port: WG_PORT,
      dir: env.tmp,
      addresses: [`${env.tunnel.v4(1)}/24`, `${v6.tunnel6.v6(1)}/64`],
      peers: VARIANTS.map((_, i) => ({
        publicKey: clients[i].keys.publicKey,
        presharedKey: clients[i].psk || undefined,
        allowedIps: [`${env.tunnel.v4(10 + i)}/32`, `${v6.tunnel6.v6(0x10 + i)}/128`],
      })),
    })
    await env.assertIsolated()
  }, 60_000)

  afterAll(async () => {
    await server?.stop().catch(() => {})
    await lanHttp6?.kill().catch(() => {})
    v6?.remove()
    await env?.destroy()
  })

  /** The client's wg-quick file, as a user would have it. */
  function writeClientConf(i: number): string {
    const c = clients[i]
    const text = [
      '# burrow-proxy end-to-end test client',
      '[Interface]',
      `PrivateKey = ${c.keys.privateKey}`,
      `Address = ${env.tunnel.v4(10 + i)}/32, ${v6.tunnel6.v6(0x10 + i)}/128`,
      `DNS = ${env.lanIp}`,
      '',
      '[Peer]',
      `PublicKey = ${server.keys.publicKey}`,
      ...(c.psk ? [`PresharedKey = ${c.psk}`] : []),
      `Endpoint = ${env.serverIp}:${WG_PORT}`,
      `AllowedIPs = ${env.tunnel.cidr}, ${v6.tunnel6.cidr}, ${env.lan4.cidr}, ${v6.lan6Cidr}`,
      '',
    ].join('\n')
    const p = join(env.tmp, `wg-client${i}.conf`)
    writeFileSync(p, text, { mode: 0o600 })
    return p
  }

  function expectBody(f: Fetched, n: number, seed: string, what: string): void {
    console.log(`  ${what}: ${f.bytes} bytes in ${(f.ms / 1000).toFixed(1)} s = ${f.mbps.toFixed(0)} Mbit/s`)
    expect(f.stderr, what).toBe('')
    expect(f.code, what).toBe(0)
    expect(f.bytes, what).toBe(n)
    expect(f.sha256, what).toBe(patternSha256(n, seed))
  }

  for (const [i, v] of VARIANTS.entries()) {
    describe(v.name, () => {
      let cli: CliSession
      beforeAll(async () => {
        cli = await startCli(writeClientConf(i), process.env.BPG_VERBOSE ? ['--verbose'] : [])
        expect(cli.output()).toMatch(/up: .*address .*dns /)
      }, 60_000)
      afterAll(async () => {
        await cli?.stop()
      })

      it(`SOCKS5: ${v.big / MB} MB by name (resolved by dnsmasq behind the VPN), inner IPv4`, async () => {
        const seed = `socks-${i}`
        const url = `http://${env.dnsName}:${env.httpPort}/bytes?n=${v.big}&seed=${seed}`
        const f = await curlSha256(['--socks5-hostname', `127.0.0.1:${cli.socks.port}`, url])
        expectBody(f, v.big, seed, `SOCKS5 ${url}`)
        const peer = server.status().find((p) => p.publicKey === clients[i].keys.publicKey)
        expect(peer?.latestHandshake).toBeGreaterThan(0)
        expect(peer?.txBytes).toBeGreaterThan(v.big)
      }, 180_000)

      it(`HTTP proxy: ${v.big / MB} MB, inner IPv4`, async () => {
        const seed = `http-${i}`
        const url = `http://${env.lanIp}:${env.httpPort}/bytes?n=${v.big}&seed=${seed}`
        const f = await curlSha256(['-x', `http://127.0.0.1:${cli.http.port}`, url])
        expectBody(f, v.big, seed, `HTTP proxy ${url}`)
      }, 180_000)

      it(`SOCKS5 and HTTP proxy: ${v.small / MB} MB each over the inner IPv6 address`, async () => {
        const seed = `v6-${i}`
        const url = `http://[${v6.lanIp6}]:${V6_HTTP_PORT}/bytes?n=${v.small}&seed=${seed}`
        expectBody(await curlSha256(['-g', '--socks5-hostname', `127.0.0.1:${cli.socks.port}`, url]), v.small, seed, `SOCKS5 ${url}`)
        expectBody(await curlSha256(['-g', '-x', `http://127.0.0.1:${cli.http.port}`, url]), v.small, seed, `HTTP proxy ${url}`)
        // the lan saw the client's inner IPv6 address, not a NATed one
        const inner6 = new URL(`http://[${v6.tunnel6.v6(0x10 + i)}]/`).hostname.slice(1, -1)
        expect(lanHttp6.output()).toContain(`sent ${v.small} to ${inner6} `)
      }, 120_000)

      it('SOCKS5 UDP ASSOCIATE to the UDP echo server behind the VPN (by address and by name)', async () => {
        const msg = Buffer.from(`hello over wireguard ${i} ${Date.now()}`)
        const r = await socks5UdpEcho(cli.socks.port, env.lanIp, env.udpPort, msg)
        expect(r.data.equals(msg)).toBe(true)
        expect(r.from).toBe(`${env.lanIp}:${env.udpPort}`)
        // the echo server saw the datagram arrive from the client's tunnel address
        expect(env.services.output()).toContain(`from ${env.tunnel.v4(10 + i)}:`)
        const byName = Buffer.from(`by name ${i}`)
        const r2 = await socks5UdpEcho(cli.socks.port, env.dnsName, env.udpPort, byName)
        expect(r2.data.equals(byName)).toBe(true)
      }, 60_000)

      if (i === 0) {
        it('keeps working when the server restarts mid-session (new wireguard-go, same keys)', async () => {
          const before = server.status().find((p) => p.publicKey === clients[i].keys.publicKey)!.latestHandshake
          const oldPid = server.proc.pid
          await server.restart()
          expect(server.proc.pid).not.toBe(oldPid)
          expect(server.status()[0].latestHandshake).toBe(0) // the new process knows no session
          // The client's old session is dead on the server and nothing tells it so: a request
          // stalls until the client notices (data sent, no reply within KEEPALIVE_TIMEOUT +
          // REKEY_TIMEOUT ≈ 15 s) and handshakes again. Its SYNs so far went out on the dead
          // session; the CLI redials pending connects when the tunnel is back (else TCP's backoff
          // would send the next SYN only at 31 s).
          // By name through SOCKS5 (a fresh connection, and a name never looked up before: the
          // lan's dnsmasq answers every subdomain, with TTL 0): the lookup's own tries (2 × 2 s)
          // are lost on the dead session too, and as nothing at all arrived over the tunnel
          // meanwhile the resolver holds the query until the tunnel is back, then asks again. The
          // HTTP proxy may pick a pooled origin connection whose server side timed out during the
          // outage (see the report of this test's author), so it is only tried afterwards.
          const seed = 'after-restart'
          const url = `http://after-restart.${env.dnsName}:${env.httpPort}/bytes?n=${2 * MB}&seed=${seed}`
          const t0 = Date.now()
          const f = await curlSha256(['--max-time', '60', '--socks5-hostname', `127.0.0.1:${cli.socks.port}`, url], { timeoutMs: 70_000 })
          console.log(`  first request after the restart completed in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
          if (f.code !== 0) console.log(`CLI output:\n${cli.output().slice(-5000)}`)
          expectBody(f, 2 * MB, seed, 'SOCKS5, first request after restart')
          expect(Date.now() - t0).toBeLessThan(25_000)
          expect(cli.output()).toMatch(/reconnecting[^]*up: /)
          const after = server.status().find((p) => p.publicKey === clients[i].keys.publicKey)!
          expect(after.latestHandshake).toBeGreaterThanOrEqual(before)
          expect(after.latestHandshake).toBeGreaterThan(0)
          // and the next ones are immediate: HTTP proxy, SOCKS5 by name, UDP
          const t1 = Date.now()
          const byAddr = `http://${env.lanIp}:${env.httpPort}/bytes?n=${2 * MB}&seed=again-http`
          const viaHttp = await curlSha256(['--max-time', '20', '-x', `http://127.0.0.1:${cli.http.port}`, byAddr])
          expectBody(viaHttp, 2 * MB, 'again-http', 'HTTP proxy after restart')
          const byName = `http://${env.dnsName}:${env.httpPort}/bytes?n=${2 * MB}&seed=again`
          const g = await curlSha256(['--max-time', '20', '--socks5-hostname', `127.0.0.1:${cli.socks.port}`, byName])
          expectBody(g, 2 * MB, 'again', 'SOCKS5 by name after restart')
          expect(Date.now() - t1).toBeLessThan(15_000)
          const r = await socks5UdpEcho(cli.socks.port, env.lanIp, env.udpPort, Buffer.from('udp after restart'))
          expect(r.data.toString()).toBe('udp after restart')
          expect(cli.proc.child.exitCode).toBeNull() // the CLI was never restarted
        }, 120_000)
      }
    })
  }
})
