// Test scaffolding for interop tests and benchmarks: network namespaces, veth pairs and real
// server processes, created with unique names and always removed. Never used by the product.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { appendFileSync, chmodSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs'

const live = new Set<() => void>()
let hooked = false
function onExit(fn: () => void): () => void {
  if (!hooked) {
    hooked = true
    const runAll = () => {
      for (const f of [...live].reverse()) {
        try {
          f()
        } catch {
          /* best effort */
        }
      }
      live.clear()
    }
    process.on('exit', runAll)
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        runAll()
        process.exit(130)
      })
    }
  }
  live.add(fn)
  return () => live.delete(fn)
}

/**
 * Process slots keep parallel test processes (vitest workers, benches) apart: each claims a number
 * in 0..199 as a file in SLOT_DIR holding its pid, and derives namespace/interface names and test
 * subnets from it. The file is also a journal of the root-namespace objects the process made
 * (namespaces, veth links, routes). A process killed before its cleanup (SIGKILL, a machine reset)
 * leaves its file behind: the next process to claim that slot removes what the journal lists
 * (objects only that dead test process made, named with its slot) and takes the slot over. Claims
 * happen under a lock directory so two processes never take over the same stale slot.
 */
const SLOT_DIR = '/tmp/burrow-netns-slots'
const SLOTS = 200
let slot = -1

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Remove what a dead process's journal lists; every step may fail (already gone). */
function sweepJournal(lines: string[]): void {
  for (const line of lines.slice(1).reverse()) {
    const [kind, a] = line.split(' ')
    if (!a) continue
    if (kind === 'netns') {
      const pids = run('ip', ['netns', 'pids', a], { allowFail: true }).split('\n').filter(Boolean)
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {
          /* gone */
        }
      }
      run('ip', ['netns', 'del', a], { allowFail: true })
    } else if (kind === 'link') run('ip', ['link', 'del', a], { allowFail: true })
    else if (kind === 'route4') run('ip', ['-4', 'route', 'del', a], { allowFail: true })
    else if (kind === 'route6') run('ip', ['-6', 'route', 'del', a], { allowFail: true })
  }
}

/**
 * Claim a slot in `dir` for `pid` (exported for the harness test): the first slot from pid % 200
 * on that is free, or whose owner is dead (its journal swept first). Returns the slot number.
 */
export function claimSlotIn(dir: string, pid: number): number {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true })
    chmodSync(dir, 0o1777) // like /tmp: root and non-root test runs share it
  }
  const lock = `${dir}/.lock`
  for (let waited = 0; ; waited += 10) {
    try {
      mkdirSync(lock)
      break
    } catch {
      // a lock older than 10 s belongs to a process that died inside the critical section
      try {
        if (Date.now() - statSync(lock).mtimeMs > 10_000) rmdirSync(lock)
      } catch {
        /* released meanwhile */
      }
      if (waited > 30_000) throw new Error(`netns harness: ${lock} stays locked`)
      sleepMs(10)
    }
  }
  try {
    for (let i = 0; i < SLOTS; i++) {
      const s = (pid + i) % SLOTS
      const file = `${dir}/${s}`
      if (existsSync(file)) {
        const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean)
        const owner = Number(lines[0])
        if (owner > 0 && owner !== pid && alive(owner)) continue
        try {
          unlinkSync(file) // fails for another user's file in the sticky directory: skip that slot
        } catch {
          continue
        }
        sweepJournal(lines)
      }
      const fd = openSync(file, 'wx')
      writeSync(fd, `${pid}\n`)
      closeSync(fd)
      return s
    }
    throw new Error(`netns harness: all ${SLOTS} slots in ${dir} belong to live processes`)
  } finally {
    rmdirSync(lock)
  }
}

function claimSlot(): number {
  if (slot >= 0) return slot
  slot = claimSlotIn(SLOT_DIR, process.pid)
  const file = `${SLOT_DIR}/${slot}`
  onExit(() => {
    try {
      if (Number(readFileSync(file, 'utf8').split('\n')[0]) === process.pid) unlinkSync(file)
    } catch {
      /* gone */
    }
  })
  return slot
}

