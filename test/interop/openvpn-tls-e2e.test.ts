// End to end, as a user runs it: real `openvpn` 2.6 servers in TLS mode (test/harness/ovpn-tls-e2e.ts)
// in the vpn namespace of a vpn-lan topology (HTTP + dnsmasq behind them, unreachable from the root
// namespace), a client .ovpn as an admin exports it (inline <ca>/<cert>/<key>/<tls-crypt>…), and the
// built CLI (`node dist/cli/main.js --config client.ovpn --http … --socks …`). Every variant of the
// OpenVPN TLS issue's acceptance list moves a 100 MB body, sha256-exact, by name (resolved by the
// dnsmasq the server pushes with `dhcp-option DNS`): the main variant (tls-crypt, UDP, AES-256-GCM)
// through both proxies, every other variant through one proxy, alternating. Then: a wrong password
// is refused by the server's auth-user-pass-verify script and the CLI exits non-zero naming
// AUTH_FAILED; and the server is killed and restarted mid-session (UDP and TCP), the CLI reconnects
// by itself, re-applies the new PUSH_REPLY (a route that differs between the two runs), a paced
// download in flight across the outage completes exactly, and both proxies keep serving.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { interopSkipReason, startProc, type Proc } from '../harness/netns.js'
import { patternSha256 } from '../harness/pattern.js'
import type { VpnLan } from '../harness/vpn-lan.js'
import { cliPath, curlSha256, startCli, startLanHttp, type CliSession } from '../harness/wg-server.js'
import {
  clientOvpnText,
  createTlsLan,
  startCliNoEkm,
  startTlsServer,
  waitExit,
  waitForOutput,
  writeClientOvpn,
  type TlsPki,
  type TlsServer,
  type TlsVariant,
} from '../harness/ovpn-tls-e2e.js'

const skip = interopSkipReason('openvpn-tls-e2e (CLI ⇄ openvpn 2.6 TLS)', ['openvpn', 'openssl', 'curl', 'dnsmasq'])
const PREFIX = 'bpx'
const MB = 1024 * 1024
const BIG = 100 * MB
const SMALL = 1 * MB
const PACED_PORT = 8090

let env: VpnLan | undefined
let paced: Proc | undefined
let pki: TlsPki
const timings: string[] = []

beforeAll(async () => {
  if (skip) return
  const lan = await createTlsLan(PREFIX)
  env = lan.env
  pki = lan.pki
  paced = await startLanHttp(env.lan, PACED_PORT)
}, 60_000)
afterAll(async () => {
  if (timings.length) console.log(`openvpn-tls-e2e timings:\n  ${timings.join('\n  ')}`)
  await paced?.kill()
  await env?.destroy()
})

type Via = 'socks' | 'http'

/** A download of `bytes` by name through one proxy, sha256-checked; returns seconds. */
async function fetchVia(cli: CliSession, via: Via, bytes: number, seed: string): Promise<number> {
  const e = env!
  const url = `http://${e.dnsName}:${e.httpPort}/bytes?n=${bytes}&seed=${seed}`
  const proxy = via === 'socks' ? ['--socks5-hostname', `${cli.socks.host}:${cli.socks.port}`] : ['-x', `http://${cli.http.host}:${cli.http.port}`]
  const r = await curlSha256([...proxy, url], { timeoutMs: 150_000 })
  if (r.code !== 0 || r.bytes !== bytes) console.log(`curl via ${via}: code ${r.code}, ${r.bytes} bytes, ${r.stderr}\nCLI:\n${cli.output().slice(-3000)}`)
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  expect(r.bytes).toBe(bytes)
  expect(r.sha256).toBe(patternSha256(bytes, seed))
  return r.ms / 1000
}

/** The up line shows the pushed route to the lan and the pushed DNS server. */
function expectPushed(upLine: string): void {
  const e = env!
  expect(upLine).toContain(`routes ${e.lan4.cidr}`)
  expect(upLine).toContain(`dns ${e.lanIp}`)
}

