// The tunnel's TCP connection through an HTTP CONNECT or SOCKS5 proxy: handshakes driven against
// scripted proxy bytes on loopback (success, 407, bad statuses, leftover bytes, RFC 1929 success
// and failure, malformed replies), checking the error, that our socket is closed, and that the
// bytes after the proxy's reply reach the OpenVPN framing.
import { createServer } from 'node:net'
import { once } from 'node:events'
import { scriptedProxy as startScriptedProxy, type Conn } from './scripted-proxy.js'
import { afterEach, describe, expect, it } from 'vitest'
import { connectTransport } from '../../src/transport/connect.js'
import { httpConnectRequest, parseHttpProxyResponse, socks5Address, type HttpProxySpec, type ProxySpec } from '../../src/transport/via-proxy.js'
import type { Transport } from '../../src/tunnel/types.js'
import { BurrowError } from '../../src/core/errors.js'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

async function scriptedProxy(handler: (c: Conn, index: number) => Promise<void>): Promise<{ port: number; conns: Conn[] }> {
  const p = await startScriptedProxy(handler)
  cleanups.push(p.close)
  return p
}

const frame = (...bytes: number[]) => Buffer.from([bytes.length >> 8, bytes.length & 0xff, ...bytes])

function firstMsg(t: Transport): Promise<number[]> {
  return new Promise((resolve, reject) => t.attach((m) => resolve([...m]), (e) => reject(e ?? new Error('closed'))))
}

const TARGET = { proto: 'tcp' as const, host: 'vpn.example.test', port: 1194 }

async function expectFailure(proxy: ProxySpec, re: RegExp, code?: string): Promise<BurrowError> {
  const err = await connectTransport({ ...TARGET, proxy, timeoutMs: 3000 }).then(
    () => {
      throw new Error('connected, but it should have failed')
    },
    (e: unknown) => e as BurrowError,
  )
  expect(err).toBeInstanceOf(BurrowError)
  expect(err.message).toMatch(re)
  if (code) expect(err.code).toBe(code)
  return err
}

/**
 * A proxy that wants Basic a:b: 407 (and closes, as HTTP/1.0) without it; with it, 200 and then
 * one framed message [first]. `seen`: every request header block it got.
 */
async function basicProxy(first: number): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = []
  const { port } = await scriptedProxy(async (c) => {
    const req = (await c.wait('header')).toString('latin1')
    seen.push(req)
    if (!req.includes('Proxy-Authorization: Basic YTpi')) {
      c.sock.end('HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="r"\r\n\r\n')
      return
    }
    c.sock.write(Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\n\r\n'), frame(first)]))
  })
  return { port, seen }
}

