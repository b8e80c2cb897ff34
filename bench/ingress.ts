// Ingress under many flows (issue 6): 500 concurrent TCP connections (100 with --quick) through one
// `--forward 127.0.0.1:0=LANIP:PORT` of the built CLI over a real WireGuard tunnel (wireguard-go in
// the vpn namespace of test/harness/vpn-lan.ts), each downloading 1 MB of pattern(seed) from the
// lan HTTP service, every body sha256-checked. Reports the aggregate rate and the CLI process's
// resident set (/proc/PID/status) at idle before, at the peak (sampled every 100 ms) and after all
// flows closed (fds back to idle, then 3 s and 15 s), for two rounds (one with --quick), plus the
// live JS heap after a forced full GC (a preload in the CLI, see gcProbeNodeOptions): RSS that
// stays up while the live heap is back at idle is pages kept by V8/malloc, not state per flow.
// No baseline: the rows are absolute.
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { which } from '../test/harness/netns.js'
import { createVpnLan } from '../test/harness/vpn-lan.js'
import { cliPath, startCli, startWgServer, wgKeyPair } from '../test/harness/wg-server.js'
import { patternSha256 } from '../test/harness/pattern.js'
import { gcProbeNodeOptions, gcStat, manyGets, procMemory, rssSampler } from '../test/harness/ingress-flows.js'
import { mbitPerSec, type BenchContext, type BenchModule, type BenchRow } from './types.js'

