// Ingress end to end, as a user runs it (issue 6): the built CLI in the root namespace with
// `--expose 8080=127.0.0.1:P --expose udp://5353=127.0.0.1:U --expose-allow SERVER/32` and
// `--forward` (tcp by name, udp to the lan's dnsmasq), against a real server of each tunnel kind
// in the "vpn" namespace of the vpn-lan topology (test/harness/vpn-lan.ts): wireguard-go
// (test/harness/wg-server.ts) and OpenVPN 2.6 in TLS mode (test/harness/ovpn-tls-server.ts).
// Peers on the server side reach the exposed ports at the client's tunnel address: curl in the
// vpn namespace fetches 50 MB (sha256-exact) from an HTTP server in this process; a UDP request
// is answered; a port not exposed is refused (TCP RST, ICMP port unreachable); a source outside
// --expose-allow (the lan host, which otherwise reaches the client: ping) is refused. Forwards:
// curl to 127.0.0.1:PORT reaches the lan HTTP service by name, a DNS query to the UDP forward is
// answered by dnsmasq behind the VPN, and (WireGuard) many concurrent forwarded downloads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { interopSkipReason, type Netns } from '../harness/netns.js'
import { keystream, patternSha256 } from '../harness/pattern.js'
import { createVpnLan, PAGE_MARKER, type VpnLan } from '../harness/vpn-lan.js'
import { curlSha256, startCli, startWgServer, wgClientConfText, wgKeyPair, type CliSession, type WgServer } from '../harness/wg-server.js'
import { makeOvpnPki, startOvpnTlsServer, type OvpnTlsServer } from '../harness/ovpn-tls-server.js'
import { dnsLookupA, gcProbeNodeOptions, gcStat, manyGets, procMemory, rssSampler, startPatternHttp, startUdpEcho, type LocalService } from '../harness/ingress-flows.js'

const MB = 1_000_000
const BIG = 50 * MB
const PREFIX = 'bpi'

const skipWg = interopSkipReason('ingress e2e over WireGuard', ['wireguard-go', 'wg', 'curl', 'dnsmasq', 'python3', 'ping'])
const skipOvpn = interopSkipReason('ingress e2e over OpenVPN TLS', ['openvpn', 'openssl', 'curl', 'dnsmasq', 'python3', 'ping'])

/** Run a command (in `ns` when given) without blocking this process's event loop (the local services live here). */
function exec(cmd: string, args: string[], ns?: Netns, timeoutMs = 30_000): Promise<{ code: number; out: string; ms: number }> {
  const t0 = performance.now()
  const child = ns ? spawn('ip', ['netns', 'exec', ns.name, cmd, ...args]) : spawn(cmd, args)
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise((res, rej) => {
    child.once('error', rej)
    child.once('close', (code) => {
      clearTimeout(timer)
      res({ code: code ?? -1, out, ms: performance.now() - t0 })
    })
  })
}

// A UDP client on a connected socket: resends once a second; prints the reply, or REFUSED when an
// ICMP port unreachable came back (ECONNREFUSED), or exits 2 with nothing.
const PY_UDP = `
import socket, sys
ip, port, msg, tries = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.connect((ip, port))
for i in range(tries):
    try:
        s.send(msg)
        print('REPLY ' + s.recv(4096).decode())
        sys.exit(0)
    except socket.timeout:
        pass
    except ConnectionRefusedError:
        print('REFUSED')
        sys.exit(3)
sys.exit(2)
`
function udpAsk(ns: Netns, ip: string, port: number, msg: string, tries = 8) {
  return exec('python3', ['-c', PY_UDP, ip, String(port), msg, String(tries)], ns)
}

// A TCP connect that names how it failed: REFUSED (a RST came back: ECONNREFUSED), or the errno
// (e.g. EHOSTUNREACH for an ICMP error), or CONNECTED.
const PY_TCP = `
import errno, socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    print('CONNECTED')
except ConnectionRefusedError:
    print('REFUSED')
except socket.timeout:
    print('TIMEOUT')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)))
`
async function tcpConnect(ns: Netns, ip: string, port: number): Promise<string> {
  return (await exec('python3', ['-c', PY_TCP, ip, String(port)], ns)).out.trim()
}

/** A loopback TCP port nothing listens on (bound, then closed). */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer()
    s.once('error', rej)
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => res(p))
    })
  })
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

interface Server {
  /** Address of the server on the tunnel: the only source --expose-allow admits. */
  tunIp: string
  /** The client's config file, as a user would have it. */
  config: string
  stop(): Promise<void>
}

interface Variant {
  name: string
  skip: string | null
  start(env: VpnLan): Promise<Server>
  /** Concurrent forwarded 1 MB downloads (0 = none). */
  flows: number
}

