import { describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { FakeClock } from '../../src/core/clock.js'
import { BurrowError, ErrorCode } from '../../src/core/errors.js'
import { Counters } from '../../src/core/counters.js'
import type { NetStackApi, Resolver, TcpConn, TcpConnectOptions } from '../../src/netstack/api.js'
import { connectSocket, tcpConnToSocket, type TcpSocket } from '../../src/netstack/socket.js'

/** In-memory TcpConn pair: bounded send queue (write → false above cap), pause stops delivery. */
class FakeConn implements TcpConn {
  peer!: FakeConn
  onData: ((b: Uint8Array) => void) | null = null
  onEnd: (() => void) | null = null
  onDrain: (() => void) | null = null
  onClose: ((err?: Error) => void) | null = null
  queue: Uint8Array[] = []
  queued = 0
  paused = false
  ended = false
  finDelivered = false
  closed = false
  needDrain = false
  scheduled = false
  stats = { writeFalse: 0, pauses: 0, resumes: 0, destroys: 0, writes: 0 }
  noDelay: boolean | undefined
  keepAlive: [boolean, number | undefined] | undefined
  destroyErr: Error | undefined
  constructor(
    readonly localAddress: string,
    readonly localPort: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly cap = 64 * 1024,
  ) {}
  get bufferedAmount(): number {
    return this.queued
  }
  write(b: Uint8Array): boolean {
    if (this.closed || this.ended) throw new Error('write after end/close')
    this.stats.writes++
    this.queue.push(b.slice())
    this.queued += b.length
    this.kick()
    if (this.queued >= this.cap) {
      this.needDrain = true
      this.stats.writeFalse++
      return false
    }
    return true
  }
  end(): void {
    this.ended = true
    this.kick()
  }
  destroy(err?: Error): void {
    if (this.closed) return
    this.stats.destroys++
    this.destroyErr = err
    this.close()
    this.peer.close(new BurrowError(ErrorCode.ECONNRESET, 'connection reset by peer'))
  }
  pause(): void {
    this.paused = true
    this.stats.pauses++
  }
  resume(): void {
    this.paused = false
    this.stats.resumes++
    this.peer.kick()
  }
  setKeepAlive(enable: boolean, d?: number): void {
    this.keepAlive = [enable, d]
  }
  setNoDelay(n: boolean): void {
    this.noDelay = n
  }
  close(err?: Error): void {
    if (this.closed) return
    this.closed = true
    this.onClose?.(err)
  }
  kick(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.flush()
    })
  }
  private flush(): void {
    const p = this.peer
    while (this.queue.length && !p.paused && !p.closed && !this.closed) {
      let chunk = this.queue[0]
      if (chunk.length > 16384) {
        this.queue[0] = chunk.subarray(16384)
        chunk = chunk.subarray(0, 16384)
      } else this.queue.shift()
      this.queued -= chunk.length
      p.onData?.(chunk)
    }
    if (this.needDrain && this.queued < this.cap / 2) {
      this.needDrain = false
      this.onDrain?.()
    }
    if (!this.queue.length && this.ended && !this.finDelivered && !p.closed) {
      this.finDelivered = true
      p.onEnd?.()
      if (p.finDelivered) {
        this.close()
        p.close()
      }
    }
    if (this.queue.length && !p.paused) this.kick()
  }
}

function pair(cap?: number): [FakeConn, FakeConn] {
  const a = new FakeConn('10.0.0.2', 40000, '10.0.0.1', 80, cap)
  const b = new FakeConn('10.0.0.1', 80, '10.0.0.2', 40000, cap)
  a.peer = b
  b.peer = a
  return [a, b]
}

function sha(bufs: Buffer[]): string {
  const h = createHash('sha256')
  for (const b of bufs) h.update(b)
  return h.digest('hex')
}

async function collect(s: TcpSocket): Promise<Buffer[]> {
  const out: Buffer[] = []
  s.on('data', (d: Buffer) => out.push(d))
  await once(s, 'end')
  return out
}

