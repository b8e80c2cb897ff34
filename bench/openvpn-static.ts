// OpenVPN static-key (openvpn(8) --secret, AES-256-CBC + HMAC-SHA256) download benchmark: one
// 100 MB HTTP download, single TCP stream, from the lan behind a real `openvpn` 2.6 server
// (test/harness/vpn-lan.ts), measured two ways against the same server process in the same run:
//   burrow: the built CLI (dist/cli/main.js) in the root namespace, curl --socks5-hostname through
//           its SOCKS5 proxy (name resolved by dnsmasq behind the VPN);
//   native: the `openvpn` client with a kernel TUN in its own namespace, curl in that namespace.
// Over UDP and over TCP, four rounds in ABBA order (best of each side; --quick: one round). Each
// side first moves WARMUP_BYTES on its fresh tunnel (bench/types.ts), then the measured 100 MB.
// Rows: burrow Mbit/s with the native figure as baseline (ratio ≥ 1.0 is the target).
// Everything shares the machine's CPUs: compare ratios, not absolutes.
import { copyFileSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startProc, uniqueId, which, type Netns, type Proc } from '../test/harness/netns.js'
import { startStaticServer, writeStaticClientOvpn } from '../test/harness/ovpn-static.js'
import { createVpnLan, type VpnLan } from '../test/harness/vpn-lan.js'
import { comparisonRounds, WARMUP_BYTES, type BenchContext, type BenchModule, type BenchRow } from './types.js'
import { curlSpeed, type CurlSpeed } from './curl.js'

const PORT = 1194
type ProtoName = 'udp' | 'tcp'

/** The repository root (this file runs from bench/ or compiled from build/bench/). */
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'fixtures'))) return d
    d = resolve(d, '..')
  }
  throw new Error('openvpn-static bench: repository root not found')
}

// one server for both clients, one after the other: --float follows the peer's new address (UDP)
const startServer = (env: VpnLan, key: string, proto: ProtoName, dev: string): Proc =>
  startStaticServer({ env, key, proto, port: PORT, auth: 'SHA256', float: proto === 'udp', dev })
const SERVER_READY = /UDPv4 link remote|Listening for incoming TCP connection/

