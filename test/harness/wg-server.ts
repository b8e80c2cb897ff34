// Test scaffolding: a real WireGuard peer (wireguard-go 0.0.20220316, configured with `wg setconf`,
// never wg-quick up) inside a test network namespace, for interop tests and benchmarks. Keys come
// from `wg genkey`/`wg pubkey`/`wg genpsk`, so they are independent of the code under test.
// The interface name is unique machine-wide (the UAPI socket directory /var/run/wireguard is
// shared by all namespaces); the process runs in the foreground and is killed by PID.
// Never used by the product.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { addRootRoute, run, startProc, subnetFor, uniqueId, type Netns, type Proc } from './netns.js'
import type { VpnLan } from './vpn-lan.js'

export interface WgKeyPair {
  privateKey: string
  publicKey: string
}

/** A fresh Curve25519 key pair (base64, as wg-quick files carry them), made by `wg`. */
export function wgKeyPair(): WgKeyPair {
  const privateKey = run('wg', ['genkey']).trim()
  const publicKey = run('wg', ['pubkey'], { input: `${privateKey}\n` }).trim()
  return { privateKey, publicKey }
}

/** A fresh preshared key (base64), made by `wg genpsk`. */
export function wgPresharedKey(): string {
  return run('wg', ['genpsk']).trim()
}

export interface WgServerPeer {
  publicKey: string
  presharedKey?: string
  /** CIDRs routed to this peer (its tunnel addresses), e.g. ["10.1.2.2/32", "fd00::2/128"]. */
  allowedIps: string[]
  /** host:port, only when the server should initiate. */
  endpoint?: string
  persistentKeepalive?: number
}

export interface WgServerOptions {
  /** Namespace the server runs in. */
  ns: Netns
  /** Interface-name prefix (3–5 letters naming the test); uniqueId() is appended. */
  prefix: string
  /** UDP listen port. */
  port: number
  /** Addresses of the server's tunnel interface, CIDR (v4 and/or v6), e.g. "10.1.2.1/24". */
  addresses: string[]
  peers: WgServerPeer[]
  /** Directory for the generated `wg setconf` file. */
  dir: string
  /** Server key pair (default: a new one). */
  keys?: WgKeyPair
  /** MTU of the server's interface (default: wireguard-go's 1420). */
  mtu?: number
  /** wireguard-go LOG_LEVEL (default "error"). */
  logLevel?: 'error' | 'verbose' | 'silent'
}

export interface WgPeerStatus {
  publicKey: string
  endpoint: string | null
  /** Unix seconds of the latest completed handshake; 0 = none. */
  latestHandshake: number
  rxBytes: number
  txBytes: number
}

export interface WgServer {
  readonly ifname: string
  readonly keys: WgKeyPair
  readonly port: number
  /** The current wireguard-go process. */
  readonly proc: Proc
  /** `wg show IFNAME dump`, parsed: one entry per peer. */
  status(): WgPeerStatus[]
  /** Kill wireguard-go (by PID) and start a new process with the same keys, peers and addresses. */
  restart(): Promise<void>
  stop(): Promise<void>
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`wg-server: timeout waiting for ${what}`)
    await sleep(20)
  }
}

