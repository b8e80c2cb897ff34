import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import type { ProxyServer } from '../../src/proxy/server.js'
import { RoutingDialer, DirectDialer } from '../../src/proxy/dialer.js'
import { checkBasic, forwardHeaders, parseAuthority } from '../../src/proxy/http.js'
import { FakeDialer, closeServer, connectRaw, handleCount, listen, readAll, readN, startProxy, tcpEcho, waitFor } from './helpers.js'

interface Res {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  reused: boolean
}

function viaProxy(
  proxyPort: number,
  target: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | Buffer[]; agent?: http.Agent } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: proxyPort, path: target, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), reused: req.reusedSocket }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    if (Array.isArray(opts.body)) for (const b of opts.body) req.write(b)
    else if (opts.body) req.write(opts.body)
    req.end()
  })
}

/** Origin used by the tests. */
async function startOrigin() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x')
    if (url.pathname === '/hang') return // never answers
    if (url.pathname === '/echo') {
      // Stream the body straight back, headers first.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-te': String(req.headers['transfer-encoding']) })
      res.flushHeaders()
      req.pipe(res)
      return
    }
    if (url.pathname === '/chunked') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      let i = 0
      const tick = () => {
        if (i === 5) return res.end()
        res.write(`chunk${i++};`)
        setTimeout(tick, 5)
      }
      tick()
      return
    }
    const h = createHash('sha256')
    let n = 0
    req.on('data', (c: Buffer) => {
      h.update(c)
      n += c.length
    })
    req.on('end', () => {
      const body = JSON.stringify({
        method: req.method,
        url: req.url,
        rawHeaders: req.rawHeaders,
        headers: req.headers,
        length: n,
        sha256: h.digest('hex'),
        remotePort: req.socket.remotePort,
      })
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'keep-alive, X-Secret',
        'x-secret': 'hop',
        'keep-alive': 'timeout=5',
        'proxy-authenticate': 'Basic realm="origin"',
        'x-normal': 'ok',
        'set-cookie': ['a=1', 'b=2'],
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    })
  })
  server.keepAliveTimeout = 10_000
  const port = await listen(server)
  return { server, port, url: `http://127.0.0.1:${port}` }
}

describe('HTTP proxy helpers', () => {
  it('drops hop-by-hop fields and those named by Connection', () => {
    const raw = ['Host', 'a', 'Connection', 'keep-alive, X-Foo', 'X-Foo', '1', 'Keep-Alive', 'x', 'TE', 'trailers',
      'Proxy-Connection', 'close', 'Proxy-Authorization', 'Basic x', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c',
      'Trailer', 'X-T', 'X-Keep', 'yes']
    expect(forwardHeaders(raw)).toEqual(['Host', 'a', 'X-Keep', 'yes'])
    expect(forwardHeaders(raw, ['host'])).toEqual(['X-Keep', 'yes'])
  })
  it('parses authority-form targets', () => {
    expect(parseAuthority('example.com:443')).toEqual({ host: 'example.com', port: 443 })
    expect(parseAuthority('[::1]:8443')).toEqual({ host: '::1', port: 8443 })
    for (const bad of ['example.com', ':80', 'a:0', 'a:65536', 'a b:80', '/x:80', 'http://a:80']) expect(parseAuthority(bad)).toBeNull()
  })
  it('checks Basic credentials', () => {
    const auth = { username: 'u', password: 'p:w' }
    expect(checkBasic(`Basic ${Buffer.from('u:p:w').toString('base64')}`, auth)).toBe(true)
    expect(checkBasic(`basic ${Buffer.from('u:p:w').toString('base64')}`, auth)).toBe(true)
    expect(checkBasic(`Basic ${Buffer.from('u:pw').toString('base64')}`, auth)).toBe(false)
    expect(checkBasic('Bearer x', auth)).toBe(false)
    expect(checkBasic(undefined, auth)).toBe(false)
  })
})

