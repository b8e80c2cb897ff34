import { afterAll, describe, expect, it } from 'vitest'
import { interopSkipReason, Netns, veth, subnetFor } from './netns.js'

const skip = interopSkipReason('harness netns')

describe.skipIf(skip !== null)('netns harness', () => {
  const made: Netns[] = []
  afterAll(async () => {
    for (const n of made) await n.destroy()
  })
  it('creates two namespaces joined by veth that can ping each other, then removes them', async () => {
    const a = Netns.create('bph')
    const b = Netns.create('bph')
    made.push(a, b)
    const s = subnetFor(0)
    const v = veth(a, b, [`${s.v4(1)}/24`, `${s.v6(1)}/64`], [`${s.v4(2)}/24`, `${s.v6(2)}/64`])
    expect(a.exec('ping', ['-c', '1', '-W', '2', s.v4(2)])).toMatch(/1 received/)
    expect(a.exec('ping', ['-c', '1', '-W', '2', s.v6(2)])).toMatch(/1 received/)
    v.destroy()
    await a.destroy()
    await b.destroy()
    made.length = 0
    const list = (await import('./netns.js')).run('ip', ['netns', 'list'])
    expect(list).not.toContain(a.name)
  })
})

describe.skipIf(skip !== null)('netns harness process slots', () => {
  it('a slot left by a killed process is taken over and what its journal lists is removed; a live owner keeps its slot', async () => {
    const { claimSlotIn, run } = await import('./netns.js')
    const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs')
    const { spawnSync } = await import('node:child_process')
    const { tmpdir } = await import('node:os')
    const dir = mkdtempSync(`${tmpdir()}/bph-slots-`)
    const dead = spawnSync('true').pid! // exited: its pid names no live process (until reused)
    const deadSlot = dead % 200
    // what a killed test process would have left behind: a namespace and a root route
    const ns = `bphstale${deadSlot.toString(36)}`
    const route = `10.155.${deadSlot}.0/24`
    try {
      run('ip', ['netns', 'add', ns])
      run('ip', ['-4', 'route', 'add', 'unreachable', route])
      writeFileSync(`${dir}/${deadSlot}`, `${dead}\nnetns ${ns}\nroute4 ${route}\n`)
      // a live owner (this process's parent) on the next slot
      writeFileSync(`${dir}/${(deadSlot + 1) % 200}`, `${process.ppid}\n`)

      const claimant = dead + 200 // another pid whose first choice is the same slot
      expect(claimSlotIn(dir, claimant)).toBe(deadSlot) // the dead owner's slot, swept
      expect(run('ip', ['netns', 'list'])).not.toContain(ns)
      expect(run('ip', ['-4', 'route', 'show'])).not.toContain(route)
      expect(readFileSync(`${dir}/${deadSlot}`, 'utf8')).toBe(`${claimant}\n`)

      expect(claimSlotIn(dir, claimant + 1)).toBe((deadSlot + 2) % 200) // the live owner's slot is skipped
      expect(readFileSync(`${dir}/${(deadSlot + 1) % 200}`, 'utf8')).toBe(`${process.ppid}\n`)
    } finally {
      run('ip', ['netns', 'del', ns], { allowFail: true })
      run('ip', ['-4', 'route', 'del', 'unreachable', route], { allowFail: true })
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