describe('tcpConnToSocket', () => {
  it('exposes net.Socket properties and emits connect/ready', async () => {
    const [a] = pair()
    const s = tcpConnToSocket(a)
    const ev: string[] = []
    s.on('connect', () => ev.push('connect'))
    s.on('ready', () => ev.push('ready'))
    await new Promise((r) => setImmediate(r))
    expect(ev).toEqual(['connect', 'ready'])
    expect([s.remoteAddress, s.remotePort, s.localAddress, s.localPort]).toEqual(['10.0.0.1', 80, '10.0.0.2', 40000])
    expect(s.address()).toEqual({ address: '10.0.0.2', family: 'IPv4', port: 40000 })
    expect(s.remoteFamily).toBe('IPv4')
    expect(s.setNoDelay()).toBe(s)
    expect(a.noDelay).toBe(true)
    s.setKeepAlive(true, 5000)
    expect(a.keepAlive).toEqual([true, 5000])
    expect(s.readyState).toBe('open')
    s.destroy()
  })

  it('moves 8 MB each way byte-exact with backpressure on both sides', async () => {
    const [a, b] = pair(32 * 1024)
    const sa = tcpConnToSocket(a)
    const sb = tcpConnToSocket(b)
    const closed = Promise.all([once(sa, 'close'), once(sb, 'close')])
    const up = randomBytes(8 << 20)
    const down = randomBytes(8 << 20)
    const writeAll = async (s: TcpSocket, data: Buffer) => {
      for (let o = 0; o < data.length; o += 100_000) {
        if (!s.write(data.subarray(o, o + 100_000))) await once(s, 'drain')
      }
      s.end()
    }
    // a slow reader on sb for the first part: the readable buffer fills, the conn must pause
    sb.pause()
    const gotB = collect(sb)
    const gotA = collect(sa)
    void writeAll(sa, up)
    void writeAll(sb, down)
    await new Promise((r) => setTimeout(r, 30))
    expect(b.stats.pauses).toBeGreaterThan(0)
    expect(b.paused).toBe(true)
    sb.resume()
    const [rb, ra] = await Promise.all([gotB, gotA])
    expect(sha(rb)).toBe(sha([up]))
    expect(sha(ra)).toBe(sha([down]))
    expect(a.stats.writeFalse).toBeGreaterThan(0) // write held until onDrain
    expect(b.stats.resumes).toBeGreaterThan(0)
    await closed
    expect(a.stats.destroys + b.stats.destroys).toBe(0) // graceful: no RST after FIN both ways
    expect(sa.bytesWritten).toBe(up.length)
    expect(sa.bytesRead).toBe(down.length)
  })

  it('half-close: end() sends FIN while reading continues; peer FIN → end', async () => {
    const [a, b] = pair()
    const sa = tcpConnToSocket(a)
    const sb = tcpConnToSocket(b)
    const closed = Promise.all([once(sa, 'close'), once(sb, 'close')])
    const gotB = collect(sb)
    sa.end('request')
    expect(Buffer.concat(await gotB).toString()).toBe('request')
    expect(sb.readyState).toBe('writeOnly')
    const gotA = collect(sa)
    sb.write('response part 1, ')
    await new Promise((r) => setImmediate(r))
    sb.end('part 2')
    expect(Buffer.concat(await gotA).toString()).toBe('response part 1, part 2')
    await closed
  })

  it('allowHalfOpen: false ends the writable side after the peer FIN', async () => {
    const [a, b] = pair()
    const sa = tcpConnToSocket(a)
    const sb = tcpConnToSocket(b, { allowHalfOpen: false })
    const closed = Promise.all([once(sa, 'close'), once(sb, 'close')])
    sb.resume()
    sa.resume()
    sa.end()
    await once(sb, 'end')
    await once(sa, 'end')
    await closed
  })

  it('destroy() aborts the conn; the peer sees ECONNRESET with its code', async () => {
    const [a, b] = pair()
    const sa = tcpConnToSocket(a)
    const sb = tcpConnToSocket(b)
    const err = once(sb, 'error')
    const closed = new Promise((r) => sb.once('close', r))
    sa.destroy()
    expect(a.stats.destroys).toBe(1)
    const [e] = (await err) as [BurrowError]
    expect(e.code).toBe('ECONNRESET')
    await closed
    expect(sb.destroyed).toBe(true)
  })

  it('a conn error without a code surfaces as ECONNRESET, with one keeps it', async () => {
    const [a] = pair()
    const s = tcpConnToSocket(a)
    const p = once(s, 'error')
    a.close(new BurrowError(ErrorCode.ETIMEDOUT, 'retransmission timeout'))
    expect(((await p)[0] as BurrowError).code).toBe('ETIMEDOUT')
    const [c] = pair()
    const s2 = tcpConnToSocket(c)
    const p2 = once(s2, 'error')
    c.close(new Error('boom'))
    expect(((await p2)[0] as BurrowError).code).toBe('ECONNRESET')
  })

  it('setTimeout emits timeout after idle time on the injected clock; activity resets it', async () => {
    const clock = new FakeClock()
    const [a, b] = pair()
    const sa = tcpConnToSocket(a, { clock })
    const sb = tcpConnToSocket(b)
    sa.resume()
    let fired = 0
    sb.on('error', () => {}) // sa.destroy() resets sb
    sa.setTimeout(1000, () => fired++)
    clock.advance(900)
    sb.write('x')
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
    clock.advance(900) // 1800 total but only 900 since the data
    expect(fired).toBe(0)
    clock.advance(200)
    expect(fired).toBe(1)
    let again = 0
    sa.on('timeout', () => again++)
    clock.advance(1000)
    expect(again).toBe(1) // next idle period
    sa.setTimeout(0)
    clock.advance(5000)
    expect(again).toBe(1)
    sa.destroy()
    sb.destroy()
  })

  it('write after the peer reset fails with a coded error', async () => {
    const [a] = pair()
    const s = tcpConnToSocket(a)
    const errs: unknown[] = []
    s.on('error', (e) => errs.push(e))
    a.close(new BurrowError(ErrorCode.ECONNRESET, 'reset'))
    await new Promise((r) => setImmediate(r))
    expect((errs[0] as BurrowError).code).toBe('ECONNRESET')
  })
})