async function waitForCount(p: Proc, re: RegExp, n: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while ((p.output().match(re)?.length ?? 0) < n) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${n}× ${re}: ${p.output().slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function burrowDownload(env: VpnLan, root: string, proto: ProtoName, bytes: number): Promise<CurlSpeed> {
  const cfg = writeStaticClientOvpn(env.tmp, `bench-${proto}.ovpn`, { env, secret: 'static.key', proto, host: env.serverIp, port: PORT, auth: 'SHA256' })
  const nodeArgs = (process.env.BURROW_CLI_NODE_ARGS ?? '').split(' ').filter(Boolean) // e.g. --cpu-prof, see README
  const cli = startProc('node', [...nodeArgs, join(root, 'dist/cli/main.js'), '--config', cfg, '--http', 'off', '--socks', '127.0.0.1:0'], { cwd: env.tmp })
  try {
    await cli.waitFor(/burrow-proxy: up: /, 20_000)
    const socks = (await cli.waitFor(/SOCKS5\/SOCKS4 proxy on (127\.0\.0\.1:\d+)/, 10_000))[1]
    const url = `http://${env.dnsName}:${env.httpPort}/bytes?n=${bytes}&seed=bench`
    // a small request first (name lookup, TCP over a fresh tunnel), the warm-up, then the measured one
    await curlSpeed(['--socks5-hostname', socks, `http://${env.dnsName}:${env.httpPort}/`])
    await curlSpeed(['--socks5-hostname', socks, `http://${env.dnsName}:${env.httpPort}/bytes?n=${WARMUP_BYTES}&seed=warmup`])
    return await curlSpeed(['--socks5-hostname', socks, url])
  } finally {
    await cli.kill()
  }
}

async function nativeDownload(env: VpnLan, clientNs: Netns, key: string, proto: ProtoName, bytes: number): Promise<CurlSpeed> {
  const dev = `bpec${uniqueId()}`.slice(0, 15)
  const client = clientNs.spawn('openvpn', [
    '--disable-dco',
    '--dev-type', 'tun', '--dev', dev,
    '--ifconfig', env.tunnel.v4(2), env.tunnel.v4(1),
    '--secret', key, '1',
    '--cipher', 'AES-256-CBC', '--auth', 'SHA256',
    '--proto', proto === 'udp' ? 'udp' : 'tcp-client',
    '--remote', env.serverIp, String(PORT),
    '--nobind',
    '--route', env.lan4.network, env.lan4.mask,
    '--ping', '1', '--ping-restart', '10',
    '--verb', '3',
  ])
  try {
    await client.waitFor(/Initialization Sequence Completed/, 20_000)
    await curlSpeed(['--retry', '5', '--retry-connrefused', '--retry-delay', '1', env.url('/')], clientNs, 30)
    await curlSpeed([env.url(`/bytes?n=${WARMUP_BYTES}&seed=warmup`)], clientNs)
    return await curlSpeed([env.url(`/bytes?n=${bytes}&seed=bench`)], clientNs)
  } finally {
    await client.kill()
  }
}

export const openvpnStaticBench: BenchModule = {
  name: 'openvpn-static',
  skipReason(ctx: BenchContext): string | null {
    if (!ctx.root) return 'needs root (network namespaces; kernel TUN for the native openvpn client)'
    if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun'
    const missing = ['openvpn', 'curl', 'dnsmasq', 'ip'].filter((b) => !which(b))
    if (missing.length) return `needs ${missing.join(', ')} (scripts/install-peers.sh)`
    try {
      if (!existsSync(join(repoRoot(), 'dist/cli/main.js'))) return 'dist/cli/main.js missing: run npm run build'
    } catch (e) {
      return (e as Error).message
    }
    return null
  },
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const root = repoRoot()
    const bytes = ctx.quick ? 20 * 1024 * 1024 : 100 * 1024 * 1024
    const rounds = comparisonRounds<'burrow' | 'native'>(ctx.quick, 'burrow', 'native')
    const env = await createVpnLan({ prefix: 'bpe' })
    const rows: BenchRow[] = []
    try {
      const key = join(env.tmp, 'static.key')
      copyFileSync(join(root, 'fixtures/static.key'), key)
      const clientNs = env.addClientNs()
      await env.assertIsolated()
      for (const proto of ['udp', 'tcp'] as const) {
        const server = startServer(env, key, proto, `bpes${uniqueId()}`.slice(0, 15))
        try {
          await server.waitFor(SERVER_READY, 15_000)
          // Rounds in ABBA order (the machine is shared: load drifts), best of each side.
          const best = { burrow: 0, native: 0 }
          const cpu = { burrow: NaN, native: NaN }
          let clientsSoFar = 0
          for (const order of rounds) {
            for (const who of order) {
              // TCP: the server restarts its listener each time a client leaves
              if (proto === 'tcp') await waitForCount(server, /Listening for incoming TCP connection/g, clientsSoFar + 1, 15_000)
              ctx.log(`${proto}: ${who === 'burrow' ? 'burrow CLI, curl --socks5-hostname' : 'native openvpn client (kernel TUN), curl'}, ${bytes / 1048576} MB`)
              const r = who === 'burrow' ? await burrowDownload(env, root, proto, bytes) : await nativeDownload(env, clientNs, key, proto, bytes)
              clientsSoFar++
              if (r.bytes !== bytes) throw new Error(`${who} ${proto}: downloaded ${r.bytes} of ${bytes} bytes`)
              const mbit = (r.bytesPerSec * 8) / 1e6
              ctx.log(`${proto}: ${who} ${mbit.toFixed(0)} Mbit/s, machine CPU ${r.cpu.toFixed(2)} s`)
              if (mbit > best[who]) cpu[who] = r.cpu
              best[who] = Math.max(best[who], mbit)
            }
          }
          rows.push({
            name: `openvpn static ${proto} ${bytes / 1048576} MB down via SOCKS5`,
            value: best.burrow,
            unit: 'Mbit/s',
            baseline: best.native,
            baselineName: 'native openvpn, kernel TUN',
            note: `AES-256-CBC + SHA256, one TCP stream, best of ${rounds.length}; machine CPU burrow ${cpu.burrow.toFixed(2)} s, native ${cpu.native.toFixed(2)} s`,
          })
        } finally {
          await server.kill()
        }
      }
    } finally {
      await env.destroy()
    }
    return rows
  },
}
