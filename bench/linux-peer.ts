// Linux-side measurements over a tunbridge path (bench scaffolding): a Linux TCP sender
// (peer.mjs source) in the path's namespace, and either a Linux receiver in the peer namespace
// (the baseline) or the netstack in this process.
import { harnessFile } from '../test/harness/tunbridge.js'
import type { TunPath } from '../test/harness/tunpath.js'
import type { NetStackApi } from '../src/netstack/api.js'

export const PEER_PORT = 5201

export interface Transfer {
  bytes: number
  ms: number
}

/** Start the Linux sender in path.ns; returns a stop function. */
export async function startSource(path: TunPath, bytes: number, seed = 7): Promise<() => Promise<void>> {
  const p = path.ns.spawn('node', [harnessFile('peer.mjs'), 'source', String(PEER_PORT), String(bytes), String(seed)])
  await p.waitFor(/listening/)
  return () => p.kill()
}

/** Linux↔Linux: a Linux receiver in path.peer downloads from the sender. */
export async function linuxDownload(path: TunPath, host: string, maxBytes: number, maxSec: number): Promise<Transfer> {
  const r = path.peer!.spawn('node', [harnessFile('peer.mjs'), 'recv', host, String(PEER_PORT), String(maxBytes), String(maxSec)])
  const m = await r.waitFor(/recv (\d+) ([\d.]+)|recv error (\S+)/, (maxSec + 60) * 1000)
  if (m[3]) throw new Error(`linux recv failed: ${m[3]}`)
  await r.kill()
  return { bytes: Number(m[1]), ms: Number(m[2]) }
}

/** netstack↔Linux: the netstack in this process downloads from the sender. */
export async function netstackDownload(stack: NetStackApi, host: string, maxBytes: number, maxSec: number): Promise<Transfer> {
  const conn = await stack.connectTcp({ host, port: PEER_PORT, timeoutMs: 10_000 })
  const t0 = performance.now()
  return await new Promise<Transfer>((resolve, reject) => {
    let n = 0
    let done = false
    const finish = (err?: Error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      const ms = performance.now() - t0
      conn.destroy()
      if (err && n === 0) reject(err)
      else resolve({ bytes: n, ms })
    }
    const timer = setTimeout(() => finish(), maxSec * 1000)
    conn.onData = (b) => {
      n += b.length
      if (n >= maxBytes) finish()
    }
    conn.onEnd = () => finish()
    conn.onClose = (err) => finish(err ?? new Error('closed before any data'))
  })
}

/** Start the Linux receiver (peer.mjs count) in path.ns; result() waits for its next report. */
export async function startCounter(path: TunPath): Promise<{ result(timeoutMs: number): Promise<Transfer>; stop(): Promise<void> }> {
  const p = path.ns.spawn('node', [harnessFile('peer.mjs'), 'count', String(PEER_PORT)])
  await p.waitFor(/listening/)
  return {
    async result(timeoutMs) {
      const m = await p.waitFor(/count (\d+) ([\d.]+)/, timeoutMs)
      return { bytes: Number(m[1]), ms: Number(m[2]) }
    },
    stop: () => p.kill(),
  }
}

/** Linux↔Linux upload: a Linux sender in path.peer; the byte count and time come from the counter. */
export async function linuxUpload(path: TunPath, host: string, maxBytes: number, maxSec: number): Promise<void> {
  const s = path.peer!.spawn('node', [harnessFile('peer.mjs'), 'send', host, String(PEER_PORT), String(maxBytes), String(maxSec)])
  const m = await s.waitFor(/send done|send error (\S+)/, (maxSec + 60) * 1000)
  if (m[1]) throw new Error(`linux send failed: ${m[1]}`)
}

/** netstack↔Linux upload: write until maxBytes or maxSec, then end() and wait for the peer's FIN. */
export async function netstackUpload(stack: NetStackApi, host: string, maxBytes: number, maxSec: number): Promise<void> {
  const conn = await stack.connectTcp({ host, port: PEER_PORT, timeoutMs: 10_000 })
  const chunk = new Uint8Array(256 * 1024).map((_, i) => (i * 131) & 0xff)
  const stopAt = performance.now() + maxSec * 1000
  await new Promise<void>((resolve, reject) => {
    let left = maxBytes
    const pump = () => {
      while (left > 0 && performance.now() < stopAt) {
        const n = Math.min(left, chunk.length)
        left -= n
        if (!conn.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return
      }
      conn.onDrain = null
      conn.end()
    }
    conn.onData = () => {}
    conn.onEnd = () => resolve()
    conn.onClose = (err) => (err ? reject(err) : resolve())
    conn.onDrain = pump
    pump()
  })
}