describe('HTTP proxy over DirectDialer', () => {
  let proxy: ProxyServer
  let port: number
  let origin: Awaited<ReturnType<typeof startOrigin>>
  let echo: Awaited<ReturnType<typeof tcpEcho>>

  beforeAll(async () => {
    ;({ proxy, port } = await startProxy({ headersTimeoutMs: 400, handshakeTimeoutMs: 2000 }))
    origin = await startOrigin()
    echo = await tcpEcho()
  })
  afterAll(async () => {
    await proxy.close()
    await closeServer(origin.server)
    await echo.close()
  })
  afterEach(async () => {
    await waitFor(() => proxy.connections === 0)
  })

  it('forwards GET in absolute-form with Host rewritten and Via added', async () => {
    const r = await viaProxy(port, `${origin.url}/path?q=1`, { headers: { host: 'wrong.example' } })
    expect(r.status).toBe(200)
    const j = JSON.parse(r.body.toString())
    expect(j.method).toBe('GET')
    expect(j.url).toBe('/path?q=1')
    expect(j.headers.host).toBe(`127.0.0.1:${origin.port}`)
    expect(j.headers.via).toBe('1.1 burrow-proxy')
    expect(r.headers.via).toBe('1.1 burrow-proxy')
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2'])
  })

  it('forwards every method (PUT, DELETE, PATCH, OPTIONS, HEAD)', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await viaProxy(port, `${origin.url}/m`, { method, body: Buffer.from('abc'), headers: { 'content-length': 3 } })
      const j = JSON.parse(r.body.toString())
      expect(j.method).toBe(method)
      expect(j.length).toBe(3)
    }
    const h = await viaProxy(port, `${origin.url}/m`, { method: 'HEAD' })
    expect(h.status).toBe(200)
    expect(h.body.length).toBe(0)
  })

  it('removes hop-by-hop headers in both directions', async () => {
    const r = await viaProxy(port, `${origin.url}/h`, {
      headers: {
        connection: 'keep-alive, X-Drop-Me',
        'x-drop-me': '1',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        te: 'trailers',
        'x-keep': 'yes',
      },
    })
    const j = JSON.parse(r.body.toString())
    for (const h of ['x-drop-me', 'keep-alive', 'proxy-connection', 'te', 'proxy-authorization']) expect(j.headers[h]).toBeUndefined()
    expect(j.headers['x-keep']).toBe('yes')
    expect(r.headers['x-secret']).toBeUndefined()
    expect(r.headers['keep-alive']).not.toBe('timeout=5') // the proxy's own keep-alive only
    expect(r.headers['proxy-authenticate']).toBeUndefined()
    expect(r.headers['x-normal']).toBe('ok')
  })

  it('streams a 10 MB POST with Content-Length to the origin intact', async () => {
    const body = randomBytes(10 * 1024 * 1024)
    const r = await viaProxy(port, `${origin.url}/upload`, { method: 'POST', body, headers: { 'content-length': body.length } })
    const j = JSON.parse(r.body.toString())
    expect(j.length).toBe(body.length)
    expect(j.sha256).toBe(createHash('sha256').update(body).digest('hex'))
    expect(j.headers['content-length']).toBe(String(body.length))
  })

  it('streams a 10 MB body both ways without buffering it (echo)', async () => {
    const body = randomBytes(10 * 1024 * 1024)
    const r = await viaProxy(port, `${origin.url}/echo`, { method: 'POST', body, headers: { 'content-length': body.length } })
    expect(r.status).toBe(200)
    expect(r.body.length).toBe(body.length)
    expect(createHash('sha256').update(r.body).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'))
  })

  it('relays a chunked request body as it arrives (response starts before the request ends)', async () => {
    const req = http.request({ host: '127.0.0.1', port, path: `${origin.url}/echo`, method: 'POST', agent: false })
    const res = await new Promise<http.IncomingMessage>((resolve) => {
      req.on('response', resolve)
      req.write('first-part;')
      req.flushHeaders()
    })
    expect(res.headers['x-te']).toBe('chunked')
    expect(res.headers['transfer-encoding']).toBe('chunked')
    const first = await new Promise<string>((r) => res.once('data', (c: Buffer) => r(c.toString())))
    expect(first).toBe('first-part;')
    const rest: Buffer[] = []
    res.on('data', (c: Buffer) => rest.push(c))
    const ended = new Promise((r) => res.on('end', r))
    req.end('second-part')
    await ended
    expect(Buffer.concat(rest).toString()).toBe('second-part')
  })

  it('passes a chunked response through', async () => {
    const r = await viaProxy(port, `${origin.url}/chunked`)
    expect(r.body.toString()).toBe('chunk0;chunk1;chunk2;chunk3;chunk4;')
    expect(r.headers['transfer-encoding']).toBe('chunked')
  })

  it('keeps the client connection alive and pools the origin connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const a = await viaProxy(port, `${origin.url}/p`, { agent })
    const b = await viaProxy(port, `${origin.url}/p`, { agent })
    expect(b.reused).toBe(true)
    expect(proxy.connections).toBe(1)
    expect(JSON.parse(b.body.toString()).remotePort).toBe(JSON.parse(a.body.toString()).remotePort)
    agent.destroy()
  })

  it('tunnels CONNECT both ways, including bytes sent with the request head', async () => {
    const s = await connectRaw(port)
    s.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n\r\nearly;`)
    const head = await readN(s, 'HTTP/1.1 200'.length)
    expect(head.toString()).toBe('HTTP/1.1 200')
    let acc = ''
    await new Promise<void>((resolve) => {
      const on = (c: Buffer) => {
        acc += c.toString('latin1')
        if (acc.includes('early;')) {
          s.off('data', on)
          resolve()
        }
      }
      s.on('data', on)
      s.resume()
    })
    expect(acc).toMatch(/\r\n\r\nearly;$/)
    s.write('later')
    expect((await readN(s, 5)).toString()).toBe('later')
    s.destroy()
  })

  it('CONNECT to IPv6 literal and half-close', async () => {
    const e6 = await tcpEcho('::1')
    const s = await connectRaw(port, '127.0.0.1', true)
    s.write(`CONNECT [::1]:${e6.port} HTTP/1.1\r\nHost: [::1]:${e6.port}\r\n\r\n`)
    const all = readAll(s)
    await new Promise((r) => setTimeout(r, 50))
    s.end('bye')
    const r = await all
    expect(r.data.toString()).toMatch(/^HTTP\/1\.1 200 [^\r]*\r\n(?:[^\r]+\r\n)*\r\nbye$/)
    await e6.close()
  })

  it('answers 502 with a reason when the origin refuses', async () => {
    const tmp = net.createServer()
    const p = await listen(tmp)
    await closeServer(tmp)
    const r = await viaProxy(port, `http://127.0.0.1:${p}/`)
    expect(r.status).toBe(502)
    expect(r.body.toString()).toMatch(/ECONNREFUSED/)
    const s = await connectRaw(port)
    s.write(`CONNECT 127.0.0.1:${p} HTTP/1.1\r\n\r\n`)
    const c = await readAll(s)
    expect(c.data.toString()).toMatch(/^HTTP\/1\.1 502 .*ECONNREFUSED/s)
    expect(c.closed).toBe(true)
  })

  it('answers 504 when the origin does not respond in time', async () => {
    const r = await viaProxy(port, `${origin.url}/hang`)
    expect(r.status).toBe(504)
    expect(r.body.toString()).toMatch(/HEADERS_TIMEOUT/)
  })

  it('answers 400 to origin-form requests and keeps nothing open on garbage', async () => {
    const r = await viaProxy(port, '/not-absolute')
    expect(r.status).toBe(400)
    expect(r.body.toString()).toMatch(/origin-form/)
    const before = handleCount()
    for (const junk of ['GARBAGE\r\n\r\n', 'GET http://x/ HTTP/1.1\r\nBad Header\r\n\r\n', 'GET http://x/ HTTP/9.9\r\n\r\n']) {
      const s = await connectRaw(port)
      s.write(junk)
      const res = await readAll(s)
      expect(res.data.toString()).toMatch(/^HTTP\/1\.1 400 Bad Request/)
      expect(res.closed).toBe(true)
    }
    const s = await connectRaw(port)
    s.write('CONNECT nonsense HTTP/1.1\r\n\r\n')
    expect((await readAll(s)).data.toString()).toMatch(/^HTTP\/1\.1 400/)
    await waitFor(() => proxy.connections === 0)
    await waitFor(() => handleCount() <= before)
  })
})

