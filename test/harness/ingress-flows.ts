// Test scaffolding for the ingress end-to-end test and benchmark (--expose / --forward): a local
// pattern HTTP service and UDP echo for exposed ports, many concurrent raw HTTP/1.1 downloads
// hashed as they stream, a one-question DNS client (RFC 1035 §4.1) for a forwarded UDP port,
// a process's resident set from /proc and a GC probe for a child Node process (heap in use after a
// full GC, to tell retained objects from pages the allocator keeps). Never used by the product.
import { createHash } from 'node:crypto'
import dgram from 'node:dgram'
import { readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import { keystream } from './pattern.js'

export interface LocalService {
  port: number
  /** Remote addresses of the requests served so far. */
  peers: string[]
  close(): Promise<void>
}

/**
 * An HTTP server on 127.0.0.1:0 in this process: GET /bytes?n=N&seed=S answers N bytes of
 * pattern(S) (pattern.ts) with backpressure; a POST is hashed ("sha256 N HEX"); anything else is 404.
 */
export async function startPatternHttp(): Promise<LocalService> {
  const peers: string[] = []
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    if (req.method === 'POST') {
      peers.push(req.socket.remoteAddress ?? '?')
      const h = createHash('sha256')
      let got = 0
      req.on('data', (d: Buffer) => ((got += d.length), h.update(d)))
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`sha256 ${got} ${h.digest('hex')}\n`))
      return
    }
    const n = Number(u.searchParams.get('n') ?? '0')
    if (u.pathname !== '/bytes' || !Number.isSafeInteger(n) || n < 0) return void res.writeHead(404).end()
    peers.push(req.socket.remoteAddress ?? '?')
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) })
    const next = keystream(u.searchParams.get('seed') ?? '0')
    let left = n
    let gone = false
    res.on('close', () => (gone = true))
    const go = () => {
      while (left > 0 && !gone) {
        const k = Math.min(64 * 1024, left)
        left -= k
        if (!res.write(next(k))) return void res.once('drain', go)
      }
      if (!gone) res.end()
    }
    go()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as net.AddressInfo).port,
    peers,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** A UDP echo on 127.0.0.1:0 that prefixes each reply with "echo:". */
export async function startUdpEcho(): Promise<LocalService> {
  const peers: string[] = []
  const s = dgram.createSocket('udp4')
  s.on('message', (m, r) => {
    peers.push(`${r.address}:${r.port}`)
    s.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address)
  })
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  return { port: s.address().port, peers, close: () => new Promise<void>((r) => s.close(() => r())) }
}

export interface FlowResult {
  ok: boolean
  bytes: number
  sha256: string
  error?: string
  ms: number
}

/**
 * One HTTP/1.1 GET over a fresh TCP connection to host:port (Connection: close); the body is
 * hashed as it streams (nothing is buffered beyond the header).
 */
export function rawGet(host: string, port: number, path: string, timeoutMs = 120_000): Promise<FlowResult> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const h = createHash('sha256')
    let head: Buffer | null = Buffer.alloc(0)
    let bytes = 0
    let status = 0
    let done = false
    const s = net.connect({ host, port })
    const finish = (error?: string) => {
      if (done) return
      done = true
      clearTimeout(timer)
      s.destroy()
      resolve({ ok: !error && status === 200, bytes, sha256: h.digest('hex'), error: error ?? (status === 200 ? undefined : `status ${status}`), ms: performance.now() - t0 })
    }
    const timer = setTimeout(() => finish('timeout'), timeoutMs)
    s.once('connect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`))
    s.on('data', (d: Buffer) => {
      if (head) {
        head = Buffer.concat([head, d])
        const i = head.indexOf('\r\n\r\n')
        if (i < 0) return
        status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, i).toString('latin1'))?.[1] ?? 0)
        d = head.subarray(i + 4)
        head = null
      }
      bytes += d.length
      h.update(d)
    })
    s.once('error', (e) => finish(e.message))
    s.once('close', () => finish())
  })
}

/** Run `n` rawGet()s at once; `path(i)` names each one's resource. */
export async function manyGets(host: string, port: number, n: number, path: (i: number) => string, timeoutMs?: number): Promise<FlowResult[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => rawGet(host, port, path(i), timeoutMs)))
}

