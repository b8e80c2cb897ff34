import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import net from 'node:net'
import { SocksClient } from 'socks'
import type { ProxyServer } from '../../src/proxy/server.js'
import { Socks4Reply } from '../../src/proxy/socks4.js'
import { closeServer, connectRaw, handleCount, listen, readAll, readN, startProxy, tcpEcho, waitFor } from './helpers.js'

function socks4Request(cd: number, port: number, ip: number[], userid: string, domain?: string): Buffer {
  const parts = [Buffer.from([4, cd, port >> 8, port & 255, ...ip]), Buffer.from(userid), Buffer.from([0])]
  if (domain !== undefined) parts.push(Buffer.from(domain), Buffer.from([0]))
  return Buffer.concat(parts)
}

describe('SOCKS4/4a', () => {
  let proxy: ProxyServer
  let port: number
  let echo: Awaited<ReturnType<typeof tcpEcho>>
  beforeAll(async () => {
    ;({ proxy, port } = await startProxy({ handshakeTimeoutMs: 300 }))
    echo = await tcpEcho()
  })
  afterAll(async () => {
    await proxy.close()
    await echo.close()
  })
  afterEach(async () => {
    await waitFor(() => proxy.connections === 0)
  })

  it('SOCKS4 CONNECT to an IPv4 address', async () => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port, type: 4, userId: 'me' },
      command: 'connect',
      destination: { host: '127.0.0.1', port: echo.port },
    })
    socket.write('four')
    expect((await readN(socket, 4)).toString()).toBe('four')
    socket.destroy()
  })

  it('SOCKS4a CONNECT to a host name', async () => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port, type: 4 },
      command: 'connect',
      destination: { host: 'localhost', port: echo.port },
    })
    socket.write('four-a')
    expect((await readN(socket, 6)).toString()).toBe('four-a')
    socket.destroy()
  })

  it('grants with reply 90 and forwards bytes sent after the request', async () => {
    const s = await connectRaw(port)
    s.write(Buffer.concat([socks4Request(1, echo.port, [0, 0, 0, 1], '', 'localhost'), Buffer.from('early')]))
    const rep = await readN(s, 8)
    expect(rep[0]).toBe(0)
    expect(rep[1]).toBe(Socks4Reply.GRANTED)
    expect((await readN(s, 5)).toString()).toBe('early')
    s.destroy()
  })

  it('rejects (91) a refused connection, BIND, and an over-long user id; closes; nothing leaks', async () => {
    const tmp = net.createServer()
    const closedPort = await listen(tmp)
    await closeServer(tmp)
    const before = handleCount()
    for (const req of [
      socks4Request(1, closedPort, [127, 0, 0, 1], 'u'),
      socks4Request(2, echo.port, [127, 0, 0, 1], 'u'),
      Buffer.concat([Buffer.from([4, 1, 0, 80, 127, 0, 0, 1]), Buffer.alloc(300, 0x41)]),
      socks4Request(1, echo.port, [0, 0, 0, 9], 'u', ''),
    ]) {
      const s = await connectRaw(port)
      const all = readAll(s)
      s.write(req)
      const r = await all
      expect(r.data.length).toBe(8)
      expect(r.data[0]).toBe(0)
      expect(r.data[1]).toBe(Socks4Reply.REJECTED)
      expect(r.closed).toBe(true)
    }
    await waitFor(() => proxy.connections === 0)
    await waitFor(() => handleCount() <= before)
  })

  it('closes truncated requests without a reply', async () => {
    for (const bytes of [[4], [4, 1, 0, 80, 127], [4, 1, 0, 80, 127, 0, 0, 1, 65, 65]]) {
      const s = await connectRaw(port)
      const all = readAll(s)
      s.end(Buffer.from(bytes))
      const r = await all
      expect(r.data.length).toBe(0)
      expect(r.closed).toBe(true)
    }
    // A stalled one is closed by the handshake timeout.
    const s = await connectRaw(port)
    s.write(Buffer.from([4, 1, 0]))
    expect((await readAll(s)).closed).toBe(true)
  })
})

describe('SOCKS4 when credentials are configured', () => {
  it('rejects every SOCKS4 request (no password in the protocol)', async () => {
    const { proxy, port } = await startProxy({ auth: { username: 'a', password: 'b' } })
    const echo = await tcpEcho()
    const s = await connectRaw(port)
    const all = readAll(s)
    s.write(socks4Request(1, echo.port, [127, 0, 0, 1], 'a'))
    const r = await all
    expect(r.data[1]).toBe(Socks4Reply.REJECTED)
    expect(r.closed).toBe(true)
    await proxy.close()
    await echo.close()
  })
})