describe('HTTP proxy Basic authentication', () => {
  let proxy: ProxyServer
  let port: number
  let origin: Awaited<ReturnType<typeof startOrigin>>
  const good = `Basic ${Buffer.from('bob:pa55').toString('base64')}`
  beforeAll(async () => {
    ;({ proxy, port } = await startProxy({ auth: { username: 'bob', password: 'pa55' } }))
    origin = await startOrigin()
  })
  afterAll(async () => {
    await proxy.close()
    await closeServer(origin.server)
  })

  it('407 with Proxy-Authenticate when credentials are missing or wrong', async () => {
    const r = await viaProxy(port, `${origin.url}/`)
    expect(r.status).toBe(407)
    expect(r.headers['proxy-authenticate']).toMatch(/^Basic realm=/)
    const w = await viaProxy(port, `${origin.url}/`, { headers: { 'proxy-authorization': `Basic ${Buffer.from('bob:no').toString('base64')}` } })
    expect(w.status).toBe(407)
    const s = await connectRaw(port)
    s.write(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\n\r\n`)
    const c = await readAll(s)
    expect(c.data.toString()).toMatch(/^HTTP\/1\.1 407 [^]*Proxy-Authenticate: Basic/)
  })

  it('accepts the right credentials and does not forward them', async () => {
    const r = await viaProxy(port, `${origin.url}/`, { headers: { 'proxy-authorization': good } })
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body.toString()).headers['proxy-authorization']).toBeUndefined()
    const s = await connectRaw(port)
    s.write(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nProxy-Authorization: ${good}\r\n\r\n`)
    expect((await readN(s, 12)).toString()).toBe('HTTP/1.1 200')
    s.destroy()
  })
})