/** dnsmasq (behind the VPN) answered test.burrow to an address from this server's /28. */
function expectDnsFromTunnel(server: TlsServer, dnsFrom: number): void {
  const log = env!.dnsmasq!.output().slice(dnsFrom)
  const net = server.tunnelCidr.split('/')[0].split('.').map(Number)
  const from = [...log.matchAll(/query\[A\] test\.burrow from ([\d.]+)/g)].map((m) => m[1].split('.').map(Number))
  const inSlot = from.filter((a) => a[0] === net[0] && a[1] === net[1] && a[2] === net[2] && a[3] > net[3] && a[3] < net[3] + 15)
  expect(inSlot.length, `dnsmasq log:\n${log.slice(-1500)}`).toBeGreaterThan(0)
}

let slots = 0
async function withServer<T>(variant: TlsVariant, extra: string[] | undefined, fn: (s: TlsServer) => Promise<T>): Promise<T> {
  const slot = slots++
  const server = await startTlsServer({ env: env!, pki, variant, slot, port: 1194 + slot, prefix: PREFIX, extra })
  try {
    return await fn(server)
  } catch (e) {
    console.log(`openvpn server (${variant.name}) output:\n${server.proc.output().slice(-4000)}`)
    throw e
  } finally {
    await server.stop()
  }
}

function configFor(variant: TlsVariant, server: TlsServer, o: { authFile?: string } = {}): string {
  const name = `${variant.name.replace(/[^\w.-]+/g, '_')}.ovpn`
  return writeClientOvpn(env!.tmp, name, clientOvpnText({ env: env!, pki, variant, port: server.port, authFile: o.authFile }))
}

/** Connect with the CLI (or its no-EKM twin), check what was negotiated, move the bodies, stop. */
async function runVariant(variant: TlsVariant, vias: Via[], o: { noEkm?: boolean; authFile?: string } = {}): Promise<void> {
  await withServer(variant, undefined, async (server) => {
    const dnsFrom = env!.dnsmasq!.output().length
    const config = configFor(variant, server, o)
    const t0 = performance.now()
    const cli = o.noEkm ? await startCliNoEkm(config) : await startCli(config)
    try {
      const up = (await cli.proc.waitFor(/burrow-proxy: up: [^\n]*/, 5_000))[0]
      const connectS = (performance.now() - t0) / 1000
      expectPushed(up)
      const cipher = variant.cipher ?? 'AES-256-GCM'
      expect(cli.output()).toMatch(new RegExp(`data channel key 0 active \\(${cipher}, ${o.noEkm ? 'PRF' : 'tls-ekm'}`))
      // what the server says it negotiated (OpenVPN logs the control channel's TLS version and suite)
      expect(server.proc.output()).toMatch(variant.tls12 ? /Control Channel: TLSv1\.2,/ : /Control Channel: TLSv1\.3,/)
      const reply = server.proc.output().match(/SENT CONTROL \[[^\]]*\]: 'PUSH_REPLY,[^']*'/)?.[0] ?? ''
      expect(reply).toContain(`cipher ${cipher}`)
      if (o.noEkm) expect(reply).not.toContain('tls-ekm')
      else expect(reply).toMatch(/protocol-flags [^,]*tls-ekm/)
      if (variant.userPass) expect(server.proc.output()).toMatch(/TLS: Username\/Password authentication succeeded for username 'alice'/)
      const parts: string[] = [`connect ${connectS.toFixed(1)} s`]
      for (const via of vias) {
        const s = await fetchVia(cli, via, BIG, `${variant.name}-${via}`.replace(/[^\w-]+/g, '_'))
        parts.push(`100 MB via ${via} ${s.toFixed(1)} s (${((BIG * 8) / s / 1e6).toFixed(0)} Mbit/s)`)
      }
      expectDnsFromTunnel(server, dnsFrom)
      expect(server.proc.output()).not.toMatch(/AEAD Decrypt error|Authenticate\/Decrypt packet error|bad packet ID/)
      expect(cli.proc.child.exitCode).toBeNull()
      timings.push(`${variant.name}${o.noEkm ? ' (no TLS-EKM: PRF)' : ''}: ${parts.join(', ')}`)
    } catch (e) {
      console.log(`CLI output:\n${cli.output().slice(-3000)}`)
      throw e
    } finally {
      await cli.stop()
    }
  })
}

