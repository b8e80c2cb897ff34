// Test scaffolding: bulk transfers over a netstack TcpConn (src/netstack/api.ts) against the
// peers in peer.mjs — an HTTP/1.1 GET whose body is hashed, and an upload of pattern bytes to the
// hashing sink. Hot path stays on the TcpConn callbacks. Never used by the product.
import { createHash } from 'node:crypto'
import type { NetStackApi, TcpConn } from '../../src/netstack/api.js'
import { keystream } from './pattern.js'

export interface HashResult {
  bytes: number
  sha256: string
  ms: number
}

const enc = new TextEncoder()
const dec = new TextDecoder()

function closeError(conn: TcpConn, what: string, err?: Error): Error {
  return new Error(`${what}: connection ${conn.localPort}→${conn.remoteAddress}:${conn.remotePort} closed${err ? `: ${err.message}` : ''}`)
}

/** GET `path` over HTTP/1.1 (Connection: close); resolves with the body's size and sha256. */
export async function httpGetHash(stack: NetStackApi, host: string, port: number, path: string, timeoutMs: number): Promise<HashResult> {
  const conn = await stack.connectTcp({ host, port, timeoutMs: 10_000 })
  const t0 = performance.now()
  return await new Promise<HashResult>((resolve, reject) => {
    const hash = createHash('sha256')
    let head: Uint8Array | null = new Uint8Array(0)
    let length = -1
    let got = 0
    let settled = false
    const finish = (err?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (err) {
        conn.destroy()
        reject(err)
      } else resolve({ bytes: got, sha256: hash.digest('hex'), ms: performance.now() - t0 })
    }
    const timer = setTimeout(() => finish(new Error(`GET ${path}: timeout after ${got} body bytes`)), timeoutMs)
    const body = (b: Uint8Array) => {
      got += b.length
      hash.update(b)
      if (length >= 0 && got > length) finish(new Error(`GET ${path}: body longer than content-length ${length}`))
    }
    conn.onData = (b) => {
      if (!head) return body(b)
      const merged = new Uint8Array(head.length + b.length)
      merged.set(head)
      merged.set(b, head.length)
      const text = dec.decode(merged.subarray(0, Math.min(merged.length, 4096)))
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) {
        if (merged.length > 4096) finish(new Error('GET: response header too long'))
        head = merged
        return
      }
      const lines = text.slice(0, end).split('\r\n')
      if (!/^HTTP\/1\.[01] 200 /.test(lines[0])) return finish(new Error(`GET ${path}: ${lines[0]}`))
      const cl = lines.find((l) => /^content-length:/i.test(l))
      length = cl ? Number(cl.split(':')[1]) : -1
      head = null
      // Header is ASCII, so its byte length equals its character length.
      if (merged.length > end + 4) body(merged.subarray(end + 4))
    }
    conn.onEnd = () => {
      if (length >= 0 && got !== length) finish(new Error(`GET ${path}: got ${got} of ${length} body bytes`))
      else finish()
      conn.end()
    }
    conn.onClose = (err) => finish(closeError(conn, `GET ${path}`, err))
    conn.write(enc.encode(`GET ${path} HTTP/1.1\r\nHost: ${host.includes(':') ? `[${host}]` : host}\r\nConnection: close\r\n\r\n`))
  })
}

/**
 * Send `bytes` of pattern(seed), end() (half-close), then keep reading until the peer's FIN;
 * resolves with everything the peer sent back (the sink's "sink N SHA" line).
 */
export async function uploadPattern(
  stack: NetStackApi,
  host: string,
  port: number,
  bytes: number,
  seed: string | number,
  timeoutMs: number,
): Promise<{ reply: string; ms: number }> {
  const conn = await stack.connectTcp({ host, port, timeoutMs: 10_000 })
  const t0 = performance.now()
  const next = keystream(seed)
  return await new Promise((resolve, reject) => {
    let left = bytes
    let reply = ''
    let settled = false
    const finish = (err?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (err) {
        conn.destroy()
        reject(err)
      } else resolve({ reply, ms: performance.now() - t0 })
    }
    const timer = setTimeout(
      () => finish(new Error(`upload: timeout with ${bytes - left} of ${bytes} bytes written, ${conn.bufferedAmount} unacknowledged`)),
      timeoutMs,
    )
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, 256 * 1024)
        left -= n
        if (!conn.write(next(n))) return
      }
      conn.onDrain = null
      conn.end()
    }
    conn.onData = (b) => {
      reply += dec.decode(b)
    }
    conn.onEnd = () => finish()
    conn.onClose = (err) => finish(closeError(conn, 'upload', err))
    conn.onDrain = pump
    pump()
  })
}
