// The tunnel itself through a proxy (openvpn(8) --http-proxy / --socks-proxy), end to end: a real
// `openvpn` 2.6 TLS server (TCP, and one over UDP) in the vpn namespace of a vpn-lan topology (HTTP + dnsmasq
// behind it), and the built CLI whose .ovpn names the server only as `vpn.bxp.invalid` — a name
// nobody resolves except burrow's own proxy server (src/proxy, DirectDialer under a dialer that
// maps that one name to the server and records every connect), listening on loopback in the root
// namespace. So the tunnel can only come up through the proxy, and the proxy's log shows the
// server's name arrived unresolved. Runs: HTTP CONNECT with Basic auth (auth-user-pass from a
// file), and SOCKS5 with RFC 1929 username/password where the CLI runs on a pseudo-terminal
// (script(1)) and the VPN username/password are typed at its prompts — the server's
// auth-user-pass-verify script accepts them; then a UDP server reached through the same SOCKS5
// proxy's UDP ASSOCIATE relay (every datagram addressed to the server by name). Each run moves a
// body sha256-exact by name; an encrypted <key> whose askpass passphrase and an http-proxy login
// (authfile stdin) are typed at the prompts; a wrong proxy password ends the CLI with a clear error.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { interopSkipReason, run, startProc } from '../harness/netns.js'
import { patternSha256 } from '../harness/pattern.js'
import type { VpnLan } from '../harness/vpn-lan.js'
import { answerPrompts, startCliOnPty, stopOnPty } from '../harness/pty.js'
import { cliPath, cliSession, curlSha256, startCli, type CliSession } from '../harness/wg-server.js'
import { clientOvpnText, createTlsLan, startTlsServer, waitForOutput, writeClientOvpn, type TlsPki, type TlsServer, type TlsVariant } from '../harness/ovpn-tls-e2e.js'
import { ProxyServer } from '../../src/proxy/server.js'
import { DirectDialer, type Dialer, type UdpFlow } from '../../src/proxy/dialer.js'

const skip = interopSkipReason('openvpn-tls-proxy (CLI → http-proxy/socks-proxy → openvpn 2.6 TCP)', ['openvpn', 'openssl', 'curl', 'dnsmasq', 'script'])
const PREFIX = 'bxp'
const MB = 1024 * 1024
const SIZE = 8 * MB
const SERVER_NAME = 'vpn.bxp.invalid'
const PROXY_USER = 'proxy-user'
const PROXY_PASS = 'pr0xy pass'

/** DirectDialer that knows one extra name (the VPN server) and records what it was asked for. */
class RecordingDialer implements Dialer {
  readonly connects: string[] = []
  private readonly direct = new DirectDialer({ connectTimeoutMs: 10_000 })
  constructor(private readonly names: Record<string, string>) {}
  connect(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    this.connects.push(`${host}:${port}`)
    return this.direct.connect(this.names[host] ?? host, port, signal)
  }
  /** UDP flows (SOCKS5 UDP ASSOCIATE relays): datagrams to the known name go to its address. */
  readonly udpSends: string[] = []
  async openUdp(): Promise<UdpFlow> {
    const flow = await this.direct.openUdp()
    const names = this.names
    const sends = this.udpSends
    return {
      send(data, host, port) {
        if (sends.length < 1000) sends.push(`${host}:${port}`)
        flow.send(data, names[host] ?? host, port)
      },
      get onMessage() {
        return flow.onMessage
      },
      set onMessage(fn) {
        flow.onMessage = fn
      },
      close: () => flow.close(),
    }
  }
}

let env: VpnLan | undefined
let pki: TlsPki
let server: TlsServer | undefined
let udpServer: TlsServer | undefined
let dialer: RecordingDialer
let proxy: ProxyServer | undefined
let proxyPort = 0
const VARIANT: TlsVariant = { name: 'tls-crypt tcp via proxy', proto: 'tcp', wrap: 'tls-crypt', userPass: true }
const UDP_VARIANT: TlsVariant = { name: 'tls-crypt udp via socks', proto: 'udp', wrap: 'tls-crypt' }