const WG_PORT = 51820
const MB = 1_000_000
const MiB = 2 ** 20

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const ingressBench: BenchModule = {
  name: 'ingress',
  skipReason(ctx: BenchContext) {
    if (!ctx.root) return 'needs root (network namespaces, wireguard-go server)'
    for (const b of ['ip', 'wireguard-go', 'wg']) if (!which(b)) return `needs ${b} (scripts/install-peers.sh)`
    try {
      cliPath()
    } catch (e) {
      return (e as Error).message
    }
    return null
  },
  async run(ctx: BenchContext) {
    const flows = ctx.quick ? 100 : 500
    const env = await createVpnLan({ prefix: 'bpi', dns: false })
    const stops: (() => Promise<void>)[] = []
    try {
      const keys = wgKeyPair()
      const server = await startWgServer({
        ns: env.vpn,
        prefix: 'bpi',
        port: WG_PORT,
        dir: env.tmp,
        addresses: [`${env.tunnel.v4(1)}/24`],
        peers: [{ publicKey: keys.publicKey, allowedIps: [`${env.tunnel.v4(2)}/32`] }],
      })
      stops.push(() => server.stop())
      const conf = join(env.tmp, 'wg0.conf')
      writeFileSync(
        conf,
        [
          '[Interface]',
          `PrivateKey = ${keys.privateKey}`,
          `Address = ${env.tunnel.v4(2)}/32`,
          '[Peer]',
          `PublicKey = ${server.keys.publicKey}`,
          `Endpoint = ${env.serverIp}:${WG_PORT}`,
          `AllowedIPs = ${env.tunnel.cidr}, ${env.lan4.cidr}`,
          '',
        ].join('\n'),
        { mode: 0o600 },
      )
      // SIGUSR2 → full GC + process.memoryUsage() in the CLI (diagnostics preload, this run only)
      const nodeOptions = process.env.NODE_OPTIONS
      process.env.NODE_OPTIONS = `${nodeOptions ?? ''} ${gcProbeNodeOptions(env.tmp)}`.trim()
      const starting = startCli(conf, ['--forward', `127.0.0.1:0=${env.lanIp}:${env.httpPort}`])
      if (nodeOptions === undefined) delete process.env.NODE_OPTIONS
      else process.env.NODE_OPTIONS = nodeOptions
      const cli = await starting
      stops.push(() => cli.stop())
      const port = Number((await cli.proc.waitFor(/forwarding tcp 127\.0\.0\.1:(\d+) → /))[1])
      const pid = cli.proc.pid
      const fds = () => readdirSync(`/proc/${pid}/fd`).length

      // warm up: one small transfer (handshake done, code paths compiled), then settle
      const warm = await manyGets('127.0.0.1', port, 1, () => `/bytes?n=${MB}&seed=warm`)
      if (!warm[0].ok) throw new Error(`ingress bench: warm-up failed: ${warm[0].error}`)
      await sleep(2000)
      const idle = procMemory(pid).rss
      const gcIdle = await gcStat(cli.proc)
      const fdsIdle = fds()

      // Two rounds: if the second leaves the resident set where the first did, what stays after
      // the first is the heap/allocator keeping pages, not state held per flow.
      const rows: BenchRow[] = [
        { name: 'ingress CLI RSS idle (before)', value: idle / MiB, unit: 'MiB', note: `WireGuard; fds ${fdsIdle}` },
        { name: 'ingress CLI JS heap after GC, idle', value: gcIdle.heapUsed / MiB, unit: 'MiB', note: `handles ${gcIdle.handles}` },
      ]
      for (let round = 1; round <= (ctx.quick ? 1 : 2); round++) {
        const sampler = rssSampler(pid)
        const t0 = performance.now()
        const res = await manyGets('127.0.0.1', port, flows, (i) => `/bytes?n=${MB}&seed=r${round}f${i}`, 240_000)
        const ms = performance.now() - t0
        const peak = sampler.stop()
        let bad = 0
        let firstError = ''
        for (const [i, r] of res.entries()) {
          if (r.ok && r.bytes === MB && r.sha256 === patternSha256(MB, `r${round}f${i}`)) continue
          bad++
          firstError ||= `flow ${i}: ${r.error ?? `${r.bytes} bytes, sha mismatch`}`
        }
        let fdsAfter = fds()
        for (let i = 0; i < 100 && fdsAfter > fdsIdle; i++) {
          await sleep(100)
          fdsAfter = fds()
        }
        await sleep(3000)
        const after3 = procMemory(pid).rss
        await sleep(12_000)
        const after15 = procMemory(pid).rss
        const gcAfter = await gcStat(cli.proc)
        const slowest = Math.max(...res.map((r) => r.ms))
        ctx.log(
          `ingress round ${round}: ${flows} × 1 MB via --forward in ${(ms / 1000).toFixed(1)} s, ${bad} bad${firstError ? ` (${firstError})` : ''}; ` +
            `RSS idle ${(idle / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB, after 3 s ${(after3 / MiB).toFixed(0)} MiB, ` +
            `after 15 s ${(after15 / MiB).toFixed(0)} MiB; JS heap after GC ${(gcIdle.heapUsed / MiB).toFixed(1)} → ` +
            `${(gcAfter.heapUsed / MiB).toFixed(1)} MiB (RSS then ${(gcAfter.rss / MiB).toFixed(0)} MiB); handles ${gcIdle.handles} → ${gcAfter.handles}; fds ${fdsIdle} → ${fdsAfter}`,
        )
        const note = `round ${round}, ${flows} concurrent flows, WireGuard`
        rows.push(
          { name: `ingress --forward ${flows}×1 MB aggregate #${round}`, value: bad ? NaN : mbitPerSec(flows * MB, ms), unit: 'Mbit/s', note: bad ? `${bad} flows failed: ${firstError}` : note },
          { name: `ingress --forward ${flows}×1 MB slowest flow #${round}`, value: slowest / 1000, unit: 's', note },
          { name: `ingress CLI RSS peak #${round}`, value: peak / MiB, unit: 'MiB', note },
          { name: `ingress CLI RSS 3 s after all closed #${round}`, value: after3 / MiB, unit: 'MiB', note: `${note}; fds ${fdsIdle} → ${fdsAfter}` },
          { name: `ingress CLI RSS 15 s after all closed #${round}`, value: after15 / MiB, unit: 'MiB', note },
          { name: `ingress CLI JS heap after GC, after #${round}`, value: gcAfter.heapUsed / MiB, unit: 'MiB', note: `${note}; handles ${gcAfter.handles}` },
        )
      }
      return rows
    } finally {
      for (const s of stops.reverse()) await s().catch(() => {})
      await env.destroy()
    }
  },
}
