// Interop: our OpenVPN TLS-mode client against a real openvpn 2.6 server in a network namespace
// (TUN inside the namespace, --disable-dco, bound with --local). PKI is generated with openssl at
// test time. Until the netstack is wired in, the data channel is proven with hand-built ICMP echo
// requests to the server's tunnel address: only the server's kernel can answer them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync, readFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Netns, interopSkipReason, run, veth, subnetFor, type VethPair } from '../harness/netns.js'
import { parseOvpn } from '../../src/config/ovpn.js'
import { createOpenVpnTlsTunnel, type OpenVpnTlsTunnel } from '../../src/openvpn/tls/tunnel-tls.js'
import type { Logger } from '../../src/core/log.js'
import type { BurrowError } from '../../src/core/errors.js'

const skip = interopSkipReason('openvpn-tls', ['openvpn', 'openssl'])

// ---- ICMP echo builder (RFC 792 / RFC 791) ----
function csum(b: Uint8Array, off: number, len: number): number {
  let s = 0
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0)
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return ~s & 0xffff
}
function echoRequest(src: string, dst: string, id: number, seq: number, size = 56): Uint8Array {
  const p = new Uint8Array(28 + size)
  p.set([0x45, 0, (p.length >> 8) & 255, p.length & 255, 0, 0, 0x40, 0, 64, 1, 0, 0])
  p.set(src.split('.').map(Number), 12)
  p.set(dst.split('.').map(Number), 16)
  const h = csum(p, 0, 20)
  p[10] = h >> 8
  p[11] = h & 255
  p.set([8, 0, 0, 0, id >> 8, id & 255, seq >> 8, seq & 255], 20)
  for (let i = 0; i < size; i++) p[28 + i] = (i * 7 + seq) & 255
  const c = csum(p, 20, 8 + size)
  p[22] = c >> 8
  p[23] = c & 255
  return p
}
function isEchoReply(p: Uint8Array, id: number, seq: number): boolean {
  return p.length >= 28 && p[0] >> 4 === 4 && p[9] === 1 && p[20] === 0 && ((p[24] << 8) | p[25]) === id && ((p[26] << 8) | p[27]) === seq && csum(p, 20, p.length - 20) === 0
}

