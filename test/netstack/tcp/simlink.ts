// Two TcpEndpoints wired through LossyPipes under one FakeClock (used by sim and throughput tests).
import { createHash } from 'node:crypto'
import { FakeClock, seededRandom } from '../../../src/core/clock.js'
import { TcpEndpoint, type TcpEndpointOptions } from '../../../src/netstack/tcp/endpoint.js'
import { TcpFlag } from '../../../src/netstack/tcp/types.js'
import { rstForUnmatched } from '../../../src/netstack/tcp/segment.js'
import { FakeHost, LossyPipe, reverse, tuple, type PipeOpts } from './harness.js'

export interface SimResult {
  aGot: number
  bGot: number
  aOk: boolean
  bOk: boolean
  aEnd: boolean
  bEnd: boolean
  aClose: Error | undefined | 'none'
  bClose: Error | undefined | 'none'
  timeMs: number
  traceHash: string
  a: TcpEndpoint
  b: TcpEndpoint
  hostA: FakeHost
  hostB: FakeHost
  pipes: [LossyPipe, LossyPipe]
}

/** Pattern source: byte i of stream `tag` (cheap, position-dependent, not periodic in 256). */
function patternChunk(tag: number, off: number, n: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const x = off + i
    b[i] = (x ^ (x >>> 8) ^ (x >>> 16) ^ tag) & 0xff
  }
  return b
}

class Writer {
  off = 0
  constructor(
    private readonly ep: TcpEndpoint,
    private readonly total: number,
    private readonly tag: number,
    private readonly chunk: number,
  ) {
    ep.onDrain = () => this.pump()
  }
  pump(): void {
    while (this.off < this.total) {
      const n = Math.min(this.chunk, this.total - this.off)
      const ok = this.ep.write(patternChunk(this.tag, this.off, n))
      this.off += n
      if (!ok) return
    }
    this.ep.end()
  }
}

class Checker {
  got = 0
  ok = true
  check(tag: number, b: Uint8Array): void {
    if (this.ok) {
      for (let i = 0; i < b.length; i++) {
        const x = this.got + i
        if (b[i] !== ((x ^ (x >>> 8) ^ (x >>> 16) ^ tag) & 0xff)) {
          this.ok = false
          break
        }
      }
    }
    this.got += b.length
  }
}

export function runSim(opts: {
  pipe: PipeOpts
  aToB: number
  bToA: number
  tcpA?: TcpEndpointOptions
  tcpB?: TcpEndpointOptions
  trace?: boolean
  limitMs?: number
  chunk?: number
  verify?: boolean
  /** Readers stall at random (pause()/resume() every 50 ms with this probability) — backpressure. */
  stalls?: number
  /** Every random32() (ISS, timestamp offset) returns this: test sequence/timestamp wrap. */
  fixedRandom?: number
}): SimResult {
  const clock = new FakeClock(0)
  const hostA = new FakeHost(clock, 11)
  const hostB = new FakeHost(clock, 22)
  if (opts.fixedRandom !== undefined) {
    const v = opts.fixedRandom >>> 0
    hostA.random32 = () => v
    hostB.random32 = () => v
  }
  const tA = tuple(1, 2, 40000, 80)
  const tB = reverse(tA)
  let b: TcpEndpoint | null = null
  const checkA = new Checker()
  const checkB = new Checker()
  let aEnd = false
  let bEnd = false
  let aClose: Error | undefined | 'none' = 'none'
  let bClose: Error | undefined | 'none' = 'none'
  let a: TcpEndpoint | null = null
  const verify = opts.verify ?? true
  const toB = new LossyPipe(clock, { ...opts.pipe, seed: opts.pipe.seed }, (s) => {
    if (!b) {
      if (!(s.flags & TcpFlag.SYN) || s.flags & TcpFlag.ACK) return
      b = TcpEndpoint.accept(hostB, tB, s, opts.tcpB).endpoint
      const bb = b
      bb.onData = (d) => (verify ? checkB.check(1, d) : (checkB.got += d.length))
      bb.onEnd = () => {
        bEnd = true
      }
      bb.onClose = (e) => {
        bClose = e
      }
      new Writer(bb, opts.bToA, 2, opts.chunk ?? 65536).pump()
      return
    }
    // a released endpoint is gone from the demux table: the stack answers with a reset
    if (b.state === 'CLOSED') {
      const rst = rstForUnmatched(s)
      if (rst) toA.send(rst)
      return
    }
    b.input(s)
  }, 'A>B', opts.trace)
  const toA: LossyPipe = new LossyPipe(clock, { ...opts.pipe, seed: opts.pipe.seed + 1000 }, (s) => {
    if (a && a.state === 'CLOSED') {
      const rst = rstForUnmatched(s)
      if (rst) toB.send(rst)
      return
    }
    a?.input(s)
  }, 'B>A', opts.trace)
  hostA.onOutput = (_t, s) => toB.send(s)
  hostB.onOutput = (_t, s) => toA.send(s)
  const res = TcpEndpoint.connect(hostA, tA, opts.tcpA)
  a = res.endpoint
  a.onData = (d) => (verify ? checkA.check(2, d) : (checkA.got += d.length))
  a.onEnd = () => {
    aEnd = true
  }
  a.onClose = (e) => {
    aClose = e
  }
  new Writer(a, opts.aToB, 1, opts.chunk ?? 65536).pump()
  if (opts.stalls) {
    const rnd = seededRandom(opts.pipe.seed ^ 0x5eed)
    const paused = [false, false]
    const tick = (): void => {
      const eps = [a, b]
      let live = false
      for (let i = 0; i < 2; i++) {
        const ep = eps[i]
        if (!ep || (ep.state === 'CLOSED' && !paused[i])) continue
        live = true
        if (rnd() < opts.stalls!) {
          paused[i] = !paused[i]
          if (paused[i]) ep.pause()
          else ep.resume()
        }
      }
      if (live || !b) clock.schedule(clock.now() + 50, tick)
    }
    clock.schedule(50, tick)
  }
  clock.runAll(opts.limitMs ?? 3_600_000)
  const h = createHash('sha256')
  for (const l of toB.trace) h.update(l + '\n')
  for (const l of toA.trace) h.update(l + '\n')
  return {
    aGot: checkA.got,
    bGot: checkB.got,
    aOk: checkA.ok,
    bOk: checkB.ok,
    aEnd,
    bEnd,
    aClose,
    bClose,
    timeMs: clock.now(),
    traceHash: h.digest('hex'),
    a,
    b: b!,
    hostA,
    hostB,
    pipes: [toB, toA],
  }
}
