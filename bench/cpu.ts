// Machine-wide CPU accounting for benchmarks: how much CPU time everything on the machine (both
// tunnel ends, curl, the lan service, the kernel's packet processing) spent during a transfer.
// From /proc/stat (Linux; proc(5)): user + nice + system + irq + softirq, in USER_HZ ticks; idle,
// iowait and steal (time the hypervisor gave to other guests) are not work done here.
import { readFileSync } from 'node:fs'

const USER_HZ = 100

/** Busy CPU seconds of the whole machine since boot, or NaN where /proc/stat is unavailable. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    const [user, nice, system, , , irq, softirq] = f
    return (user + nice + system + irq + softirq) / USER_HZ
  } catch {
    return NaN
  }
}
