import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import dgram from 'node:dgram'
import net from 'node:net'
import { SocksClient } from 'socks'
import { BurrowError, ErrorCode } from '../../src/core/errors.js'
import { RouteRefusedError } from '../../src/proxy/dialer.js'
import {
  Socks5Reply,
  emitSocks5UdpDatagram,
  encodeAddress,
  formatIpv6,
  parseSocks5UdpHeader,
  socks5ReplyForError,
} from '../../src/proxy/socks5.js'
import type { ProxyServer } from '../../src/proxy/server.js'
import type { Counters } from '../../src/core/counters.js'
import {
  FakeDialer,
  connectRaw,
  handleCount,
  readAll,
  readN,
  startProxy,
  tcpEcho,
  udpEcho,
  waitFor,
} from './helpers.js'

/** UDP ASSOCIATE with the `socks` client; resolves with the control socket and relay address. */
function associate(port: number, proxyHost = '127.0.0.1'): Promise<{ socket: net.Socket; remoteHost?: { host: string; port: number } }> {
  return new Promise((resolve, reject) => {
    const c = new SocksClient({
      proxy: { host: proxyHost, port, type: 5 },
      command: 'associate',
      destination: { host: '0.0.0.0', port: 0 },
    })
    c.on('established', (info) => resolve(info))
    c.on('error', reject)
    c.connect()
  })
}

async function echoThrough(sock: net.Socket, msg: string): Promise<string> {
  sock.write(msg)
  return (await readN(sock, Buffer.byteLength(msg))).toString()
}

describe('SOCKS5 codec helpers', () => {
  it('formats IPv6 with RFC 5952 compression', () => {
    const b = new Uint8Array(16)
    b[15] = 1
    expect(formatIpv6(b)).toBe('::1')
    const c = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
    expect(formatIpv6(c)).toBe('2001:db8::1:0:0:1')
    expect(formatIpv6(new Uint8Array(16))).toBe('::')
  })

  it('round-trips UDP request headers for all address types', () => {
    for (const host of ['10.1.2.3', '2001:db8::5', 'example.test']) {
      const d = emitSocks5UdpDatagram(host, 5353, Uint8Array.of(1, 2, 3))
      const h = parseSocks5UdpHeader(d)
      expect(h).not.toBeNull()
      expect(h!.host).toBe(host)
      expect(h!.port).toBe(5353)
      expect(h!.frag).toBe(0)
      expect([...d.subarray(h!.dataOffset)]).toEqual([1, 2, 3])
    }
    expect([...encodeAddress('::ffff:1.2.3.4')]).toEqual([1, 1, 2, 3, 4])
  })

  it('rejects truncated or unknown-ATYP UDP headers', () => {
    const d = emitSocks5UdpDatagram('10.1.2.3', 53, new Uint8Array(0))
    for (let n = 0; n < d.length; n++) expect(parseSocks5UdpHeader(d.subarray(0, n))).toBeNull()
    expect(parseSocks5UdpHeader(Uint8Array.of(0, 0, 0, 9, 1, 2, 3, 4, 0, 53))).toBeNull()
    expect(parseSocks5UdpHeader(Uint8Array.of(0, 0, 0, 3, 0, 0, 53))).toBeNull()
  })

  it('maps dialer errors to RFC 1928 reply codes', () => {
    const e = (code: string) => Object.assign(new Error(code), { code })
    expect(socks5ReplyForError(new BurrowError(ErrorCode.ECONNREFUSED, 'x'))).toBe(Socks5Reply.CONNECTION_REFUSED)
    expect(socks5ReplyForError(e('ECONNREFUSED'))).toBe(Socks5Reply.CONNECTION_REFUSED)
    expect(socks5ReplyForError(e('EHOSTUNREACH'))).toBe(Socks5Reply.HOST_UNREACHABLE)
    expect(socks5ReplyForError(e('ENOTFOUND'))).toBe(Socks5Reply.HOST_UNREACHABLE)
    expect(socks5ReplyForError(e('ENETUNREACH'))).toBe(Socks5Reply.NETWORK_UNREACHABLE)
    expect(socks5ReplyForError(e('ETIMEDOUT'))).toBe(Socks5Reply.TTL_EXPIRED)
    expect(socks5ReplyForError(new RouteRefusedError('1.2.3.4:80'))).toBe(Socks5Reply.NOT_ALLOWED)
    expect(socks5ReplyForError(new Error('boom'))).toBe(Socks5Reply.GENERAL_FAILURE)
  })
})

