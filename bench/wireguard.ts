// WireGuard: burrow's SOCKS5 proxy vs a native wireguard-go client, same server, same run.
// Topology (test/harness/vpn-lan.ts): a wireguard-go server (test/harness/wg-server.ts) in the
// "vpn" namespace routes to the "lan" HTTP service. burrow: the built CLI (dist/cli/main.js) with a
// wg-quick file in the root namespace, curl --socks5 127.0.0.1:PORT. Native: wireguard-go with a
// kernel TUN in its own client namespace, curl there. One TCP stream, 100 MB (20 MB with --quick),
// download (GET) and upload (PUT, hashed by the lan service), four rounds in ABBA order, best of
// each side (--quick: one round). Everything shares the machine's CPUs: compare ratios, not absolutes.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run, which, type Netns } from '../test/harness/netns.js'
import { createVpnLan } from '../test/harness/vpn-lan.js'
import { cliPath, startCli, startWgServer, wgClientConfText, wgKeyPair } from '../test/harness/wg-server.js'
import { keystream } from '../test/harness/pattern.js'
import { machineBusySeconds } from './cpu.js'
import { comparisonRounds, mbitPerSec, type BenchContext, type BenchModule, type BenchRow } from './types.js'

const WG_PORT = 51820
const NATIVE_PORT = 51821

interface Timed {
  bytes: number
  ms: number
  /** Busy CPU seconds of the whole machine during the transfer (bench/cpu.ts). */
  cpu?: number
}

/** curl with the body discarded; bytes and time as curl reports them. */
function curlTimed(args: string[], ns?: Netns): Timed {
  const argv = ['-sS', '--fail', '--max-time', '300', '-o', '/dev/null', '-w', '%{size_download} %{size_upload} %{time_total}\\n', ...args]
  const out = ns ? ns.exec('curl', argv) : run('curl', argv)
  const [down, up, secs] = out.trim().split(' ').map(Number)
  return { bytes: Math.max(down, up), ms: secs * 1000 }
}

export const wireguardBench: BenchModule = {
  name: 'wireguard',
  skipReason(ctx: BenchContext) {
    if (!ctx.root) return 'needs root (network namespaces, wireguard-go with a kernel TUN for the native baseline)'
    for (const b of ['ip', 'wireguard-go', 'wg', 'curl']) if (!which(b)) return `needs ${b} (scripts/install-peers.sh)`
    try {
      cliPath()
    } catch (e) {
      return (e as Error).message
    }
    return null
  },
  async run(ctx: BenchContext) {
    const bytes = ctx.quick ? 20_000_000 : 100_000_000
    const env = await createVpnLan({ prefix: 'bpg', dns: false })
    const stops: (() => Promise<void>)[] = []
    try {
      const burrowKeys = wgKeyPair()
      const nativeKeys = wgKeyPair()
      const server = await startWgServer({
        ns: env.vpn,
        prefix: 'bpg',
        port: WG_PORT,
        dir: env.tmp,
        addresses: [`${env.tunnel.v4(1)}/24`],
        peers: [
          { publicKey: burrowKeys.publicKey, allowedIps: [`${env.tunnel.v4(2)}/32`] },
          { publicKey: nativeKeys.publicKey, allowedIps: [`${env.tunnel.v4(3)}/32`] },
        ],
      })
      stops.push(() => server.stop())

      // Native client: wireguard-go + kernel TUN in its own namespace, lan routed into it.
      const cns = env.addClientNs('bpg')
      const native = await startWgServer({
        ns: cns,
        prefix: 'bpg',
        port: NATIVE_PORT,
        dir: env.tmp,
        keys: nativeKeys,
        addresses: [`${env.tunnel.v4(3)}/32`],
        peers: [{ publicKey: server.keys.publicKey, endpoint: `${env.serverIp}:${WG_PORT}`, allowedIps: [env.tunnel.cidr, env.lan4.cidr] }],
      })
      stops.push(() => native.stop())
      cns.exec('ip', ['route', 'add', env.lan4.cidr, 'dev', native.ifname])
      cns.exec('ip', ['route', 'add', env.tunnel.cidr, 'dev', native.ifname])

      // burrow: the CLI with a user's wg-quick file.
      const conf = join(env.tmp, 'wg0.conf')
      const text = wgClientConfText({
        privateKey: burrowKeys.privateKey,
        addresses: [`${env.tunnel.v4(2)}/32`],
        peer: { publicKey: server.keys.publicKey, endpoint: `${env.serverIp}:${WG_PORT}`, allowedIps: [env.tunnel.cidr, env.lan4.cidr] },
      })
      writeFileSync(conf, text, { mode: 0o600 })
      const cli = await startCli(conf)
      stops.push(() => cli.stop())
      const socks = ['--socks5', `127.0.0.1:${cli.socks.port}`]

      // warm-up: both handshakes done, lan reachable both ways
      curlTimed(['--max-time', '20', env.url('/')], cns)
      curlTimed(['--max-time', '20', ...socks, env.url('/')])

      const upload = join(env.tmp, 'upload.bin')
      writeFileSync(upload, keystream('wireguard-bench')(bytes))

      const rows: BenchRow[] = []
      // Four rounds in ABBA order (native first, burrow first twice, native first), best of each
      // side: the machine is shared, so a single run mostly measures whoever else is busy then.
      const measure = (label: string, args: string[]) => {
        const best: Record<'native' | 'burrow', Timed> = { native: { bytes: 0, ms: Infinity }, burrow: { bytes: 0, ms: Infinity } }
        for (const order of comparisonRounds<'native' | 'burrow'>(ctx.quick, 'native', 'burrow')) {
          for (const who of order) {
            const cpu0 = machineBusySeconds()
            const t = who === 'native' ? curlTimed(args, cns) : curlTimed([...socks, ...args])
            t.cpu = machineBusySeconds() - cpu0
            ctx.log(`${who === 'native' ? 'native wireguard-go' : 'burrow SOCKS5'} ${label}: ${(t.bytes / 1e6).toFixed(0)} MB in ${(t.ms / 1000).toFixed(1)} s, machine CPU ${t.cpu.toFixed(2)} s`)
            if (t.bytes !== bytes) throw new Error(`${label}: short transfer (${who} ${t.bytes} of ${bytes})`)
            if (t.ms < best[who].ms) best[who] = t
          }
        }
        rows.push({
          name: `wireguard ${label} ${(bytes / 1e6).toFixed(0)} MB, burrow SOCKS5`,
          value: mbitPerSec(best.burrow.bytes, best.burrow.ms),
          unit: 'Mbit/s',
          baseline: mbitPerSec(best.native.bytes, best.native.ms),
          baselineName: 'wireguard-go TUN',
          // machine CPU of the best runs: with every vCPU busy, throughput is bounded by it
          note: `one TCP stream, same server, best of ${ctx.quick ? 1 : 4}; machine CPU burrow ${best.burrow.cpu?.toFixed(2)} s, native ${best.native.cpu?.toFixed(2)} s`,
        })
      }
      measure('download', [env.url(`/bytes?n=${bytes}&seed=bench`)])
      measure('upload', ['-T', upload, env.url('/upload')])
      const st = server.status()
      ctx.log(`server: ${st.map((p) => `${p.publicKey.slice(0, 8)}… rx ${(p.rxBytes / 1e6).toFixed(0)} MB tx ${(p.txBytes / 1e6).toFixed(0)} MB`).join(', ')}`)
      return rows
    } finally {
      for (const s of stops.reverse()) await s().catch(() => {})
      await env.destroy()
    }
  },
}