describe('connectSocket', () => {
  function fakeStack(lookup: Resolver['lookup'], connect: (o: TcpConnectOptions) => Promise<TcpConn>): NetStackApi {
    return {
      addresses: [],
      counters: new Counters(),
      resolver: { lookup },
      connectTcp: connect,
      listenTcp: () => {
        throw new Error('unused')
      },
      openUdp: () => {
        throw new Error('unused')
      },
      listenUdp: () => {
        throw new Error('unused')
      },
      ping: async () => 0,
      close: () => {},
    }
  }

  it('resolves names through the stack resolver and tries addresses in order', async () => {
    const tried: string[] = []
    const looked: Array<[string, number | undefined]> = []
    const stack = fakeStack(
      async (n, f) => {
        looked.push([n, f])
        return ['10.0.0.9', 'fd00::9']
      },
      async (o) => {
        tried.push(o.host)
        if (o.host === '10.0.0.9') throw new BurrowError(ErrorCode.ECONNREFUSED, 'refused')
        const [a] = pair()
        return a
      },
    )
    const s = await connectSocket(stack, 'svc.test', 443)
    expect(tried).toEqual(['10.0.0.9', 'fd00::9'])
    expect(looked).toEqual([['svc.test', 0]])
    s.destroy()
    const lit = await connectSocket(stack, '[fd00::9]', 443)
    expect(tried.at(-1)).toBe('fd00::9')
    expect(looked).toHaveLength(1)
    lit.destroy()
  })

  it('rejects with the resolver or connect error code', async () => {
    const nf = fakeStack(
      async () => {
        throw new BurrowError(ErrorCode.ENOTFOUND, 'nope')
      },
      async () => pair()[0],
    )
    await expect(connectSocket(nf, 'x.test', 1)).rejects.toMatchObject({ code: 'ENOTFOUND' })
    const refused = fakeStack(
      async () => ['10.0.0.1'],
      async () => {
        throw new BurrowError(ErrorCode.ECONNREFUSED, 'refused')
      },
    )
    await expect(connectSocket(refused, 'x.test', 1)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })
})