/** Ping `dst` through the tunnel `n` times; returns the number of replies. */
async function pingThrough(t: OpenVpnTlsTunnel, dst: string, n: number, intervalMs = 50, size = 56): Promise<number> {
  const src = t.info!.addresses[0].address
  const id = Math.floor(Math.random() * 65535)
  const got = new Set<number>()
  t.attach(
    (p) => {
      const seq = (p[26] << 8) | p[27]
      if (isEchoReply(p, id, seq)) got.add(seq)
    },
    () => {},
  )
  for (let i = 0; i < n; i++) {
    t.send(echoRequest(src, dst, id, i, size))
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  const end = Date.now() + 2000
  while (got.size < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  return got.size
}

function capLogger(lines: string[]): Logger {
  const w = (m: string) => lines.push(m)
  return { debug: w, info: w, warn: w, error: w }
}

describe.skipIf(skip !== null)('OpenVPN TLS mode against openvpn 2.6', () => {
  let dir = ''
  let ns: Netns
  let link: VethPair
  const net = subnetFor(41)
  const serverIp = net.v4(2)
  let serverN = 0
  const tunnels: OpenVpnTlsTunnel[] = []
  const pki: Record<string, string> = {}

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpt-ovpn-'))
    const o = (...a: string[]) => run('openssl', a)
    const f = (n: string) => join(dir, n)
    o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-subj', '/CN=bpt test CA', '-days', '2')
    writeFileSync(f('srv.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\n')
    writeFileSync(f('cli.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n')
    for (const [n, cn] of [['server', 'bpt-server'], ['client', 'bpt-client']]) {
      o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${n}.key`), '-out', f(`${n}.csr`), '-subj', `/O=Burrow Test/CN=${cn}`)
      o('x509', '-req', '-in', f(`${n}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${n}.crt`), '-days', '2', '-extfile', f(n === 'server' ? 'srv.ext' : 'cli.ext'))
    }
    run('openvpn', ['--genkey', 'secret', f('ta.key')])
    run('openvpn', ['--genkey', 'tls-crypt-v2-server', f('v2srv.key')])
    run('openvpn', ['--tls-crypt-v2', f('v2srv.key'), '--genkey', 'tls-crypt-v2-client', f('v2cli.key')])
    for (const n of ['ca.crt', 'client.crt', 'client.key', 'ta.key', 'v2cli.key']) pki[n] = readFileSync(f(n), 'utf8')
    // accepts alice once: a second script call (i.e. a reconnect that did not use the auth-token) fails
    writeFileSync(f('verify-once.sh'), `#!/bin/sh\n[ -e ${f('once.mark')} ] && exit 1\ntouch ${f('once.mark')}\n[ "$(sed -n 1p "$1")" = "alice" ] && [ "$(sed -n 2p "$1")" = "s3cret" ]\n`)
    chmodSync(f('verify-once.sh'), 0o755)
    run('openvpn', ['--genkey', 'auth-token', f('token.key')])
    writeFileSync(f('verify.sh'), '#!/bin/sh\n[ "$(sed -n 1p "$1")" = "alice" ] && [ "$(sed -n 2p "$1")" = "s3cret" ]\n')
    chmodSync(f('verify.sh'), 0o755)
    ns = Netns.create('bpt')
    link = veth(null, ns, [`${net.v4(1)}/24`], [`${serverIp}/24`])
  })
  afterAll(async () => {
    for (const t of tunnels) await t.close().catch(() => {})
    await ns?.destroy()
    link?.destroy()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  interface Server {
    port: number
    proto: 'udp' | 'tcp'
    tunIp: string
    proc: ReturnType<Netns['spawn']>
  }
  async function server(opts: { proto?: 'udp' | 'tcp'; extra?: string[]; n?: number } = {}): Promise<Server> {
    const n = opts.n ?? ++serverN
    const proto = opts.proto ?? 'udp'
    const port = 21000 + (process.pid % 500) * 10 + n
    const pool = `10.${77 + (n % 20)}.${process.pid % 250}`
    const f = (x: string) => join(dir, x)
    const args = [
      '--dev', `bpt${process.pid % 10000}s${n}`, '--dev-type', 'tun', '--disable-dco', '--proto', proto === 'udp' ? 'udp' : 'tcp-server',
      '--local', serverIp, '--port', String(port), '--server', `${pool}.0`, '255.255.255.0', '--topology', 'subnet',
      '--ca', f('ca.crt'), '--cert', f('server.crt'), '--key', f('server.key'), '--dh', 'none',
      '--keepalive', '10', '60', '--verb', '3', '--push', 'route 10.250.0.0 255.255.0.0', '--push', 'dhcp-option DNS 10.250.0.53',
      ...(opts.extra ?? ['--tls-crypt', f('ta.key')]),
    ]
    const proc = ns.spawn('openvpn', args)
    await proc.waitFor(/Initialization Sequence Completed/, 15_000)
    return { port, proto, tunIp: `${pool}.1`, proc }
  }

  function clientOvpn(s: Server, lines: string[] = ['<tls-crypt>', pki['ta.key'], '</tls-crypt>']): string {
    return [
      'client', 'dev tun', `proto ${s.proto}`, `remote ${serverIp} ${s.port}`, 'nobind', 'remote-cert-tls server', 'verify-x509-name bpt-server name',
      '<ca>', pki['ca.crt'], '</ca>', '<cert>', pki['client.crt'], '</cert>', '<key>', pki['client.key'], '</key>', ...lines,
    ].join('\n')
  }

  async function connect(s: Server, lines?: string[], tweak?: (t: OpenVpnTlsTunnel) => void, log: string[] = []): Promise<OpenVpnTlsTunnel> {
    const cfg = parseOvpn(clientOvpn(s, lines), { file: 'client.ovpn', baseDir: dir })
    const t = createOpenVpnTlsTunnel(cfg, { logger: capLogger(log), trace: true })
    tweak?.(t)
    tunnels.push(t)
    await t.start()
    return t
  }

  async function basic(s: Server, lines?: string[], tweak?: (t: OpenVpnTlsTunnel) => void): Promise<{ t: OpenVpnTlsTunnel; log: string[] }> {
    const log: string[] = []
    const t = await connect(s, lines, tweak, log)
    expect(t.info!.addresses[0].prefix).toBe(24)
    expect(t.info!.routes).toContainEqual({ address: '10.250.0.0', prefix: 16 })
    expect(t.info!.dns).toEqual(['10.250.0.53'])
    const n = await pingThrough(t, s.tunIp, 10)
    if (n !== 10) console.log(s.proc.output().slice(-3000), log.join('\n'), t.counters.snapshot())
    expect(n).toBe(10)
    await t.close()
    await s.proc.kill()
    return { t, log }
  }

  it('tls-crypt over UDP, AES-256-GCM, TLS-EKM; close() tells the server (cc-exit EXIT)', async () => {
    const s = await server()
    const { log } = await basic(s)
    expect(log.join('\n')).toMatch(/key 0 active \(AES-256-GCM, tls-ekm, peer-id 0\)/)
    expect(s.proc.output()).toMatch(/CC-EEN exit message received by peer/)
  })
  for (const proto of ['udp', 'tcp'] as const) {
    it(`server killed and restarted (${proto}): the client reconnects by itself and traffic resumes`, async () => {
      const f = join(dir, 'ta.key')
      const extra = ['--tls-crypt', f, '--keepalive', '1', '4']
      const s = await server({ proto, extra })
      const t = await connect(s)
      expect(await pingThrough(t, s.tunIp, 3)).toBe(3)
      const events: string[] = []
      const upAgain = new Promise<void>((r) => t.on('up', () => r()))
      t.on('reconnecting', () => events.push('reconnecting'))
      await s.proc.kill('SIGKILL')
      const s2 = await server({ proto, extra, n: serverN })
      await Promise.race([upAgain, new Promise((_, j) => setTimeout(() => j(new Error('no reconnect within 20 s')), 20_000))])
      expect(events).toContain('reconnecting')
      expect(await pingThrough(t, s2.tunIp, 5)).toBe(5)
      await t.close()
      await s2.proc.kill()
    })
  }
  it('tls-crypt over TCP, with IPv6 pushed too (ifconfig-ipv6, route-ipv6)', async () => {
    const v6 = `fd00:bb7${process.pid % 10}:${(process.pid % 65000).toString(16)}::`
    const extra = ['--tls-crypt', join(dir, 'ta.key'), '--server-ipv6', `${v6}/64`, '--push', 'route-ipv6 fd00:beef::/48']
    const { t } = await basic(await server({ proto: 'tcp', extra }))
    expect(t.info!.addresses).toContainEqual({ address: `${v6}1000`, prefix: 64 })
    expect(t.info!.routes).toContainEqual({ address: 'fd00:beef::', prefix: 48 })
  })
  it('tls-crypt-v2 (HARD_RESET_CLIENT_V3 with WKc; early negotiation with P_CONTROL_WKC_V1 under force-cookie)', async () => {
    const lines = ['<tls-crypt-v2>', pki['v2cli.key'], '</tls-crypt-v2>']
    await basic(await server({ extra: ['--tls-crypt-v2', join(dir, 'v2srv.key')] }), lines)
    // force-cookie: the server keeps no state for clients without early negotiation; we must
    // announce it (packet-id 0x0f000000) and resend the WKc in P_CONTROL_WKC_V1
    const { log } = await basic(await server({ extra: ['--tls-crypt-v2', join(dir, 'v2srv.key'), 'force-cookie'] }), lines)
    expect(log.join('\n')).toMatch(/tx P_CONTROL_WKC_V1 key 0 pid 1/)
  })
  it('tls-auth SHA256 (key-direction 1) and the SHA1 default', async () => {
    const f = join(dir, 'ta.key')
    await basic(await server({ extra: ['--tls-auth', f, '0', '--auth', 'SHA256'] }), ['<tls-auth>', pki['ta.key'], '</tls-auth>', 'key-direction 1', 'auth SHA256'])
    await basic(await server({ extra: ['--tls-auth', f, '0'] }), ['<tls-auth>', pki['ta.key'], '</tls-auth>', 'key-direction 1'])
  })
  it('data ciphers AES-128-GCM and CHACHA20-POLY1305 chosen by the server', async () => {
    const f = join(dir, 'ta.key')
    for (const c of ['AES-128-GCM', 'CHACHA20-POLY1305']) {
      const { log } = await basic(await server({ extra: ['--tls-crypt', f, '--data-ciphers', c] }))
      expect(log.join('\n')).toContain(`(${c},`)
    }
  })
  it('legacy CBC + HMAC data channel (AES-256-CBC, auth SHA256) negotiated through data-ciphers', async () => {
    const f = join(dir, 'ta.key')
    const { log } = await basic(await server({ extra: ['--tls-crypt', f, '--data-ciphers', 'AES-256-CBC', '--auth', 'SHA256'] }), ['<tls-crypt>', pki['ta.key'], '</tls-crypt>', 'data-ciphers AES-256-GCM:AES-256-CBC', 'auth SHA256'])
    expect(log.join('\n')).toContain('(AES-256-CBC,')
  })
  it('pushed "compress stub-v2" is framed (not compressed); pushed real compression is refused (VORACLE)', async () => {
    const f = join(dir, 'ta.key')
    await basic(await server({ extra: ['--tls-crypt', f, '--compress', 'stub-v2', '--push', 'compress stub-v2'] }))
    // comp-lzo no puts a 0xFA byte in front of every packet: without the framing nothing would pass
    await basic(await server({ extra: ['--tls-crypt', f, '--comp-lzo', 'no', '--push', 'comp-lzo no'] }))
    const s = await server({ extra: ['--tls-crypt', f, '--allow-compression', 'yes', '--compress', 'lz4-v2', '--push', 'compress lz4-v2'] })
    const err = await connect(s).then(
      () => null,
      (e: BurrowError) => e,
    )
    expect(err?.message).toMatch(/compression is refused \(VORACLE\)/)
    expect(err?.code).toBe('ERR_CONFIG')
    await s.proc.kill()
  })
  it('a PUSH_REPLY too large for one message arrives in push-continuation parts', async () => {
    const f = join(dir, 'ta.key')
    const routes = Array.from({ length: 120 }, (_, i) => ['--push', `route 10.251.${i}.0 255.255.255.0`]).flat()
    const s = await server({ extra: ['--tls-crypt', f, ...routes] })
    const log: string[] = []
    const t = await connect(s, undefined, undefined, log)
    expect(t.info!.routes.filter((r) => r.address.startsWith('10.251.'))).toHaveLength(120)
    expect(log.filter((l) => l.includes('PUSH_REPLY part received (more follow)')).length).toBeGreaterThanOrEqual(1)
    expect(await pingThrough(t, s.tunIp, 3)).toBe(3)
    await t.close()
    await s.proc.kill()
  })
  it('server limited to TLS 1.2; and the legacy PRF when TLS_KEY_EXPORT is not announced', async () => {
    const f = join(dir, 'ta.key')
    const { log } = await basic(await server({ extra: ['--tls-crypt', f, '--tls-version-max', '1.2'] }))
    expect(log.join('\n')).toMatch(/TLSv1\.2/)
    const r = await basic(await server(), undefined, (t) => (t.settings.tlsKeyExport = false))
    expect(r.log.join('\n')).toMatch(/key 0 active \(AES-256-GCM, PRF/)
  })
  it('auth-user-pass-verify: right password works, wrong password → ERR_AUTH AUTH_FAILED', async () => {
    const f = join(dir, 'ta.key')
    const extra = ['--tls-crypt', f, '--script-security', '2', '--auth-user-pass-verify', join(dir, 'verify.sh'), 'via-file', '--tmp-dir', dir]
    const s = await server({ extra })
    const good = await connect(s, ['<tls-crypt>', pki['ta.key'], '</tls-crypt>', '<auth-user-pass>', 'alice\ns3cret', '</auth-user-pass>'])
    expect(await pingThrough(good, s.tunIp, 3)).toBe(3)
    await good.close()
    const err = await connect(s, ['<tls-crypt>', pki['ta.key'], '</tls-crypt>', '<auth-user-pass>', 'alice\nwrong', '</auth-user-pass>']).then(
      () => null,
      (e: BurrowError) => e,
    )
    expect(err?.code).toBe('ERR_AUTH')
    expect(err?.message).toMatch(/AUTH_FAILED/)
    await s.proc.kill()
  })
  it('reconnect after a server restart reuses the pushed auth-token instead of the password', async () => {
    const f = join(dir, 'ta.key')
    const extra = ['--tls-crypt', f, '--keepalive', '1', '4', '--script-security', '2', '--auth-user-pass-verify', join(dir, 'verify-once.sh'), 'via-file', '--tmp-dir', dir, '--auth-gen-token', '3600', '--auth-gen-token-secret', join(dir, 'token.key')]
    const s = await server({ extra })
    const log: string[] = []
    const t = await connect(s, ['<tls-crypt>', pki['ta.key'], '</tls-crypt>', '<auth-user-pass>', 'alice\ns3cret', '</auth-user-pass>'], undefined, log)
    expect(await pingThrough(t, s.tunIp, 2)).toBe(2)
    const upAgain = new Promise<void>((r) => t.on('up', () => r()))
    await s.proc.kill('SIGKILL')
    const s2 = await server({ extra, n: serverN })
    await Promise.race([upAgain, new Promise((_, j) => setTimeout(() => j(new Error('no reconnect within 20 s')), 20_000))])
    expect(await pingThrough(t, s2.tunIp, 3)).toBe(3)
    expect(s2.proc.output()).toMatch(/auth-token/i)
    await t.close()
    await s2.proc.kill()
  })
  it('reneg-pkts on the client renegotiates after that many packets', async () => {
    const s = await server()
    const log: string[] = []
    const t = await connect(s, undefined, (x) => (x.settings.renegPkts = 20), log)
    expect(await pingThrough(t, s.tunIp, 30, 60)).toBe(30)
    await new Promise((r) => setTimeout(r, 500))
    expect(log.filter((l) => /data channel key [1-7] active/.test(l)).length).toBeGreaterThanOrEqual(1)
    await t.close()
    await s.proc.kill()
  })
  it('reneg-sec 10 on the server: traffic keeps flowing across renegotiations; client-initiated too', async () => {
    const f = join(dir, 'ta.key')
    const s = await server({ extra: ['--tls-crypt', f, '--reneg-sec', '10', '--verb', '4'] })
    const log: string[] = []
    const t = await connect(s, undefined, undefined, log)
    // 24 s of pings at 4/s crosses two server-initiated renegotiations
    const got = await pingThrough(t, s.tunIp, 96, 250, 1200)
    if (got !== 96) console.log(log.filter((l) => !/ (tx|rx) /.test(l)).join('\n'), t.counters.snapshot(), s.proc.output().slice(-4000))
    expect(got).toBe(96)
    const keys = log.filter((l) => /data channel key \d active/.test(l))
    expect(keys.length).toBeGreaterThanOrEqual(3)
    // two client-initiated renegotiations
    for (let i = 0; i < 2; i++) {
      t.renegotiate()
      const n = await pingThrough(t, s.tunIp, 12, 100)
      if (n !== 12) console.log(log.filter((l) => !/ (tx|rx) /.test(l)).join('\n'), t.counters.snapshot(), s.proc.output().slice(-4000))
      expect(n).toBe(12)
    }
    expect(log.filter((l) => /data channel key \d active/.test(l)).length).toBeGreaterThanOrEqual(keys.length + 2)
    expect(t.counters.get('openvpn.data.bad_tag')).toBe(0)
    // the server never saw a packet on a key it had not installed yet, nor a bad one
    expect(s.proc.output()).not.toMatch(/dropping packet|Decrypt error|keys are out of sync/)
    await t.close()
    await s.proc.kill()
  }, 120_000)
})