beforeAll(async () => {
  if (skip) return
  const lan = await createTlsLan(PREFIX)
  env = lan.env
  pki = lan.pki
  server = await startTlsServer({ env, pki, variant: VARIANT, slot: 0, port: 1443, prefix: PREFIX })
  udpServer = await startTlsServer({ env, pki, variant: UDP_VARIANT, slot: 1, port: 1194, prefix: PREFIX })
  dialer = new RecordingDialer({ [SERVER_NAME]: env.serverIp })
  // one listener, HTTP and SOCKS5, both requiring the proxy login (Basic / RFC 1929)
  proxy = new ProxyServer({ host: '127.0.0.1', port: 0, dialer, auth: { username: PROXY_USER, password: PROXY_PASS }, protocols: { http: true, socks5: true, socks4: false } })
  proxyPort = (await proxy.start()).port
}, 90_000)

afterAll(async () => {
  await proxy?.close()
  await server?.stop()
  await udpServer?.stop()
  await env?.destroy()
})

/** The admin-exported client .ovpn, pointed at the server by a name only the proxy knows, plus `lines`. */
function config(name: string, lines: string[], authFile?: string, s: TlsServer = server!, variant: TlsVariant = VARIANT): string {
  const e = env!
  const text = clientOvpnText({ env: e, pki, variant, port: s.port, authFile, extraLines: lines })
  const remote = `remote ${e.serverIp} ${s.port}`
  expect(text).toContain(remote)
  return writeClientOvpn(e.tmp, name, text.replace(remote, `remote ${SERVER_NAME} ${s.port}`))
}

async function fetchThrough(cli: CliSession, via: 'http' | 'socks', seed: string): Promise<void> {
  const e = env!
  const url = `http://${e.dnsName}:${e.httpPort}/bytes?n=${SIZE}&seed=${seed}`
  const args = via === 'socks' ? ['--socks5-hostname', `${cli.socks.host}:${cli.socks.port}`, url] : ['-x', `http://${cli.http.host}:${cli.http.port}`, url]
  const r = await curlSha256(args, { timeoutMs: 60_000 })
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  expect(r.bytes).toBe(SIZE)
  expect(r.sha256).toBe(patternSha256(SIZE, seed))
}

/** On failure: the last lines of the CLI's and the server's output. */
function logTails(cli: { output(): string }, server: { output(): string }): void {
  console.log(`CLI output:\n${cli.output().slice(-3000)}\nserver:\n${server.output().slice(-3000)}`)
}

