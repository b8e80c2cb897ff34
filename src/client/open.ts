// The in-process API: open a tunnel from a config file (or a ready Tunnel), put the userspace
// netstack on it and hand out sockets, an undici dispatcher, UDP, listeners and port forwards.
import type { Duplex } from 'node:stream'
import { Agent, type Dispatcher } from 'undici'
import { RealClock, type Clock } from '../core/clock.js'
import { Counters } from '../core/counters.js'
import { silentLogger, type Logger } from '../core/log.js'
import type { Tunnel, TunnelInfo } from '../tunnel/types.js'
import { NetStack } from '../netstack/stack.js'
import type { TcpConn, TcpListener, UdpSocket } from '../netstack/api.js'
import { connectSocket } from '../netstack/socket.js'
import { dialConnector } from '../proxy/connector.js'
import { NetstackDialer } from './netstack-dialer.js'
import { loadTunnelInteractive, type TunnelKind } from './load-config.js'
import type { OvpnSecrets, PromptFn } from '../openvpn/credentials.js'
import type { TcpTuning } from '../netstack/tcp/config.js'

export interface OpenTunnelOptions {
  /** Path to an OpenVPN .ovpn or WireGuard wg-quick .conf file, or a Tunnel you constructed. */
  config: string | Tunnel
  /** DNS servers inside the tunnel; overrides the configured/pushed ones. */
  dns?: string[]
  logger?: Logger
  clock?: Clock
  signal?: AbortSignal
  /** TCP tuning for the netstack (buffers, congestion control). */
  tcp?: Partial<TcpTuning>
  /** OpenVPN secrets the config does not hold (auth-user-pass, private-key passphrase, proxy login). */
  secrets?: OvpnSecrets
  /**
   * Asked for secrets the config leaves to be typed in (auth-user-pass with no file, askpass
   * with no file, proxy authfile "stdin"). openTunnel never reads stdin itself; without a
   * prompt such a config fails with a clear ERR_CONFIG.
   */
  prompt?: PromptFn
}

export interface BurrowTunnel {
  readonly kind: TunnelKind | 'custom'
  /** Addresses, routes, DNS and MTU of the tunnel (updated on reconnect). */
  readonly info: TunnelInfo
  readonly tunnel: Tunnel
  readonly netstack: NetStack
  readonly counters: Counters
  /** The netstack as a proxy Dialer (names resolved by the VPN's DNS). */
  readonly dialer: NetstackDialer
  /** An undici Dispatcher: fetch(url, { dispatcher }) goes through the VPN. */
  readonly dispatcher: Dispatcher
  /** A net.Socket-compatible Duplex to host:port through the tunnel (names resolved inside). */
  connect(opts: { host: string; port: number; signal?: AbortSignal; timeoutMs?: number }): Promise<Duplex>
  /** A UDP socket on the tunnel address. */
  udp(opts?: { localPort?: number; family?: 4 | 6 }): UdpSocket
  /** Accept TCP connections from VPN peers on a tunnel port. */
  listen(port: number, onConnection: (c: TcpConn) => void): TcpListener
  close(): Promise<void>
}

export async function openTunnel(opts: OpenTunnelOptions): Promise<BurrowTunnel> {
  const logger = opts.logger ?? silentLogger
  const clock = opts.clock ?? new RealClock()
  const counters = new Counters()
  let tunnel: Tunnel
  let kind: TunnelKind | 'custom' = 'custom'
  if (typeof opts.config === 'string') {
    const loaded = await loadTunnelInteractive(opts.config, { logger, clock, secrets: opts.secrets, prompt: opts.prompt })
    tunnel = loaded.tunnel
    kind = loaded.kind
  } else tunnel = opts.config
  let info: TunnelInfo
  try {
    info = await tunnel.start(opts.signal)
  } catch (e) {
    await tunnel.close().catch(() => {})
    throw e
  }
  const dnsServers = () => (opts.dns && opts.dns.length ? opts.dns : info.dns)
  const netstack = new NetStack({
    link: tunnel,
    addresses: info.addresses,
    clock,
    counters,
    logger,
    tcp: opts.tcp,
    dns: { servers: dnsServers(), searchDomains: info.searchDomains },
  })
  // what the netstack's resolver was last given (copies: a tunnel may update its info in place)
  let dnsApplied = { servers: [...dnsServers()], search: [...(info.searchDomains ?? [])] }
  const applyInfo = (next: TunnelInfo) => {
    const changes: string[] = []
    const fmt = (l: readonly { address: string; prefix: number }[]) => l.map((c) => `${c.address}/${c.prefix}`).join(', ') || 'none'
    const before = fmt(netstack.addresses)
    try {
      const dropped = netstack.setAddresses(next.addresses)
      const after = fmt(netstack.addresses)
      if (after !== before) changes.push(`address ${before} → ${after}${dropped ? ` (${dropped} TCP connection(s) on the old address closed)` : ''}`)
    } catch (e) {
      logger.warn(`tunnel reconnected with unusable addresses (${fmt(next.addresses)}): ${(e as Error).message}; keeping ${before}`)
    }
    // the servers a caller passed in `dns` always win; the search list comes from the tunnel
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, k) => x === b[k])
    const prev = dnsApplied
    dnsApplied = { servers: [...(dnsServers() ?? [])], search: [...(next.searchDomains ?? [])] }
    netstack.setDns({ servers: dnsApplied.servers, searchDomains: dnsApplied.search })
    if (!same(prev.servers, dnsApplied.servers)) changes.push(`dns ${prev.servers.join(', ') || 'none'} → ${dnsApplied.servers.join(', ') || 'none'}`)
    if (!same(prev.search, dnsApplied.search)) changes.push(`search ${prev.search.join(' ') || 'none'} → ${dnsApplied.search.join(' ') || 'none'}`)
    if (changes.length) logger.info(`tunnel reconnected with new settings: ${changes.join('; ')}`)
  }
  const dialer = new NetstackDialer(netstack, () => dnsServers().length > 0)
  // Every 'up' after start() is a recovery from an outage. A reconnect may have brought another
  // address or other DNS servers (a new PUSH_REPLY): the netstack takes them first, so connects
  // the dialer then starts afresh (see NetstackDialer.relinked) leave from the new address and
  // lookups in flight move to the new servers; `dns` given by the caller always wins.
  tunnel.on('up', (i) => {
    if (i && typeof i === 'object') {
      info = i as TunnelInfo
      applyInfo(info)
    }
    dialer.relinked()
  })
  const agent = new Agent({ connect: dialConnector((h, p) => dialer.connect(h, p)), connections: 16 })
  let closed = false
  return {
    kind,
    get info() {
      return info
    },
    tunnel,
    netstack,
    counters,
    dialer,
    dispatcher: agent,
    connect: ({ host, port, signal, timeoutMs }) => connectSocket(netstack, host, port, { signal, timeoutMs }),
    udp: (o) => netstack.openUdp(o),
    listen: (port, onConnection) => netstack.listenTcp({ port }, onConnection),
    async close() {
      if (closed) return
      closed = true
      await agent.close().catch(() => {})
      netstack.close()
      await tunnel.close()
    },
  }
}