/** The `wg setconf` text for a server (no wg-quick-only keys such as Address or DNS). */
export function wgSetconfText(o: Pick<WgServerOptions, 'port' | 'peers'> & { privateKey: string }): string {
  const lines = ['[Interface]', `PrivateKey = ${o.privateKey}`, `ListenPort = ${o.port}`]
  for (const p of o.peers) {
    lines.push('', '[Peer]', `PublicKey = ${p.publicKey}`)
    if (p.presharedKey) lines.push(`PresharedKey = ${p.presharedKey}`)
    if (p.endpoint) lines.push(`Endpoint = ${p.endpoint}`)
    if (p.persistentKeepalive) lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`)
    lines.push(`AllowedIPs = ${p.allowedIps.join(', ')}`)
  }
  return `${lines.join('\n')}\n`
}

/** A user's wg-quick client file: [Interface] with Address (and DNS), one [Peer]. */
export function wgClientConfText(o: {
  privateKey: string
  addresses: string[]
  dns?: string[]
  peer: { publicKey: string; presharedKey?: string; endpoint: string; allowedIps: string[] }
}): string {
  const lines = ['[Interface]', `PrivateKey = ${o.privateKey}`, `Address = ${o.addresses.join(', ')}`]
  if (o.dns?.length) lines.push(`DNS = ${o.dns.join(', ')}`)
  lines.push('', '[Peer]', `PublicKey = ${o.peer.publicKey}`)
  if (o.peer.presharedKey) lines.push(`PresharedKey = ${o.peer.presharedKey}`)
  lines.push(`Endpoint = ${o.peer.endpoint}`, `AllowedIPs = ${o.peer.allowedIps.join(', ')}`)
  return `${lines.join('\n')}\n`
}

/** Parse `wg show IFNAME dump` (tab-separated; first line is the interface). */
export function parseWgDump(dump: string): WgPeerStatus[] {
  return dump
    .trim()
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const f = l.split('\t')
      return {
        publicKey: f[0],
        endpoint: f[2] === '(none)' ? null : f[2],
        latestHandshake: Number(f[4]),
        rxBytes: Number(f[5]),
        txBytes: Number(f[6]),
      }
    })
}

/**
 * Start wireguard-go in `ns` and configure it. Root only (callers check interopSkipReason).
 * The interface is `${prefix}w${uniqueId()}` (≤ 15 chars).
 */
export async function startWgServer(o: WgServerOptions): Promise<WgServer> {
  const ifname = `${o.prefix}w${uniqueId()}`.slice(0, 15)
  const keys = o.keys ?? wgKeyPair()
  const conf = join(o.dir, `${ifname}.conf`)
  writeFileSync(conf, wgSetconfText({ ...o, privateKey: keys.privateKey }), { mode: 0o600 })
  const sock = `/var/run/wireguard/${ifname}.sock`

  const launch = async (): Promise<Proc> => {
    const p = o.ns.spawn('wireguard-go', ['-f', ifname], { env: { ...process.env, LOG_LEVEL: o.logLevel ?? 'error' } })
    try {
      await until(() => existsSync(sock) || p.child.exitCode !== null, 10_000, `${ifname} UAPI socket`)
      if (!existsSync(sock)) throw new Error(`wireguard-go exited: ${p.output().slice(-1000)}`)
      o.ns.exec('wg', ['setconf', ifname, conf])
      for (const a of o.addresses) {
        o.ns.exec('ip', [...(a.includes(':') ? ['-6'] : []), 'addr', 'add', a, 'dev', ifname, ...(a.includes(':') ? ['nodad'] : [])])
      }
      if (o.mtu) o.ns.exec('ip', ['link', 'set', ifname, 'mtu', String(o.mtu)])
      o.ns.exec('ip', ['link', 'set', ifname, 'up'])
    } catch (e) {
      await p.kill()
      throw e
    }
    return p
  }
  const kill = async (p: Proc): Promise<void> => {
    await p.kill()
    // wireguard-go removes its socket and the interface on SIGTERM; make sure both are gone
    // before a new process takes the same name.
    await until(() => !existsSync(sock), 5_000, `${ifname} UAPI socket removal`).catch(() => {
      run('rm', ['-f', sock], { allowFail: true })
    })
    o.ns.exec('ip', ['link', 'del', ifname], { allowFail: true })
  }

  let proc = await launch()
  let stopped = false
  return {
    ifname,
    keys,
    port: o.port,
    get proc() {
      return proc
    },
    status: () => parseWgDump(o.ns.exec('wg', ['show', ifname, 'dump'])),
    async restart() {
      await kill(proc)
      proc = await launch()
    },
    async stop() {
      if (stopped) return
      stopped = true
      await kill(proc)
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Client-side tools shared by the WireGuard end-to-end tests and the benchmark: the built CLI as a
// user runs it, curl with a streaming sha256 of what it received, an IPv6 leg for the vpn-lan
// topology, and a dual-stack lan HTTP service with a paced (rate-limited) body.

const harnessDir = dirname(fileURLToPath(import.meta.url))

/** dist/cli/main.js, from test/harness (vitest) or from a compiled copy under build/. */
export function cliPath(): string {
  for (const p of [resolve(harnessDir, '../../dist/cli/main.js'), resolve(harnessDir, '../../../dist/cli/main.js')]) {
    if (existsSync(p)) return p
  }
  throw new Error(`dist/cli/main.js not found near ${harnessDir}: run \`npm run build\` first`)
}