/** Record a root-namespace object this process made (see claimSlot): "netns NAME", "link NAME", "route4 CIDR", "route6 CIDR". */
function journal(entry: string): void {
  appendFileSync(`${SLOT_DIR}/${claimSlot()}`, `${entry}\n`)
}

/**
 * Add a route in the root namespace (e.g. `unreachable CIDR`), journaled so a killed run's route
 * is removed by the next claimant of the slot. Returns the function that deletes it.
 */
export function addRootRoute(family: 4 | 6, args: string[], dst: string): () => void {
  journal(`route${family} ${dst}`)
  run('ip', [`-${family}`, 'route', 'add', ...args])
  let done = false
  const untrack = onExit(() => del())
  function del(): void {
    if (done) return
    done = true
    run('ip', [`-${family}`, 'route', 'del', ...args], { allowFail: true })
    untrack()
  }
  return del
}

let counter = 0
/** A short id unique across parallel test processes on this machine: the process slot + counter. */
export function uniqueId(): string {
  return `${claimSlot().toString(36).padStart(2, '0')}${(counter++).toString(36)}`
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

export function which(bin: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = `${dir}/${bin}`
    if (existsSync(p)) return p
  }
  return null
}

/**
 * Decide whether an interop test can run here. Returns null when it can, or the reason it can't.
 * Under CI (CI env set) a missing requirement is an error, never a silent skip.
 */
export function interopSkipReason(name: string, bins: string[] = []): string | null {
  const missing: string[] = []
  if (!isRoot()) missing.push('root')
  if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun')
  for (const b of ['ip', ...bins]) if (!which(b)) missing.push(b)
  if (missing.length === 0) return null
  const reason = `interop test "${name}" needs ${missing.join(', ')} (run scripts/install-peers.sh as root)`
  if (process.env.CI) throw new Error(`CI must run interop tests: ${reason}`)
  console.warn(`\n*** SKIPPING: ${reason} ***\n`)
  return reason
}

