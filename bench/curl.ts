// curl as the client of the tunnel benchmarks: one transfer, its size and curl's own average speed.
import { spawn } from 'node:child_process'
import type { Netns } from '../test/harness/netns.js'
import { machineBusySeconds } from './cpu.js'

export interface CurlSpeed {
  bytes: number
  bytesPerSec: number
  /** Busy CPU seconds of the whole machine while curl ran (bench/cpu.ts). */
  cpu: number
}

/** curl … -o /dev/null -w '%{size_download} %{speed_download}'; `ns` runs it inside a namespace. */
export function curlSpeed(args: string[], ns?: Netns, timeoutSec = 180): Promise<CurlSpeed> {
  // --fail: an HTTP error must not be timed as a result
  const cmd = ['curl', '-sS', '--fail', '--max-time', String(timeoutSec), '-o', '/dev/null', '-w', '%{size_download} %{speed_download}', ...args]
  const [bin, ...rest] = ns ? ['ip', 'netns', 'exec', ns.name, ...cmd] : cmd
  const cpu0 = machineBusySeconds()
  return new Promise((res, rej) => {
    const c = spawn(bin, rest, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    c.stdout.on('data', (d: Buffer) => (out += d.toString()))
    c.stderr.on('data', (d: Buffer) => (err += d.toString()))
    c.on('close', (code) => {
      const m = /^(\d+) ([\d.]+)/.exec(out.trim())
      if (code !== 0 || !m) return rej(new Error(`curl exited ${code}: ${err.trim() || out.trim()}`))
      res({ bytes: Number(m[1]), bytesPerSec: Number(m[2]), cpu: machineBusySeconds() - cpu0 })
    })
  })
}
