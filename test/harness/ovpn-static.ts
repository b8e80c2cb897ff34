// Test scaffolding: an `openvpn` 2.6 static-key server (openvpn(8) --secret) in the vpn namespace
// of a vpn-lan topology, and the client .ovpn a user would write for it. Shared by the static-key
// end-to-end tests and the benchmark. Never used by the product.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { uniqueId, type Proc } from './netns.js'
import type { VpnLan } from './vpn-lan.js'

export interface StaticServerOptions {
  env: VpnLan
  /** Path of the 2048-bit static key (the server uses key direction 0). */
  key: string
  proto: 'udp' | 'tcp'
  port: number
  /** Bind to the vpn side's IPv6 address (vpn-lan with outer6) with udp6/tcp6-server. */
  ipv6?: boolean
  /** --auth (default: openvpn's own, SHA1). Cipher is AES-256-CBC. */
  auth?: string
  /** --float: follow a peer's new address (one UDP server for several clients in turn). */
  float?: boolean
  /** --ping-restart seconds (default 10); --ping is 1. */
  pingRestart?: number
  /** TUN device name (default: unique per call). */
  dev?: string
}

/** Start the server; wait for staticServerReady(o) in its output before connecting. */
export function startStaticServer(o: StaticServerOptions): Proc {
  const { env } = o
  const dev = o.dev ?? `bpst${uniqueId()}`.slice(0, 15)
  const local = o.ipv6 ? env.serverIp6 : env.serverIp
  if (!local) throw new Error('startStaticServer: ipv6 needs createVpnLan({ outer6: true })')
  // prettier-ignore
  return env.vpn.spawn('openvpn', [
    '--disable-dco',
    '--dev-type', 'tun', '--dev', dev,
    '--ifconfig', env.tunnel.v4(1), env.tunnel.v4(2),
    '--secret', o.key, '0',
    '--cipher', 'AES-256-CBC',
    ...(o.auth ? ['--auth', o.auth] : []),
    '--proto', `${o.proto === 'udp' ? 'udp' : 'tcp'}${o.ipv6 ? '6' : ''}${o.proto === 'tcp' ? '-server' : ''}`,
    '--local', local, '--port', String(o.port),
    ...(o.float ? ['--float'] : []),
    '--ping', '1', '--ping-restart', String(o.pingRestart ?? 10),
    '--verb', '3',
  ])
}

/** What the server prints once it listens (UDP: its link is set up; TCP: the listener is open). */
export function staticServerReady(o: Pick<StaticServerOptions, 'proto' | 'ipv6'>): RegExp {
  return o.proto === 'udp' ? (o.ipv6 ? /UDPv6 link remote/ : /UDPv4 link remote/) : /Listening for incoming TCP connection/
}

export interface StaticClientOptions {
  env: VpnLan
  /** The key as the .ovpn names it (relative to the .ovpn's folder, or absolute). */
  secret: string
  proto: 'udp' | 'tcp'
  /** The server's address as the user writes it in `remote`. */
  host: string
  port: number
  auth?: string
  /** ping-restart seconds (default 10). */
  pingRestart?: number
  /** Further lines (e.g. connect-retry). */
  extra?: string[]
}

/** The client .ovpn (key direction 1, the lan routed, the lan's DNS), written to dir/name. */
export function writeStaticClientOvpn(dir: string, name: string, o: StaticClientOptions): string {
  const { env } = o
  const file = join(dir, name)
  const lines = [
    'dev tun',
    `proto ${o.proto === 'udp' ? 'udp' : 'tcp-client'}`,
    `remote ${o.host} ${o.port}`,
    'nobind',
    `secret ${o.secret} 1`,
    'cipher AES-256-CBC',
    ...(o.auth ? [`auth ${o.auth}`] : []),
    `ifconfig ${env.tunnel.v4(2)} ${env.tunnel.v4(1)}`,
    `route ${env.lan4.network} ${env.lan4.mask}`,
    `dhcp-option DNS ${env.lanIp}`,
    'ping 1',
    `ping-restart ${o.pingRestart ?? 10}`,
    ...(o.extra ?? []),
  ]
  writeFileSync(file, lines.join('\n') + '\n')
  return file
}