const MAIN: TlsVariant = { name: 'tls-crypt udp AES-256-GCM', proto: 'udp', wrap: 'tls-crypt', cipher: 'AES-256-GCM' }
/** Every other variant, with the proxy its 100 MB goes through (alternating). */
const OTHERS: [TlsVariant, Via][] = [
  [{ name: 'tls-crypt tcp AES-256-GCM', proto: 'tcp', wrap: 'tls-crypt' }, 'http'],
  [{ name: 'tls-auth SHA256 udp', proto: 'udp', wrap: 'tls-auth-sha256' }, 'socks'],
  [{ name: 'tls-auth SHA256 tcp', proto: 'tcp', wrap: 'tls-auth-sha256' }, 'http'],
  [{ name: 'tls-auth SHA1 (default auth) udp', proto: 'udp', wrap: 'tls-auth-sha1' }, 'socks'],
  [{ name: 'tls-auth SHA1 (default auth) tcp', proto: 'tcp', wrap: 'tls-auth-sha1' }, 'http'],
  [{ name: 'tls-crypt-v2 udp', proto: 'udp', wrap: 'tls-crypt-v2' }, 'socks'],
  [{ name: 'tls-crypt udp AES-128-GCM', proto: 'udp', wrap: 'tls-crypt', cipher: 'AES-128-GCM' }, 'http'],
  [{ name: 'tls-crypt udp CHACHA20-POLY1305', proto: 'udp', wrap: 'tls-crypt', cipher: 'CHACHA20-POLY1305' }, 'socks'],
  [{ name: 'tls-crypt udp server capped at TLS 1.2', proto: 'udp', wrap: 'tls-crypt', tls12: true }, 'http'],
]

