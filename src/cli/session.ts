// One client session as the CLI runs it: open the tunnel, start the proxies, exposes and
// forwards, print one status line per state change. Shared by `burrow-proxy --config` and the demo.
import type { Logger } from '../core/log.js'
import type { Tunnel, TunnelInfo } from '../tunnel/types.js'
import { openTunnel, type BurrowTunnel } from '../client/open.js'
import { TUNNEL_CONNECT_TIMEOUT_MS } from '../client/netstack-dialer.js'
import { ProxyServer } from '../proxy/server.js'
import { RoutingDialer } from '../proxy/dialer.js'
import { expose, type Exposed } from '../ingress/expose.js'
import { forward, type Forwarded } from '../ingress/forward.js'
import { parseExposeSpec, parseForwardSpec } from '../ingress/spec.js'
import { parseCidr } from '../netstack/addr.js'
import type { CliOptions } from './options.js'
import type { Cidr } from '../tunnel/types.js'
import type { PromptFn } from '../openvpn/credentials.js'

export interface Session {
  tunnel: BurrowTunnel
  http?: { host: string; port: number }
  socks?: { host: string; port: number }
  forwards: Forwarded[]
  close(): Promise<void>
}

export function describeInfo(info: TunnelInfo): string {
  const fmt = (c: Cidr) => `${c.address}/${c.prefix}`
  const parts = [`address ${info.addresses.map(fmt).join(', ') || 'none'}`, `routes ${info.routes.map(fmt).join(', ') || 'none'}`]
  parts.push(`dns ${info.dns.join(', ') || 'none'}`)
  parts.push(`mtu ${info.mtu}`)
  return parts.join('; ')
}

/** Status lines go to `status` (stdout for the CLI): one line per state change. */
export async function startSession(
  o: Pick<CliOptions, 'http' | 'socks' | 'dns' | 'noDirect' | 'proxyAuth' | 'expose' | 'exposeAllow' | 'forward'>,
  config: string | Tunnel,
  log: Logger,
  status: (line: string) => void,
  signal?: AbortSignal,
  /** Asks for secrets the config leaves to be typed in (see cli/prompt.ts); none → clear error. */
  prompt?: PromptFn,
): Promise<Session> {
  // Validate every flag before touching the network.
  const exposeSpecs = o.expose.map(parseExposeSpec)
  const forwardSpecs = o.forward.map(parseForwardSpec)
  const allow: Cidr[] = o.exposeAllow.map((s) => {
    const c = parseCidr(s)
    if (!c) throw new Error(`--expose-allow ${s}: not a CIDR (e.g. 10.8.0.0/24)`)
    return c
  })

  status(`connecting (${typeof config === 'string' ? config : 'in-process tunnel'})`)
  const bt = await openTunnel({ config, dns: o.dns, logger: log, signal, prompt })
  const shown = (i: TunnelInfo): TunnelInfo => (o.dns.length ? { ...i, dns: o.dns } : i)
  status(`up: ${bt.info.description ? bt.info.description + '; ' : ''}${describeInfo(shown(bt.info))}`)
  bt.tunnel.on('reconnecting', (why) => status(`reconnecting: ${why instanceof Error ? why.message : String(why ?? '')}`))
  bt.tunnel.on('down', (why) => status(`down${why ? ': ' + (why instanceof Error ? why.message : String(why)) : ''}`))
  bt.tunnel.on('up', (i) => {
    if (i && typeof i === 'object') {
      routing.setRoutes((i as TunnelInfo).routes)
      status(`up: ${describeInfo(shown(i as TunnelInfo))}`)
    }
  })
  bt.tunnel.on('error', (e) => status(`error: ${e instanceof Error ? e.message : String(e)}`))

  const routing = new RoutingDialer({ tunnel: bt.dialer, routes: bt.info.routes, noDirect: o.noDirect })
  const servers: ProxyServer[] = []
  const exposed: Exposed[] = []
  const forwards: Forwarded[] = []
  const session: Session = {
    tunnel: bt,
    forwards,
    async close() {
      for (const f of forwards) await f.close()
      for (const e of exposed) e.close()
      for (const s of servers) await s.close()
      await bt.close()
    },
  }
  try {
    const same = o.http && o.socks && o.http.port !== 0 && o.http.host === o.socks.host && o.http.port === o.socks.port
    if (o.http) {
      const s = new ProxyServer({
        host: o.http.host,
        port: o.http.port,
        dialer: routing,
        auth: o.proxyAuth,
        logger: log,
        counters: bt.counters,
        connectTimeoutMs: TUNNEL_CONNECT_TIMEOUT_MS,
        protocols: same ? undefined : { http: true, socks5: false, socks4: false },
      })
      servers.push(s)
      const a = await s.start()
      session.http = { host: a.address, port: a.port }
      if (same) session.socks = session.http
      status(`HTTP${same ? ' + SOCKS' : ''} proxy on ${session.http.host}:${session.http.port}`)
    }
    if (o.socks && !same) {
      const s = new ProxyServer({
        host: o.socks.host,
        port: o.socks.port,
        dialer: routing,
        auth: o.proxyAuth,
        logger: log,
        counters: bt.counters,
        connectTimeoutMs: TUNNEL_CONNECT_TIMEOUT_MS,
        protocols: { http: false, socks5: true, socks4: true },
      })
      servers.push(s)
      const a = await s.start()
      session.socks = { host: a.address, port: a.port }
      status(`SOCKS5/SOCKS4 proxy on ${session.socks.host}:${session.socks.port}`)
    }
    for (const spec of exposeSpecs) {
      exposed.push(expose(bt.netstack, spec, { allow: allow.length ? allow : undefined, logger: log }))
      status(`exposing ${spec.proto} tunnel port ${spec.tunnelPort} → ${spec.target.host}:${spec.target.port}`)
    }
    for (const spec of forwardSpecs) {
      const f = await forward(bt.netstack, spec, { logger: log })
      forwards.push(f)
      status(`forwarding ${spec.proto} ${f.address.host}:${f.address.port} → ${spec.remote.host}:${spec.remote.port} through the tunnel`)
    }
  } catch (e) {
    await session.close().catch(() => {})
    throw e
  }
  return session
}
