// A pooled origin connection that died unseen (the origin closed it while the tunnel was down)
// must not turn the next idempotent request into a 502: it is retried on a fresh connection.
import { afterAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import type net from 'node:net'
import { Duplex } from 'node:stream'
import { DirectDialer, type Dialer, type UdpFlow } from '../../src/proxy/dialer.js'
import { closeServer, listen, startProxy } from './helpers.js'
import { BurrowError, ErrorCode } from '../../src/core/errors.js'

/** Hands out plain Duplexes; the first connection silently dies after its first response. */
class StaleFirstDialer implements Dialer {
  private readonly inner = new DirectDialer()
  connects = 0
  async connect(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    const n = ++this.connects
    const sock = (await this.inner.connect(host, port, signal)) as net.Socket
    let responses = 0
    const d: Duplex = new Duplex({
      allowHalfOpen: true,
      read() {
        sock.resume()
      },
      write(chunk: Buffer, _enc, cb) {
        if (n === 1 && responses >= 1) {
          // the peer is gone; the reset only shows up now, under the second request
          sock.destroy()
          cb()
          setImmediate(() => d.destroy(new BurrowError(ErrorCode.ECONNRESET, 'connection reset by peer')))
          return
        }
        sock.write(chunk, (err) => cb(err ?? null))
      },
      destroy(err, cb) {
        sock.destroy()
        cb(err)
      },
    })
    sock.on('data', (c: Buffer) => {
      if (c.includes('HTTP/1.1 200')) responses++
      if (!d.push(c)) sock.pause()
    })
    sock.on('end', () => d.push(null))
    sock.on('error', (e) => d.destroy(e))
    return d
  }
  openUdp(): Promise<UdpFlow> {
    return this.inner.openUdp()
  }
}

function get(proxyPort: number, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: proxyPort, path: url, agent: false }, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      .on('error', reject)
  })
}

describe('HTTP proxy and stale pooled origin connections', () => {
  const origin = http.createServer((req, res) => res.end(`hello ${req.method}`))
  let close: (() => Promise<void>) | undefined
  afterAll(async () => {
    await close?.()
    await closeServer(origin)
  })

  it('retries a GET once on a fresh connection when the reused one was reset', async () => {
    const port = await listen(origin)
    const dialer = new StaleFirstDialer()
    const { proxy, port: pp, counters } = await startProxy({ dialer })
    close = () => proxy.close()
    const url = `http://127.0.0.1:${port}/x`
    expect(await get(pp, url)).toEqual({ status: 200, body: 'hello GET' })
    expect(await get(pp, url)).toEqual({ status: 200, body: 'hello GET' })
    expect(dialer.connects).toBe(2)
    expect(counters.get('http.retry_stale')).toBe(1)
  })
})