const VARIANTS: Variant[] = [
  {
    name: 'WireGuard (wireguard-go)',
    skip: skipWg,
    flows: 100,
    async start(env) {
      const keys = wgKeyPair()
      const server: WgServer = await startWgServer({
        ns: env.vpn,
        prefix: PREFIX,
        port: 51820,
        dir: env.tmp,
        addresses: [`${env.tunnel.v4(1)}/24`],
        peers: [{ publicKey: keys.publicKey, allowedIps: [`${env.tunnel.v4(10)}/32`] }],
      })
      const config = join(env.tmp, 'wg0.conf')
      const text = wgClientConfText({
        privateKey: keys.privateKey,
        addresses: [`${env.tunnel.v4(10)}/32`],
        dns: [env.lanIp],
        peer: { publicKey: server.keys.publicKey, endpoint: `${env.serverIp}:51820`, allowedIps: [env.tunnel.cidr, env.lan4.cidr] },
      })
      writeFileSync(config, text, { mode: 0o600 })
      return { tunIp: env.tunnel.v4(1), config, stop: () => server.stop() }
    },
  },
  {
    name: 'OpenVPN TLS (openvpn 2.6, udp, tls-crypt)',
    skip: skipOvpn,
    flows: 50,
    async start(env) {
      const pkiDir = mkdtempSync(join(tmpdir(), `${PREFIX}-pki-`))
      let server: OvpnTlsServer
      try {
        const pki = makeOvpnPki(pkiDir, PREFIX)
        server = await startOvpnTlsServer({ env, pki, prefix: PREFIX, port: 1194 })
      } catch (e) {
        rmSync(pkiDir, { recursive: true, force: true })
        throw e
      }
      const config = join(env.tmp, 'client.ovpn')
      writeFileSync(config, server.clientOvpn(), { mode: 0o600 })
      return {
        tunIp: server.tunIp,
        config,
        async stop() {
          await server.stop()
          rmSync(pkiDir, { recursive: true, force: true })
        },
      }
    },
  },
]