describe('HTTP proxy with RoutingDialer --no-direct', () => {
  it('tunnels destinations inside the routes and answers 403 for the rest', async () => {
    const origin = await startOrigin()
    // The fake tunnel reaches "10.99.0.1" by connecting to the loopback origin.
    const tunnel = new FakeDialer('tunnel', { connect: (_h, p) => new DirectDialer().connect('127.0.0.1', p) })
    const dialer = new RoutingDialer({ tunnel, routes: [{ address: '10.99.0.0', prefix: 24 }], noDirect: true })
    const { proxy, port } = await startProxy({ dialer })
    const ok = await viaProxy(port, `http://10.99.0.1:${origin.port}/`)
    expect(ok.status).toBe(200)
    expect(JSON.parse(ok.body.toString()).headers.host).toBe(`10.99.0.1:${origin.port}`)
    expect(tunnel.calls).toContainEqual({ op: 'connect', host: '10.99.0.1', port: origin.port })
    for (const target of [`http://127.0.0.1:${origin.port}/`, `http://[::1]:${origin.port}/`]) {
      const refused = await viaProxy(port, target)
      expect(refused.status).toBe(403)
      expect(refused.body.toString()).toMatch(/outside the tunnel's routes/)
    }
    const s = await connectRaw(port)
    s.write(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\n\r\n`)
    expect((await readAll(s)).data.toString()).toMatch(/^HTTP\/1\.1 403 /)
    expect(tunnel.calls.filter((c) => c.op === 'connect').length).toBe(1)
    await proxy.close()
    await closeServer(origin.server)
  })
})

describe('HTTP proxy client timeouts', () => {
  it('closes a client that stalls inside its first request head', async () => {
    const { proxy, port } = await startProxy({ handshakeTimeoutMs: 300 })
    const s = await connectRaw(port)
    s.write('GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n')
    const t0 = Date.now()
    const r = await readAll(s)
    expect(r.closed).toBe(true)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250)
    expect(Date.now() - t0).toBeLessThan(3000)
    await waitFor(() => proxy.connections === 0)
    await proxy.close()
  })

  it('does not apply the head timeout to a slow response body', async () => {
    const origin = http.createServer((_q, res) => {
      res.writeHead(200)
      res.write('a')
      setTimeout(() => res.end('b'), 700)
    })
    const oport = await listen(origin)
    const { proxy, port } = await startProxy({ handshakeTimeoutMs: 300 })
    const r = await viaProxy(port, `http://127.0.0.1:${oport}/`)
    expect(r.body.toString()).toBe('ab')
    await proxy.close()
    await closeServer(origin)
  })
})

describe('HTTP proxy: IPv6 origins and Upgrade', () => {
  it('forwards absolute-form requests to an IPv6 literal origin', async () => {
    const origin = http.createServer((q, r) => r.end(`v6 ${q.headers.host}`))
    const oport = await listen(origin, '::1')
    const { proxy, port } = await startProxy()
    const r = await viaProxy(port, `http://[::1]:${oport}/`)
    expect(r.status).toBe(200)
    expect(r.body.toString()).toBe(`v6 [::1]:${oport}`)
    await proxy.close()
    await closeServer(origin)
  })

  it('passes an Upgrade handshake through and then relays raw bytes', async () => {
    const origin = http.createServer((_q, r) => r.end('no upgrade'))
    origin.on('upgrade', (req: http.IncomingMessage, sock: net.Socket) => {
      sock.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${req.headers.upgrade}\r\nX-Saw-Via: ${req.headers.via}\r\n\r\n`)
      sock.pipe(sock)
    })
    const oport = await listen(origin)
    const { proxy, port } = await startProxy()
    const s = await connectRaw(port)
    s.write(`GET http://127.0.0.1:${oport}/ws HTTP/1.1\r\nHost: 127.0.0.1:${oport}\r\nConnection: Upgrade\r\nUpgrade: test-proto\r\n\r\n`)
    let acc = ''
    await new Promise<void>((resolve) => {
      s.on('data', (c: Buffer) => {
        acc += c.toString()
        if (acc.includes('\r\n\r\n')) resolve()
      })
    })
    expect(acc).toMatch(/^HTTP\/1\.1 101 /)
    expect(acc).toMatch(/Upgrade: test-proto/)
    expect(acc).toMatch(/X-Saw-Via: 1\.1 burrow-proxy/)
    s.removeAllListeners('data')
    s.write('raw frame')
    expect((await readN(s, 9)).toString()).toBe('raw frame')
    s.destroy()
    await proxy.close()
    await closeServer(origin)
  })
})

describe('HTTP proxy: loops and Max-Forwards', () => {
  it('answers 508 to requests that target the proxy itself', async () => {
    const { proxy, port } = await startProxy()
    for (const host of ['127.0.0.1', 'localhost']) {
      const r = await viaProxy(port, `http://${host}:${port}/`)
      expect(r.status).toBe(508)
    }
    const s = await connectRaw(port)
    s.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`)
    expect((await readAll(s)).data.toString()).toMatch(/^HTTP\/1\.1 508 /)
    await waitFor(() => proxy.connections === 0)
    await proxy.close()
  })

  it('answers TRACE/OPTIONS with Max-Forwards: 0 itself and decrements otherwise', async () => {
    const origin = await startOrigin()
    const { proxy, port } = await startProxy()
    const trace = await viaProxy(port, `${origin.url}/t`, { method: 'TRACE', headers: { 'max-forwards': '0', 'x-probe': 'p' } })
    expect(trace.status).toBe(200)
    expect(trace.headers['content-type']).toBe('message/http')
    expect(trace.body.toString()).toMatch(/^TRACE http:\/\/127\.0\.0\.1:\d+\/t HTTP\/1\.1\r\n[^]*x-probe: p/)
    const opt = await viaProxy(port, `${origin.url}/o`, { method: 'OPTIONS', headers: { 'max-forwards': '3' } })
    expect(JSON.parse(opt.body.toString()).headers['max-forwards']).toBe('2')
    const get = await viaProxy(port, `${origin.url}/g`, { headers: { 'max-forwards': '3' } })
    expect(JSON.parse(get.body.toString()).headers['max-forwards']).toBe('3')
    await proxy.close()
    await closeServer(origin.server)
  })
})

describe('HTTP proxy: HTTP/1.0 clients', () => {
  it('serves an HTTP/1.0 request and records 1.0 in Via', async () => {
    const origin = await startOrigin()
    const { proxy, port } = await startProxy()
    const s = await connectRaw(port)
    s.write(`GET ${origin.url}/ten HTTP/1.0\r\nVia: 1.1 upstream\r\n\r\n`)
    const r = await readAll(s)
    expect(r.closed).toBe(true)
    const text = r.data.toString()
    expect(text).toMatch(/^HTTP\/1\.1 200 /)
    const j = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))
    expect(j.headers.via).toBe('1.1 upstream, 1.0 burrow-proxy')
    await proxy.close()
    await closeServer(origin.server)
  })
})
