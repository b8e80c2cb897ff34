// tcpConnToSocket / connectSocket against the real NetStack (two stacks over the simulated link).
import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import type { BurrowError } from '../../src/core/errors.js'
import { connectSocket, tcpConnToSocket, type TcpSocket } from '../../src/netstack/socket.js'
import { driveUntil, payload, settle, sha256, simPair, startDnsServer } from '../sim/helpers.js'

function setup(seed: number, loss = 0.01) {
  const p = simPair({ seed, loss, delayMs: 2 }, { dns: { servers: ['10.0.0.2'] } })
  startDnsServer(p.b, { 'echo.test': ['10.0.0.2', 'fd00::2'], 'v6.test': ['fd00::2'] })
  return p
}

describe('TcpSocket over the real NetStack', () => {
  it('connectSocket resolves a name and echoes 4 MB through a piped Duplex byte-exact', async () => {
    const { clock, a, b } = setup(21)
    const serverSockets: TcpSocket[] = []
    b.listenTcp({ port: 7 }, (c) => {
      const s = tcpConnToSocket(c, { clock })
      serverSockets.push(s)
      s.pipe(s) // echo with stream backpressure; pipe ends our side after the peer's FIN
    })
    const sock = await settle(clock, connectSocket(a, 'echo.test', 7, { clock }))
    expect(sock.remoteAddress).toBe('10.0.0.2')
    expect(sock.remotePort).toBe(7)
    expect(sock.localAddress).toBe('10.0.0.1')
    const data = payload(5, 4 << 20)
    const h = createHash('sha256')
    let got = 0
    let ended = false
    let closed = false
    sock.on('data', (d: Buffer) => {
      got += d.length
      h.update(d)
    })
    sock.on('end', () => (ended = true))
    sock.on('close', () => (closed = true))
    let off = 0
    let stalls = 0
    const pump = () => {
      while (off < data.length) {
        const n = Math.min(65536, data.length - off)
        const ok = sock.write(data.subarray(off, off + n))
        off += n
        if (!ok) {
          stalls++
          sock.once('drain', pump)
          return
        }
      }
      sock.end()
    }
    pump()
    const fake = await driveUntil(clock, () => closed, 120_000, 2)
    expect(ended).toBe(true)
    expect(got).toBe(data.length)
    expect(h.digest('hex')).toBe(sha256(data))
    expect(stalls).toBeGreaterThan(0)
    expect(sock.bytesWritten).toBe(data.length)
    expect(a.counters.get('tcp.retransmit') + b.counters.get('tcp.retransmit')).toBeGreaterThan(0)
    await driveUntil(clock, () => serverSockets[0].destroyed, 10_000, 2)
    console.log(`[socket] 4 MB echo over 1% loss in ${fake} ms fake time, ${stalls} write stalls`)
  }, 60_000)

  it('a reader that stops reading closes the TCP window; the writer stalls and nothing is lost', async () => {
    const { clock, a, b } = setup(22, 0)
    let server: TcpSocket | undefined
    b.listenTcp({ port: 9 }, (c) => {
      server = tcpConnToSocket(c, { clock })
      server.pause()
    })
    const sock = await settle(clock, connectSocket(a, '10.0.0.2', 9, { clock }))
    const data = payload(6, 24 << 20)
    let off = 0
    let blocked = false
    const pump = () => {
      while (off < data.length) {
        const ok = sock.write(data.subarray(off, Math.min(off + 65536, data.length)))
        off = Math.min(off + 65536, data.length)
        if (!ok) {
          blocked = true
          sock.once('drain', () => {
            blocked = false
            pump()
          })
          return
        }
      }
      sock.end()
    }
    pump()
    await driveUntil(clock, () => clock.now() > 3000, 10_000, 5)
    // the server application read nothing: its stack buffered at most the receive window
    // (≤ 6 MiB autotuning cap) plus the Duplex high-water mark, and the client is blocked
    expect(server).toBeDefined()
    expect(blocked).toBe(true)
    expect(server!.bytesRead).toBeLessThan(7 << 20)
    expect(server!.readableLength).toBe(server!.bytesRead) // all of it still waiting in the Duplex
    expect(a.counters.get('tcp.window_probe')).toBeGreaterThan(0) // zero window reached
    expect(off).toBeLessThan(data.length)
    const h = createHash('sha256')
    let got = 0
    server!.on('data', (d: Buffer) => {
      got += d.length
      h.update(d)
    })
    let ended = false
    server!.on('end', () => (ended = true))
    server!.resume()
    await driveUntil(clock, () => ended, 60_000, 5)
    expect(got).toBe(data.length)
    expect(h.digest('hex')).toBe(sha256(data))
    sock.destroy()
    server!.destroy()
  }, 60_000)

  it('half-close over the stack: client FIN, server keeps writing, then closes', async () => {
    const { clock, a, b } = setup(23, 0)
    b.listenTcp({ port: 80 }, (c) => {
      const s = tcpConnToSocket(c, { clock })
      const parts: Buffer[] = []
      s.on('data', (d: Buffer) => parts.push(d))
      s.on('end', () => {
        s.write(`got ${Buffer.concat(parts).toString()}; `)
        setImmediate(() => s.end('bye'))
      })
    })
    const sock = await settle(clock, connectSocket(a, 'v6.test', 80, { clock, family: 6 }))
    expect(sock.remoteFamily).toBe('IPv6')
    expect(sock.remoteAddress).toBe('fd00::2')
    const got: Buffer[] = []
    let closed = false
    sock.on('data', (d: Buffer) => got.push(d))
    sock.on('close', () => (closed = true))
    sock.end('GET /')
    await driveUntil(clock, () => closed, 30_000, 2)
    expect(Buffer.concat(got).toString()).toBe('got GET /; bye')
  })

  it('errors carry codes: refused port, unknown name, peer reset', async () => {
    const { clock, a, b } = setup(24, 0)
    const refused = await settle(clock, connectSocket(a, 'echo.test', 81, { clock })).catch((e: BurrowError) => e)
    expect((refused as BurrowError).code).toBe('ECONNREFUSED')
    const nx = await settle(clock, connectSocket(a, 'nope.test', 81, { clock })).catch((e: BurrowError) => e)
    expect((nx as BurrowError).code).toBe('ENOTFOUND')
    b.listenTcp({ port: 82 }, (c) => tcpConnToSocket(c, { clock }).destroy())
    const s = await settle(clock, connectSocket(a, '10.0.0.2', 82, { clock }))
    let err: BurrowError | undefined
    s.on('error', (e: BurrowError) => (err = e))
    s.resume()
    await driveUntil(clock, () => s.destroyed, 10_000, 2)
    expect(err?.code).toBe('ECONNRESET')
  })
})