describe.skipIf(skip !== null)('OpenVPN TLS through a proxy: HTTP CONNECT, SOCKS5 CONNECT, SOCKS5 UDP (CLI, real openvpn 2.6)', () => {
  it('the server name alone does not resolve from here (so only the proxy can reach the server)', async () => {
    const { lookup } = await import('node:dns/promises')
    await expect(lookup(SERVER_NAME)).rejects.toThrow()
    await env!.assertIsolated()
  })

  it('http-proxy with Basic auth (authfile), auth-user-pass from a file: 8 MB sha256-exact; server restart → reconnect through the proxy', async () => {
    const e = env!
    writeFileSync(join(e.tmp, 'proxy.auth'), `${PROXY_USER}\n${PROXY_PASS}\n`, { mode: 0o600 })
    writeFileSync(join(e.tmp, 'vpn.auth'), `${pki.user}\n${pki.pass}\n`, { mode: 0o600 })
    const cfg = config('http-proxy.ovpn', [`http-proxy 127.0.0.1 ${proxyPort} proxy.auth basic`, 'http-proxy-option VERSION 1.1', 'http-proxy-option AGENT burrow-test'], 'vpn.auth')
    const before = dialer.connects.length
    const cli = await startCli(cfg)
    try {
      const up = (await cli.proc.waitFor(/burrow-proxy: up: [^\n]*/, 10_000))[0]
      expect(up).toContain(`routes ${e.lan4.cidr}`)
      expect(server!.proc.output()).toMatch(/TLS: Username\/Password authentication succeeded for username 'alice'/)
      await fetchThrough(cli, 'http', 'bxp-http')
      await fetchThrough(cli, 'socks', 'bxp-http2')
      // the proxy was asked for the server by name, exactly once (one TCP connection carries the tunnel)
      expect(dialer.connects.slice(before)).toEqual([`${SERVER_NAME}:${server!.port}`])
      expect(cli.output()).toContain(`via http-proxy 127.0.0.1:${proxyPort}`)
      // the server dies and comes back: the CLI reconnects by itself, through the proxy again
      const from = cli.output().length
      await server!.restart()
      await waitForOutput(cli.proc, /burrow-proxy: reconnecting/, from, 20_000)
      await waitForOutput(cli.proc, /burrow-proxy: up: /, from, 60_000)
      await fetchThrough(cli, 'http', 'bxp-http3')
      expect(dialer.connects.slice(before).length).toBeGreaterThanOrEqual(2)
      expect(new Set(dialer.connects.slice(before))).toEqual(new Set([`${SERVER_NAME}:${server!.port}`]))
    } catch (err) {
      logTails(cli, server!.proc)
      throw err
    } finally {
      await cli.stop()
    }
  }, 120_000)

  it('socks-proxy with RFC 1929 login; VPN username/password typed at the CLI prompt on a pty: 8 MB sha256-exact', async () => {
    const e = env!
    writeFileSync(join(e.tmp, 'socks.auth'), `${PROXY_USER}\n${PROXY_PASS}\n`, { mode: 0o600 })
    const cfg = config('socks-proxy.ovpn', [`socks-proxy 127.0.0.1 ${proxyPort} socks.auth`, 'auth-user-pass'])
    const before = dialer.connects.length
    const serverFrom = server!.proc.output().length
    const proc = startCliOnPty(cfg)
    try {
      await answerPrompts(proc, [
        [/Enter Auth Username: $/, pki.user],
        [/Enter Auth Password: $/, pki.pass],
      ])
      const cli = await cliSession(proc, 30_000)
      expect(proc.output()).toContain(`Enter Auth Username: ${pki.user}`)
      expect(proc.output()).not.toContain(pki.pass)
      expect(server!.proc.output().slice(serverFrom)).toMatch(/TLS: Username\/Password authentication succeeded for username 'alice'/)
      await fetchThrough(cli, 'socks', 'bxp-socks')
      expect(dialer.connects.slice(before)).toEqual([`${SERVER_NAME}:${server!.port}`])
      expect(proc.output()).toContain(`via socks-proxy 127.0.0.1:${proxyPort}`)
    } catch (err) {
      logTails(proc, server!.proc)
      throw err
    } finally {
      await stopOnPty(proc)
    }
  }, 120_000)

  it('askpass typed at the prompt (encrypted <key>) and http-proxy login typed too (authfile stdin)', async () => {
    const e = env!
    const passphrase = 'key pass 42'
    const encKey = run('openssl', ['pkey', '-in', join(pki.dir, 'client.key'), '-aes-256-cbc', '-passout', `pass:${passphrase}`])
    expect(encKey).toContain('ENCRYPTED PRIVATE KEY')
    writeFileSync(join(e.tmp, 'vpn3.auth'), `${pki.user}\n${pki.pass}\n`, { mode: 0o600 })
    const plain = config('askpass-plain.ovpn', [`http-proxy 127.0.0.1 ${proxyPort} stdin basic`, 'askpass'], 'vpn3.auth')
    const cfg = writeClientOvpn(e.tmp, 'askpass.ovpn', readFileSync(plain, 'utf8').replace(pki.clientKey.trim(), encKey.trim()))
    expect(readFileSync(cfg, 'utf8')).not.toContain(pki.clientKey.trim())
    const before = dialer.connects.length
    const proc = startCliOnPty(cfg)
    try {
      await answerPrompts(proc, [
        [/Enter Private Key Password: $/, passphrase],
        [/Enter HTTP Proxy Username: $/, PROXY_USER],
        [/Enter HTTP Proxy Password: $/, PROXY_PASS],
      ])
      const cli = await cliSession(proc, 30_000)
      expect(proc.output()).toContain(`Enter HTTP Proxy Username: ${PROXY_USER}`)
      expect(proc.output()).not.toContain(passphrase)
      expect(proc.output()).not.toContain(PROXY_PASS)
      await fetchThrough(cli, 'http', 'bxp-askpass')
      expect(dialer.connects.slice(before)).toEqual([`${SERVER_NAME}:${server!.port}`])
    } catch (err) {
      logTails(proc, server!.proc)
      throw err
    } finally {
      await stopOnPty(proc)
    }
  }, 120_000)

  it('socks-proxy with proto udp (SOCKS5 UDP ASSOCIATE through the relay): 8 MB sha256-exact', async () => {
    const e = env!
    writeFileSync(join(e.tmp, 'socks-udp.auth'), `${PROXY_USER}\n${PROXY_PASS}\n`, { mode: 0o600 })
    const cfg = config('socks-udp.ovpn', [`socks-proxy 127.0.0.1 ${proxyPort} socks-udp.auth`], undefined, udpServer!, UDP_VARIANT)
    const sendsBefore = dialer.udpSends.length
    const connectsBefore = dialer.connects.length
    const cli = await startCli(cfg)
    try {
      const up = (await cli.proc.waitFor(/burrow-proxy: up: [^\n]*/, 10_000))[0]
      expect(up).toContain(`routes ${e.lan4.cidr}`)
      await fetchThrough(cli, 'socks', 'bxp-udp')
      // every datagram went through the relay, addressed to the server by name; no TCP connect
      const sends = dialer.udpSends.slice(sendsBefore)
      expect(sends.length).toBeGreaterThan(100)
      expect(new Set(sends)).toEqual(new Set([`${SERVER_NAME}:${udpServer!.port}`]))
      expect(dialer.connects.length).toBe(connectsBefore)
      expect(cli.output()).toMatch(new RegExp(`via socks-proxy 127\\.0\\.0\\.1:${proxyPort} \\(relay 127\\.0\\.0\\.1:\\d+\\)`))
      expect(udpServer!.proc.output()).not.toMatch(/AEAD Decrypt error|Authenticate\/Decrypt packet error|bad packet ID/)
    } catch (err) {
      logTails(cli, udpServer!.proc)
      throw err
    } finally {
      await cli.stop()
    }
  }, 120_000)

  it('a wrong proxy password is a clear error and a non-zero exit', async () => {
    writeFileSync(join(env!.tmp, 'bad.auth'), `${PROXY_USER}\nwrong\n`, { mode: 0o600 })
    writeFileSync(join(env!.tmp, 'vpn2.auth'), `${pki.user}\n${pki.pass}\n`, { mode: 0o600 })
    const cfg = config('bad-proxy.ovpn', [`http-proxy 127.0.0.1 ${proxyPort} bad.auth`], 'vpn2.auth')
    const proc = startProc(process.execPath, [cliPath(), '--config', cfg, '--http', '127.0.0.1:0', '--socks', 'off'])
    const code = await new Promise<number | null>((r) => proc.child.once('exit', (c) => r(c)))
    expect(proc.output()).toMatch(/407 Proxy Authentication Required for CONNECT vpn\.bxp\.invalid:1443.*the proxy rejected the username\/password/)
    expect(code).toBe(1)
  }, 60_000)
})
