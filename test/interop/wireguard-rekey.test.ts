// WireGuard session rekeying under a long transfer, end to end: the built CLI with a user's
// wg-quick file against a real wireguard-go server (test/harness/wg-server.ts) in the vpn-lan
// topology. Two paced downloads (SOCKS5 by name and the HTTP proxy, ~135 s each, so the session
// outlives REKEY_AFTER_TIME = 120 s, WireGuard paper §6.1) must arrive sha256-exact, and the
// server's `wg show … dump` must show a handshake newer than the first one by ≥ REKEY_AFTER_TIME:
// a rekey happened in the middle of the transfers. Takes ~2.5 min by design.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { interopSkipReason, type Proc } from '../harness/netns.js'
import { patternSha256 } from '../harness/pattern.js'
import { createVpnLan, type VpnLan } from '../harness/vpn-lan.js'
import { curlSha256, startCli, startLanHttp, startWgServer, wgKeyPair, wgPresharedKey, type CliSession, type Fetched, type WgServer } from '../harness/wg-server.js'
import { REKEY_AFTER_TIME } from '../../src/wireguard/constants.js'

const skip = interopSkipReason('wireguard rekey (CLI ⇄ wireguard-go)', ['wireguard-go', 'wg', 'curl', 'dnsmasq'])

const WG_PORT = 51820
const SLOW_PORT = 8087
const PACE_SEC = 135
const BYTES = 12_000_000 // per transfer: ~0.7 Mbit/s each

describe.skipIf(skip !== null)('WireGuard rekey during a long transfer (CLI ⇄ wireguard-go)', () => {
  let env: VpnLan
  let server: WgServer
  let slow: Proc
  let cli: CliSession
  const client = wgKeyPair()
  let psk = ''

  beforeAll(async () => {
    psk = wgPresharedKey()
    env = await createVpnLan({ prefix: 'bpg' })
    slow = await startLanHttp(env.lan, SLOW_PORT)
    server = await startWgServer({
      ns: env.vpn,
      prefix: 'bpg',
      port: WG_PORT,
      dir: env.tmp,
      addresses: [`${env.tunnel.v4(1)}/24`],
      peers: [{ publicKey: client.publicKey, presharedKey: psk, allowedIps: [`${env.tunnel.v4(2)}/32`] }],
    })
    await env.assertIsolated()
    const conf = join(env.tmp, 'wg0.conf')
    writeFileSync(
      conf,
      [
        '[Interface]',
        `PrivateKey = ${client.privateKey}`,
        `Address = ${env.tunnel.v4(2)}/24`,
        `DNS = ${env.lanIp}`,
        '',
        '[Peer]',
        `PublicKey = ${server.keys.publicKey}`,
        `PresharedKey = ${psk}`,
        `Endpoint = ${env.serverIp}:${WG_PORT}`,
        `AllowedIPs = ${env.tunnel.cidr}, ${env.lan4.cidr}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    )
    cli = await startCli(conf)
  }, 60_000)

  afterAll(async () => {
    await cli?.stop()
    await server?.stop().catch(() => {})
    await slow?.kill().catch(() => {})
    await env?.destroy()
  })

  it(`two ${PACE_SEC} s transfers stay exact across a rekey (REKEY_AFTER_TIME ${REKEY_AFTER_TIME / 1000} s)`, async () => {
    const first = server.status()[0].latestHandshake
    expect(first).toBeGreaterThan(0) // the CLI handshook before printing "up"
    const url = (host: string, seed: string) => `http://${host}:${SLOW_PORT}/bytes?n=${BYTES}&seed=${seed}&sec=${PACE_SEC}`
    const t0 = Date.now()
    const [viaSocks, viaHttp] = await Promise.all([
      curlSha256(['--max-time', String(PACE_SEC + 60), '--socks5-hostname', `127.0.0.1:${cli.socks.port}`, url(env.dnsName, 'rekey-socks')], { timeoutMs: (PACE_SEC + 70) * 1000 }),
      curlSha256(['--max-time', String(PACE_SEC + 60), '-x', `http://127.0.0.1:${cli.http.port}`, url(env.lanIp, 'rekey-http')], { timeoutMs: (PACE_SEC + 70) * 1000 }),
    ])
    const check = (f: Fetched, seed: string, what: string) => {
      console.log(`  ${what}: ${f.bytes} bytes in ${(f.ms / 1000).toFixed(1)} s, longest pause ${(f.maxGapMs / 1000).toFixed(2)} s`)
      expect(f.stderr, what).toBe('')
      expect(f.code, what).toBe(0)
      expect(f.bytes, what).toBe(BYTES)
      expect(f.sha256, what).toBe(patternSha256(BYTES, seed))
      // paced at BYTES / PACE_SEC: the rekey must not stall the stream for seconds
      expect(f.maxGapMs, what).toBeLessThan(5_000)
    }
    check(viaSocks, 'rekey-socks', 'SOCKS5 by name')
    check(viaHttp, 'rekey-http', 'HTTP proxy')
    expect(Date.now() - t0).toBeGreaterThan(REKEY_AFTER_TIME)
    const last = server.status()[0]
    console.log(`  server: first handshake at ${first}, latest at ${last.latestHandshake} (+${last.latestHandshake - first} s)`)
    // a new handshake at least REKEY_AFTER_TIME after the first one: a rekey, not a reconnect loop
    expect(last.latestHandshake - first).toBeGreaterThanOrEqual(REKEY_AFTER_TIME / 1000 - 1)
    expect(last.txBytes).toBeGreaterThan(2 * BYTES)
    // the CLI never had to reconnect: the rekey was seamless
    expect(cli.output()).not.toMatch(/reconnecting|down/)
    expect(cli.proc.child.exitCode).toBeNull()
  }, (PACE_SEC + 90) * 1000)
})
