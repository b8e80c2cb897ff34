// OpenVPN TLS-mode download benchmark: one 100 MB HTTP download, single TCP stream, from the lan
// behind a real `openvpn` 2.6 server in TLS mode (tls-crypt, the server's --data-ciphers fixed to
// the cipher under test; test/harness/ovpn-tls-e2e.ts) measured two ways against the same server
// process in the same run:
//   burrow: the built CLI (dist/cli/main.js) with the admin-style client .ovpn, curl
//           --socks5-hostname through its SOCKS5 proxy (name resolved by dnsmasq behind the VPN);
//   native: the `openvpn` client with that same .ovpn and a kernel TUN in its own namespace, curl
//           in that namespace.
// Each side first moves WARMUP_BYTES on its fresh tunnel (bench/types.ts), then the measured one.
// AES-256-GCM and CHACHA20-POLY1305, over UDP and TCP; four rounds in ABBA order, best of
// each side (--quick: one round of 20 MB). Rows: burrow Mbit/s with the native figure as baseline
// (the target is ratio ≥ 1.0). Everything shares the machine's CPUs: compare ratios.
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { startProc, uniqueId, which, type Netns } from '../test/harness/netns.js'
import { createVpnLan, type VpnLan } from '../test/harness/vpn-lan.js'
import { cliPath } from '../test/harness/wg-server.js'
import { clientOvpnText, makeTlsPki, startTlsServer, writeClientOvpn, type TlsVariant } from '../test/harness/ovpn-tls-e2e.js'
import { comparisonRounds, WARMUP_BYTES, type BenchContext, type BenchModule, type BenchRow } from './types.js'
import { curlSpeed, type CurlSpeed } from './curl.js'

const PREFIX = 'bpx'
type Cipher = 'AES-256-GCM' | 'CHACHA20-POLY1305'
type Side = 'burrow' | 'native'

async function burrowDownload(env: VpnLan, config: string, bytes: number, seed: string): Promise<CurlSpeed> {
  const nodeArgs = (process.env.BURROW_CLI_NODE_ARGS ?? '').split(' ').filter(Boolean) // e.g. --cpu-prof, see README
  const cli = startProc(process.execPath, [...nodeArgs, cliPath(), '--config', config, '--http', 'off', '--socks', '127.0.0.1:0'])
  try {
    await cli.waitFor(/burrow-proxy: up: /, 30_000)
    const socks = (await cli.waitFor(/SOCKS5\/SOCKS4 proxy on (127\.0\.0\.1:\d+)/, 10_000))[1]
    // a small request first (name lookup, TCP over a fresh tunnel), the warm-up, then the measured one
    await curlSpeed(['--socks5-hostname', socks, `http://${env.dnsName}:${env.httpPort}/`])
    await curlSpeed(['--socks5-hostname', socks, `http://${env.dnsName}:${env.httpPort}/bytes?n=${WARMUP_BYTES}&seed=warmup`])
    const r = await curlSpeed(['--socks5-hostname', socks, `http://${env.dnsName}:${env.httpPort}/bytes?n=${bytes}&seed=${seed}`])
    if (r.bytes !== bytes) throw new Error(`burrow: downloaded ${r.bytes} of ${bytes} bytes`)
    return r
  } finally {
    await cli.kill()
  }
}

async function nativeDownload(env: VpnLan, clientNs: Netns, config: string, bytes: number, seed: string): Promise<CurlSpeed> {
  // the same .ovpn; later options override it: our own device name, no DCO in this kernel
  const client = clientNs.spawn('openvpn', ['--config', config, '--dev', `${PREFIX}c${uniqueId()}`.slice(0, 15), '--dev-type', 'tun', '--disable-dco'])
  try {
    await client.waitFor(/Initialization Sequence Completed/, 30_000)
    await curlSpeed(['--retry', '5', '--retry-connrefused', '--retry-delay', '1', env.url('/')], clientNs, 30)
    await curlSpeed([env.url(`/bytes?n=${WARMUP_BYTES}&seed=warmup`)], clientNs)
    const r = await curlSpeed([env.url(`/bytes?n=${bytes}&seed=${seed}`)], clientNs)
    if (r.bytes !== bytes) throw new Error(`native: downloaded ${r.bytes} of ${bytes} bytes`)
    return r
  } finally {
    await client.kill()
  }
}

