// Transport factory: resolve the server's host name (dns.lookup, i.e. getaddrinfo(3) as the OS
// resolves it, honouring a forced address family) and open a UDP or TCP transport to it. With a
// proxy (OpenVPN --http-proxy / --socks-proxy, see via-proxy.ts) the proxy's name is resolved here
// and the server's name is handed to the proxy unresolved; the proxied stream gets the same
// OpenVPN TCP framing.

import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { Counters } from '../core/counters.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import type { Transport } from '../tunnel/types.js'
import { TcpTransport } from './tcp.js'
import { UdpTransport } from './udp.js'
import { connectViaProxy, describeProxy, type ProxySpec } from './via-proxy.js'
import { SocksUdpTransport } from './socks-udp.js'

export type TransportProto = 'udp' | 'tcp'

export interface ConnectTransportOptions {
  proto: TransportProto
  host: string
  port: number
  /** Force IPv4 or IPv6 (udp4/udp6/tcp4/tcp6). */
  family?: 4 | 6
  signal?: AbortSignal
  counters?: Counters
  /** TCP connect timeout in ms (with a proxy: connect + proxy handshake). */
  timeoutMs?: number
  /** Reach the server through this proxy (HTTP: TCP only; SOCKS5: TCP or UDP). The family applies to the proxy's address. */
  proxy?: ProxySpec
}

export async function resolveHost(host: string, family?: 4 | 6): Promise<{ address: string; family: 4 | 6 }> {
  const literal = isIP(host)
  if (literal) {
    if (family && family !== literal) throw new BurrowError(ErrorCode.ENOTFOUND, `${host} is not an IPv${family} address`)
    return { address: host, family: literal as 4 | 6 }
  }
  try {
    const r = await lookup(host, { family: family ?? 0 })
    return { address: r.address, family: r.family as 4 | 6 }
  } catch (e) {
    throw new BurrowError(ErrorCode.ENOTFOUND, `cannot resolve ${host}: ${(e as Error).message}`, { cause: e })
  }
}

export async function connectTransport(opts: ConnectTransportOptions): Promise<Transport> {
  if (opts.signal?.aborted) throw new BurrowError(ErrorCode.EABORTED, 'connect aborted')
  if (opts.proxy) return connectProxied(opts, opts.proxy)
  const { address, family } = await resolveHost(opts.host, opts.family)
  if (opts.proto === 'udp') {
    return UdpTransport.connect({ host: address, port: opts.port, family, counters: opts.counters, signal: opts.signal })
  }
  return TcpTransport.connect({ host: address, port: opts.port, family, counters: opts.counters, signal: opts.signal, timeoutMs: opts.timeoutMs })
}

async function connectProxied(opts: ConnectTransportOptions, proxy: ProxySpec): Promise<Transport> {
  if (opts.proto !== 'tcp' && proxy.type !== 'socks5') {
    throw new BurrowError(ErrorCode.ERR_CONFIG, `${describeProxy(proxy)}: an HTTP proxy carries only TCP: the tunnel must use proto tcp-client`)
  }
  const { address, family } = await resolveHost(proxy.host, opts.family)
  if (proxy.type === 'socks5' && opts.proto === 'udp') {
    // SOCKS5 UDP ASSOCIATE (RFC 1928 §7): datagrams through the proxy's relay
    return SocksUdpTransport.connect(proxy, { address, family, target: { host: opts.host, port: opts.port }, counters: opts.counters, signal: opts.signal, timeoutMs: opts.timeoutMs })
  }
  const p = await connectViaProxy(proxy, { address, family, target: { host: opts.host, port: opts.port }, signal: opts.signal, timeoutMs: opts.timeoutMs })
  const target = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`
  // the socket comes back paused: attach the framing first, then put back what the proxy sent
  // after its reply (already tunnel bytes) and let it flow
  const t = new TcpTransport(p.socket, `tcp ${target} via ${p.via}`, opts.counters)
  if (p.leftover.length) p.socket.unshift(Buffer.from(p.leftover.buffer, p.leftover.byteOffset, p.leftover.byteLength))
  p.socket.resume()
  return t
}