describe.skipIf(!!skip)('burrow-proxy CLI ⇄ OpenVPN 2.6 TLS-mode servers, end to end', () => {
  it('the root namespace cannot reach the lan directly', async () => {
    await env!.assertIsolated()
  })

  it(`${MAIN.name}: 100 MB by name through SOCKS5 and through the HTTP proxy`, async () => {
    await runVariant(MAIN, ['socks', 'http'])
  }, 240_000)

  for (const [variant, via] of OTHERS) {
    it(`${variant.name}: 100 MB by name through the ${via === 'socks' ? 'SOCKS5' : 'HTTP'} proxy`, async () => {
      await runVariant(variant, [via])
    }, 180_000)
  }

  it('no TLS-EKM (client does not announce TLS_KEY_EXPORT): legacy key-method-2 PRF, 100 MB through SOCKS5', async () => {
    await runVariant({ name: 'tls-crypt udp legacy PRF', proto: 'udp', wrap: 'tls-crypt' }, ['socks'], { noEkm: true })
  }, 180_000)

  it('auth-user-pass checked by the server script: 100 MB through the HTTP proxy; a wrong password → AUTH_FAILED, exit ≠ 0', async () => {
    const variant: TlsVariant = { name: 'tls-crypt udp auth-user-pass-verify', proto: 'udp', wrap: 'tls-crypt', userPass: true }
    writeFileSync(join(env!.tmp, 'good.txt'), `${pki.user}\n${pki.pass}\n`, { mode: 0o600 })
    writeFileSync(join(env!.tmp, 'bad.txt'), `${pki.user}\nnot ${pki.pass}\n`, { mode: 0o600 })
    await runVariant(variant, ['http'], { authFile: 'good.txt' })
    await withServer(variant, undefined, async (server) => {
      const config = configFor({ ...variant, name: `${variant.name} wrong password` }, server, { authFile: 'bad.txt' })
      const t0 = performance.now()
      const cli = startProc(process.execPath, [cliPath(), '--config', config, '--http', '127.0.0.1:0', '--socks', '127.0.0.1:0'])
      const code = await waitExit(cli, 60_000)
      const out = cli.output()
      timings.push(`wrong password: CLI exited ${code} after ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      if (code === 0 || !/AUTH_FAILED/.test(out)) console.log(`CLI (wrong password):\n${out}`)
      expect(code).not.toBe(0)
      expect(code).not.toBeNull()
      expect(out).toMatch(/burrow-proxy: .*AUTH_FAILED/)
      expect(out).not.toMatch(/proxy on /)
      expect(server.proc.output()).toMatch(/TLS Auth Error: Auth Username\/Password verification failed for peer/)
    })
  }, 240_000)

  for (const proto of ['udp', 'tcp'] as const) {
    it(`${proto}: server killed and restarted mid-session → the CLI reconnects by itself, re-applies the new PUSH_REPLY, both proxies keep serving`, async () => {
      const variant: TlsVariant = { name: `tls-crypt ${proto} restart`, proto, wrap: 'tls-crypt' }
      // pushes ping 1 / ping-restart 4, and an extra route that differs between the two server runs
      const before = ['--keepalive', '1', '4', '--push', 'route 10.254.1.0 255.255.255.0']
      const after = ['--keepalive', '1', '4', '--push', 'route 10.254.2.0 255.255.255.0']
      await withServer(variant, before, async (server) => {
        const cli = await startCli(configFor(variant, server))
        try {
          const up = (await cli.proc.waitFor(/burrow-proxy: up: [^\n]*/, 5_000))[0]
          expect(up).toContain('10.254.1.0/24')
          await fetchVia(cli, 'socks', SMALL, `pre-${proto}-s`)
          await fetchVia(cli, 'http', SMALL, `pre-${proto}-h`)
          // a download in flight across the outage: 8 MB paced over 12 s, the kill ~3 s in
          const inflightSeed = `inflight-${proto}`
          const inflightUrl = `http://${env!.dnsName}:${PACED_PORT}/bytes?n=${8 * MB}&seed=${inflightSeed}&sec=12`
          const inflight = curlSha256(['--socks5-hostname', `${cli.socks.host}:${cli.socks.port}`, inflightUrl], { timeoutMs: 90_000 })
          await new Promise((r) => setTimeout(r, 3_000))
          const mark = cli.output().length
          const t0 = performance.now()
          await server.restart({ signal: 'SIGKILL', extra: after })
          const rec = await waitForOutput(cli.proc, /burrow-proxy: reconnecting[^\n]*/, mark, 20_000)
          const recAt = cli.output().indexOf(rec[0], mark)
          const up2 = (await waitForOutput(cli.proc, /burrow-proxy: up: [^\n]*/, recAt, 30_000))[0]
          const upS = (performance.now() - t0) / 1000
          expectPushed(up2)
          expect(up2).toContain('10.254.2.0/24')
          expect(up2).not.toContain('10.254.1.0/24')
          // a new TLS session on the new server: its key 0 is active again
          expect(cli.output().slice(recAt)).toMatch(/data channel key 0 active/)
          // the new server hands out the same address, so the TCP connection of the in-flight
          // download (kept by the netstack across the relink) resumes and completes exactly
          const addr = (l: string) => l.match(/address ([\d.]+)\//)?.[1]
          expect(addr(up2)).toBe(addr(up))
          const f = await inflight
          if (f.code !== 0 || f.bytes !== 8 * MB) console.log(`in-flight download: code ${f.code}, ${f.bytes} bytes, ${f.stderr}`)
          expect(f.code).toBe(0)
          expect(f.bytes).toBe(8 * MB)
          expect(f.sha256).toBe(patternSha256(8 * MB, inflightSeed))
          const s1 = await fetchVia(cli, 'socks', SMALL, `post-${proto}-s`)
          const s2 = await fetchVia(cli, 'http', SMALL, `post-${proto}-h`)
          await fetchVia(cli, 'socks', 20 * MB, `post-${proto}-big`)
          expect(cli.proc.child.exitCode).toBeNull()
          timings.push(`restart ${proto}: up again ${upS.toFixed(1)} s after the kill; in-flight 8 MB done in ${(f.ms / 1000).toFixed(1)} s (longest gap ${(f.maxGapMs / 1000).toFixed(1)} s); next 1 MB via socks ${s1.toFixed(2)} s, via http ${s2.toFixed(2)} s`)
        } catch (e) {
          console.log(`CLI output:\n${cli.output().slice(-3000)}`)
          throw e
        } finally {
          await cli.stop()
        }
      })
    }, 120_000)
  }
})
