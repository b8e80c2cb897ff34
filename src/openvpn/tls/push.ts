// PUSH_REPLY parsing and validation (OpenVPN source push.c process_incoming_push_msg,
// options.c apply_push_options; openvpn(8) "Server-pushed options"). Options are comma-separated;
// "push-continuation 2" means more PUSH_REPLY messages follow, "1" marks the last one. Every value
// that names an address is validated: an invalid route or DNS server is rejected (with a warning),
// never applied. Options a userspace client cannot honour are listed in `ignored`.
import { isIPv4, isIPv6 } from 'node:net'
import type { Cidr } from '../../tunnel/types.js'

export interface PushedOptions {
  ifconfig?: { local: string; second: string }
  ifconfigIpv6?: { address: string; prefix: number; remote?: string }
  routes: Cidr[]
  routesIpv6: Cidr[]
  routeGateway?: string
  topology?: 'subnet' | 'net30' | 'p2p'
  dns: string[]
  searchDomains: string[]
  redirectGateway: { v4: boolean; v6: boolean }
  peerId?: number
  cipher?: string
  protocolFlags: string[]
  ping?: number
  pingRestart?: number
  tunMtu?: number
  authToken?: string
  /** Compression the server asked for ('stub-v2', 'stub', 'lzo-no', 'lz4', 'lzo', …). */
  compress?: string
  /** Values refused (invalid address, out-of-range number); each a human-readable line. */
  rejected: string[]
  /** Options accepted but without effect here. */
  ignored: string[]
}

export function emptyPushed(): PushedOptions {
  return { routes: [], routesIpv6: [], dns: [], searchDomains: [], redirectGateway: { v4: false, v6: false }, protocolFlags: [], rejected: [], ignored: [] }
}

export function maskToPrefixLen(mask: string): number | null {
  if (!isIPv4(mask)) return null
  const n = mask.split('.').reduce((a, o) => (a << 8) | Number(o), 0) >>> 0
  const inv = ~n >>> 0
  if ((inv & (inv + 1)) !== 0) return null
  let p = 0
  for (let m = n; m & 0x80000000; m = (m << 1) >>> 0) p++
  return p
}

