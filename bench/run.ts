// Benchmark runner (`npm run bench`): runs every module in bench/modules.ts in order and prints one
// table "name | value | baseline | ratio". A module that cannot run here (no root, no TUN, …)
// prints why and contributes skipped rows. Options: --quick, --only <module>[,<module>], --match <text>
// (modules with several scenarios run only those whose label contains the text).
import { cpus, loadavg } from 'node:os'
import { modules } from './modules.js'
import type { BenchContext, BenchRow } from './types.js'

function fmt(v: number | undefined, unit = ''): string {
  if (v === undefined) return '-'
  if (Number.isNaN(v)) return 'skipped'
  const s = v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
  return unit ? `${s} ${unit}` : s
}

function printTable(rows: BenchRow[]): void {
  const lines = rows.map((r) => {
    const ratio = r.baseline !== undefined && !Number.isNaN(r.value) && r.baseline > 0 ? `${(r.value / r.baseline).toFixed(2)}×` : '-'
    const base = r.baseline !== undefined ? `${fmt(r.baseline, r.unit)}${r.baselineName ? ` (${r.baselineName})` : ''}` : '-'
    return [r.name, fmt(r.value, r.unit), base, ratio, r.note ?? '']
  })
  const head = ['name', 'value', 'baseline', 'ratio', 'note']
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i])).join(' | ')} |`
  console.log(row(head))
  console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`)
  for (const l of lines) console.log(row(l))
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const quick = argv.includes('--quick')
  const onlyIdx = argv.indexOf('--only')
  const only = onlyIdx >= 0 ? new Set(argv[onlyIdx + 1]?.split(',')) : null
  const matchIdx = argv.indexOf('--match')
  const ctx: BenchContext = {
    quick,
    match: matchIdx >= 0 ? argv[matchIdx + 1] : undefined,
    root: typeof process.getuid === 'function' && process.getuid() === 0,
    log: (m) => console.error(`  ${m}`),
  }
  console.error(
    `burrow-proxy bench: node ${process.version}, ${cpus().length} cpus, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}${quick ? ', quick' : ''}`,
  )
  const rows: BenchRow[] = []
  for (const m of modules) {
    if (only && !only.has(m.name)) continue
    const why = m.skipReason(ctx)
    if (why) {
      console.error(`[${m.name}] SKIPPED: ${why}`)
      rows.push({ name: m.name, value: NaN, unit: '', note: `skipped: ${why}` })
      continue
    }
    console.error(`[${m.name}]`)
    current = m.name
    try {
      const got = await m.run(ctx)
      for (const r of got) console.error(`  ${r.name}: ${fmt(r.value, r.unit)}${r.baseline !== undefined ? ` vs ${fmt(r.baseline, r.unit)}` : ''}`)
      rows.push(...got)
    } catch (e) {
      console.error(`[${m.name}] FAILED: ${(e as Error).stack ?? String(e)}`)
      rows.push({ name: m.name, value: NaN, unit: '', note: `failed: ${(e as Error).message.slice(0, 120)}` })
      process.exitCode = 1
    }
  }
  console.log('')
  printTable(rows)
  finished = true
}

// If the event loop empties while a module is still awaited, Node would exit 0 with no table.
let current: string | undefined
let finished = false
process.on('exit', (code) => {
  if (!finished && code === 0) {
    console.error(`bench: the event loop emptied while "${current ?? '?'}" was running (nothing held it open); no results`)
    process.exitCode = 1
  }
})

main().then(
  () => process.exit(),
  (e: unknown) => {
    console.error(e)
    process.exit(1)
  },
)