describe('SOCKS5 server over DirectDialer', () => {
  let proxy: ProxyServer
  let port: number
  let counters: Counters
  let echo4: Awaited<ReturnType<typeof tcpEcho>>
  let echo6: Awaited<ReturnType<typeof tcpEcho>>

  beforeAll(async () => {
    ;({ proxy, port, counters } = await startProxy({ handshakeTimeoutMs: 500 }))
    echo4 = await tcpEcho('127.0.0.1')
    echo6 = await tcpEcho('::1')
  })
  afterAll(async () => {
    await proxy.close()
    await echo4.close()
    await echo6.close()
  })
  afterEach(async () => {
    await waitFor(() => proxy.connections === 0)
  })

  const socks = (host: string, dport: number) =>
    SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port, type: 5 },
      command: 'connect',
      destination: { host, port: dport },
    })

  it('CONNECTs to an IPv4 literal and relays both ways', async () => {
    const { socket } = await socks('127.0.0.1', echo4.port)
    expect(await echoThrough(socket, 'hello v4')).toBe('hello v4')
    socket.destroy()
  })

  it('CONNECTs to an IPv6 literal', async () => {
    const { socket } = await socks('::1', echo6.port)
    expect(await echoThrough(socket, 'hello v6')).toBe('hello v6')
    socket.destroy()
  })

  it('CONNECTs to a domain name (resolved by the dialer)', async () => {
    const { socket } = await socks('localhost', echo4.port)
    expect(await echoThrough(socket, 'hello name')).toBe('hello name')
    socket.destroy()
  })

  it('keeps a half-closed connection flowing the other way', async () => {
    const { socket } = await socks('127.0.0.1', echo4.port)
    const all = readAll(socket)
    socket.end('half-close data')
    const r = await all
    expect(r.closed).toBe(true)
    expect(r.data.toString()).toBe('half-close data')
  })

  it('forwards optimistic data sent right after the request', async () => {
    const s = await connectRaw(port)
    const req = Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1]), Buffer.from([echo4.port >> 8, echo4.port & 255])])
    s.write(Buffer.concat([req, Buffer.from('early')]))
    const greet = await readN(s, 2)
    expect([...greet]).toEqual([5, 0])
    const rep = await readN(s, 10)
    expect(rep[1]).toBe(Socks5Reply.SUCCEEDED)
    expect((await readN(s, 5)).toString()).toBe('early')
    s.destroy()
  })

  it('answers connection refused (0x05) for a closed port', async () => {
    const closed = net.createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()))
    const p = (closed.address() as net.AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    await expect(socks('127.0.0.1', p)).rejects.toThrow(/ConnectionRefused/)
  })

  it('relays UDP ASSOCIATE datagrams to an echo server and back', async () => {
    const echo = await udpEcho()
    const info = await associate(port)
    const relay = info.remoteHost!
    expect(relay.host).toBe('127.0.0.1')
    const client = dgram.createSocket('udp4')
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()))
    const got = new Promise<Buffer>((r) => client.once('message', (m) => r(m)))
    const frame = SocksClient.createUDPFrame({ remoteHost: { host: '127.0.0.1', port: echo.port }, data: Buffer.from('ping') })
    client.send(frame, relay.port, relay.host)
    const reply = SocksClient.parseUDPFrame(await got)
    expect(reply.data.toString()).toBe('ping')
    expect(reply.remoteHost).toEqual({ host: '127.0.0.1', port: echo.port })

    // A fragmented datagram (FRAG≠0) is dropped.
    const frag = Buffer.from(frame)
    frag[2] = 1
    const before = counters.get('socks5.udp_fragment')
    client.send(frag, relay.port, relay.host)
    await waitFor(() => counters.get('socks5.udp_fragment') === before + 1)

    // Closing the control connection closes the relay: its port can be bound again.
    info.socket.destroy()
    await waitFor(async () => {
      const probe = dgram.createSocket('udp4')
      const ok = await new Promise<boolean>((r) => {
        probe.once('error', () => r(false))
        probe.bind(relay.port, '127.0.0.1', () => r(true))
      })
      probe.close()
      return ok
    })
    client.close()
    await echo.close()
  })

  it('ignores datagrams to the relay from another local address or port', async () => {
    const echo = await udpEcho()
    const info = await associate(port)
    const relay = info.remoteHost!
    const frame = SocksClient.createUDPFrame({ remoteHost: { host: '127.0.0.1', port: echo.port }, data: Buffer.from('x') })
    const foreign = dgram.createSocket('udp4')
    await new Promise<void>((r) => foreign.bind(0, '127.0.0.2', () => r()))
    let foreignGot = 0
    foreign.on('message', () => foreignGot++)
    const before = counters.get('socks5.udp_foreign_source')
    foreign.send(frame, relay.port, relay.host)
    await waitFor(() => counters.get('socks5.udp_foreign_source') === before + 1)

    // The first datagram from the client's IP fixes its port; another port is then foreign too.
    const client = dgram.createSocket('udp4')
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()))
    const got = new Promise<Buffer>((r) => client.once('message', (m) => r(m)))
    client.send(frame, relay.port, relay.host)
    expect(SocksClient.parseUDPFrame(await got).data.toString()).toBe('x')
    const other = dgram.createSocket('udp4')
    await new Promise<void>((r) => other.bind(0, '127.0.0.1', () => r()))
    let otherGot = 0
    other.on('message', () => otherGot++)
    other.send(frame, relay.port, relay.host)
    await waitFor(() => counters.get('socks5.udp_foreign_source') === before + 2)
    await new Promise((r) => setTimeout(r, 100))
    expect(foreignGot).toBe(0)
    expect(otherGot).toBe(0)
    info.socket.destroy()
    for (const s of [foreign, client, other]) s.close()
    await echo.close()
  })
})

