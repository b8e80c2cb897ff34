// Memory back to the operating system after a burst. V8 grows its young generation under load
// (16 → 32 MiB after a few hundred concurrent flows) and keeps it while the process idles: nothing
// schedules the full collection that would shrink it again. So when the process has been quiet
// for two intervals (event-loop utilisation below a few percent; V8 shrinks only once its recent
// allocation rate is low) and its resident set grew by more than a step since the last
// collection, run one full GC. Measured with 500 × 1 MB forwarded
// flows (bench/ingress.ts): RSS after they close 126 → ~97 MiB (idle 77 MiB). At most one GC per
// growth step, so an idle process with memory V8 cannot return (malloc arenas) is not collected
// over and over; a GC of the ~13 MiB live heap takes a few ms. V8 unmaps the freed pages on its own
// schedule, so RSS falls over the following seconds, not at once.
//
// gc() is exposed the documented way when node runs with --expose-gc; otherwise the flag is set at
// run time and the function taken from a fresh context (v8.setFlagsFromString + vm), the pattern
// the `expose-gc` package uses. When neither works, reclaiming is simply off.
import v8 from 'node:v8'
import vm from 'node:vm'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'

export interface IdleReclaimDeps {
  gc: () => void
  rss: () => number
  /** Event-loop utilisation (0..1) since the previous call. */
  utilization: () => number
  every: (ms: number, fn: () => void) => { stop(): void }
}

export interface IdleReclaimOptions {
  /** How often to look, in ms (default 2500). */
  intervalMs?: number
  /**
   * Quiet intervals in a row before collecting (default 2). V8 shrinks its young generation only
   * when its recent allocation rate (a window of ~5 s) is low: a GC right after a burst frees the
   * objects but keeps the pages.
   */
  quietIntervals?: number
  /** RSS growth since the last collection that makes one worth running (default 16 MiB). */
  growthBytes?: number
  /** Quiet = event-loop utilisation below this over the last interval (default 0.05). */
  maxUtilization?: number
  /** Called after each collection with RSS before and after. */
  onReclaim?: (before: number, after: number) => void
}

export interface IdleReclaim {
  stop(): void
  readonly runs: number
}

/** The runtime's gc function, or null when it cannot be had. */
export function exposeGc(): (() => void) | null {
  const g = (globalThis as { gc?: unknown }).gc
  if (typeof g === 'function') return g as () => void
  try {
    v8.setFlagsFromString('--expose-gc')
    const fn: unknown = vm.runInNewContext('gc')
    return typeof fn === 'function' ? (fn as () => void) : null
  } catch {
    return null
  }
}

function defaultDeps(gc: () => void): IdleReclaimDeps {
  let last: EventLoopUtilization = performance.eventLoopUtilization()
  return {
    gc,
    rss: () => process.memoryUsage.rss(),
    utilization: () => {
      const now = performance.eventLoopUtilization()
      const d = performance.eventLoopUtilization(now, last)
      last = now
      return d.utilization
    },
    every: (ms, fn) => {
      const t = setInterval(fn, ms)
      t.unref()
      return { stop: () => clearInterval(t) }
    },
  }
}

/**
 * Start watching; null when no gc function is available. `deps` replaces the process hooks
 * (tests).
 */
export function startIdleReclaim(opts: IdleReclaimOptions = {}, deps?: IdleReclaimDeps): IdleReclaim | null {
  let d = deps
  if (!d) {
    const gc = exposeGc()
    if (!gc) return null
    d = defaultDeps(gc)
  }
  const hooks = d
  const step = opts.growthBytes ?? 16 * 1024 * 1024
  const quiet = opts.maxUtilization ?? 0.05
  const needQuiet = opts.quietIntervals ?? 2
  let base = hooks.rss()
  let runs = 0
  let quietRun = 0
  let fruitless = 0
  const timer = hooks.every(opts.intervalMs ?? 2500, () => {
    const u = hooks.utilization()
    const rss = hooks.rss()
    if (rss < base) base = rss // memory came back by itself: measure growth from here
    quietRun = u < quiet ? quietRun + 1 : 0
    if (quietRun < needQuiet || rss - base < step) return
    // twice: the first collection empties the young generation, the second (with nothing left
    // to promote and no allocation in between) is the one after which V8 shrinks it
    hooks.gc()
    hooks.gc()
    runs++
    quietRun = 0
    const after = hooks.rss()
    opts.onReclaim?.(rss, after)
    // nothing came back: once more after the next quiet stretch, then accept this level (what
    // stays is memory the collector cannot return, e.g. malloc's)
    if (rss - after < step / 2 && fruitless++ < 1) return
    fruitless = 0
    base = after
  })
  return {
    stop: () => timer.stop(),
    get runs() {
      return runs
    },
  }
}
