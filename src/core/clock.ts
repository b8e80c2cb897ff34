// Injected time. The netstack and tunnels never call Date.now/setTimeout directly, so the whole
// client can run deterministically under FakeClock in tests.

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number
  /** Run fn at (or after) atMs on this clock. Returns a cancel function. */
  schedule(atMs: number, fn: () => void): () => void
}

export class RealClock implements Clock {
  now(): number {
    return performance.now()
  }
  schedule(atMs: number, fn: () => void): () => void {
    const delay = atMs - this.now()
    if (delay <= 0) {
      // due now: run after pending I/O without setTimeout's 1 ms floor
      const i = setImmediate(fn)
      return () => clearImmediate(i)
    }
    const t = setTimeout(fn, delay)
    t.unref?.()
    return () => clearTimeout(t)
  }
}

interface Timer {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

/** Deterministic clock: time moves only through advance()/runUntil(). Timers fire in (time, insertion) order. */
export class FakeClock implements Clock {
  private t: number
  private seq = 0
  private heap: Timer[] = []
  constructor(start = 0) {
    this.t = start
  }
  now(): number {
    return this.t
  }
  schedule(atMs: number, fn: () => void): () => void {
    const timer: Timer = { at: Math.max(atMs, this.t), seq: this.seq++, fn, cancelled: false }
    this.push(timer)
    return () => {
      timer.cancelled = true
    }
  }
  /** Time of the next pending timer, or undefined. */
  nextAt(): number | undefined {
    while (this.heap.length && this.heap[0].cancelled) this.pop()
    return this.heap.length ? this.heap[0].at : undefined
  }
  /** Advance by ms, firing every timer that falls due (including ones scheduled while firing). */
  advance(ms: number): void {
    this.runUntil(this.t + ms)
  }
  runUntil(target: number): void {
    for (;;) {
      const at = this.nextAt()
      if (at === undefined || at > target) break
      const timer = this.pop()!
      this.t = timer.at
      timer.fn()
    }
    if (target > this.t) this.t = target
  }
  /** Fire timers until none remain or `limitMs` of fake time has passed; returns whether the queue emptied. */
  runAll(limitMs = 3_600_000): boolean {
    const end = this.t + limitMs
    for (;;) {
      const at = this.nextAt()
      if (at === undefined) return true
      if (at > end) {
        this.t = end
        return false
      }
      const timer = this.pop()!
      this.t = timer.at
      timer.fn()
    }
  }
  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }
  private push(x: Timer): void {
    const h = this.heap
    h.push(x)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(h[i], h[p])) break
      ;[h[i], h[p]] = [h[p], h[i]]
      i = p
    }
  }
  private pop(): Timer | undefined {
    const h = this.heap
    if (!h.length) return undefined
    const top = h[0]
    const last = h.pop()!
    if (h.length) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.less(h[l], h[m])) m = l
        if (r < h.length && this.less(h[r], h[m])) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m], h[i]]
        i = m
      }
    }
    return top
  }
}

/** Seeded PRNG (mulberry32) for simulations and jitter; deterministic per seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
