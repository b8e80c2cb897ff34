// The tunnel through a real HTTP proxy that demands authentication: Debian's squid 5.7, started
// here as our own foreground process (-N) on a loopback port, with its own config, logs and pid
// file under a temp dir, and a hosts_file that alone maps the VPN server's name (so the name must
// reach squid unresolved, and squid's log shows the CONNECT by name). The built CLI's .ovpn says
// `http-proxy 127.0.0.1 PORT auto` with <http-proxy-user-pass>, and reaches a real openvpn 2.6 TLS
// server over TCP (harness createTlsLan / startTlsServer), moving 8 MB sha256-exact. Runs:
//  - Digest (squid digest_file_auth, realm with a password file): burrow answers the 407 with a
//    Digest response squid verifies; a wrong password ends the CLI with a clear error.
//  - Digest with no login in the .ovpn, the CLI on a pseudo-terminal: it asks for the login when
//    squid answers 407 (as OpenVPN's "auto" does), and the typed one is answered with.
//  - NTLM (squid's bundled ntlm_fake_auth helper), with squid named only in the remote's
//    <connection> block while the global http-proxy is a closed port: the real negotiate →
//    challenge → authenticate exchange on one kept-alive connection. ntlm_fake_auth accepts any credentials, so squid does
//    NOT verify the NTLMv2 response here; the MS-NLMP vectors in test/transport/ntlm.test.ts do.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { interopSkipReason, run, startProc, uniqueId, type Proc } from '../harness/netns.js'
import { patternSha256 } from '../harness/pattern.js'
import type { VpnLan } from '../harness/vpn-lan.js'
import { answerPrompts, startCliOnPty, stopOnPty } from '../harness/pty.js'
import { cliPath, cliSession, curlSha256, startCli, type CliSession } from '../harness/wg-server.js'
import { clientOvpnText, createTlsLan, startTlsServer, writeClientOvpn, type TlsPki, type TlsServer, type TlsVariant } from '../harness/ovpn-tls-e2e.js'

const SQUID = '/usr/sbin/squid'
const skip = interopSkipReason('openvpn-tls-squid (CLI → squid Digest/NTLM → openvpn 2.6 TCP)', ['openvpn', 'openssl', 'curl', 'dnsmasq', 'squid', 'script'])
const PREFIX = 'bxq'
const MB = 1024 * 1024
const SIZE = 8 * MB
const SERVER_NAME = `vpn-${uniqueId()}.bxq.invalid`
const USER = 'squiduser'
const PASS = 'sq.pass-1'

interface Squid {
  proc: Proc
  port: number
  dir: string
  accessLog(): string
}