function v4Net(addr: string, prefix: number): string {
  const n = addr.split('.').reduce((a, o) => (a << 8) | Number(o), 0) >>> 0
  const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  const x = (n & m) >>> 0
  return [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.')
}

function int(s: string | undefined, min: number, max: number): number | null {
  if (s === undefined || !/^\d+$/.test(s)) return null
  const n = Number(s)
  return n >= min && n <= max ? n : null
}

const DOMAIN_RE = /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/

/**
 * Apply one PUSH_REPLY body (without the "PUSH_REPLY," prefix) onto `into`.
 * Returns true when this was the last part (no "push-continuation 2").
 */
export function parsePushReply(body: string, into: PushedOptions = emptyPushed()): { opts: PushedOptions; done: boolean } {
  let done = true
  const o = into
  for (const raw of body.split(',')) {
    const item = raw.trim()
    if (!item) continue
    const t = item.split(/\s+/)
    const name = t[0]
    const reject = (why: string) => o.rejected.push(`pushed "${item}": ${why}`)
    switch (name) {
      case 'push-continuation':
        done = t[1] !== '2'
        break
      case 'ifconfig':
        if (t.length >= 3 && isIPv4(t[1]) && isIPv4(t[2])) o.ifconfig = { local: t[1], second: t[2] }
        else reject('needs two IPv4 addresses')
        break
      case 'ifconfig-ipv6': {
        const m = /^(.+)\/(\d+)$/.exec(t[1] ?? '')
        const pfx = m ? int(m[2], 0, 128) : null
        if (m && isIPv6(m[1]) && pfx !== null && (t[2] === undefined || isIPv6(t[2]))) o.ifconfigIpv6 = { address: m[1], prefix: pfx, remote: t[2] }
        else reject('needs an IPv6 address/prefix')
        break
      }
      case 'route': {
        const net = t[1]
        const mask = t[2] ?? '255.255.255.255'
        const pfx = maskToPrefixLen(mask)
        if (!net || !isIPv4(net)) reject('not a valid IPv4 network')
        else if (pfx === null) reject('not a valid netmask')
        else if (t[3] !== undefined && t[3] !== 'vpn_gateway' && t[3] !== 'net_gateway' && t[3] !== 'remote_host' && !isIPv4(t[3])) reject('not a valid gateway')
        else if (t[3] === 'net_gateway') o.ignored.push(item)
        else o.routes.push({ address: v4Net(net, pfx), prefix: pfx })
        break
      }
      case 'route-ipv6': {
        const m = /^(.+)\/(\d+)$/.exec(t[1] ?? '')
        const pfx = m ? int(m[2], 0, 128) : null
        if (m && isIPv6(m[1]) && pfx !== null) o.routesIpv6.push({ address: m[1], prefix: pfx })
        else reject('not a valid IPv6 network/prefix')
        break
      }
      case 'route-gateway':
        if (t[1] && isIPv4(t[1])) o.routeGateway = t[1]
        else if (t[1] === 'dhcp') o.ignored.push(item)
        else reject('not a valid IPv4 address')
        break
      case 'topology':
        if (t[1] === 'subnet' || t[1] === 'net30' || t[1] === 'p2p') o.topology = t[1]
        else reject('unknown topology')
        break
      case 'dhcp-option': {
        const kind = (t[1] ?? '').toUpperCase()
        if (kind === 'DNS' || kind === 'DNS6') {
          if (t[2] && (isIPv4(t[2]) || isIPv6(t[2]))) {
            if (!o.dns.includes(t[2])) o.dns.push(t[2])
          } else reject('not a valid DNS server address')
        } else if (kind === 'DOMAIN' || kind === 'DOMAIN-SEARCH' || kind === 'ADAPTER_DOMAIN_SUFFIX') {
          if (t[2] && DOMAIN_RE.test(t[2])) {
            if (!o.searchDomains.includes(t[2])) o.searchDomains.push(t[2])
          } else reject('not a valid domain name')
        } else o.ignored.push(item)
        break
      }
      case 'redirect-gateway':
      case 'redirect-private': {
        const flags = t.slice(1)
        if (name === 'redirect-gateway') {
          o.redirectGateway.v4 = !flags.includes('!ipv4')
          o.redirectGateway.v6 = flags.includes('ipv6')
        } else o.ignored.push(item)
        break
      }
      case 'peer-id': {
        const n = int(t[1], 0, 0xfffffe)
        if (n === null) reject('peer-id out of range')
        else o.peerId = n
        break
      }
      case 'cipher':
        if (t[1]) o.cipher = t[1].toUpperCase()
        break
      case 'protocol-flags':
        for (const f of t.slice(1)) if (!o.protocolFlags.includes(f)) o.protocolFlags.push(f)
        break
      case 'key-derivation':
        if (t[1] === 'tls-ekm' && !o.protocolFlags.includes('tls-ekm')) o.protocolFlags.push('tls-ekm')
        break
      case 'ping':
      case 'ping-restart': {
        const n = int(t[1], 0, 86400)
        if (n === null) reject('not a number of seconds')
        else if (name === 'ping') o.ping = n
        else o.pingRestart = n
        break
      }
      case 'tun-mtu': {
        const n = int(t[1], 576, 65535)
        if (n === null) reject('MTU out of range')
        else o.tunMtu = n
        break
      }
      case 'auth-token':
        if (t[1]) o.authToken = t[1]
        break
      case 'compress':
        o.compress = t[1] ?? 'stub'
        break
      case 'comp-lzo':
        o.compress = t[1] === 'no' ? 'lzo-no' : 'lzo'
        break
      default:
        o.ignored.push(item)
    }
  }
  return { opts: o, done }
}