export interface CliSession {
  proc: Proc
  http: { host: string; port: number }
  socks: { host: string; port: number }
  /** Status lines printed so far. */
  output(): string
  stop(): Promise<void>
}

/** Start `node dist/cli/main.js --config FILE --http 127.0.0.1:0 --socks 127.0.0.1:0 …` and wait for both proxies. */
export async function startCli(config: string, extraArgs: string[] = [], timeoutMs = 30_000): Promise<CliSession> {
  // BURROW_CLI_NODE_ARGS: extra node flags for the CLI only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"
  // to profile it in a benchmark (node refuses --cpu-prof in NODE_OPTIONS)
  const nodeArgs = (process.env.BURROW_CLI_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const proc = startProc(process.execPath, [...nodeArgs, cliPath(), '--config', config, '--http', '127.0.0.1:0', '--socks', '127.0.0.1:0', ...extraArgs], {
    env: { ...process.env, FORCE_COLOR: '0' },
  })
  return cliSession(proc, timeoutMs)
}

/** Wait for a started CLI (or session script) to print both proxy addresses; kills it on failure. */
export async function cliSession(proc: Proc, timeoutMs: number): Promise<CliSession> {
  try {
    const h = await proc.waitFor(/HTTP proxy on ([\d.]+):(\d+)/, timeoutMs)
    const s = await proc.waitFor(/SOCKS5\/SOCKS4 proxy on ([\d.]+):(\d+)/, timeoutMs)
    return {
      proc,
      http: { host: h[1], port: Number(h[2]) },
      socks: { host: s[1], port: Number(s[2]) },
      output: () => proc.output(),
      stop: () => proc.kill('SIGTERM'),
    }
  } catch (e) {
    await proc.kill('SIGKILL')
    throw e
  }
}

export interface Fetched {
  /** curl's exit code. */
  code: number
  bytes: number
  sha256: string
  ms: number
  stderr: string
  mbps: number
  /** Longest pause between two chunks of the body (ms): a stall shows here. */
  maxGapMs: number
}

/** Run curl (in `ns` when given) with the body on stdout, hashing it as it streams. */
export function curlSha256(args: string[], opts: { ns?: Netns; timeoutMs?: number } = {}): Promise<Fetched> {
  const argv = ['-sS', '--fail', '-o', '-', ...args]
  const child = opts.ns ? spawn('ip', ['netns', 'exec', opts.ns.name, 'curl', ...argv]) : spawn('curl', argv)
  const h = createHash('sha256')
  let bytes = 0
  let stderr = ''
  const t0 = performance.now()
  let last = 0
  let maxGapMs = 0
  child.stdout.on('data', (d: Buffer) => {
    const now = performance.now()
    if (bytes > 0) maxGapMs = Math.max(maxGapMs, now - last)
    last = now
    bytes += d.length
    h.update(d)
  })
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000)
  return new Promise((res, rej) => {
    child.once('error', rej)
    child.once('close', (code) => {
      clearTimeout(timer)
      const ms = performance.now() - t0
      res({ code: code ?? -1, bytes, sha256: h.digest('hex'), ms, stderr, mbps: (bytes * 8) / ms / 1000, maxGapMs })
    })
  })
}

export interface V6Leg {
  /** The lan host's IPv6 address and its /64. */
  lanIp6: string
  lan6Cidr: string
  /** A /64 for the tunnel's inner IPv6 addresses (the lan routes it back via the vpn namespace). */
  tunnel6: { v6(host: number): string; cidr: string }
  remove(): void
}

