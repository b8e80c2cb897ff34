// Simulation link for tests and benchmarks: two Links (src/tunnel/types.ts) joined in memory under
// an injected Clock, with a netem-like impairment model driven by a seeded PRNG (loss, duplication,
// reordering, delay + jitter, a bandwidth-limited bottleneck queue with tail drop) and an optional
// packet trace for determinism checks. Same seed + same senders ⇒ the identical trace.
import type { Clock } from '../../core/clock.js'
import { seededRandom } from '../../core/clock.js'
import type { Link } from '../../tunnel/types.js'

export interface LossyLinkOptions {
  clock: Clock
  seed: number
  /** Largest IP packet (default 1500). Bigger packets are dropped and counted (`oversize`). */
  mtu?: number
  /** Headroom both Links ask for (default 0). */
  headroom?: number
  /** Probability a packet is lost (0..1). */
  loss?: number
  /** Probability a packet is delivered twice (the copy arrives up to `jitterMs` + 1 ms later). */
  duplicate?: number
  /** Probability a packet is held back by `reorderDelayMs` so that later ones overtake it. */
  reorder?: number
  /** Extra delay of a reordered packet (default: max(2 × delayMs, 5) ms). */
  reorderDelayMs?: number
  /** One-way propagation delay (ms, default 0). */
  delayMs?: number
  /** Uniform extra delay in [0, jitterMs) per packet (ms, default 0). Packets may overtake. */
  jitterMs?: number
  /** Bottleneck rate in bytes per ms (0/undefined = unlimited). 12_500 B/ms = 100 Mbit/s. */
  bandwidth?: number
  /** Bottleneck queue limit in bytes; packets beyond it are tail-dropped (default 256 KiB). */
  queueBytes?: number
  /**
   * When set, send() returns false while more than this many bytes wait in the bottleneck
   * queue and onDrain fires once it falls to half (a tunnel's socket backpressure).
   */
  backpressureBytes?: number
  /** Record every delivered packet in `trace` (the running digest is always kept). */
  trace?: boolean
}

/** [time ms, direction, IP packet length, FNV-1a 32-bit hash of the bytes]; recorded on delivery. */
export type TraceEntry = [number, 'a>b' | 'b>a', number, number]

export interface LinkStats {
  sent: number
  sentBytes: number
  delivered: number
  deliveredBytes: number
  lost: number
  duplicated: number
  reordered: number
  tailDropped: number
  oversize: number
  /** send() calls that answered false. */
  backpressured: number
  maxQueueBytes: number
}

