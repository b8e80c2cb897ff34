// Test scaffolding: build and run tunbridge.c, the TUN bridge that connects a network namespace
// to the in-process netstack (stdio mode) or to a TUN device in a second namespace (the
// Linux↔Linux baseline over the same path), with seeded netem-style impairment. Never used by
// the product.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Netns } from './netns.js'
import { uniqueId } from './netns.js'

/** Applied identically (with independent seeded streams) to each direction. */
export interface Impairment {
  /** Percent of packets dropped. */
  loss?: number
  /** Percent of packets reordered (sent without the delay, so they overtake delayed ones). */
  reorder?: number
  /** Percent of packets duplicated. */
  dup?: number
  /** One-way delay in ms (RTT = 2 × delay). */
  delayMs?: number
  /** With delayMs = 0, how long a reordered packet is held back (ms, default 1). */
  reorderGapMs?: number
}

export interface DirStats {
  rx: number
  tx: number
  lost: number
  dup: number
  reord: number
  bad: number
  wfail: number
}

/** a2b: from the first TUN device (in `ns`) to the other side (stdout or the second TUN). */
export interface BridgeStats {
  a2b: DirStats
  b2a: DirStats
}

export interface TunBridge {
  /** TUN device name inside `ns`. */
  readonly dev: string
  /** TUN device name inside `peer` (TUN↔TUN mode only). */
  readonly dev2: string | undefined
  readonly child: ChildProcess
  /** Current counters (asks the bridge with SIGUSR1). */
  stats(): Promise<BridgeStats>
  /** Stop the bridge (SIGTERM) and return its final counters. The TUN devices disappear. */
  stop(): Promise<BridgeStats>
}

const here = dirname(fileURLToPath(import.meta.url))

/**
 * Path of a non-TS harness file (tunbridge.c, peer.mjs), whether running from test/harness
 * (vitest) or compiled into build/test/harness (bench).
 */
export function harnessFile(name: string): string {
  for (const p of [join(here, name), resolve(here, '../../../test/harness', name)]) {
    if (existsSync(p)) return p
  }
  throw new Error(`${name} not found near ${here}`)
}

function sourcePath(): string {
  return harnessFile('tunbridge.c')
}

function repoRoot(src: string): string {
  return resolve(dirname(src), '../..')
}

let built: string | null = null

/** Compile tunbridge.c with gcc into node_modules/.cache/burrow (rebuilt when the source is newer). */
export function buildTunbridge(): string {
  if (built) return built
  const src = sourcePath()
  const dir = join(repoRoot(src), 'node_modules', '.cache', 'burrow')
  mkdirSync(dir, { recursive: true })
  const bin = join(dir, 'tunbridge')
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    const tmp = `${bin}.${process.pid}.${uniqueId()}`
    execFileSync('gcc', ['-O2', '-Wall', '-o', tmp, src], { stdio: ['ignore', 'pipe', 'pipe'] })
    renameSync(tmp, bin) // atomic: parallel builders never see a half-written binary
  }
  built = bin
  return bin
}

const liveChildren = new Set<ChildProcess>()
let exitHooked = false
function track(child: ChildProcess): void {
  liveChildren.add(child)
  child.once('exit', () => liveChildren.delete(child))
  if (!exitHooked) {
    exitHooked = true
    process.on('exit', () => {
      for (const c of liveChildren) {
        try {
          if (c.pid) process.kill(c.pid, 'SIGKILL')
        } catch {
          /* gone */
        }
      }
    })
  }
}

function parseStats(text: string): BridgeStats | null {
  const out: Partial<BridgeStats> = {}
  for (const name of ['a2b', 'b2a'] as const) {
    const all = [...text.matchAll(new RegExp(`^stats ${name} (.*)$`, 'gm'))]
    if (all.length === 0) return null
    const fields = Object.fromEntries(
      all[all.length - 1][1].split(' ').map((kv) => {
        const [k, v] = kv.split('=')
        return [k, Number(v)]
      }),
    ) as unknown as DirStats
    out[name] = fields
  }
  return out as BridgeStats
}

export interface StartBridgeOptions {
  ns: Netns
  /** Second namespace: bridge TUN↔TUN instead of TUN↔stdio. */
  peer?: Netns
  impair?: Impairment
  seed?: number
  mtu?: number
}

/**
 * Start tunbridge. The TUN devices come up (MTU, txqueuelen 10000) but get no addresses: assign
 * them with `ip addr` afterwards. In stdio mode, child.stdin/stdout carry u16-BE-framed packets
 * (see tun-link.ts).
 */
export async function startTunBridge(opts: StartBridgeOptions): Promise<TunBridge> {
  const bin = buildTunbridge()
  const id = uniqueId()
  const dev = `${opts.ns.name.slice(0, 9)}t${id}`.slice(0, 15)
  const dev2 = opts.peer ? `${opts.peer.name.slice(0, 9)}u${id}`.slice(0, 15) : undefined
  const im = opts.impair ?? {}
  const args = ['--ns', opts.ns.name, '--dev', dev, '--seed', String(opts.seed ?? 1), '--mtu', String(opts.mtu ?? 1500)]
  if (opts.peer && dev2) args.push('--ns2', opts.peer.name, '--dev2', dev2)
  if (im.loss) args.push('--loss', String(im.loss))
  if (im.reorder) args.push('--reorder', String(im.reorder))
  if (im.dup) args.push('--dup', String(im.dup))
  if (im.delayMs) args.push('--delay', String(im.delayMs))
  if (im.reorderGapMs) args.push('--reorder-gap', String(im.reorderGapMs))
  const stdio = opts.peer ? (['ignore', 'ignore', 'pipe'] as const) : (['pipe', 'pipe', 'pipe'] as const)
  const child = spawn(bin, args, { stdio: [...stdio] })
  track(child)
  let err = ''
  const waiters = new Set<() => void>()
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
    if (err.length > 100_000) err = err.slice(-50_000)
    for (const w of [...waiters]) w()
  })
  let exited = false
  const exitP = new Promise<void>((res) =>
    child.once('exit', () => {
      exited = true
      for (const w of [...waiters]) w()
      res()
    }),
  )
  const waitFor = (re: RegExp, timeoutMs: number, from = 0): Promise<string> =>
    new Promise((res, rej) => {
      const check = () => {
        const m = re.exec(err.slice(from))
        if (m) return done(() => res(err.slice(from)))
        if (exited) return done(() => rej(new Error(`tunbridge exited: ${err.slice(-2000)}`)))
      }
      const t = setTimeout(() => done(() => rej(new Error(`tunbridge: timeout waiting for ${re}: ${err}`))), timeoutMs)
      const done = (f: () => void) => {
        clearTimeout(t)
        waiters.delete(check)
        f()
      }
      waiters.add(check)
      check()
    })
  await waitFor(/^ready/m, 10_000)
  const statsRe = /^stats b2a .*$/m
  return {
    dev,
    dev2,
    child,
    async stats() {
      const from = err.length
      if (exited) return parseStats(err)!
      child.kill('SIGUSR1')
      const text = await waitFor(statsRe, 5_000, from)
      return parseStats(text)!
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM')
        const t = setTimeout(() => {
          if (!exited) child.kill('SIGKILL')
        }, 3000)
        await exitP
        clearTimeout(t)
      }
      const s = parseStats(err)
      if (!s) throw new Error(`tunbridge printed no stats: ${err.slice(-2000)}`)
      return s
    },
  }
}