describe('SOCKS5 username/password (RFC 1929)', () => {
  let proxy: ProxyServer
  let port: number
  let echo: Awaited<ReturnType<typeof tcpEcho>>
  beforeAll(async () => {
    ;({ proxy, port } = await startProxy({ auth: { username: 'alice', password: 's3cret' } }))
    echo = await tcpEcho()
  })
  afterAll(async () => {
    await proxy.close()
    await echo.close()
  })

  it('accepts the right credentials', async () => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port, type: 5, userId: 'alice', password: 's3cret' },
      command: 'connect',
      destination: { host: '127.0.0.1', port: echo.port },
    })
    expect(await echoThrough(socket, 'authed')).toBe('authed')
    socket.destroy()
  })

  it('rejects a wrong password with status 0x01 and closes', async () => {
    const s = await connectRaw(port)
    const all = readAll(s)
    s.write(Buffer.from([5, 1, 2]))
    s.write(Buffer.concat([Buffer.from([1, 5]), Buffer.from('alice'), Buffer.from([5]), Buffer.from('wrong')]))
    const r = await all
    expect([...r.data]).toEqual([5, 2, 1, 1])
    expect(r.closed).toBe(true)
  })

  it('refuses clients that offer only "no authentication"', async () => {
    const s = await connectRaw(port)
    const all = readAll(s)
    s.write(Buffer.from([5, 1, 0]))
    const r = await all
    expect([...r.data]).toEqual([5, 0xff])
    expect(r.closed).toBe(true)
  })
})