/** VmRSS / VmHWM of a process in bytes (Linux /proc). */
export function procMemory(pid: number): { rss: number; hwm: number } {
  const txt = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(txt)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** Sample procMemory(pid).rss every `everyMs` until stop(); returns the maximum seen. */
export function rssSampler(pid: number, everyMs = 100): { stop(): number } {
  let max = procMemory(pid).rss
  const t = setInterval(() => {
    try {
      max = Math.max(max, procMemory(pid).rss)
    } catch {
      /* exited */
    }
  }, everyMs)
  return {
    stop() {
      clearInterval(t)
      return max
    },
  }
}

function dnsQuery(id: number, name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]))
  // header: ID, flags RD, QDCOUNT 1; question: QNAME, QTYPE A (1), QCLASS IN (1)
  const hdr = Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
  return Buffer.concat([hdr, ...labels, Buffer.from([0, 0, 1, 0, 1])])
}

/** Skip a (possibly compressed) name at `off`; returns the offset after it. */
function skipName(b: Buffer, off: number): number {
  for (;;) {
    const len = b[off]
    if (len === undefined) throw new Error('DNS: truncated name')
    if ((len & 0xc0) === 0xc0) return off + 2
    if (len === 0) return off + 1
    off += 1 + len
  }
}

/**
 * Ask host:port (UDP) for the A records of `name`; resends every second until `timeoutMs`.
 * Returns rcode and the IPv4 answers.
 */
export async function dnsLookupA(host: string, port: number, name: string, timeoutMs = 8000): Promise<{ rcode: number; answers: string[] }> {
  const s = dgram.createSocket('udp4')
  const id = Math.floor(Math.random() * 0xffff)
  const q = dnsQuery(id, name)
  try {
    const got = new Promise<Buffer>((res) => s.on('message', (m) => m.length >= 12 && m.readUInt16BE(0) === id && (m[2] & 0x80) !== 0 && res(m)))
    const end = Date.now() + timeoutMs
    for (;;) {
      s.send(q, port, host)
      const m = await Promise.race([got, new Promise<null>((r) => setTimeout(() => r(null), 1000))])
      if (m) {
        const an = m.readUInt16BE(6)
        let off = skipName(m, 12) + 4
        const answers: string[] = []
        for (let i = 0; i < an; i++) {
          off = skipName(m, off)
          const type = m.readUInt16BE(off)
          const rdlen = m.readUInt16BE(off + 8)
          if (type === 1 && rdlen === 4) answers.push([...m.subarray(off + 10, off + 14)].join('.'))
          off += 10 + rdlen
        }
        return { rcode: m[3] & 0x0f, answers }
      }
      if (Date.now() > end) throw new Error(`no DNS answer from ${host}:${port} within ${timeoutMs} ms`)
    }
  } finally {
    s.close()
  }
}

const GC_PROBE = `process.on('SIGUSR2', () => {
  global.gc(); global.gc()
  const m = process.memoryUsage()
  console.log('GCSTAT ' + JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, handles: process._getActiveHandles().length, spaces: Object.fromEntries(require('v8').getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size])) }))
})
`

/**
 * NODE_OPTIONS for a child Node process (e.g. the CLI) that make SIGUSR2 run a full GC and print
 * one "GCSTAT {json}" line with process.memoryUsage() and the count of active handles. The
 * preload script is written to `dir`. Test/bench diagnostics only.
 */
export function gcProbeNodeOptions(dir: string): string {
  const f = join(dir, 'gc-probe.cjs')
  writeFileSync(f, GC_PROBE)
  return `--expose-gc --require ${f}`
}

export interface GcStat {
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  arrayBuffers: number
  handles: number
  /** V8 heap spaces: name → committed size in bytes. */
  spaces: Record<string, number>
}

/** Signal a process started with gcProbeNodeOptions() and wait for its next GCSTAT line. */
export async function gcStat(proc: { pid: number; output(): string }, timeoutMs = 10_000): Promise<GcStat> {
  const count = () => proc.output().split('GCSTAT ').length - 1
  const before = count()
  process.kill(proc.pid, 'SIGUSR2')
  const end = Date.now() + timeoutMs
  while (count() <= before) {
    if (Date.now() > end) throw new Error('no GCSTAT line (was the process started with gcProbeNodeOptions()?)')
    await new Promise((r) => setTimeout(r, 50))
  }
  const parts = proc.output().split('GCSTAT ')
  return JSON.parse(parts[parts.length - 1].split('\n')[0]) as GcStat
}
