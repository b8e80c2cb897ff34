// --forward: a local listener whose flows go through the tunnel to a remote host (like ssh -L).
// Names are resolved inside the tunnel. UDP keeps one tunnel socket per local source with an idle
// timeout.
import net from 'node:net'
import dgram from 'node:dgram'
import type { NetStackApi, UdpSocket } from '../netstack/api.js'
import type { Logger } from '../core/log.js'
import { silentLogger } from '../core/log.js'
import type { ForwardSpec } from './spec.js'
import { pipeConnSocket } from './pipe.js'
import { formatIp, parseIp } from '../netstack/addr.js'
import { TUNNEL_CONNECT_TIMEOUT_MS } from '../client/netstack-dialer.js'

export interface Forwarded {
  /** The bound local address (port resolved if 0 was asked). */
  readonly address: { host: string; port: number }
  readonly active: number
  close(): Promise<void>
}

export interface ForwardOptions {
  udpIdleMs?: number
  logger?: Logger
}

async function resolveRemote(stack: NetStackApi, host: string): Promise<string> {
  if (net.isIP(host)) return host
  const addrs = await stack.resolver.lookup(host, 0)
  return addrs[0]
}

export async function forward(stack: NetStackApi, spec: ForwardSpec, opts: ForwardOptions = {}): Promise<Forwarded> {
  return spec.proto === 'tcp' ? forwardTcp(stack, spec, opts) : forwardUdp(stack, spec, opts)
}

async function forwardTcp(stack: NetStackApi, spec: ForwardSpec, opts: ForwardOptions): Promise<Forwarded> {
  const log = opts.logger ?? silentLogger
  const socks = new Set<net.Socket>()
  const server = net.createServer({ pauseOnConnect: true }, (sock) => {
    socks.add(sock)
    sock.on('error', () => {})
    sock.on('close', () => socks.delete(sock))
    resolveRemote(stack, spec.remote.host)
      .then((ip) => stack.connectTcp({ host: ip, port: spec.remote.port, timeoutMs: TUNNEL_CONNECT_TIMEOUT_MS }))
      .then((conn) => {
        if (sock.destroyed) return conn.destroy()
        pipeConnSocket(conn, sock)
        sock.resume()
      })
      .catch((e: Error) => {
        log.warn(`forward ${spec.local.port} → ${spec.remote.host}:${spec.remote.port}: ${e.message}`)
        sock.destroy()
      })
  })
  await new Promise<void>((res, rej) => {
    server.once('error', rej)
    server.listen(spec.local.port, spec.local.host, () => res())
  })
  const a = server.address() as net.AddressInfo
  return {
    address: { host: a.address, port: a.port },
    get active() {
      return socks.size
    },
    close: () =>
      new Promise<void>((res) => {
        for (const s of socks) s.destroy()
        server.close(() => res())
      }),
  }
}

async function forwardUdp(stack: NetStackApi, spec: ForwardSpec, opts: ForwardOptions): Promise<Forwarded> {
  const idleMs = opts.udpIdleMs ?? 60_000
  const local = dgram.createSocket(net.isIP(spec.local.host) === 6 ? 'udp6' : 'udp4')
  const maps = new Map<string, { tun: UdpSocket; timer: NodeJS.Timeout }>()
  let remoteIp: string | undefined
  const drop = (key: string) => {
    const m = maps.get(key)
    if (!m) return
    maps.delete(key)
    clearTimeout(m.timer)
    m.tun.close()
  }
  local.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}|${rinfo.port}`
    const send = (ip: string) => {
      let m = maps.get(key)
      if (!m) {
        const tun = stack.openUdp({ family: net.isIP(ip) === 6 ? 6 : 4 })
        const mm = { tun, timer: setTimeout(() => drop(key), idleMs) }
        m = mm
        maps.set(key, mm)
        tun.onMessage = (data, from) => {
          // only the forwarded remote may answer through this mapping
          if (from.port !== spec.remote.port || from.address !== ip) return
          mm.timer.refresh()
          local.send(data, rinfo.port, rinfo.address)
        }
      }
      m.timer.refresh()
      m.tun.send(msg, ip, spec.remote.port)
    }
    if (remoteIp) send(remoteIp)
    else
      resolveRemote(stack, spec.remote.host).then(
        // canonical text form, as the netstack reports sources (e.g. lower-case, compressed IPv6)
        (ip) => send((remoteIp = formatIp(parseIp(ip) ?? new Uint8Array(4)))),
        (e: Error) => opts.logger?.warn(`forward udp ${spec.remote.host}: ${e.message}`),
      )
  })
  await new Promise<void>((res, rej) => {
    local.once('error', rej)
    local.bind(spec.local.port, spec.local.host, () => res())
  })
  const a = local.address()
  return {
    address: { host: a.address, port: a.port },
    get active() {
      return maps.size
    },
    close: () =>
      new Promise<void>((res) => {
        for (const k of [...maps.keys()]) drop(k)
        local.close(() => res())
      }),
  }
}
