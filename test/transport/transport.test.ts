import { createSocket } from 'node:dgram'
import { createServer, type Socket } from 'node:net'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { FrameReassembler } from '../../src/transport/framing.js'
import { connectTransport } from '../../src/transport/connect.js'
import type { UdpTransport } from '../../src/transport/udp.js'
import { listenTransport } from '../../src/transport/listen.js'
import type { Transport } from '../../src/tunnel/types.js'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

function frame(...msgs: number[][]): Uint8Array {
  const out: number[] = []
  for (const m of msgs) out.push(m.length >> 8, m.length & 0xff, ...m)
  return new Uint8Array(out)
}

function nextMsg(t: Transport): Promise<Uint8Array> {
  return new Promise((resolve, reject) => t.attach((m) => resolve(new Uint8Array(m)), (e) => reject(e ?? new Error('closed'))))
}

describe('u16 framing reassembly', () => {
  it('yields the same messages for every split of the stream', () => {
    const msgs = [[1, 2, 3], [], Array.from({ length: 300 }, (_, i) => i & 0xff), [9]]
    const stream = frame(...msgs)
    const want = msgs.filter((m) => m.length > 0)
    for (let a = 0; a <= stream.length; a++) {
      for (const b of [a, Math.min(stream.length, a + 1), Math.min(stream.length, a + 7), stream.length]) {
        const r = new FrameReassembler()
        const got: number[][] = []
        for (const part of [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]) r.push(part, (m) => got.push([...m]))
        expect(got).toEqual(want)
        expect(r.pending).toBe(0)
      }
    }
  })
  it('is linear on many tiny chunks (no quadratic copying)', () => {
    const big = frame(Array.from({ length: 60000 }, (_, i) => i & 0xff))
    const r = new FrameReassembler()
    let n = 0
    const t0 = performance.now()
    for (let i = 0; i < big.length; i++) r.push(big.subarray(i, i + 1), (m) => (n = m.length))
    expect(n).toBe(60000)
    expect(performance.now() - t0).toBeLessThan(500)
  })
})

describe('UDP transport', () => {
  it('exchanges datagrams with a connected socket and ignores other sources', async () => {
    const server = createSocket('udp4')
    server.bind(0, '127.0.0.1')
    await once(server, 'listening')
    cleanups.push(() => server.close())
    server.on('message', (m, r) => server.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address))
    const t = await connectTransport({ proto: 'udp', host: 'localhost', port: server.address().port, family: 4 })
    cleanups.push(() => t.close())
    expect(t.description).toBe(`udp 127.0.0.1:${server.address().port}`)
    const got: string[] = []
    t.attach((m) => got.push(Buffer.from(m).toString()), () => {})
    expect(t.send(new TextEncoder().encode('hi'))).toBe(true)
    // a stranger sends to the client's port: a connected socket never delivers it
    const stranger = createSocket('udp4')
    cleanups.push(() => stranger.close())
    const local = (t as UdpTransport)['sock'].address()
    stranger.send('spoof', local.port, '127.0.0.1')
    await new Promise((r) => setTimeout(r, 100))
    expect(got).toEqual(['echo:hi'])
    // an oversized datagram is dropped (Node reports send errors only to a callback); the transport keeps working
    t.send(new Uint8Array(70000))
    t.send(new TextEncoder().encode('again'))
    await new Promise((r) => setTimeout(r, 100))
    expect(got).toEqual(['echo:hi', 'echo:again'])
  })
})

describe('TCP transport', () => {
  it('frames messages, reassembles split chunks, and closes on peer reset', async () => {
    let peer: Socket | undefined
    const server = createServer((s) => {
      peer = s
      s.on('data', (d) => {
        // echo byte-by-byte to force reassembly on the client
        for (let i = 0; i < d.length; i++) s.write(d.subarray(i, i + 1))
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    cleanups.push(() => server.close())
    const port = (server.address() as { port: number }).port
    const t = await connectTransport({ proto: 'tcp', host: '127.0.0.1', port })
    cleanups.push(() => t.close())
    const got: number[][] = []
    let closeErr: Error | undefined | null = null
    t.attach((m) => got.push([...m]), (e) => (closeErr = e))
    t.send(new Uint8Array([1, 2, 3]))
    t.send(new Uint8Array(1000).fill(7))
    await new Promise((r) => setTimeout(r, 200))
    expect(got.length).toBe(2)
    expect(got[0]).toEqual([1, 2, 3])
    expect(got[1].length).toBe(1000)
    peer!.resetAndDestroy()
    await new Promise((r) => setTimeout(r, 100))
    expect(String(closeErr)).toMatch(/ECONNRESET|closed by peer/)
  })
  it('reports backpressure and drains', async () => {
    const server = createServer((s) => {
      s.pause()
      setTimeout(() => s.resume(), 300)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    cleanups.push(() => server.close())
    const t = await connectTransport({ proto: 'tcp', host: '127.0.0.1', port: (server.address() as { port: number }).port })
    cleanups.push(() => t.close())
    const drained = new Promise<void>((r) => t.attach(() => {}, () => {}, r))
    let sent = 0
    while (t.send(new Uint8Array(60000)) && sent < 10000) sent++
    expect(sent).toBeLessThan(10000)
    await drained
  })
  it('connect to a closed port rejects with ECONNREFUSED', async () => {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as { port: number }).port
    server.close()
    await expect(connectTransport({ proto: 'tcp', host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })
})

describe('listen transports (server side)', () => {
  for (const proto of ['udp', 'tcp'] as const) {
    it(`${proto}: answers the confirmed peer only`, async () => {
      const l = await listenTransport({ proto })
      cleanups.push(() => l.close())
      l.attach((m) => {
        if (m[0] === 1) l.confirmPeer()
        l.send(new Uint8Array([m[0] + 100]))
      }, () => {})
      const c = await connectTransport({ proto, host: '127.0.0.1', port: l.port })
      cleanups.push(() => c.close())
      const first = nextMsg(c)
      c.send(new Uint8Array([0])) // not confirmed: reply dropped
      c.send(new Uint8Array([1]))
      expect([...(await first)]).toEqual([101])
    })
  }
  it('works over IPv6 loopback for both protocols', async () => {
    for (const proto of ['udp', 'tcp'] as const) {
      const l = await listenTransport({ proto, host: '::1' })
      cleanups.push(() => l.close())
      l.attach((m) => {
        l.confirmPeer()
        l.send(m)
      }, () => {})
      const c = await connectTransport({ proto, host: '::1', port: l.port, family: 6 })
      cleanups.push(() => c.close())
      expect(c.description).toBe(`${proto} [::1]:${l.port}`)
      const got = nextMsg(c)
      c.send(new Uint8Array([6, 6]))
      expect([...(await got)]).toEqual([6, 6])
    }
  })
})
