// Tunnels whose own packets travel over IPv6: a user's server given as an IPv6 literal
// (`remote fd00:… 1194`, `Endpoint = [fd00:…]:51820`). The vpn-lan topology (test/harness/vpn-lan.ts)
// with IPv6 on the root⇄vpn link only (outer6); the lan behind the server stays IPv4, so the inner
// traffic is IPv4 inside IPv6 datagrams or an IPv6 TCP stream. For each, the built CLI is started
// as a user would, and a 10 MB body is fetched by name through its SOCKS5 proxy (the name
// resolved by the lan's dnsmasq through the tunnel) and checked sha256-exact:
//   - an `openvpn` 2.6 static-key server on `--proto udp6`, and on `--proto tcp6-server`;
//   - a `wireguard-go` server (it listens on both families), the peer's endpoint in brackets.
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { interopSkipReason } from '../harness/netns.js'
import { startStaticServer, staticServerReady, writeStaticClientOvpn } from '../harness/ovpn-static.js'
import { patternSha256 } from '../harness/pattern.js'
import { createVpnLan, type VpnLan } from '../harness/vpn-lan.js'
import { cliPath, curlSha256, startCli, startWgServer, wgClientConfText, wgKeyPair, type CliSession, type WgServer } from '../harness/wg-server.js'

const skip = interopSkipReason('outer-ipv6 (CLI over outer IPv6 to openvpn 2.6 and wireguard-go)', ['openvpn', 'wireguard-go', 'wg', 'curl', 'dnsmasq'])
const PREFIX = 'bo6'
const KEY = resolve(import.meta.dirname, '../../fixtures/static.key')
const MB = 1024 * 1024
const SIZE = 10 * MB

describe.skipIf(skip !== null)('tunnels over outer IPv6', () => {
  let env: VpnLan
  const stops: (() => Promise<void> | void)[] = []

  beforeAll(async () => {
    cliPath() // the built CLI must exist (npm test builds first)
    env = await createVpnLan({ prefix: PREFIX, outer6: true })
  }, 60_000)
  afterAll(async () => {
    for (const s of stops.splice(0).reverse()) await s()
    await env?.destroy()
  }, 60_000)

  async function fetchByName(cli: CliSession, seed: string): Promise<void> {
    const url = `http://${env.dnsName}:${env.httpPort}/bytes?n=${SIZE}&seed=${seed}`
    const f = await curlSha256(['--max-time', '60', '--socks5-hostname', `127.0.0.1:${cli.socks.port}`, url], { timeoutMs: 70_000 })
    if (f.code !== 0) console.log(`CLI output:\n${cli.output().slice(-4000)}`)
    expect(f.stderr).toBe('')
    expect(f.code).toBe(0)
    expect(f.bytes).toBe(SIZE)
    expect(f.sha256).toBe(patternSha256(SIZE, seed))
  }

  for (const proto of ['udp', 'tcp'] as const) {
    it(`OpenVPN static key over ${proto.toUpperCase()}/IPv6: 10 MB by name through SOCKS5`, async () => {
      const port = proto === 'udp' ? 1194 : 1195
      const server = startStaticServer({ env, key: KEY, proto, port, ipv6: true, auth: 'SHA256' })
      try {
        await server.waitFor(staticServerReady({ proto, ipv6: true }), 15_000)
        const conf = writeStaticClientOvpn(env.tmp, `v6-${proto}.ovpn`, { env, secret: KEY, proto, host: env.serverIp6!, port, auth: 'SHA256' })
        const cli = await startCli(conf)
        try {
          // the status line names the server by its IPv6 address
          expect(cli.output()).toContain(`${proto} [${env.serverIp6}]:${port}`)
          await fetchByName(cli, `ovpn-v6-${proto}`)
        } finally {
          await cli.stop()
        }
      } finally {
        await server.kill() // the next server configures the same tunnel addresses
      }
    }, 120_000)
  }

  it('WireGuard with the endpoint given as a bracketed IPv6 address: 10 MB by name through SOCKS5', async () => {
    const keys = wgKeyPair()
    const server: WgServer = await startWgServer({
      ns: env.vpn,
      prefix: PREFIX,
      port: 51820,
      dir: env.tmp,
      addresses: [`${env.tunnel.v4(1)}/24`],
      peers: [{ publicKey: keys.publicKey, allowedIps: [`${env.tunnel.v4(2)}/32`] }],
    })
    stops.push(() => server.stop())
    const conf = join(env.tmp, 'wg-v6.conf')
    const text = wgClientConfText({
      privateKey: keys.privateKey,
      addresses: [`${env.tunnel.v4(2)}/32`],
      dns: [env.lanIp],
      peer: { publicKey: server.keys.publicKey, endpoint: `[${env.serverIp6}]:51820`, allowedIps: [env.tunnel.cidr, env.lan4.cidr] },
    })
    writeFileSync(conf, text, { mode: 0o600 })
    const cli = await startCli(conf)
    stops.push(() => cli.stop())
    await fetchByName(cli, 'wg-v6')
    // the server saw the client come from its IPv6 address
    const peer = server.status().find((p) => p.publicKey === keys.publicKey)!
    expect(peer.endpoint).toMatch(new RegExp(`^\\[${env.rootIp6}\\]:\\d+$`))
    expect(peer.rxBytes).toBeGreaterThan(0)
  }, 120_000)
})
