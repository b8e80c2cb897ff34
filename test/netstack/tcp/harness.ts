// Test scaffolding for the TCP engine: a scripted fake TcpHost, a segment DSL and an in-memory
// lossy pipe between two endpoints (seeded PRNG, FakeClock).
import { expect } from 'vitest'
import type { FakeClock} from '../../../src/core/clock.js';
import { seededRandom } from '../../../src/core/clock.js'
import { Counters } from '../../../src/core/counters.js'
import type { FourTuple, TcpHost, TcpOptions, TcpSegment } from '../../../src/netstack/tcp/types.js'
import { flagString, parseFlags } from '../../../src/netstack/tcp/segment.js'

export function tuple(a = 1, b = 2, pa = 40000, pb = 80): FourTuple {
  return {
    localAddr: new Uint8Array([10, 0, 0, a]),
    localPort: pa,
    remoteAddr: new Uint8Array([10, 0, 0, b]),
    remotePort: pb,
    family: 4,
    localAddress: `10.0.0.${a}`,
    remoteAddress: `10.0.0.${b}`,
  }
}

export function reverse(t: FourTuple): FourTuple {
  return {
    localAddr: t.remoteAddr,
    localPort: t.remotePort,
    remoteAddr: t.localAddr,
    remotePort: t.localPort,
    family: t.family,
    localAddress: t.remoteAddress,
    remoteAddress: t.localAddress,
  }
}

export class FakeHost implements TcpHost {
  readonly counters = new Counters()
  out: TcpSegment[] = []
  released: FourTuple[] = []
  linkOk = true
  mss = 1460
  private rnd: () => number
  onOutput: ((t: FourTuple, s: TcpSegment) => void) | null = null
  constructor(
    readonly clock: FakeClock,
    seed = 1,
  ) {
    this.rnd = seededRandom(seed)
  }
  mssFor(): number {
    return this.mss
  }
  output(t: FourTuple, seg: TcpSegment): boolean {
    if (!this.linkOk) return false
    if (this.onOutput) this.onOutput(t, seg)
    else this.out.push({ ...seg, options: { ...seg.options }, payload: seg.payload.slice() })
    return true
  }
  random32(): number {
    return Math.floor(this.rnd() * 4294967296) >>> 0
  }
  release(t: FourTuple): void {
    this.released.push(t)
  }
}

export interface SegSpec {
  flags: string
  seq: number
  ack?: number
  window?: number
  options?: TcpOptions
  data?: Uint8Array | number
}

export function mkSeg(s: SegSpec, srcPort = 80, dstPort = 40000): TcpSegment {
  const payload = typeof s.data === 'number' ? fill(s.data, s.seq) : (s.data ?? new Uint8Array(0))
  return {
    srcPort,
    dstPort,
    seq: s.seq >>> 0,
    ack: (s.ack ?? 0) >>> 0,
    flags: parseFlags(s.flags),
    window: s.window ?? 65535,
    urgent: 0,
    options: s.options ?? {},
    payload,
  }
}

/** Deterministic bytes keyed by sequence offset (so retransmissions are recognizable). */
export function fill(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (seed + i * 7) & 0xff
  return b
}

export interface Expect {
  flags?: string
  seq?: number
  ack?: number
  len?: number
  window?: number
  options?: Partial<Record<keyof TcpOptions, unknown>>
}

/** Shift the next output segment and check the given fields. */
export function expectOut(h: FakeHost, e: Expect): TcpSegment {
  const s = h.out.shift()
  expect(s, `expected a segment ${JSON.stringify(e)}`).toBeDefined()
  const got = s!
  if (e.flags !== undefined) expect(flagString(got.flags), 'flags').toBe(e.flags)
  if (e.seq !== undefined) expect(got.seq, 'seq').toBe(e.seq >>> 0)
  if (e.ack !== undefined) expect(got.ack, 'ack').toBe(e.ack >>> 0)
  if (e.len !== undefined) expect(got.payload.length, 'len').toBe(e.len)
  if (e.window !== undefined) expect(got.window, 'window').toBe(e.window)
  if (e.options) {
    for (const [k, v] of Object.entries(e.options)) {
      if (v === 'any') expect(got.options[k as keyof TcpOptions], k).toBeDefined()
      else expect(got.options[k as keyof TcpOptions], k).toEqual(v)
    }
  }
  return got
}