function fnv1a(b: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < b.length; i++) {
    h ^= b[i]
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

function newStats(): LinkStats {
  return {
    sent: 0,
    sentBytes: 0,
    delivered: 0,
    deliveredBytes: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    tailDropped: 0,
    oversize: 0,
    backpressured: 0,
    maxQueueBytes: 0,
  }
}

/** One end of the pair: packets sent here arrive at the other end's rx. */
export class SimLink implements Link {
  readonly mtu: number
  readonly headroom: number
  readonly stats: LinkStats = newStats()
  /** Drop everything while true (a cut cable). */
  down = false
  private rx: ((pkt: Uint8Array) => void) | null = null
  private onDrain: (() => void) | null = null
  private peer!: SimLink
  private busyUntil = 0
  private queued = 0
  private blocked = false

  constructor(
    private readonly owner: LossyLinkPair,
    private readonly dir: 'a>b' | 'b>a',
    private readonly rand: () => number,
  ) {
    this.mtu = owner.opts.mtu ?? 1500
    this.headroom = owner.opts.headroom ?? 0
  }

  /** @internal */
  connect(peer: SimLink): void {
    this.peer = peer
  }

  attach(rx: (pkt: Uint8Array) => void, onDrain: () => void): void {
    this.rx = rx
    this.onDrain = onDrain
  }

  /** Bytes waiting in this direction's bottleneck queue. */
  get queuedBytes(): number {
    return this.queued
  }

  send(pkt: Uint8Array): boolean {
    const o = this.owner.opts
    const clock = o.clock
    const st = this.stats
    const len = pkt.length
    st.sent++
    st.sentBytes += len
    if (len > this.mtu) {
      st.oversize++
      return this.ok()
    }
    // the PRNG is consulted the same number of times for every packet, whatever happens to it,
    // so one impairment's outcome never shifts the random stream of the others
    const rLoss = this.rand()
    const rDup = this.rand()
    const rReorder = this.rand()
    const rJitter = this.rand()
    const rDupJitter = this.rand()
    if (this.down || rLoss < (o.loss ?? 0)) {
      st.lost++
      return this.ok()
    }
    const now = clock.now()
    let depart = now
    const bw = o.bandwidth ?? 0
    if (bw > 0) {
      if (this.queued + len > (o.queueBytes ?? 256 * 1024)) {
        st.tailDropped++
        return this.ok()
      }
      depart = Math.max(now, this.busyUntil) + len / bw
      this.busyUntil = depart
      this.queued += len
      if (this.queued > st.maxQueueBytes) st.maxQueueBytes = this.queued
      clock.schedule(depart, () => this.dequeued(len))
    }
    const delay = o.delayMs ?? 0
    const jitter = o.jitterMs ?? 0
    let arrive = depart + delay + rJitter * jitter
    if (rReorder < (o.reorder ?? 0)) {
      st.reordered++
      arrive += o.reorderDelayMs ?? Math.max(2 * delay, 5)
    }
    this.schedule(arrive, pkt)
    if (rDup < (o.duplicate ?? 0)) {
      st.duplicated++
      this.schedule(arrive + 1 + rDupJitter * jitter, pkt.slice())
    }
    return this.ok()
  }

  private ok(): boolean {
    const lim = this.owner.opts.backpressureBytes
    if (lim === undefined || this.queued <= lim) return true
    this.blocked = true
    this.stats.backpressured++
    return false
  }

  private dequeued(len: number): void {
    this.queued -= len
    const lim = this.owner.opts.backpressureBytes
    if (this.blocked && lim !== undefined && this.queued <= lim / 2) {
      this.blocked = false
      this.onDrain?.()
    }
  }

  private schedule(at: number, pkt: Uint8Array): void {
    this.owner.opts.clock.schedule(at, () => {
      const st = this.stats
      st.delivered++
      st.deliveredBytes += pkt.length
      this.owner.record(this.dir, pkt)
      this.peer.rx?.(pkt)
    })
  }
}

/** Both ends plus the shared trace. Use `a` for one stack's link and `b` for the other's. */
export class LossyLinkPair {
  readonly a: SimLink
  readonly b: SimLink
  readonly trace: TraceEntry[] = []
  private digest = 0x811c9dc5
  private entries = 0

  constructor(readonly opts: LossyLinkOptions) {
    const seed = opts.seed >>> 0
    this.a = new SimLink(this, 'a>b', seededRandom((seed ^ 0x9e3779b9) >>> 0))
    this.b = new SimLink(this, 'b>a', seededRandom((seed ^ 0x7f4a7c15) >>> 0))
    this.a.connect(this.b)
    this.b.connect(this.a)
  }

  /** @internal */
  record(dir: 'a>b' | 'b>a', pkt: Uint8Array): void {
    const t = this.opts.clock.now()
    const h = fnv1a(pkt)
    this.entries++
    // fold (time, dir, len, hash) into the running digest
    let d = this.digest
    for (const v of [Math.round(t * 1000) >>> 0, dir === 'a>b' ? 1 : 2, pkt.length, h]) {
      d ^= v
      d = Math.imul(d, 0x01000193) >>> 0
      d = (d ^ (d >>> 15)) >>> 0
    }
    this.digest = d
    if (this.opts.trace) this.trace.push([t, dir, pkt.length, h])
  }

  /** A compact fingerprint of every delivery so far (count and digest). */
  traceDigest(): string {
    return `${this.entries}:${this.digest.toString(16).padStart(8, '0')}`
  }
}

export function createLossyLink(opts: LossyLinkOptions): LossyLinkPair {
  return new LossyLinkPair(opts)
}