export const openvpnTlsBench: BenchModule = {
  name: 'openvpn-tls',
  skipReason(ctx: BenchContext): string | null {
    if (!ctx.root) return 'needs root (network namespaces; kernel TUN for the native openvpn client)'
    if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun'
    const missing = ['openvpn', 'openssl', 'curl', 'dnsmasq', 'ip'].filter((b) => !which(b))
    if (missing.length) return `needs ${missing.join(', ')} (scripts/install-peers.sh)`
    try {
      cliPath()
    } catch (e) {
      return (e as Error).message
    }
    return null
  },
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const bytes = ctx.quick ? 20 * 1024 * 1024 : 100 * 1024 * 1024
    const rounds = comparisonRounds<Side>(ctx.quick, 'burrow', 'native')
    const env = await createVpnLan({ prefix: PREFIX })
    const rows: BenchRow[] = []
    try {
      const dir = join(env.tmp, 'pki')
      mkdirSync(dir)
      const pki = makeTlsPki(dir, PREFIX)
      const clientNs = env.addClientNs()
      await env.assertIsolated()
      let slot = 0
      for (const cipher of ['AES-256-GCM', 'CHACHA20-POLY1305'] as Cipher[]) {
        for (const proto of ['udp', 'tcp'] as const) {
          const variant: TlsVariant = { name: `bench ${cipher} ${proto}`, proto, wrap: 'tls-crypt', cipher }
          const s = slot++
          const server = await startTlsServer({ env, pki, variant, slot: s, port: 1194 + s, prefix: PREFIX })
          try {
            const config = writeClientOvpn(env.tmp, `bench-${cipher}-${proto}.ovpn`, clientOvpnText({ env, pki, variant, port: server.port }))
            // Rounds in ABBA order (the machine is shared: load drifts), best of each side.
            const best = { burrow: 0, native: 0 }
            const cpu = { burrow: NaN, native: NaN }
            for (const order of rounds) {
              for (const who of order) {
                ctx.log(`${cipher} ${proto}: ${who === 'burrow' ? 'burrow CLI, curl --socks5-hostname' : 'native openvpn client (kernel TUN), curl'}, ${bytes / 1048576} MB`)
                const seed = `bench-${cipher}-${proto}-${who}`
                const r = who === 'burrow' ? await burrowDownload(env, config, bytes, seed) : await nativeDownload(env, clientNs, config, bytes, seed)
                const mbit = (r.bytesPerSec * 8) / 1e6
                ctx.log(`${cipher} ${proto}: ${who} ${mbit.toFixed(0)} Mbit/s, machine CPU ${r.cpu.toFixed(2)} s`)
                if (mbit > best[who]) cpu[who] = r.cpu
                best[who] = Math.max(best[who], mbit)
              }
            }
            const negotiated = server.proc.output().match(/SENT CONTROL \[[^\]]*\]: 'PUSH_REPLY,[^']*cipher ([\w-]+)/)?.[1]
            if (negotiated !== cipher) throw new Error(`server pushed cipher ${negotiated ?? '(none)'}, expected ${cipher}`)
            rows.push({
              name: `openvpn tls ${cipher} ${proto} ${bytes / 1048576} MB down via SOCKS5`,
              value: best.burrow,
              unit: 'Mbit/s',
              baseline: best.native,
              baselineName: 'native openvpn, kernel TUN',
              note: `tls-crypt, TLS-EKM, one TCP stream, best of ${rounds.length}; machine CPU burrow ${cpu.burrow.toFixed(2)} s, native ${cpu.native.toFixed(2)} s`,
            })
          } finally {
            await server.stop()
          }
        }
      }
    } finally {
      await env.destroy()
    }
    return rows
  },
}
