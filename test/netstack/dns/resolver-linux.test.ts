// The stub resolver over the real NetStack against dnsmasq (an independent DNS implementation) in a
// network namespace this test creates: NetStack ⇄ PipeLink ⇄ tunbridge ⇄ TUN ⇄ dnsmasq.
// Covers search domains, CNAME, NXDOMAIN, an IPv6 server, and UDP truncation → TCP fallback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RealClock } from '../../../src/core/clock.js'
import { Counters } from '../../../src/core/counters.js'
import type { BurrowError } from '../../../src/core/errors.js'
import { DnsResolver } from '../../../src/netstack/dns/resolver.js'
import { NetStack } from '../../../src/netstack/stack.js'
import { interopSkipReason, type Proc } from '../../harness/netns.js'
import { createTunPath, type TunPath } from '../../harness/tunpath.js'

const skip = interopSkipReason('dns-resolver-linux', ['gcc', 'dnsmasq'])
const BIG = 120 // A records for big.burrow.test: ~2 KB, more than the 1232-byte EDNS size we offer

describe.skipIf(skip)('DnsResolver over the NetStack ↔ dnsmasq', () => {
  let path: TunPath
  let stack: NetStack
  let dir: string
  let dnsmasq: Proc
  const counters = new Counters()

  beforeAll(async () => {
    path = await createTunPath({ prefix: 'bpd', index: 47, mode: 'stdio', mtu: 1500 })
    dir = mkdtempSync(join(tmpdir(), 'bpd-'))
    chmodSync(dir, 0o755) // dnsmasq drops privileges before reading the hosts file
    const hosts = [`10.77.0.1 www.burrow.test`, `fd00:77::1 www.burrow.test`]
    for (let i = 1; i <= BIG; i++) hosts.push(`10.78.${i >> 8}.${i & 0xff} big.burrow.test`)
    writeFileSync(join(dir, 'hosts'), hosts.join('\n') + '\n')
    dnsmasq = path.ns.spawn('dnsmasq', [
      '--keep-in-foreground',
      '--log-facility=-',
      '--no-resolv',
      '--no-hosts',
      '--pid-file=',
      `--addn-hosts=${join(dir, 'hosts')}`,
      '--local=/burrow.test/',
      '--cname=alias.burrow.test,www.burrow.test',
      `--listen-address=${path.addrs.linux4}`,
      `--listen-address=${path.addrs.linux6}`,
      '--bind-interfaces',
    ])
    await dnsmasq.waitFor(/started, version/, 10_000)
    stack = new NetStack({
      link: path.link!,
      clock: new RealClock(),
      counters,
      addresses: [
        { address: path.addrs.far4, prefix: path.addrs.prefix4 },
        { address: path.addrs.far6, prefix: path.addrs.prefix6 },
      ],
      dns: { servers: [path.addrs.linux4], searchDomains: ['burrow.test'] },
    })
    // wait until dnsmasq answers (it starts in well under a second)
    const probe = new DnsResolver({
      servers: [path.addrs.linux4],
      clock: new RealClock(),
      timeoutMs: 300,
      attempts: 1,
      udp: (p) => stack.openUdp({ localPort: p }),
      tcp: (h, p) => stack.connectTcp({ host: h, port: p }),
    })
    for (let i = 0; i < 40; i++) {
      try {
        await probe.lookup('www.burrow.test', 4)
        break
      } catch {
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }, 120_000)

  afterAll(async () => {
    stack?.close()
    await path?.destroy()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('resolves a short name through the search list, IPv4 first then IPv6', async () => {
    expect(await stack.resolver.lookup('www')).toEqual(['10.77.0.1', 'fd00:77::1'])
  })

  it('follows a CNAME and reports NXDOMAIN as ENOTFOUND', async () => {
    expect(await stack.resolver.lookup('alias.burrow.test', 4)).toEqual(['10.77.0.1'])
    const e = await stack.resolver.lookup('nope.burrow.test', 4).catch((x: BurrowError) => x)
    expect((e as BurrowError).code).toBe('ENOTFOUND')
  })

  it('falls back to TCP when dnsmasq truncates the UDP answer', async () => {
    const before = counters.get('dns.tcp_query')
    const addrs = await stack.resolver.lookup('big.burrow.test', 4)
    expect(addrs).toHaveLength(BIG)
    expect(new Set(addrs).size).toBe(BIG)
    expect(counters.get('dns.truncated')).toBeGreaterThanOrEqual(1)
    expect(counters.get('dns.tcp_query')).toBe(before + 1)
  })

  it('queries an IPv6 server', async () => {
    const r = new DnsResolver({
      servers: [`[${path.addrs.linux6}]:53`],
      clock: new RealClock(),
      udp: (p) => stack.openUdp({ localPort: p }),
      tcp: (h, p) => stack.connectTcp({ host: h, port: p }),
    })
    expect(await r.lookup('www.burrow.test', 6)).toEqual(['fd00:77::1'])
  })

  it('times out against a server that does not exist, after trying it attempts times', async () => {
    const r = new DnsResolver({
      servers: [path.addrs.linux4.replace(/\.\d+$/, '.99')],
      clock: new RealClock(),
      timeoutMs: 200,
      attempts: 2,
      udp: (p) => stack.openUdp({ localPort: p }),
      tcp: (h, p) => stack.connectTcp({ host: h, port: p }),
    })
    const t0 = performance.now()
    const e = await r.lookup('www.burrow.test', 4).catch((x: BurrowError) => x)
    expect((e as BurrowError).code).toBe('ETIMEDOUT')
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390)
    expect(dnsmasq.output()).toMatch(/dnsmasq|started/i)
  })
})