/** The interface in `ns` that carries IPv4 address `ip`. */
function ifaceWith(ns: Netns, ip: string): string {
  for (const l of ns.exec('ip', ['-o', '-4', 'addr', 'show']).split('\n')) {
    const f = l.trim().split(/\s+/)
    if (f[3]?.startsWith(`${ip}/`)) return f[1]
  }
  throw new Error(`no interface with ${ip} in ${ns.name}`)
}

/**
 * Give a vpn-lan topology an IPv6 leg: addresses on the vpn⇄lan link, forwarding in the vpn
 * namespace, the lan's route back to the tunnel /64, and an `unreachable` route for the lan /64 in
 * the root namespace (so only a tunnel reaches it). `index` picks subnetFor blocks (two are used).
 */
export function addV6Leg(env: Pick<VpnLan, 'vpn' | 'lan' | 'lanIp' | 'lan4'>, index: number): V6Leg {
  const lan6 = subnetFor(index)
  const t6 = subnetFor(index + 1)
  const cidr = (s: typeof lan6) => `${s.v6(0)}/64`
  const vpnIf = ifaceWith(env.vpn, env.lan4.v4(1))
  const lanIf = ifaceWith(env.lan, env.lanIp)
  env.vpn.exec('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1'])
  env.vpn.exec('ip', ['-6', 'addr', 'add', `${lan6.v6(1)}/64`, 'dev', vpnIf, 'nodad'])
  env.lan.exec('ip', ['-6', 'addr', 'add', `${lan6.v6(2)}/64`, 'dev', lanIf, 'nodad'])
  env.lan.exec('ip', ['-6', 'route', 'add', cidr(t6), 'via', lan6.v6(1)])
  const remove = addRootRoute(6, ['unreachable', cidr(lan6)], cidr(lan6))
  return { lanIp6: lan6.v6(2), lan6Cidr: cidr(lan6), tunnel6: { v6: t6.v6, cidr: cidr(t6) }, remove }
}

// Same keystream as pattern.ts (AES-128-CTR under sha256("burrow-pattern-" + seed)[0..16]).
const LAN_HTTP = `
const { createCipheriv, createHash } = require('node:crypto')
const http = require('node:http')
const [port] = process.argv.slice(1)
const CHUNK = 64 * 1024
function keystream(seed) {
  const key = createHash('sha256').update('burrow-pattern-' + seed).digest().subarray(0, 16)
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(CHUNK)
  return (n) => c.update(zeros.subarray(0, n))
}
http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x')
  const n = Number(u.searchParams.get('n') || '0')
  const seed = u.searchParams.get('seed') || '0'
  const sec = Number(u.searchParams.get('sec') || '0')
  if (u.pathname !== '/bytes' || !Number.isSafeInteger(n) || n < 0) return void res.writeHead(404).end()
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) })
  const next = keystream(seed)
  let left = n
  let gone = false
  res.on('close', () => (gone = true))
  const t0 = Date.now()
  const go = () => {
    while (left > 0 && !gone) {
      // paced: never ahead of n * elapsed / sec
      if (sec > 0 && n - left >= (n * (Date.now() - t0)) / (sec * 1000)) return void setTimeout(go, 50)
      const k = Math.min(CHUNK, left)
      left -= k
      if (!res.write(next(k))) return void res.once('drain', go)
    }
    if (!gone) res.end(() => console.log('sent ' + n + ' to ' + req.socket.remoteAddress + ' in ' + (Date.now() - t0) + ' ms'))
  }
  go()
}).listen({ port: Number(port), host: '::', ipv6Only: false }, () => console.log('ready ' + port))
`

/**
 * A dual-stack HTTP service in `ns` on [::]:port: GET /bytes?n=N&seed=S[&sec=T] answers N bytes
 * of pattern(S) (see pattern.ts), paced evenly over T seconds when T is given. Prints
 * "sent N to CLIENTADDR in MS ms" after each complete body.
 */
export async function startLanHttp(ns: Netns, port: number): Promise<Proc> {
  const p = ns.spawn(process.execPath, ['-e', LAN_HTTP, String(port)])
  await p.waitFor(/ready/, 10_000)
  return p
}
