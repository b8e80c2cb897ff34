#!/usr/bin/env node
// burrow-proxy command line. The only module that touches process.* (argv, signals, exit).
import { consoleLogger } from '../core/log.js'
import { parseArgs, type CliOptions } from './options.js'
import { startSession } from './session.js'
import { demoSelfCheck, startDemo } from './demo.js'
import { ttyPrompt } from './prompt.js'
import { startIdleReclaim } from '../core/idle-reclaim.js'
import { tuneHeap } from '../core/v8-tuning.js'

const status = (line: string) => process.stdout.write(`burrow-proxy: ${line}\n`)

function onSignals(close: () => Promise<void>): void {
  let closing = false
  const handler = (sig: string) => {
    if (closing) process.exit(130)
    closing = true
    status(`${sig}: shutting down`)
    close().then(
      () => process.exit(0),
      (e: Error) => {
        process.stderr.write(`burrow-proxy: error while closing: ${e.message}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => handler('SIGINT'))
  process.on('SIGTERM', () => handler('SIGTERM'))
}

async function main(argv: string[]): Promise<number> {
  // the packet path wants a full-size young generation and room in the old one (core/v8-tuning.ts)
  tuneHeap()
  let o: CliOptions | 'exit'
  try {
    o = await parseArgs(argv)
  } catch (e) {
    process.stderr.write(`burrow-proxy: ${(e as Error).message}\nTry burrow-proxy --help\n`)
    return 2
  }
  if (o === 'exit') return 0
  const log = consoleLogger(o.verbose)
  for (const w of o.warnings) log.warn(w)

  if (o.command === 'demo') {
    const d = await startDemo(o, log, status)
    onSignals(() => d.close())
    try {
      for (const l of await demoSelfCheck(d)) status(l)
    } catch (e) {
      await d.close()
      throw e
    }
    if (o.once) {
      await d.close()
      return 0
    }
    status('demo running; press Ctrl-C to stop')
    return -1
  }

  const ac = new AbortController()
  let closeFn: () => Promise<void> = async () => ac.abort()
  onSignals(() => closeFn())
  // auth-user-pass / askpass / proxy "stdin" without a file: asked on the terminal (stderr), if stdin is one
  const prompt = ttyPrompt(process.stdin, process.stderr)
  const s = await startSession(o, o.config!, log, status, ac.signal, prompt)
  // a long-running proxy gives memory back after a burst of flows (see core/idle-reclaim.ts)
  const reclaim = startIdleReclaim({
    onReclaim: (before, after) => log.debug(`memory: idle after a burst, full GC: RSS ${(before / 2 ** 20).toFixed(0)} → ${(after / 2 ** 20).toFixed(0)} MiB`),
  })
  closeFn = () => {
    reclaim?.stop()
    return s.close()
  }
  return -1
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code)
  },
  (e: Error & { code?: string }) => {
    process.stderr.write(`burrow-proxy: ${e.message}${e.code && !e.message.includes(e.code) ? ` (${e.code})` : ''}\n`)
    process.exit(1)
  },
)
