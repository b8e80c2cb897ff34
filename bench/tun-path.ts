// netstack↔Linux vs Linux↔Linux over the same tunbridge path (test/harness/tunbridge.c), single
// TCP stream, measured back to back in one run with the same impairment seed. Rows: lossless
// (0 ms) and 50 ms RTT (25 ms each way) + 1 % loss per direction. Download: Linux sends in both
// runs, so the rows compare receivers (ACK/SACK/window behaviour). Upload: the netstack's own
// congestion control against a Linux sender's (bbr is the default here; reno is the loss-based
// comparison a non-initial namespace may select).
import { existsSync } from 'node:fs'
import { run, which } from '../test/harness/netns.js'
import { createTunPath } from '../test/harness/tunpath.js'
import type { Impairment } from '../test/harness/tunbridge.js'
import {
  linuxDownload,
  linuxUpload,
  netstackDownload,
  netstackUpload,
  startCounter,
  startSource,
  type Transfer,
} from './linux-peer.js'
import { makeStack } from './netstack.js'
import { mbitPerSec, type BenchContext, type BenchModule, type BenchRow } from './types.js'

interface Scenario {
  dir: 'download' | 'upload'
  label: string
  impair: Impairment
  maxBytes: number
  maxSec: number
  /** Linux sender's congestion control (default: the namespace default, bbr here). A non-initial
   * namespace may only pick one listed in net.ipv4.tcp_allowed_congestion_control (bbr, reno here). */
  cc?: string
}

function scenarios(quick: boolean): Scenario[] {
  return [
    { dir: 'download', label: '0 ms', impair: {}, maxBytes: quick ? 20e6 : 100e6, maxSec: 30 },
    { dir: 'download', label: '50 ms RTT + 1 % loss', impair: { delayMs: 25, loss: 1 }, maxBytes: 200e6, maxSec: quick ? 5 : 30 },
    { dir: 'download', label: '50 ms RTT + 1 % loss', impair: { delayMs: 25, loss: 1 }, maxBytes: 200e6, maxSec: quick ? 5 : 30, cc: 'reno' },
    // The interop test's path (acceptance 4's netem figures): 2 % loss, 10 % reordering, 1 % dup
    // per direction, 20 ms RTT.
    {
      dir: 'download',
      label: '20 ms RTT + 2 % loss + 10 % reorder + 1 % dup',
      impair: { delayMs: 10, loss: 2, reorder: 10, dup: 1 },
      maxBytes: 200e6,
      maxSec: quick ? 5 : 20,
    },
    // Upload: the netstack's own congestion control against Linux's (the baseline's sender, in
    // the peer namespace, uses the namespace default).
    { dir: 'upload', label: '0 ms', impair: {}, maxBytes: quick ? 20e6 : 100e6, maxSec: 30 },
    { dir: 'upload', label: '50 ms RTT + 1 % loss', impair: { delayMs: 25, loss: 1 }, maxBytes: 200e6, maxSec: quick ? 5 : 30 },
    { dir: 'upload', label: '50 ms RTT + 1 % loss', impair: { delayMs: 25, loss: 1 }, maxBytes: 200e6, maxSec: quick ? 5 : 30, cc: 'reno' },
    {
      dir: 'upload',
      label: '20 ms RTT + 2 % loss + 10 % reorder + 1 % dup',
      impair: { delayMs: 10, loss: 2, reorder: 10, dup: 1 },
      maxBytes: 200e6,
      maxSec: quick ? 5 : 20,
    },
  ]
}

let nextIndex = 20