export function run(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] })
  } catch (e) {
    if (opts.allowFail) return ''
    const err = e as { stderr?: string; stdout?: string; message: string }
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr || err.stdout || err.message}`)
  }
}

export interface Proc {
  child: ChildProcess
  pid: number
  /** Everything the process printed so far (stdout + stderr). */
  output(): string
  /** Resolve when the output matches, reject on exit or timeout. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** Spawn a process and track it; it is killed (by PID) at teardown or process exit. */
export function startProc(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
  let out = ''
  const waiters = new Set<() => void>()
  const onData = (d: Buffer) => {
    out += d.toString()
    if (out.length > 1_000_000) out = out.slice(-500_000)
    for (const w of waiters) w()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  let exited = false
  const exitP = new Promise<void>((res) => child.once('exit', () => ((exited = true), res())))
  child.once('exit', () => {
    for (const w of waiters) w()
  })
  const untrack = onExit(() => {
    if (!exited && child.pid) {
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
  })
  const p: Proc = {
    child,
    pid: child.pid ?? -1,
    output: () => out,
    waitFor(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re)
          if (m) return done(() => resolve(m))
          if (exited) return done(() => reject(new Error(`${cmd} exited before ${re}: ${out.slice(-2000)}`)))
        }
        const t = setTimeout(() => done(() => reject(new Error(`timeout waiting for ${re} from ${cmd}: ${out.slice(-2000)}`))), timeoutMs)
        const done = (f: () => void) => {
          clearTimeout(t)
          waiters.delete(check)
          f()
        }
        waiters.add(check)
        check()
      })
    },
    async kill(signal = 'SIGTERM') {
      if (!exited && child.pid) {
        try {
          process.kill(child.pid, signal)
        } catch {
          /* gone */
        }
        const t = setTimeout(() => {
          if (!exited && child.pid) process.kill(child.pid, 'SIGKILL')
        }, 3000)
        await exitP
        clearTimeout(t)
      }
      untrack()
    },
  }
  return p
}

/** A network namespace created for a test, removed by destroy() or at process exit. */
export class Netns {
  readonly name: string
  private readonly procs: Proc[] = []
  private readonly untrack: () => void
  private constructor(name: string) {
    this.name = name
    this.untrack = onExit(() => run('ip', ['netns', 'del', name], { allowFail: true }))
  }
  /** prefix: 3–5 letters naming the test (e.g. "bpo"); a unique suffix is appended. */
  static create(prefix: string): Netns {
    const name = `${prefix}${uniqueId()}`
    journal(`netns ${name}`)
    run('ip', ['netns', 'add', name])
    const ns = new Netns(name)
    ns.exec('ip', ['link', 'set', 'lo', 'up'])
    return ns
  }
  exec(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts)
  }
  /** Run a long-lived process inside the namespace; killed by destroy(). */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
    const p = startProc('ip', ['netns', 'exec', this.name, cmd, ...args], opts)
    this.procs.push(p)
    return p
  }
  async destroy(): Promise<void> {
    for (const p of this.procs.splice(0).reverse()) await p.kill()
    run('ip', ['netns', 'del', this.name], { allowFail: true })
    this.untrack()
  }
}

export interface VethPair {
  /** Interface name on side A / side B. */
  a: string
  b: string
  destroy(): void
}

/**
 * Create a veth pair between `a` (a Netns, or null for the root namespace) and `b`, assign the
 * given addresses (CIDR strings, v4 and/or v6) and bring both ends up.
 */
export function veth(a: Netns | null, b: Netns | null, addrA: string[], addrB: string[]): VethPair {
  const id = uniqueId()
  const ifA = `bpv${id}a`.slice(0, 15)
  const ifB = `bpv${id}b`.slice(0, 15)
  journal(`link ${ifA}`)
  run('ip', ['link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB])
  const inNs = (ns: Netns | null, args: string[]) => (ns ? ns.exec('ip', args) : run('ip', args))
  if (a) run('ip', ['link', 'set', ifA, 'netns', a.name])
  if (b) run('ip', ['link', 'set', ifB, 'netns', b.name])
  for (const c of addrA) inNs(a, ['addr', 'add', c, 'dev', ifA, ...(c.includes(':') ? ['nodad'] : [])])
  for (const c of addrB) inNs(b, ['addr', 'add', c, 'dev', ifB, ...(c.includes(':') ? ['nodad'] : [])])
  inNs(a, ['link', 'set', ifA, 'up'])
  inNs(b, ['link', 'set', ifB, 'up'])
  const untrack = onExit(() => {
    if (!a) run('ip', ['link', 'del', ifA], { allowFail: true })
  })
  return {
    a: ifA,
    b: ifB,
    destroy() {
      if (a) a.exec('ip', ['link', 'del', ifA], { allowFail: true })
      else run('ip', ['link', 'del', ifA], { allowFail: true })
      untrack()
    },
  }
}

/**
 * Address block helper: a /24 (10.{100+index}.{slot}.0) and a /64 unique to this process's slot
 * (see claimSlot), for test addressing. Within one process, different indexes give different blocks.
 */
export function subnetFor(index: number): { v4: (host: number) => string; v6: (host: number) => string } {
  if (!Number.isInteger(index) || index < 0 || index > 155) throw new RangeError(`subnetFor: index ${index} is outside 0..155`)
  const n = claimSlot()
  return {
    v4: (h) => `10.${100 + index}.${n}.${h}`,
    v6: (h) => `fd00:bb${index.toString(16).padStart(2, '0')}:${n.toString(16)}::${h.toString(16)}`,
  }
}

/**
 * Like interopSkipReason for tests that need only some programs (no root): null when all are
 * installed, else the printed reason. Under CI a missing program is an error, never a skip.
 */
export function binarySkipReason(name: string, bins: string[]): string | null {
  const missing = bins.filter((b) => !which(b))
  if (missing.length === 0) return null
  const reason = `test "${name}" needs ${missing.join(', ')} (run scripts/install-peers.sh)`
  if (process.env.CI) throw new Error(`CI must run this test: ${reason}`)
  console.warn(`\n*** SKIPPING: ${reason} ***\n`)
  return reason
}
