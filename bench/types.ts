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

/**
 * Orders of the two sides of a comparison, one list per round: A B, B A, B A, A B (each side goes
 * first equally often and at both ends of the run, so a load that drifts during it favours
 * neither), or one round with --quick. The caller keeps each side's best.
 */
export function comparisonRounds<S>(quick: boolean, a: S, b: S): S[][] {
  return quick ? [[a, b]] : [[a, b], [b, a], [b, a], [a, b]]
}

/**
 * Bytes each side of a native-vs-burrow comparison moves on its fresh tunnel before the measured
 * transfer. burrow starts as a new process each round, and V8 compiles its packet path while the
 * first megabytes go through; the measurement is of the warm path a running proxy has. The native
 * side makes the same transfer, so both measured downloads start alike.
 */
export const WARMUP_BYTES = 20 * 1024 * 1024