async function measure(ctx: BenchContext, s: Scenario, who: 'linux' | 'netstack', seed: number): Promise<Transfer> {
  const path = await createTunPath({ prefix: 'bpn', index: nextIndex++, mode: who === 'linux' ? 'linux' : 'stdio', impair: s.impair, seed })
  try {
    // The Linux sender: path.ns for downloads, path.peer for Linux↔Linux uploads.
    const senderNs = s.dir === 'download' ? path.ns : path.peer
    if (s.cc && senderNs) senderNs.exec('sysctl', ['-qw', `net.ipv4.tcp_congestion_control=${s.cc}`])
    const { addrs } = path
    const stack =
      who === 'netstack'
        ? makeStack(path.link!, [
            { address: addrs.far4, prefix: addrs.prefix4 },
            { address: addrs.far6, prefix: addrs.prefix6 },
          ])
        : null
    try {
      if (s.dir === 'download') {
        const stopSource = await startSource(path, s.maxBytes)
        try {
          if (!stack) return await linuxDownload(path, addrs.linux4, s.maxBytes, s.maxSec)
          return await netstackDownload(stack, addrs.linux4, s.maxBytes, s.maxSec)
        } finally {
          await stopSource()
        }
      }
      const counter = await startCounter(path)
      try {
        const result = counter.result((s.maxSec + 60) * 1000)
        if (!stack) await linuxUpload(path, addrs.linux4, s.maxBytes, s.maxSec)
        else await netstackUpload(stack, addrs.linux4, s.maxBytes, s.maxSec)
        return await result
      } finally {
        await counter.stop()
      }
    } finally {
      stack?.close()
    }
  } finally {
    const st = await path.destroy()
    if (st) ctx.log(`${who} ${s.dir} ${s.label}: bridge a2b rx=${st.a2b.rx} lost=${st.a2b.lost}, b2a rx=${st.b2a.rx} lost=${st.b2a.lost}`)
  }
}

export const tunPathBench: BenchModule = {
  name: 'tun-path',
  skipReason(ctx) {
    if (!ctx.root) return 'needs root (network namespaces, TUN devices)'
    if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun'
    for (const b of ['ip', 'gcc']) if (!which(b)) return `needs ${b}`
    return null
  },
  async run(ctx) {
    const rows: BenchRow[] = []
    let seed = 1000
    const defaultCc = run('sysctl', ['-n', 'net.ipv4.tcp_congestion_control'], { allowFail: true }).trim() || '?'
    for (const s of scenarios(ctx.quick)) {
      seed++
      const label = s.dir === 'download' ? `${s.label}, sender ${s.cc ?? defaultCc}` : `${s.label}, baseline sender ${s.cc ?? defaultCc}`
      if (ctx.match && !`${s.dir} ${label}`.includes(ctx.match)) continue
      // Short lossless runs: best of 3, alternating order (L N, N L, L N) so neither side always
      // runs on a warmer or quieter machine. Lossy runs are long and seeded: one round each.
      const rounds = s.impair.loss ? 1 : ctx.quick ? 1 : 3
      let lin: Transfer | undefined
      let ns: Transfer | undefined
      const better = (a: Transfer | undefined, b: Transfer) => (!a || mbitPerSec(b.bytes, b.ms) > mbitPerSec(a.bytes, a.ms) ? b : a)
      for (let r = 0; r < rounds; r++) {
        for (const who of r % 2 === 0 ? (['linux', 'netstack'] as const) : (['netstack', 'linux'] as const)) {
          const t = await measure(ctx, s, who, seed)
          ctx.log(`${who === 'linux' ? 'Linux↔Linux' : 'netstack↔Linux'} ${s.dir} ${label}: ${(t.bytes / 1e6).toFixed(0)} MB in ${(t.ms / 1000).toFixed(2)} s`)
          if (who === 'linux') lin = better(lin, t)
          else ns = better(ns, t)
        }
      }
      const linMbps = mbitPerSec(lin!.bytes, lin!.ms)
      const value = mbitPerSec(ns!.bytes, ns!.ms)
      const note = `${(ns!.bytes / 1e6).toFixed(0)} MB vs ${(lin!.bytes / 1e6).toFixed(0)} MB${rounds > 1 ? `, best of ${rounds}` : ''}`
      rows.push({
        name: `${s.dir} netstack↔Linux, ${label}`,
        value,
        unit: 'Mbit/s',
        baseline: linMbps,
        baselineName: 'Linux↔Linux',
        note,
      })
    }
    return rows
  },
}