async function freePort(): Promise<number> {
  const s = createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

/** squid in the foreground on 127.0.0.1, no cache, everything under its own dir (owned by "proxy"). */
async function startSquid(kind: 'digest' | 'ntlm', serverIp: string): Promise<Squid> {
  const dir = mkdtempSync(join(tmpdir(), `bxq-squid-${kind}-`))
  const port = await freePort()
  writeFileSync(join(dir, 'hosts'), `${serverIp} ${SERVER_NAME}\n`)
  writeFileSync(join(dir, 'passwd'), `${USER}:${PASS}\n`)
  const auth =
    kind === 'digest'
      ? [`auth_param digest program /usr/lib/squid/digest_file_auth ${join(dir, 'passwd')}`, 'auth_param digest realm bxq-realm', 'auth_param digest children 1 startup=1 idle=1']
      : ['auth_param ntlm program /usr/lib/squid/ntlm_fake_auth', 'auth_param ntlm children 1 startup=1 idle=1', 'auth_param ntlm keep_alive on']
  writeFileSync(
    join(dir, 'squid.conf'),
    [
      `http_port 127.0.0.1:${port}`,
      'icp_port 0',
      'htcp_port 0',
      'snmp_port 0',
      `pid_filename ${join(dir, 'squid.pid')}`,
      `cache_log ${join(dir, 'cache.log')}`,
      `access_log stdio:${join(dir, 'access.log')}`,
      'cache_store_log none',
      'cache deny all',
      'cache_mem 8 MB',
      `coredump_dir ${dir}`,
      `hosts_file ${join(dir, 'hosts')}`,
      'dns_nameservers 127.0.0.1',
      'shutdown_lifetime 0 seconds',
      ...auth,
      'acl authed proxy_auth REQUIRED',
      'http_access allow authed',
      'http_access deny all',
      '',
    ].join('\n'),
  )
  chmodSync(dir, 0o755)
  run('chown', ['-R', 'proxy:proxy', dir])
  const proc = startProc(SQUID, ['-N', '-d', '1', '-f', join(dir, 'squid.conf')])
  await proc.waitFor(/Accepting HTTP Socket connections/, 20_000)
  return { proc, port, dir, accessLog: () => readFileSync(join(dir, 'access.log'), 'utf8') }
}

let env: VpnLan | undefined
let pki: TlsPki
let server: TlsServer | undefined
const squids: Squid[] = []
const VARIANT: TlsVariant = { name: 'tls-crypt tcp via squid', proto: 'tcp', wrap: 'tls-crypt' }

beforeAll(async () => {
  if (skip) return
  ;({ env, pki } = await createTlsLan(PREFIX))
  server = await startTlsServer({ env, pki, variant: VARIANT, slot: 0, port: 1443, prefix: PREFIX })
}, 90_000)

afterAll(async () => {
  for (const s of squids) {
    await s.proc.kill('SIGTERM')
    rmSync(s.dir, { recursive: true, force: true })
  }
  await server?.stop()
  await env?.destroy()
})

/**
 * The exported client .ovpn pointed at the server by name through squid. With `deadGlobal`, the
 * global http-proxy is a closed port and squid is named only inside the remote's <connection>
 * block, so the tunnel comes up only if the block's own proxy wins.
 */
function config(name: string, user: string | null, pass: string, port: number, deadGlobal?: number): string {
  const e = env!
  const globalPort = deadGlobal ?? port
  // user null: no login in the config (the CLI asks for it when squid answers 407)
  const login = user === null ? [] : ['<http-proxy-user-pass>', user, pass, '</http-proxy-user-pass>']
  const text = clientOvpnText({ env: e, pki, variant: VARIANT, port: server!.port, extraLines: [`http-proxy 127.0.0.1 ${globalPort} auto`, ...login] })
  const remote = `remote ${e.serverIp} ${server!.port}`
  expect(text).toContain(remote)
  const mine = deadGlobal ? ['<connection>', `remote ${SERVER_NAME} ${server!.port}`, `http-proxy 127.0.0.1 ${port} auto`, '</connection>'].join('\n') : `remote ${SERVER_NAME} ${server!.port}`
  return writeClientOvpn(e.tmp, name, text.replace(remote, mine))
}

/** squid writes a CONNECT's access.log line once the tunnel has closed: wait a little for it. */
async function waitForLog(squid: Squid, re: RegExp): Promise<void> {
  for (let i = 0; i < 50 && !re.test(squid.accessLog()); i++) await new Promise((r) => setTimeout(r, 100))
  expect(squid.accessLog()).toMatch(re)
}

async function fetchThrough(cli: CliSession, seed: string): Promise<void> {
  const e = env!
  const url = `http://${e.dnsName}:${e.httpPort}/bytes?n=${SIZE}&seed=${seed}`
  const r = await curlSha256(['--socks5-hostname', `${cli.socks.host}:${cli.socks.port}`, url], { timeoutMs: 60_000 })
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  expect(r.bytes).toBe(SIZE)
  expect(r.sha256).toBe(patternSha256(SIZE, seed))
}

async function throughSquid(kind: 'digest' | 'ntlm', user: string, seed: string, inConnectionBlock = false): Promise<Squid> {
  const e = env!
  const squid = await startSquid(kind, e.serverIp)
  squids.push(squid)
  const cfg = config(`squid-${kind}.ovpn`, user, PASS, squid.port, inConnectionBlock ? await freePort() : undefined)
  if (inConnectionBlock) expect(readFileSync(cfg, 'utf8')).toMatch(/<connection>\nremote \S+ \d+\nhttp-proxy 127\.0\.0\.1 \d+ auto\n<\/connection>/)
  const cli = await startCli(cfg)
  try {
    const up = (await cli.proc.waitFor(/burrow-proxy: up: [^\n]*/, 20_000))[0]
    expect(up).toContain(`routes ${e.lan4.cidr}`)
    expect(cli.output()).toContain(`via http-proxy 127.0.0.1:${squid.port}`)
    await fetchThrough(cli, seed)
  } catch (err) {
    console.log(`CLI output:\n${cli.output().slice(-3000)}\nsquid:\n${squid.proc.output().slice(-3000)}\nserver:\n${server!.proc.output().slice(-2000)}`)
    throw err
  } finally {
    await cli.stop()
  }
  return squid
}

describe.skipIf(skip !== null)('OpenVPN TLS through squid with proxy authentication (CLI, real squid 5.7 + openvpn 2.6)', () => {
  it('the server name alone does not resolve from here (only squid knows it)', async () => {
    const { lookup } = await import('node:dns/promises')
    await expect(lookup(SERVER_NAME)).rejects.toThrow()
    await env!.assertIsolated()
  })

  it('http-proxy auto answering squid\'s Digest challenge: 8 MB sha256-exact; squid logs the CONNECT by name for the user', async () => {
    const squid = await throughSquid('digest', USER, 'bxq-digest')
    const log = squid.accessLog()
    expect(log).toMatch(new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT ${SERVER_NAME.replace(/\./g, '\\.')}:${server!.port} ${USER} `))
    expect(log).toMatch(/TCP_DENIED\/407 \d+ CONNECT/)
    // a wrong password: squid answers 407 again, the CLI exits 1 with a clear message
    const cfg = config('squid-digest-bad.ovpn', USER, 'wrong', squid.port)
    const proc = startProc(process.execPath, [cliPath(), '--config', cfg, '--http', '127.0.0.1:0', '--socks', 'off'])
    const code = await new Promise<number | null>((r) => proc.child.once('exit', (c) => r(c)))
    expect(proc.output()).toMatch(/407 Proxy Authentication Required for CONNECT .*the proxy rejected the username\/password \(Digest\)/)
    expect(code).toBe(1)
  }, 120_000)

  it('http-proxy auto with no login in the config: the CLI on a terminal asks for it when squid answers 407 (Digest), then 8 MB sha256-exact', async () => {
    const squid = await startSquid('digest', env!.serverIp)
    squids.push(squid)
    const cfg = config('squid-digest-ask.ovpn', null, PASS, squid.port)
    expect(readFileSync(cfg, 'utf8')).not.toContain('http-proxy-user-pass')
    const proc = startCliOnPty(cfg)
    try {
      await answerPrompts(proc, [
        [/Enter HTTP Proxy Username:/, USER],
        [/Enter HTTP Proxy Password:/, PASS],
      ])
      const cli = await cliSession(proc, 30_000)
      expect(proc.output()).not.toContain(PASS) // the password was not echoed
      await fetchThrough(cli, 'bxq-digest-ask')
    } catch (err) {
      console.log(`CLI output:\n${proc.output().slice(-3000)}\nsquid:\n${squid.proc.output().slice(-3000)}`)
      throw err
    } finally {
      await stopOnPty(proc)
    }
    // first CONNECT without a login (407), then the Digest answer with the typed one (squid logs
    // a tunnel when it closes)
    await waitForLog(squid, new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT ${SERVER_NAME.replace(/\./g, '\\.')}:${server!.port} ${USER} `))
    expect(squid.accessLog()).toMatch(/TCP_DENIED\/407 \d+ CONNECT/)
  }, 120_000)

  it('http-proxy auto in a <connection> block (the global http-proxy is dead) answering squid\'s NTLM challenge (ntlm_fake_auth: exchange only, response not verified): 8 MB sha256-exact', async () => {
    const squid = await throughSquid('ntlm', `BXQ\\${USER}`, 'bxq-ntlm', true)
    expect(squid.accessLog()).toMatch(new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT ${SERVER_NAME.replace(/\./g, '\\.')}:${server!.port} \\S*${USER}`))
  }, 120_000)
})
