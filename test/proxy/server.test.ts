import { describe, expect, it } from 'vitest'
import http from 'node:http'
import { SocksClient } from 'socks'
import { ProxyServer } from '../../src/proxy/server.js'
import { DirectDialer } from '../../src/proxy/dialer.js'
import { connectRaw, readAll, readN, startProxy, tcpEcho, waitFor } from './helpers.js'

describe('ProxyServer: HTTP, SOCKS5 and SOCKS4 on one port', () => {
  it('serves all three protocols on the same listener', async () => {
    const { proxy, port } = await startProxy()
    const echo = await tcpEcho()
    const origin = http.createServer((_q, r) => r.end('from origin'))
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()))
    const originPort = (origin.address() as { port: number }).port

    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: `http://127.0.0.1:${originPort}/`, agent: false }, (res) => {
          let b = ''
          res.on('data', (c: Buffer) => (b += c.toString()))
          res.on('end', () => resolve(b))
        })
        .on('error', reject)
    })
    expect(body).toBe('from origin')

    for (const type of [5, 4] as const) {
      const { socket } = await SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port, type },
        command: 'connect',
        destination: { host: '127.0.0.1', port: echo.port },
      })
      socket.write(`socks${type}`)
      expect((await readN(socket, 6)).toString()).toBe(`socks${type}`)
      socket.destroy()
    }
    await proxy.close()
    await echo.close()
    await new Promise<void>((r) => origin.close(() => r()))
  })

  it('close() closes open client connections and stops listening', async () => {
    const { proxy, port } = await startProxy()
    const echo = await tcpEcho()
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port, type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: echo.port },
    })
    const idle = await connectRaw(port)
    const a = readAll(socket)
    const b = readAll(idle)
    expect(proxy.connections).toBe(2)
    await proxy.close()
    expect((await a).closed).toBe(true)
    expect((await b).closed).toBe(true)
    expect(proxy.connections).toBe(0)
    await expect(connectRaw(port)).rejects.toThrow(/ECONNREFUSED/)
    await proxy.close() // idempotent
    await echo.close()
  })

  it('separate HTTP-only and SOCKS-only listeners refuse the other protocol', async () => {
    const httpOnly = new ProxyServer({ dialer: new DirectDialer(), protocols: { socks4: false, socks5: false } })
    const socksOnly = new ProxyServer({ dialer: new DirectDialer(), protocols: { http: false } })
    const h = await httpOnly.start()
    const s = await socksOnly.start()
    const c1 = await connectRaw(h.port)
    c1.write(Buffer.from([5, 1, 0]))
    const r1 = await readAll(c1)
    expect(r1.closed).toBe(true)
    expect(r1.data.length).toBe(0)
    const c2 = await connectRaw(s.port)
    c2.write('GET http://127.0.0.1/ HTTP/1.1\r\n\r\n')
    const r2 = await readAll(c2)
    expect(r2.closed).toBe(true)
    expect(r2.data.length).toBe(0)
    await waitFor(() => httpOnly.connections === 0 && socksOnly.connections === 0)
    await httpOnly.close()
    await socksOnly.close()
  })

  it('reports a listen error (port in use)', async () => {
    const { proxy, port } = await startProxy()
    const second = new ProxyServer({ dialer: new DirectDialer(), port })
    await expect(second.start()).rejects.toThrow(/EADDRINUSE/)
    await proxy.close()
  })
})

describe('ProxyServer: destination connect timeout', () => {
  // A dialer whose connects never complete; it honours the abort signal like a real one must.
  const hanging = {
    aborted: 0,
    connect(_h: string, _p: number, signal?: AbortSignal): Promise<never> {
      return new Promise((_resolve, reject) => {
        signal?.addEventListener('abort', () => {
          hanging.aborted++
          reject(Object.assign(new Error('aborted'), { code: 'EABORTED' }))
        })
      })
    },
    openUdp: () => Promise.reject(new Error('no udp')),
  }

  it('answers 504 (HTTP, CONNECT), TTL expired (SOCKS5) and rejected (SOCKS4), aborting the dial', async () => {
    const { proxy, port } = await startProxy({ dialer: hanging, connectTimeoutMs: 200 })
    const get = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: 'http://10.255.0.1/', agent: false }, (res) => {
          res.resume()
          resolve(res.statusCode!)
        })
        .on('error', reject)
    })
    expect(get).toBe(504)
    const c = await connectRaw(port)
    c.write('CONNECT 10.255.0.1:443 HTTP/1.1\r\n\r\n')
    expect((await readAll(c)).data.toString()).toMatch(/^HTTP\/1\.1 504 .*timed out/s)
    const s5 = await connectRaw(port)
    s5.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 10, 255, 0, 1, 0, 80]))
    expect([...(await readAll(s5)).data.subarray(0, 4)]).toEqual([5, 0, 5, 6])
    const s4 = await connectRaw(port)
    s4.write(Buffer.from([4, 1, 0, 80, 10, 255, 0, 1, 0]))
    expect([...(await readAll(s4)).data.subarray(0, 2)]).toEqual([0, 91])
    expect(hanging.aborted).toBe(4)
    await waitFor(() => proxy.connections === 0)
    await proxy.close()
  })
})
