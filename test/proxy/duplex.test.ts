// The proxies over a dialer that returns plain stream.Duplex objects (as the netstack's TcpConn
// wrapper will), not net.Socket: undici's pool, CONNECT and SOCKS must not rely on socket methods.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import { createHash, randomBytes } from 'node:crypto'
import { SocksClient } from 'socks'
import type { ProxyServer } from '../../src/proxy/server.js'
import { PlainDuplexDialer, closeServer, connectRaw, listen, readAll, readN, startProxy, tcpEcho, waitFor } from './helpers.js'

describe('proxies over a plain-Duplex dialer', () => {
  let proxy: ProxyServer
  let port: number
  let dialer: PlainDuplexDialer
  let origin: http.Server
  let oport: number
  let echo: Awaited<ReturnType<typeof tcpEcho>>
  const big = randomBytes(4 * 1024 * 1024)
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

  beforeAll(async () => {
    dialer = new PlainDuplexDialer()
    ;({ proxy, port } = await startProxy({ dialer }))
    origin = http.createServer((req, res) => {
      if (req.method === 'GET') return res.end(big)
      const h = createHash('sha256')
      req.on('data', (c: Buffer) => h.update(c))
      req.on('end', () => res.end(h.digest('hex')))
    })
    origin.keepAliveTimeout = 10_000
    oport = await listen(origin)
    echo = await tcpEcho()
  })
  afterAll(async () => {
    await proxy.close()
    await closeServer(origin)
    await echo.close()
  })

  const request = (method: string, body?: Buffer, agent?: http.Agent) =>
    new Promise<Buffer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path: `http://127.0.0.1:${oport}/`, agent: agent ?? false }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve(Buffer.concat(chunks)))
      })
      req.on('error', reject)
      req.end(body)
    })

  it('HTTP GET and POST through undici over a Duplex, with origin connection reuse', async () => {
    const before = dialer.connects
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    expect(sha(await request('GET', undefined, agent))).toBe(sha(big))
    expect((await request('POST', big, agent)).toString()).toBe(sha(big))
    expect(sha(await request('GET', undefined, agent))).toBe(sha(big))
    expect(dialer.connects - before).toBe(1)
    agent.destroy()
  })

  it('CONNECT and SOCKS5 relay over a Duplex with half-close', async () => {
    const s = await connectRaw(port, '127.0.0.1', true)
    const all = readAll(s)
    s.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`)
    await new Promise((r) => setTimeout(r, 50))
    s.end('tail')
    expect((await all).data.toString()).toMatch(/\r\n\r\ntail$/)

    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port, type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: echo.port },
    })
    socket.write('dup')
    expect((await readN(socket, 3)).toString()).toBe('dup')
    socket.destroy()
    await waitFor(() => proxy.connections === 0)
  })
})
