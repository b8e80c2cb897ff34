// Benchmark plumbing shared by bench modules: one row per measurement, each optionally paired
// with a baseline measured in the same run (ratio = value / baseline, higher is better).

export interface BenchRow {
  name: string
  /** NaN when the row was skipped (see note). */
  value: number
  unit: string
  baseline?: number
  /** What the baseline is, e.g. "Linux↔Linux". */
  baselineName?: string
  note?: string
}

export interface BenchContext {
  /** Shorter runs (smaller transfers, shorter caps) for smoke-testing the runner. */
  quick: boolean
  /** Run only scenarios whose label contains this text (modules with several scenarios). */
  match?: string
  root: boolean
  log(msg: string): void
}

export interface BenchModule {
  name: string
  /** Why the module cannot run here, or null. */
  skipReason(ctx: BenchContext): string | null
  run(ctx: BenchContext): Promise<BenchRow[]>
}

export function mbitPerSec(bytes: number, ms: number): number {
  return ms > 0 ? (bytes * 8) / ms / 1000 : NaN
}