describe('SOCKS5 state machine against malformed input', () => {
  let proxy: ProxyServer
  let port: number
  beforeAll(async () => {
    ;({ proxy, port } = await startProxy({ handshakeTimeoutMs: 300 }))
  })
  afterAll(async () => {
    await proxy.close()
  })

  const cases: [string, number[][], number[]][] = [
    ['greeting with zero methods', [[5, 0]], [5, 0xff]],
    ['only GSSAPI offered', [[5, 1, 1]], [5, 0xff]],
    ['request with bad version', [[5, 1, 0], [4, 1, 0, 1, 127, 0, 0, 1, 0, 80]], [5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0]],
    ['BIND command', [[5, 1, 0], [5, 2, 0, 1, 127, 0, 0, 1, 0, 80]], [5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]],
    ['unknown command 9', [[5, 1, 0], [5, 9, 0, 1, 127, 0, 0, 1, 0, 80]], [5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]],
    ['unknown address type', [[5, 1, 0], [5, 1, 0, 9, 1, 2, 3, 4, 0, 80]], [5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0]],
    ['empty domain name', [[5, 1, 0], [5, 1, 0, 3, 0, 0, 80]], [5, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0]],
    ['truncated greeting then EOF', [[5, 3, 0]], []],
    ['truncated request then EOF', [[5, 1, 0], [5, 1, 0, 1, 127]], [5, 0]],
  ]
  for (const [name, writes, expected] of cases) {
    it(`${name}: clear reply, connection closed, nothing leaks`, async () => {
      const before = handleCount()
      const s = await connectRaw(port)
      const all = readAll(s)
      for (const w of writes) s.write(Buffer.from(w))
      if (name.includes('EOF')) s.end()
      const r = await all
      expect([...r.data]).toEqual(expected)
      expect(r.closed).toBe(true)
      await waitFor(() => proxy.connections === 0)
      await waitFor(() => handleCount() <= before)
    })
  }

  it('closes a client that stalls mid-handshake after the handshake timeout', async () => {
    const s = await connectRaw(port)
    const all = readAll(s)
    s.write(Buffer.from([5, 2]))
    const t0 = Date.now()
    const r = await all
    expect(r.closed).toBe(true)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250)
    await waitFor(() => proxy.connections === 0)
  })

  it('closes a silent client (no first byte) after the handshake timeout', async () => {
    const s = await connectRaw(port)
    const r = await readAll(s)
    expect(r.closed).toBe(true)
    await waitFor(() => proxy.connections === 0)
  })
})

describe('SOCKS5 reply codes from the dialer', () => {
  const mk = (err: Error) => new FakeDialer('f', { connect: async () => Promise.reject(err) })
  const cases: [string, Error, number][] = [
    ['ECONNREFUSED', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 5],
    ['EHOSTUNREACH', new BurrowError(ErrorCode.EHOSTUNREACH, 'no host'), 4],
    ['ENETUNREACH', new BurrowError(ErrorCode.ENETUNREACH, 'no net'), 3],
    ['ETIMEDOUT', new BurrowError(ErrorCode.ETIMEDOUT, 'slow'), 6],
    ['route refused', new RouteRefusedError('8.8.8.8:53'), 2],
    ['other', new Error('weird'), 1],
  ]
  for (const [name, err, code] of cases) {
    it(`${name} → 0x0${code}`, async () => {
      const { proxy, port } = await startProxy({ dialer: mk(err) })
      const s = await connectRaw(port)
      const all = readAll(s)
      s.write(Buffer.from([5, 1, 0, 5, 1, 0, 3, 4, ...Buffer.from('host'), 0, 80]))
      const r = await all
      expect([...r.data.subarray(0, 4)]).toEqual([5, 0, 5, code])
      expect(r.closed).toBe(true)
      await proxy.close()
    })
  }
})

describe('SOCKS5 UDP ASSOCIATE over IPv6', () => {
  it('binds the relay to the IPv6 listener address and relays to an IPv6 echo server', async () => {
    const { proxy, port } = await startProxy({ host: '::1' })
    const echo = await udpEcho('::1')
    const info = await associate(port, '::1')
    const same = new net.BlockList()
    same.addAddress('::1', 'ipv6')
    expect(same.check(info.remoteHost!.host, 'ipv6')).toBe(true)
    const client = dgram.createSocket('udp6')
    await new Promise<void>((r) => client.bind(0, '::1', () => r()))
    const got = new Promise<Buffer>((r) => client.once('message', (m) => r(m)))
    client.send(SocksClient.createUDPFrame({ remoteHost: { host: '::1', port: echo.port }, data: Buffer.from('six') }), info.remoteHost!.port, '::1')
    const reply = SocksClient.parseUDPFrame(await got)
    expect(reply.data.toString()).toBe('six')
    expect(reply.remoteHost.port).toBe(echo.port)
    info.socket.destroy()
    client.close()
    await echo.close()
    await proxy.close()
  })
})
