// Test scaffolding: the "host behind a VPN" topology used by the end-to-end tests and benchmarks
// of every tunnel (OpenVPN static/TLS, WireGuard). Never used by the product.
//
//   root ns ──veth── "vpn" ns (the test starts its VPN server here, bound to serverIp;
//                              IPv4 forwarding on)
//                      └──veth── "lan" ns: HTTP + UDP echo (vpn-lan-services.mjs) and dnsmasq
//                                answering DNS_NAME → lanIp; routes the tunnel subnet back via vpn
//
// The root namespace gets an `unreachable` route for the lan subnet, so nothing can reach it
// except through a tunnel (and a direct attempt fails locally instead of leaking out of the
// default route): a pass proves the VPN carried the traffic. Names and subnets are unique per
// process (Netns/uniqueId/subnetFor); destroy() kills every process by PID and removes
// namespaces, links, the route and the temp dir (also at process exit).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { addRootRoute, Netns, run, subnetFor, veth, which, type Proc, type VethPair } from './netns.js'

export const DNS_NAME = 'test.burrow'
/** Text every GET / answer contains. */
export const PAGE_MARKER = 'burrow vpn-lan page'

const here = dirname(fileURLToPath(import.meta.url))
/** A non-TS harness file, from test/harness (vitest) or from a compiled copy under build/. */
export function vpnLanFile(name: string): string {
  for (const p of [join(here, name), resolve(here, '../../../test/harness', name)]) {
    if (existsSync(p)) return p
  }
  throw new Error(`${name} not found near ${here}`)
}

/** A /24 handed out by subnetFor, in the shapes configs want. */
export interface Subnet {
  v4(host: number): string
  /** e.g. "10.232.17.0/24" */
  cidr: string
  /** e.g. "10.232.17.0" */
  network: string
  mask: '255.255.255.0'
}

function subnet(index: number): Subnet {
  const s = subnetFor(index)
  return { v4: s.v4, cidr: `${s.v4(0)}/24`, network: s.v4(0), mask: '255.255.255.0' }
}

export interface VpnLanOptions {
  /** Namespace-name prefix (3–5 letters naming the test), e.g. "bpe". */
  prefix: string
  /** TCP port of the HTTP service (default 8080) and UDP port of the echo service (default 5007). */
  httpPort?: number
  udpPort?: number
  /** Start dnsmasq (default true; needs the dnsmasq binary). */
  dns?: boolean
  /** Also give the root⇄vpn link IPv6 addresses (rootIp6/serverIp6), for tunnels over outer IPv6. */
  outer6?: boolean
}

export interface VpnLan {
  vpn: Netns
  lan: Netns
  /** Root-side and vpn-side addresses of the root⇄vpn link: bind the VPN server to serverIp. */
  rootIp: string
  serverIp: string
  /** The same link's IPv6 addresses (/64), with outer6 only. */
  rootIp6?: string
  serverIp6?: string
  /** The lan host: HTTP on httpPort, UDP echo on udpPort, DNS (port 53) answering DNS_NAME. */
  lanIp: string
  lan4: Subnet
  /** Addresses for the tunnel itself (the lan routes this /24 back via the vpn namespace). */
  tunnel: Subnet
  httpPort: number
  udpPort: number
  dnsName: string
  /** http://lanIp:httpPort + path */
  url(path?: string): string
  /** A temp dir for configs and keys; removed by destroy(). */
  tmp: string
  /** Output of the lan services / dnsmasq (e.g. to check which UDP datagrams arrived). */
  services: Proc
  dnsmasq?: Proc
  /**
   * A further namespace for a native VPN client (benchmarks): linked to the vpn namespace, with a
   * route to serverIp only. Removed by destroy().
   */
  addClientNs(prefix?: string): Netns
  /** Throws unless the root namespace has no usable route to the lan and a direct connect fails. */
  assertIsolated(): Promise<void>
  destroy(): Promise<void>
}