describe('HTTP CONNECT', () => {
  const http = (port: number, extra: Partial<HttpProxySpec> = {}): HttpProxySpec => ({ type: 'http', host: '127.0.0.1', port, authMode: 'none', ...extra })

  it('builds the request OpenVPN-style (1.0 default; Host on 1.1; agent, Basic, custom headers)', () => {
    expect(httpConnectRequest(http(1), { host: 'vpn.example.test', port: 1194 }, false)).toBe('CONNECT vpn.example.test:1194 HTTP/1.0\r\n\r\n')
    const req = httpConnectRequest(
      http(1, { version: '1.1', agent: 'burrow', credentials: { username: 'u', password: 'p:w' }, headers: [{ name: 'X-Flag', value: 'a b' }] }),
      { host: '2001:db8::1', port: 443 },
      true,
    )
    expect(req).toBe('CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\nUser-Agent: burrow\r\nProxy-Authorization: Basic dTpwOnc=\r\nX-Flag: a b\r\n\r\n')
    expect(() => httpConnectRequest(http(1, { headers: [{ name: 'Bad Name', value: 'x' }] }), { host: 'h', port: 1 }, false)).toThrow(/not a valid header/)
  })

  it('parses status lines and rejects garbage', () => {
    const p = (s: string) => parseHttpProxyResponse(Buffer.from(s))
    expect(p('HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n')).toEqual({ status: 200, reason: 'Connection established', headers: [{ name: 'via', value: 'x' }] })
    expect(p('HTTP/1.0 200\r\n\r\n')?.status).toBe(200)
    expect(p('SSH-2.0-OpenSSH\r\n\r\n')).toBeNull()
    expect(p('HTTP/1.1 20 OK\r\n\r\n')).toBeNull()
    expect(p('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n')).toBeNull()
  })

  it('connects with Basic auth; bytes after the response header reach the framing', async () => {
    let request = ''
    const { port, conns } = await scriptedProxy(async (c) => {
      request = (await c.wait('header')).toString('latin1')
      // the reply, the first framed tunnel packet and half of the second, in one segment
      c.sock.write(Buffer.concat([Buffer.from('HTTP/1.0 200 Connection established\r\nProxy-Agent: test\r\n\r\n'), frame(1, 2, 3), Buffer.from([0, 2, 7])]))
      await new Promise((r) => setTimeout(r, 20))
      c.sock.write(Buffer.from([8]))
    })
    const t = await connectTransport({ ...TARGET, proxy: http(port, { authMode: 'basic', credentials: { username: 'alice', password: 's3cret' } }) })
    cleanups.push(() => t.close())
    const got: number[][] = []
    await new Promise<void>((resolve, reject) =>
      t.attach(
        (m) => {
          got.push([...m])
          if (got.length === 2) resolve()
        },
        (e) => reject(e ?? new Error('closed')),
      ),
    )
    expect(got).toEqual([[1, 2, 3], [7, 8]])
    expect(request).toBe(`CONNECT vpn.example.test:1194 HTTP/1.0\r\nProxy-Authorization: Basic ${Buffer.from('alice:s3cret').toString('base64')}\r\n\r\n`)
    // and the other direction is framed too
    expect(t.send(Uint8Array.from([9, 9]))).toBe(true)
    const sent = await conns[0].wait(request.length + 4)
    expect([...sent.subarray(request.length)]).toEqual([0, 2, 9, 9])
  })

  it('407: clear ERR_AUTH naming the offered schemes; socket closed', async () => {
    const { port, conns } = await scriptedProxy(async (c) => {
      await c.wait('header')
      c.sock.write('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\n\r\n')
    })
    await expectFailure(http(port), /407 Proxy Authentication Required.*offers basic.*no credentials configured/, 'ERR_AUTH')
    await conns[0].closed
    await expectFailure(http(port, { authMode: 'basic', credentials: { username: 'a', password: 'b' } }), /rejected the username\/password/, 'ERR_AUTH')
  })

  it('auto: retries with Basic on a new connection after a 407; auto-nct refuses Basic', async () => {
    const { port, seen } = await basicProxy(5)
    const t = await connectTransport({ ...TARGET, proxy: http(port, { authMode: 'auto', credentials: { username: 'a', password: 'b' } }) })
    cleanups.push(() => t.close())
    expect(await firstMsg(t)).toEqual([5])
    expect(seen.length).toBe(2)
    expect(seen[0]).not.toContain('Proxy-Authorization')
    await expectFailure(http(port, { authMode: 'auto-nct', credentials: { username: 'a', password: 'b' } }), /auto-nct refuses clear-text Basic/, 'ERR_AUTH')
  })

  it('auto without a login asks for one only when the proxy answers 407, once, and keeps it for the next connect', async () => {
    const { port, seen } = await basicProxy(7)
    let asked = 0
    const spec = http(port, { authMode: 'auto', askCredentials: async () => (asked++, { username: 'a', password: 'b' }) })
    const t1 = await connectTransport({ ...TARGET, proxy: spec })
    cleanups.push(() => t1.close())
    expect(await firstMsg(t1)).toEqual([7])
    expect(asked).toBe(1)
    expect(spec.credentials).toEqual({ username: 'a', password: 'b' })
    // a reconnect: still one question in all (the first try goes out without a login again)
    const t2 = await connectTransport({ ...TARGET, proxy: spec })
    cleanups.push(() => t2.close())
    expect(await firstMsg(t2)).toEqual([7])
    expect(asked).toBe(1)
    expect(seen.map((r) => r.includes('Proxy-Authorization'))).toEqual([false, true, false, true])
    // without a way to ask, the 407 is the error
    await expectFailure(http(port, { authMode: 'auto' }), /no credentials configured/, 'ERR_AUTH')
  })

  it('auto does not ask when the proxy lets the CONNECT through, nor when it offers nothing we can answer', async () => {
    const open = await scriptedProxy(async (c) => {
      await c.wait('header')
      c.sock.write(Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\n\r\n'), frame(1)]))
    })
    let asked = 0
    const ask = async () => (asked++, { username: 'a', password: 'b' })
    const t = await connectTransport({ ...TARGET, proxy: http(open.port, { authMode: 'auto', askCredentials: ask }) })
    cleanups.push(() => t.close())
    expect(await firstMsg(t)).toEqual([1])
    const odd = await scriptedProxy(async (c) => {
      await c.wait('header')
      c.sock.end('HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Kerberos\r\n\r\n')
    })
    await expectFailure(http(odd.port, { authMode: 'auto', askCredentials: ask }), /none of the offered authentication schemes is supported/, 'ERR_AUTH')
    expect(asked).toBe(0)
  })

  it('other statuses, garbage, an early close and an oversized header are clear errors', async () => {
    const replies = ['HTTP/1.1 403 Forbidden\r\n\r\n', 'HTTP/1.1 502 Bad Gateway\r\n\r\n', 'SSH-2.0-x\r\n\r\n', 'HTTP/1.1 200 OK\r\n', 'HTTP/1.1 200 OK\r\nX: ' + 'a'.repeat(20000)]
    const { port, conns } = await scriptedProxy(async (c, i) => {
      await c.wait('header')
      if (i === 3) c.sock.end(replies[i])
      else c.sock.write(replies[i])
    })
    await expectFailure(http(port), /CONNECT vpn\.example\.test:1194 failed: 403 Forbidden/, 'ERR_PROTOCOL')
    await expectFailure(http(port), /failed: 502 Bad Gateway/, 'ECONNREFUSED')
    await expectFailure(http(port), /not an HTTP response/, 'ERR_PROTOCOL')
    await expectFailure(http(port), /closed the connection during the handshake/, 'ECONNRESET')
    await expectFailure(http(port), /longer than 16384 bytes/, 'ERR_PROTOCOL')
    await Promise.all(conns.map((c) => c.closed))
  })

  it('a silent proxy times out; a refused proxy port is reported as such; UDP is refused', async () => {
    const { port } = await scriptedProxy(async () => {})
    const err = await connectTransport({ ...TARGET, proxy: http(port), timeoutMs: 200 }).catch((e: BurrowError) => e)
    expect((err as BurrowError).code).toBe('ETIMEDOUT')
    const srv = createServer()
    srv.listen(0, '127.0.0.1')
    await once(srv, 'listening')
    const dead = (srv.address() as { port: number }).port
    srv.close()
    await once(srv, 'close')
    await expectFailure(http(dead), /cannot connect to the proxy/, 'ECONNREFUSED')
    await expect(connectTransport({ ...TARGET, proto: 'udp', proxy: http(dead) })).rejects.toThrow(/an HTTP proxy carries only TCP/)
  })
})

describe('SOCKS5', () => {
  const socks = (port: number, credentials?: { username: string; password: string }): ProxySpec => ({ type: 'socks5', host: '127.0.0.1', port, credentials })

  it('encodes addresses: IPv4, IPv6, domain name (never resolved locally)', () => {
    expect([...socks5Address('10.1.2.3', 1194)]).toEqual([1, 10, 1, 2, 3, 4, 0xaa])
    expect([...socks5Address('2001:db8::1', 1)]).toEqual([4, 0x20, 1, 0x0d, 0xb8, ...new Array(11).fill(0), 1, 0, 1])
    expect([...socks5Address('vpn.x', 80)]).toEqual([3, 5, ...Buffer.from('vpn.x'), 0, 80])
    expect(() => socks5Address('a'.repeat(256), 1)).toThrow(/1\.\.255/)
  })

  it('RFC 1929 username/password, domain-name CONNECT, leftover bytes to the framing', async () => {
    let seen: Buffer = Buffer.alloc(0)
    const { port } = await scriptedProxy(async (c) => {
      await c.wait(4)
      c.sock.write(Buffer.from([5, 2]))
      const auth = 4 + 2 + 5 + 1 + 3 // greeting + RFC 1929 request for alice / pw1
      await c.wait(auth)
      c.sock.write(Buffer.from([1, 0]))
      const name = Buffer.from(TARGET.host)
      seen = await c.wait(auth + 5 + name.length + 2)
      // reply with an IPv6 bound address, then a framed tunnel packet in the same write
      c.sock.write(Buffer.concat([Buffer.from([5, 0, 0, 4, ...new Array(16).fill(0), 0x12, 0x34]), frame(42, 43)]))
    })
    const t = await connectTransport({ ...TARGET, proxy: socks(port, { username: 'alice', password: 'pw1' }) })
    cleanups.push(() => t.close())
    expect(await firstMsg(t)).toEqual([42, 43])
    const name = Buffer.from(TARGET.host)
    expect([...seen]).toEqual([5, 2, 0, 2, 1, 5, ...Buffer.from('alice'), 3, ...Buffer.from('pw1'), 5, 1, 0, 3, name.length, ...name, 0x04, 0xaa])
  })

  it('no-auth CONNECT', async () => {
    const { port } = await scriptedProxy(async (c) => {
      await c.wait(3)
      c.sock.write(Buffer.from([5, 0]))
      await c.wait(3 + 5 + TARGET.host.length + 2)
      c.sock.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 80]))
      c.sock.write(frame(1))
    })
    const t = await connectTransport({ ...TARGET, proxy: socks(port) })
    cleanups.push(() => t.close())
    expect(await firstMsg(t)).toEqual([1])
  })

  it('failures: wrong password, no acceptable method, CONNECT refused, malformed replies', async () => {
    const scripts: Array<(c: Conn) => Promise<void>> = [
      async (c) => {
        await c.wait(4)
        c.sock.write(Buffer.from([5, 2]))
        await c.wait(5)
        c.sock.write(Buffer.from([1, 1]))
      },
      async (c) => {
        await c.wait(3)
        c.sock.write(Buffer.from([5, 0xff]))
      },
      async (c) => {
        await c.wait(3)
        c.sock.write(Buffer.from([5, 0]))
        await c.wait(4)
        c.sock.write(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]))
      },
      async (c) => {
        await c.wait(3)
        c.sock.write(Buffer.from([4, 0]))
      },
      async (c) => {
        await c.wait(3)
        c.sock.write(Buffer.from([5, 0]))
        await c.wait(4)
        c.sock.write(Buffer.from([5, 0, 0, 9, 1, 2]))
      },
      async (c) => {
        await c.wait(3)
        c.sock.write(Buffer.from([5, 2])) // username/password chosen but never offered
      },
      async (c) => {
        await c.wait(3)
        c.sock.write(Buffer.from([5, 0]))
        await c.wait(4)
        c.sock.end(Buffer.from([5, 0, 0, 1, 1]))
      },
    ]
    const { port, conns } = await scriptedProxy((c, i) => scripts[i](c))
    await expectFailure(socks(port, { username: 'a', password: 'wrong' }), /rejected the username\/password/, 'ERR_AUTH')
    await expectFailure(socks(port), /accepts none of the offered authentication methods/, 'ERR_AUTH')
    await expectFailure(socks(port), /CONNECT vpn\.example\.test:1194 failed: connection refused/, 'ECONNREFUSED')
    await expectFailure(socks(port), /malformed SOCKS5 reply: version 4/, 'ERR_PROTOCOL')
    await expectFailure(socks(port), /unknown address type 9/, 'ERR_PROTOCOL')
    await expectFailure(socks(port), /chose username\/password, which was not offered/, 'ERR_PROTOCOL')
    await expectFailure(socks(port), /closed the connection during the handshake/, 'ECONNRESET')
    await Promise.all(conns.map((c) => c.closed))
  })
})
