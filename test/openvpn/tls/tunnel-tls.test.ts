import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeClock } from '../../../src/core/clock.js'
import type { BurrowError } from '../../../src/core/errors.js'
import { run, binarySkipReason } from '../../harness/netns.js'
import { OpenVpnTlsTunnel } from '../../../src/openvpn/tls/tunnel-tls.js'
import type { OpenVpnTlsSettings } from '../../../src/openvpn/tls/options.js'
import { Framing } from '../../../src/openvpn/tls/data.js'
import { FakeServer, type FakeServerOptions } from './fake-server.js'

const noOpenssl = binarySkipReason('tunnel-tls.test.ts', ['openssl']) !== null

/** Advance fake time in small steps, letting real I/O (TLS) run between steps. */
async function pump(clock: FakeClock, until: () => boolean, maxFakeMs = 120_000, stepMs = 50): Promise<void> {
  for (let t = 0; t < maxFakeMs && !until(); t += stepMs) {
    clock.advance(stepMs)
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r))
  }
}

describe.skipIf(noOpenssl)('OpenVpnTlsTunnel state machine (in-process server, FakeClock)', () => {
  let dir = ''
  let cert = ''
  let key = ''
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpt-tun-'))
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'c'), '-subj', '/CN=fake-server', '-days', '2'])
    cert = readFileSync(join(dir, 'c'), 'utf8')
    key = readFileSync(join(dir, 'k'), 'utf8')
  })
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }))

  function setup(serverOpts: Partial<FakeServerOptions>[] = [{}], deadHosts: string[] = []) {
    const clock = new FakeClock(1000)
    const servers: FakeServer[] = []
    const settings: OpenVpnTlsSettings = {
      remotes: [{ host: '127.0.0.1', port: 1194, proto: 'udp', file: 't', line: 1 }],
      remoteRandom: false,
      connectRetry: 1,
      connectRetryMaxDelay: 5,
      creds: { ca: cert, verifyX509Name: { name: 'fake-server', type: 'name' } },
      wrap: { mode: 'none' },
      auth: 'SHA1',
      dataCiphers: ['AES-256-GCM'],
      userPass: { username: 'alice', password: 'pw' },
      tlsKeyExport: true,
      framing: Framing.NONE,
      renegSec: 0,
      renegBytes: 0,
      renegPkts: 0,
      handWindow: 60,
      tranWindow: 3600,
      ping: 0,
      pingRestart: 0,
      tunMtu: 1500,
      routes: [],
      dns: [],
      searchDomains: [],
      routeNopull: false,
      explicitExitNotify: 0,
      replayWindow: 64,
      peerInfoExtra: [],
    }
    const t = new OpenVpnTlsTunnel(settings, {
      clock,
      connect: async (r) => {
        if (deadHosts.includes(r.host)) throw new Error(`connect ECONNREFUSED ${r.host}`)
        const s = new FakeServer({ clock, cert, key, ...(serverOpts[servers.length] ?? serverOpts.at(-1)) })
        servers.push(s)
        return s.transport()
      },
    })
    return { clock, t, servers }
  }

  async function startAndWait(clock: FakeClock, t: OpenVpnTlsTunnel) {
    let result: unknown
    let done = false
    t.start().then(
      (i) => ((result = i), (done = true)),
      (e) => ((result = e), (done = true)),
    )
    await pump(clock, () => done)
    return result
  }

  it('re-sends PUSH_REQUEST until the server answers, then carries data (echo) and sends keepalive pings', async () => {
    const { clock, t, servers } = setup([{ pushReplyOn: 3 }])
    const info = (await startAndWait(clock, t)) as { addresses: unknown; routes: unknown }
    expect(info.addresses).toEqual([{ address: '10.8.0.2', prefix: 24 }])
    expect(info.routes).toEqual([{ address: '10.9.0.0', prefix: 16 }])
    const s = servers[0]
    expect(s.pushRequests).toBe(3)
    expect(s.clientUser).toBe('alice')
    const got: Uint8Array[] = []
    t.attach((p) => got.push(p), () => {})
    const pkt = Uint8Array.from([0x45, 0, 0, 20, ...new Array(16).fill(7)])
    t.send(pkt)
    await pump(clock, () => got.length > 0, 2000)
    expect(got[0]).toEqual(pkt)
    // pushed "ping 10": after 10 s without sending, a ping goes out
    await pump(clock, () => s.pings > 0, 15_000, 500)
    expect(s.pings).toBeGreaterThan(0)
    const closing = t.close()
    await pump(clock, () => false, 500)
    await closing
  })

  it('walks the remote list: an unreachable first remote falls through to the next', async () => {
    const { clock, t, servers } = setup([{}], ['10.0.0.99'])
    t.settings.remotes = [{ host: '10.0.0.99', port: 1194, proto: 'udp', file: 't', line: 1 }, ...t.settings.remotes]
    const info = (await startAndWait(clock, t)) as { description: string }
    expect(servers).toHaveLength(1)
    expect(info.description).toMatch(/fake/)
    const closing = t.close()
    await pump(clock, () => false, 500)
    await closing
  })
  it('AUTH_FAILED rejects start() with ERR_AUTH and no retry', async () => {
    const { clock, t, servers } = setup([{ reject: 'AUTH_FAILED,bad password' }])
    const e = (await startAndWait(clock, t)) as BurrowError
    expect(e.code).toBe('ERR_AUTH')
    expect(e.message).toMatch(/bad password/)
    expect(servers).toHaveLength(1)
  })

  it('a wrong key passphrase fails start() with ERR_CONFIG instead of throwing in the packet path', async () => {
    const { clock, t } = setup([{}])
    t.settings.creds.key = 'not a key'
    t.settings.creds.cert = cert
    const e = (await startAndWait(clock, t)) as BurrowError
    expect(e.code).toBe('ERR_CONFIG')
    expect(e.message).toMatch(/TLS setup failed/)
  })
  it('ping-restart: a silent server triggers a full reconnect to a new session', async () => {
    const { clock, t, servers } = setup([{}])
    await startAndWait(clock, t)
    const events: string[] = []
    t.on('reconnecting', () => events.push('reconnecting'))
    t.on('up', () => events.push('up'))
    servers[0].dead = true
    await pump(clock, () => events.includes('up'), 120_000, 250)
    expect(events).toEqual(['reconnecting', 'up'])
    expect(servers).toHaveLength(2)
    expect(servers[1].clientSid).not.toEqual(servers[0].clientSid)
    const closing = t.close()
    await pump(clock, () => false, 500)
    await closing
  })
})