let instances = 0
/** Build the topology and start the lan services. Root only (the caller checks interopSkipReason). */
export async function createVpnLan(o: VpnLanOptions): Promise<VpnLan> {
  // Four /24s per instance: root⇄vpn, vpn⇄lan, tunnel, vpn⇄client namespaces.
  const base = 40 + 4 * instances++
  const outer = subnet(base)
  const lan4 = subnet(base + 1)
  const tunnel = subnet(base + 2)
  const clientNet = subnet(base + 3)
  const httpPort = o.httpPort ?? 8080
  const udpPort = o.udpPort ?? 5007
  const tmp = mkdtempSync(join(tmpdir(), `${o.prefix}-vpnlan-`))

  const cleanups: (() => void | Promise<void>)[] = []
  const extraNs: Netns[] = []
  let unrouteRoot: (() => void) | undefined
  const destroy = async () => {
    for (const ns of extraNs.splice(0)) await ns.destroy()
    for (const c of cleanups.splice(0).reverse()) await c()
    unrouteRoot?.()
    rmSync(tmp, { recursive: true, force: true })
  }
  try {
    const vpn = Netns.create(o.prefix)
    cleanups.push(() => vpn.destroy())
    const lan = Netns.create(o.prefix)
    cleanups.push(() => lan.destroy())
    const outer6 = subnetFor(base).v6
    const rootLink: VethPair = veth(
      null,
      vpn,
      [`${outer.v4(1)}/24`, ...(o.outer6 ? [`${outer6(1)}/64`] : [])],
      [`${outer.v4(2)}/24`, ...(o.outer6 ? [`${outer6(2)}/64`] : [])],
    )
    cleanups.push(() => rootLink.destroy())
    const lanLink: VethPair = veth(vpn, lan, [`${lan4.v4(1)}/24`], [`${lan4.v4(2)}/24`])
    cleanups.push(() => lanLink.destroy())
    vpn.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    lan.exec('ip', ['route', 'add', tunnel.cidr, 'via', lan4.v4(1)])
    lan.exec('ip', ['route', 'add', clientNet.cidr, 'via', lan4.v4(1)])

    // The root namespace must not reach the lan except through a tunnel.
    unrouteRoot = addRootRoute(4, ['unreachable', lan4.cidr], lan4.cidr)

    const lanIp = lan4.v4(2)
    const services = lan.spawn('node', [vpnLanFile('vpn-lan-services.mjs'), lanIp, String(httpPort), String(udpPort)])
    let dnsmasq: Proc | undefined
    if (o.dns !== false) {
      if (!which('dnsmasq')) throw new Error('vpn-lan: dnsmasq not installed (apt-get install dnsmasq-base)')
      dnsmasq = lan.spawn('dnsmasq', [
        '--no-daemon',
        '--no-resolv',
        '--no-hosts',
        '--bind-interfaces',
        `--listen-address=${lanIp}`,
        `--address=/${DNS_NAME}/${lanIp}`,
        `--pid-file=${join(tmp, 'dnsmasq.pid')}`,
        '--log-facility=-',
        '--log-queries',
      ])
      await dnsmasq.waitFor(/started, version/, 10_000)
    }
    await services.waitFor(/ready http/, 10_000)

    let clients = 0
    const env: VpnLan = {
      vpn,
      lan,
      rootIp: outer.v4(1),
      serverIp: outer.v4(2),
      ...(o.outer6 ? { rootIp6: outer6(1), serverIp6: outer6(2) } : {}),
      lanIp,
      lan4,
      tunnel,
      httpPort,
      udpPort,
      dnsName: DNS_NAME,
      url: (path = '/') => `http://${lanIp}:${httpPort}${path}`,
      tmp,
      services,
      dnsmasq,
      addClientNs(prefix = o.prefix) {
        const ns = Netns.create(prefix)
        extraNs.push(ns)
        const k = ++clients * 4
        const link = veth(vpn, ns, [`${clientNet.v4(k + 1)}/30`], [`${clientNet.v4(k + 2)}/30`])
        cleanups.push(() => link.destroy())
        ns.exec('ip', ['route', 'add', `${outer.v4(2)}/32`, 'via', clientNet.v4(k + 1)])
        return ns
      },
      async assertIsolated() {
        const r = run('ip', ['-4', 'route', 'get', lanIp], { allowFail: true })
        if (r.trim() !== '') throw new Error(`vpn-lan: root namespace has a route to the lan: ${r.trim()}`)
        // a direct TCP connect must fail locally (no packet leaves: the route is unreachable)
        let connected = false
        try {
          execFileSync('curl', ['-sS', '--max-time', '3', env.url('/')], { stdio: 'pipe' })
          connected = true
        } catch {
          /* expected */
        }
        if (connected) throw new Error('vpn-lan: the lan answered a direct request from the root namespace')
      },
      destroy,
    }
    return env
  } catch (e) {
    await destroy().catch(() => {})
    throw e
  }
}