for (const v of VARIANTS) {
  describe.skipIf(v.skip !== null)(`ingress end to end: ${v.name}`, () => {
    let env: VpnLan
    let server: Server
    let web: LocalService
    let echo: LocalService
    let cli: CliSession
    let clientIp = ''
    let fwdTcp = 0
    let fwdUdp = 0
    let deadPort = 0
    let fwdClosed = 0

    beforeAll(async () => {
      env = await createVpnLan({ prefix: PREFIX })
      web = await startPatternHttp()
      echo = await startUdpEcho()
      server = await v.start(env)
      deadPort = await freePort()
      await env.assertIsolated()
      // SIGUSR2 → full GC + memory report (for the many-flows check)
      const nodeOptions = process.env.NODE_OPTIONS
      process.env.NODE_OPTIONS = `${nodeOptions ?? ''} ${gcProbeNodeOptions(env.tmp)}`.trim()
      const started = startCli(server.config, [
        '--expose', `8080=127.0.0.1:${web.port}`,
        '--expose', `udp://5353=127.0.0.1:${echo.port}`,
        '--expose', `9090=127.0.0.1:${deadPort}`,
        '--expose-allow', `${server.tunIp}/32`,
        '--forward', `127.0.0.1:0=${env.dnsName}:${env.httpPort}`,
        '--forward', `udp://127.0.0.1:0=${env.lanIp}:53`,
        '--forward', `127.0.0.1:0=${env.lanIp}:9`, // nothing listens there: the lan host resets
        ...(process.env.BPI_VERBOSE ? ['--verbose'] : []),
      ])
      if (nodeOptions === undefined) delete process.env.NODE_OPTIONS
      else process.env.NODE_OPTIONS = nodeOptions
      cli = await started
      clientIp = (await cli.proc.waitFor(/up: .*address ([\d.]+)\//))[1]
      fwdTcp = Number((await cli.proc.waitFor(/forwarding tcp 127\.0\.0\.1:(\d+) → /))[1])
      fwdUdp = Number((await cli.proc.waitFor(/forwarding udp 127\.0\.0\.1:(\d+) → /))[1])
      fwdClosed = Number((await cli.proc.waitFor(new RegExp(`forwarding tcp 127\\.0\\.0\\.1:(\\d+) → ${env.lanIp}:9 `)))[1])
      expect(cli.output()).toContain(`exposing tcp tunnel port 8080 → 127.0.0.1:${web.port}`)
      expect(cli.output()).toContain(`exposing udp tunnel port 5353 → 127.0.0.1:${echo.port}`)
    }, 90_000)

    afterAll(async () => {
      if (cli && cli.proc.child.exitCode === null) {
        const t0 = Date.now()
        await cli.stop()
        // SIGTERM closes forwards, exposes and the tunnel, then exits 0 (the harness would SIGKILL after 3 s)
        expect(cli.proc.child.exitCode, cli.output().slice(-2000)).toBe(0)
        expect(Date.now() - t0).toBeLessThan(3000)
      }
      await server?.stop().catch(() => {})
      await web?.close()
      await echo?.close()
      await env?.destroy()
    })

    it(`exposed TCP port: curl in the VPN server's namespace gets ${BIG / MB} MB from a local HTTP server, sha256-exact (and uploads 10 MB)`, async () => {
      const url = `http://${clientIp}:8080/bytes?n=${BIG}&seed=expose`
      const f = await curlSha256(['--max-time', '90', url], { ns: env.vpn, timeoutMs: 100_000 })
      console.log(`  ${v.name}: exposed ${f.bytes} bytes in ${(f.ms / 1000).toFixed(1)} s = ${f.mbps.toFixed(0)} Mbit/s`)
      expect(f.stderr).toBe('')
      expect(f.code).toBe(0)
      expect(f.bytes).toBe(BIG)
      expect(f.sha256).toBe(patternSha256(BIG, 'expose'))
      expect(web.peers).toContain('127.0.0.1') // the CLI's own connection to the local service
      // and the other direction: the peer uploads 10 MB to the local service
      const n = 10 * MB
      const up = join(env.tmp, 'expose-upload.bin')
      writeFileSync(up, keystream('expose-up')(n))
      const u = await exec('curl', ['-sS', '--fail', '--max-time', '60', '--data-binary', `@${up}`, `http://${clientIp}:8080/upload`], env.vpn, 70_000)
      expect(u.code, u.out).toBe(0)
      expect(u.out.trim()).toBe(`sha256 ${n} ${patternSha256(n, 'expose-up')}`)
    }, 120_000)

    it('exposed UDP port: a request from the VPN server namespace is answered by the local service', async () => {
      const msg = `ping-${Date.now()}`
      const r = await udpAsk(env.vpn, clientIp, 5353, msg)
      expect(r.out.trim()).toBe(`REPLY echo:${msg}`)
      expect(r.code).toBe(0)
      expect(echo.peers.length).toBeGreaterThan(0)
    }, 30_000)

    it('ports not exposed are refused promptly (TCP RST → curl exit 7; UDP → ICMP port unreachable)', async () => {
      const r = await exec('curl', ['-sS', '--max-time', '10', `http://${clientIp}:8081/`], env.vpn)
      expect(r.code, r.out).toBe(7)
      expect(r.ms).toBeLessThan(3000)
      expect(await tcpConnect(env.vpn, clientIp, 8081)).toBe('REFUSED') // a RST, not an ICMP error
      const u = await udpAsk(env.vpn, clientIp, 5354, 'nobody here', 3)
      expect(u.out.trim()).toBe('REFUSED')
    }, 30_000)

    it('an exposed port whose local service is down: the peer is reset promptly, nothing hangs', async () => {
      const r = await exec('curl', ['-sS', '--max-time', '10', `http://${clientIp}:9090/`], env.vpn)
      // the netstack accepted the connection before the local connect failed: curl sees the reset
      // (56 "Recv failure: Connection reset by peer" or 52 "Empty reply"), never its timeout (28)
      expect([52, 56], r.out).toContain(r.code)
      expect(r.ms).toBeLessThan(3000)
    }, 30_000)

    it('a source outside --expose-allow is refused, though it reaches the client (ping)', async () => {
      // The lan host routes the tunnel subnet via the server: it reaches the client's netstack...
      const p = await exec('ping', ['-c', '1', '-W', '5', clientIp], env.lan)
      expect(p.code, p.out).toBe(0)
      // ...but it is not in --expose-allow (only the server's tunnel address is).
      const before = web.peers.length
      const r = await exec('curl', ['-sS', '--max-time', '10', `http://${clientIp}:8080/bytes?n=10&seed=x`], env.lan)
      expect(r.code, r.out).toBe(7)
      expect(r.ms).toBeLessThan(3000)
      expect(await tcpConnect(env.lan, clientIp, 8080)).toBe('REFUSED')
      const echoes = echo.peers.length
      const u = await udpAsk(env.lan, clientIp, 5353, 'not allowed', 2)
      expect(u.code, u.out).toBe(2) // dropped silently
      expect(web.peers.length).toBe(before)
      expect(echo.peers.length).toBe(echoes)
      // and the allowed source still gets through right after
      const ok = await exec('curl', ['-sS', '--fail', '--max-time', '10', `http://${clientIp}:8080/bytes?n=10&seed=x`, '-o', '/dev/null'], env.vpn)
      expect(ok.code, ok.out).toBe(0)
    }, 30_000)

    it('--forward tcp by name: curl to 127.0.0.1:PORT reaches the lan HTTP service behind the VPN (download and upload)', async () => {
      const page = await exec('curl', ['-sS', '--fail', '--max-time', '20', `http://127.0.0.1:${fwdTcp}/`])
      expect(page.code, page.out).toBe(0)
      expect(page.out).toContain(PAGE_MARKER)
      const n = 10 * MB
      const f = await curlSha256(['--max-time', '60', `http://127.0.0.1:${fwdTcp}/bytes?n=${n}&seed=fwd`])
      expect(f.code, f.stderr).toBe(0)
      expect(f.bytes).toBe(n)
      expect(f.sha256).toBe(patternSha256(n, 'fwd'))
      // and the other direction: an upload through the forward, hashed by the lan service
      const up = join(env.tmp, 'upload.bin')
      writeFileSync(up, keystream('up')(n))
      const u = await exec('curl', ['-sS', '--fail', '--max-time', '60', '--data-binary', `@${up}`, `http://127.0.0.1:${fwdTcp}/upload`], undefined, 70_000)
      expect(u.code, u.out).toBe(0)
      expect(u.out.trim()).toBe(`sha256 ${n} ${patternSha256(n, 'up')}`)
    }, 90_000)

    it('--forward to a closed remote port: the local client is reset promptly', async () => {
      const r = await exec('curl', ['-sS', '--max-time', '15', `http://127.0.0.1:${fwdClosed}/`])
      expect([52, 56], r.out).toContain(r.code)
      expect(r.ms).toBeLessThan(5000)
    }, 30_000)

    it('--forward udp to dnsmasq behind the VPN answers a DNS query', async () => {
      const r = await dnsLookupA('127.0.0.1', fwdUdp, env.dnsName)
      expect(r.rcode).toBe(0)
      expect(r.answers).toEqual([env.lanIp])
      // dnsmasq saw the query come from the client's tunnel address
      expect(env.dnsmasq!.output()).toMatch(new RegExp(`query\\[A\\] ${env.dnsName.replace('.', '\\.')} from ${clientIp.replace(/\./g, '\\.')}`))
    }, 30_000)

    if (v.flows > 0) {
      it(`${v.flows} concurrent forwarded TCP connections, 1 MB each, sha256-exact; afterwards the CLI holds no sockets and no extra live heap`, async () => {
        const pid = cli.proc.pid
        const idle = procMemory(pid).rss
        const gcIdle = await gcStat(cli.proc)
        const fdsIdle = fdCount(pid)
        const sampler = rssSampler(pid)
        const t0 = performance.now()
        const res = await manyGets('127.0.0.1', fwdTcp, v.flows, (i) => `/bytes?n=${MB}&seed=flow${i}`, 90_000)
        const ms = performance.now() - t0
        const peak = sampler.stop()
        const bad = res.map((r, i) => ({ ...r, i })).filter((r) => !r.ok || r.bytes !== MB || r.sha256 !== patternSha256(MB, `flow${r.i}`))
        expect(bad.slice(0, 5)).toEqual([])
        // let the CLI close everything (netstack TIME-WAIT is 2 s)
        let fds = fdCount(pid)
        for (let i = 0; i < 50 && fds > fdsIdle; i++) {
          await new Promise((r) => setTimeout(r, 100))
          fds = fdCount(pid)
        }
        await new Promise((r) => setTimeout(r, 3000))
        const after = procMemory(pid).rss
        const gcAfter = await gcStat(cli.proc)
        const mb = (b: number) => (b / 2 ** 20).toFixed(1)
        console.log(
          `  ${v.flows} × 1 MB forwarded in ${(ms / 1000).toFixed(1)} s (${((v.flows * MB * 8) / ms / 1000).toFixed(0)} Mbit/s); ` +
            `CLI RSS idle ${mb(idle)} MiB, peak ${mb(peak)} MiB, after ${mb(after)} MiB; ` +
            `JS heap after GC ${mb(gcIdle.heapUsed)} → ${mb(gcAfter.heapUsed)} MiB; handles ${gcIdle.handles} → ${gcAfter.handles}; fds ${fdsIdle} → ${fds}`,
        )
        expect(fds).toBeLessThanOrEqual(fdsIdle) // every forwarded socket closed
        expect(gcAfter.handles).toBeLessThanOrEqual(gcIdle.handles)
        // nothing per flow is retained: the live JS heap is back where it was (≪ 100 flows × 1 MB)
        expect(gcAfter.heapUsed).toBeLessThan(gcIdle.heapUsed + 8 * 2 ** 20)
      }, 120_000)
    }
  })
}

