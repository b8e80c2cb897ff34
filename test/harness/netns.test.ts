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
