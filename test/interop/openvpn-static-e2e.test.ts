// End to end, as a user runs it: a real `openvpn` 2.6 static-key server (openvpn(8) --secret) in a
// network namespace, a lan behind it (HTTP, UDP echo, dnsmasq; test/harness/vpn-lan.ts) that the
// root namespace cannot reach, a client .ovpn written to disk, and the built CLI
// (`node dist/cli/main.js --config client.ovpn`) started from the root namespace. Then, through its
// proxies: curl GET / 10 MB POST / CONNECT over the HTTP proxy (RFC 9110), a 100 MB download by
// name over SOCKS5 (RFC 1928, name resolved by the VPN's DNS), a SOCKS5 UDP ASSOCIATE round trip
// (RFC 1928 §7) and a datagram from a foreign local address that the relay must ignore.
//   UDP and TCP with AES-256-CBC/SHA256: the full list, then the server is restarted mid-session
//   and the running CLI must recover by itself (status lines "reconnecting" → "up") before the next
//   request succeeds. UDP and TCP with the auth default (SHA1): a GET through each proxy.
// Replay of a captured packet at the client is covered at packet level by openvpn-static.test.ts
// (counters openvpn.replay/openvpn.stale), not repeated here.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import dgram from 'node:dgram'
import { copyFileSync, existsSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { basename, join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { interopSkipReason, startProc, uniqueId, type Proc } from '../harness/netns.js'
import { keystream, patternSha256 } from '../harness/pattern.js'
import { startStaticServer, writeStaticClientOvpn } from '../harness/ovpn-static.js'
import { PAGE_MARKER, createVpnLan, type VpnLan } from '../harness/vpn-lan.js'

const skip = interopSkipReason('openvpn-static-e2e', ['openvpn', 'curl', 'dnsmasq'])
const ROOT = resolve(import.meta.dirname, '../..')
const CLI = join(ROOT, 'dist/cli/main.js')
const KEY = join(ROOT, 'fixtures/static.key')
const PORT = 1194
const MB = 1024 * 1024
const BIG = 100 * MB
const POST = 10 * MB

type ProtoName = 'udp' | 'tcp'
let env: VpnLan | undefined
let dev = ''

beforeAll(async () => {
  if (skip) return
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build (npm test builds first)`)
  env = await createVpnLan({ prefix: 'bpe' })
  dev = `bpet${uniqueId()}`.slice(0, 15)
  copyFileSync(KEY, join(env.tmp, 'static.key'))
  // a 10 MB body to POST, from the shared deterministic pattern
  writeFileSync(join(env.tmp, 'post.bin'), keystream('e2e-post')(POST))
}, 60_000)
afterAll(async () => {
  await env?.destroy()
})

function startServer(proto: ProtoName, auth: string | undefined): Proc {
  return startStaticServer({ env: env!, key: KEY, proto, port: PORT, auth, pingRestart: 5, dev })
}
const SERVER_READY = /UDPv4 link remote|Listening for incoming TCP connection/

/** The .ovpn a user would write (key file next to it, referenced relatively). */
function writeClientConfig(proto: ProtoName, auth: string | undefined): string {
  const e = env!
  return writeStaticClientOvpn(e.tmp, `client-${proto}-${auth ?? 'default'}.ovpn`, {
    env: e,
    secret: 'static.key',
    proto,
    host: e.serverIp,
    port: PORT,
    auth,
    pingRestart: 5,
    extra: ['connect-retry 1 2', 'verb 3', '# burrow-proxy e2e client (static key)'],
  })
}

interface Cli {
  proc: Proc
  http: string
  socks: string
}
async function startCli(config: string): Promise<Cli> {
  // run from the config's folder with a relative --config, as a user in that folder would
  const proc = startProc('node', [CLI, '--config', basename(config), '--http', '127.0.0.1:0', '--socks', '127.0.0.1:0'], { cwd: env!.tmp })
  const h = await proc.waitFor(/HTTP proxy on (127\.0\.0\.1:\d+)/, 20_000)
  const s = await proc.waitFor(/SOCKS5\/SOCKS4 proxy on (127\.0\.0\.1:\d+)/, 5_000)
  return { proc, http: h[1], socks: s[1] }
}

interface CurlResult {
  code: number | null
  stdout: Buffer
  stderr: string
  bytes: number
  sha256: string
  ms: number
}
/** Run curl asynchronously (the event loop keeps draining the CLI's output), hashing stdout. */
function curl(args: string[], timeoutMs = 60_000): Promise<CurlResult> {
  return new Promise((res) => {
    const t0 = performance.now()
    const c = spawn('curl', ['-sS', '--max-time', String(Math.ceil(timeoutMs / 1000)), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const h = createHash('sha256')
    const keep: Buffer[] = []
    let kept = 0
    let bytes = 0
    let stderr = ''
    c.stdout.on('data', (d: Buffer) => {
      bytes += d.length
      h.update(d)
      if (kept < 64 * 1024) {
        keep.push(d)
        kept += d.length
      }
    })
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    c.on('close', (code) => res({ code, stdout: Buffer.concat(keep), stderr, bytes, sha256: h.digest('hex'), ms: performance.now() - t0 }))
  })
}

/** Minimal RFC 1928 UDP ASSOCIATE client: the TCP control connection plus a local UDP socket. */
async function udpAssociate(socks: string): Promise<{ relay: { host: string; port: number }; close(): void }> {
  const [host, port] = socks.split(':')
  const ctl = net.connect({ host, port: Number(port) })
  ctl.on('error', () => {})
  let buf = Buffer.alloc(0)
  const need = (n: number) =>
    new Promise<Buffer>((res, rej) => {
      const check = () => {
        if (buf.length >= n) {
          const out = buf.subarray(0, n)
          buf = buf.subarray(n)
          ctl.off('data', onData)
          ctl.off('close', onClose)
          res(out)
        }
      }
      const onData = (d: Buffer) => ((buf = Buffer.concat([buf, d])), check())
      const onClose = () => rej(new Error('socks control connection closed'))
      ctl.on('data', onData)
      ctl.on('close', onClose)
      check()
    })
  await new Promise<void>((res, rej) => ctl.once('connect', res).once('error', rej))
  ctl.write(Buffer.from([5, 1, 0]))
  expect([...(await need(2))]).toEqual([5, 0])
  // DST.ADDR/PORT 0.0.0.0:0: "the client does not know yet" (§6); the relay learns it from the first datagram
  ctl.write(Buffer.from([5, 3, 0, 1, 0, 0, 0, 0, 0, 0]))
  const r = await need(10)
  expect(r[1]).toBe(0) // succeeded
  expect(r[3]).toBe(1) // IPv4 bound address
  return { relay: { host: [...r.subarray(4, 8)].join('.'), port: r.readUInt16BE(8) }, close: () => ctl.destroy() }
}

function udpFrame(ip: string, port: number, payload: Buffer): Buffer {
  const h = Buffer.from([0, 0, 0, 1, ...ip.split('.').map(Number), port >> 8, port & 0xff])
  return Buffer.concat([h, payload])
}

async function udpSocket(bindIp: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((res) => s.bind(0, bindIp, res))
  return s
}

/** Send one framed datagram and wait for a framed reply carrying `payload` back; null on timeout. */
function udpRoundTrip(s: dgram.Socket, relay: { host: string; port: number }, frame: Buffer, payload: Buffer, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((res) => {
    const onMsg = (m: Buffer) => {
      // reply header: RSV(2) FRAG ATYP=1 ADDR(4) PORT(2)
      if (m.length >= 10 && m[3] === 1 && m.subarray(10).equals(payload)) done(m)
    }
    const t = setTimeout(() => done(null), timeoutMs)
    const done = (v: Buffer | null) => {
      clearTimeout(t)
      s.off('message', onMsg)
      res(v)
    }
    s.on('message', onMsg)
    s.send(frame, relay.port, relay.host)
  })
}

async function checkGetBoth(cli: Cli): Promise<void> {
  const e = env!
  const viaHttp = await curl(['-x', `http://${cli.http}`, e.url('/')], 30_000)
  expect(viaHttp.stderr).toBe('')
  expect(viaHttp.stdout.toString()).toContain(PAGE_MARKER)
  const viaSocks = await curl(['--socks5-hostname', cli.socks, `http://${e.dnsName}:${e.httpPort}/`], 30_000)
  expect(viaSocks.stderr).toBe('')
  expect(viaSocks.stdout.toString()).toContain(PAGE_MARKER)
}

async function fullSuite(cli: Cli, label: string): Promise<void> {
  const e = env!
  const proxy = ['-x', `http://${cli.http}`]
  // GET (absolute-form request through the HTTP proxy)
  const get = await curl([...proxy, e.url('/')])
  expect(get.stderr).toBe('')
  expect(get.stdout.toString()).toContain(PAGE_MARKER)
  // 10 MB POST: the server echoes the sha256 of what it received
  const post = await curl([...proxy, '--data-binary', `@${join(e.tmp, 'post.bin')}`, '-H', 'content-type: application/octet-stream', e.url('/upload')])
  expect(post.stderr).toBe('')
  expect(post.stdout.toString().trim()).toBe(`sha256 ${POST} ${patternSha256(POST, 'e2e-post')}`)
  console.log(`[${label}] 10 MB POST via HTTP proxy: ${(post.ms / 1000).toFixed(2)} s`)
  // CONNECT tunnel (-p)
  const conn = await curl(['-p', ...proxy, e.url('/')])
  expect(conn.stderr).toBe('')
  expect(conn.stdout.toString()).toContain(PAGE_MARKER)
  // 100 MB by name over SOCKS5 (the name resolves only through the VPN's DNS)
  const big = await curl(['--socks5-hostname', cli.socks, `http://${e.dnsName}:${e.httpPort}/bytes?n=${BIG}&seed=e2e-${label}`], 120_000)
  expect(big.stderr).toBe('')
  expect(big.bytes).toBe(BIG)
  expect(big.sha256).toBe(patternSha256(BIG, `e2e-${label}`))
  console.log(`[${label}] 100 MB via SOCKS5 by name: ${(big.ms / 1000).toFixed(2)} s, ${((BIG * 8) / big.ms / 1000).toFixed(0)} Mbit/s`)
  expect(e.dnsmasq!.output()).toMatch(new RegExp(`query\\[A\\] ${e.dnsName.replace('.', '\\.')} from ${e.tunnel.v4(2).replace(/\./g, '\\.')}`))

  // SOCKS5 UDP ASSOCIATE: echo through the tunnel; a datagram from another local address is ignored
  const assoc = await udpAssociate(cli.socks)
  const mine = await udpSocket('127.0.0.1')
  const foreign = await udpSocket('127.0.0.2')
  try {
    const tag = `${label}-${uniqueId()}`
    const early = Buffer.from(`foreign-before-${tag}`)
    const foreignEarly = udpRoundTrip(foreign, assoc.relay, udpFrame(e.lanIp, e.udpPort, early), early, 1500)
    let echoed: Buffer | null = null
    for (let i = 0; i < 3 && !echoed; i++) {
      const p = Buffer.from(`hello-${i}-${tag}`)
      echoed = await udpRoundTrip(mine, assoc.relay, udpFrame(e.lanIp, e.udpPort, p), p, 3000)
    }
    expect(echoed).not.toBeNull()
    expect(echoed!.subarray(4, 8).join('.')).toBe(e.lanIp) // reply names the echo server
    expect(echoed!.readUInt16BE(8)).toBe(e.udpPort)
    const late = Buffer.from(`foreign-after-${tag}`)
    expect(await udpRoundTrip(foreign, assoc.relay, udpFrame(e.lanIp, e.udpPort, late), late, 1500)).toBeNull()
    expect(await foreignEarly).toBeNull()
    // the association still works, and the echo server never saw the foreign datagrams
    const again = Buffer.from(`again-${tag}`)
    expect(await udpRoundTrip(mine, assoc.relay, udpFrame(e.lanIp, e.udpPort, again), again, 3000)).not.toBeNull()
    expect(e.services.output()).toContain(`hello-0-${tag}`)
    expect(e.services.output()).not.toContain(`foreign-before-${tag}`)
    expect(e.services.output()).not.toContain(`foreign-after-${tag}`)
  } finally {
    mine.close()
    foreign.close()
    assoc.close()
  }
}

async function waitForLine(p: Proc, re: RegExp, from: number, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    const m = p.output().slice(from).match(re)
    if (m) return m[0]
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timeout waiting for ${re}; CLI output:\n${p.output().slice(-3000)}`)
}

describe.skipIf(!!skip)('burrow-proxy CLI ⇄ OpenVPN 2.6 static-key server, end to end', () => {
  it('the root namespace cannot reach the lan directly', async () => {
    await env!.assertIsolated()
  })

  for (const proto of ['udp', 'tcp'] as const) {
    it(`${proto}, AES-256-CBC + SHA256: GET, 10 MB POST, CONNECT, 100 MB by name over SOCKS5, UDP ASSOCIATE; server restart → recovery`, async () => {
      let server = startServer(proto, 'SHA256')
      let cli: Cli | undefined
      try {
        await server.waitFor(SERVER_READY, 15_000)
        cli = await startCli(writeClientConfig(proto, 'SHA256'))
        const up = await cli.proc.waitFor(/up: .*/, 20_000)
        expect(up[0]).toContain(`address ${env!.tunnel.v4(2)}/32`)
        expect(up[0]).toMatch(new RegExp(`routes [^;]*${env!.lan4.cidr.replace(/\./g, "\\.")}`))
        expect(up[0]).toContain(`dns ${env!.lanIp}`)
        await fullSuite(cli, `${proto}-sha256`)

        // Restart the server mid-session: the CLI must recover by itself.
        const mark = cli.proc.output().length
        await server.kill()
        const reconnecting = await waitForLine(cli.proc, /reconnecting[^\n]*/, mark, 15_000)
        const since = cli.proc.output().indexOf(reconnecting, mark)
        server = startServer(proto, 'SHA256')
        await server.waitFor(SERVER_READY, 15_000)
        // UDP static key has no handshake: the client reports "up" as soon as its new socket exists
        await waitForLine(cli.proc, /up: [^\n]*/, since, 20_000)
        // the next request succeeds (TCP: first tunnel packet after reconnect may race the server's accept)
        await checkGetBoth(cli)
        expect(server.output()).not.toMatch(/bad packet ID|Authenticate\/Decrypt packet error/)
        expect(cli.proc.child.exitCode).toBeNull()
      } finally {
        await cli?.proc.kill()
        await server.kill()
      }
    }, 240_000)
  }

  for (const proto of ['udp', 'tcp'] as const) {
    it(`${proto}, AES-256-CBC + default auth (SHA1): GET through the HTTP and SOCKS5 proxies`, async () => {
      const server = startServer(proto, undefined)
      let cli: Cli | undefined
      try {
        await server.waitFor(SERVER_READY, 15_000)
        cli = await startCli(writeClientConfig(proto, undefined))
        await cli.proc.waitFor(/up: /, 20_000)
        await checkGetBoth(cli)
        const conn = await curl(['-p', '-x', `http://${cli.http}`, env!.url('/')])
        expect(conn.stdout.toString()).toContain(PAGE_MARKER)
        expect(server.output()).not.toMatch(/Authenticate\/Decrypt packet error/)
      } finally {
        await cli?.proc.kill()
        await server.kill()
      }
    }, 60_000)
  }
})