export function expectNone(h: FakeHost): void {
  expect(h.out.map((s) => `${flagString(s.flags)} seq=${s.seq} ack=${s.ack} len=${s.payload.length}`)).toEqual([])
}

export interface PipeOpts {
  seed: number
  loss?: number
  dup?: number
  reorder?: number
  delayMs?: number
  jitterMs?: number
  /** Bytes per ms of link rate (0 = infinite). */
  rate?: number
  /** Probability of an extra "collapsed retransmission": previous + current data segment merged. */
  collapse?: number
  /** Probability of splitting a data segment in two. */
  split?: number
}

/** One direction of an in-memory link: loss, duplication, reordering, delay. */
export class LossyPipe {
  private rnd: () => number
  private busyUntil = 0
  delivered = 0
  dropped = 0
  trace: string[] = []
  constructor(
    private readonly clock: FakeClock,
    private readonly o: PipeOpts,
    private readonly deliver: (s: TcpSegment) => void,
    private readonly name: string,
    private readonly keepTrace = false,
  ) {
    this.rnd = seededRandom(o.seed)
  }
  private prev: TcpSegment | null = null

  send(seg: TcpSegment): void {
    const o = this.o
    const plain = (seg.flags & 0x07) === 0 && seg.payload.length > 0 // no SYN/FIN/RST
    if (plain && o.split && seg.payload.length > 1 && this.rnd() < o.split) {
      const cut = 1 + Math.floor(this.rnd() * (seg.payload.length - 1))
      this.send1({ ...seg, payload: seg.payload.subarray(0, cut) })
      this.send1({ ...seg, seq: (seg.seq + cut) >>> 0, payload: seg.payload.subarray(cut) })
    } else this.send1(seg)
    if (plain && o.collapse) {
      const p = this.prev
      if (p && ((p.seq + p.payload.length) >>> 0) === seg.seq && this.rnd() < o.collapse) {
        const merged = new Uint8Array(p.payload.length + seg.payload.length)
        merged.set(p.payload)
        merged.set(seg.payload, p.payload.length)
        this.send1({ ...seg, seq: p.seq, payload: merged })
      }
      this.prev = { ...seg, payload: seg.payload.slice() }
    }
  }

  private send1(seg: TcpSegment): void {
    const copy: TcpSegment = {
      ...seg,
      options: { ...seg.options, sack: seg.options.sack?.map((b) => [b[0], b[1]] as [number, number]) },
      payload: seg.payload.slice(),
    }
    if (copy.options.sack === undefined) delete copy.options.sack
    const now = this.clock.now()
    if (this.keepTrace) this.trace.push(`${now}|${this.name}|${flagString(seg.flags)}|${seg.seq}|${seg.ack}|${seg.payload.length}|${seg.window}`)
    if (this.o.loss && this.rnd() < this.o.loss) {
      this.dropped++
      return
    }
    let at = now + (this.o.delayMs ?? 1)
    if (this.o.rate) {
      const start = Math.max(now, this.busyUntil)
      this.busyUntil = start + (seg.payload.length + 40) / this.o.rate
      at = this.busyUntil + (this.o.delayMs ?? 1)
    }
    if (this.o.reorder && this.rnd() < this.o.reorder) at += this.rnd() * (this.o.jitterMs ?? 5)
    this.clock.schedule(at, () => {
      this.delivered++
      this.deliver(copy)
    })
    if (this.o.dup && this.rnd() < this.o.dup) {
      this.clock.schedule(at + this.rnd() * 3, () => this.deliver({ ...copy }))
    }
  }
}
