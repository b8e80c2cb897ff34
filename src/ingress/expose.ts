// --expose: listen on the tunnel address(es) inside the netstack and forward each flow to a
// local service. Only declared ports answer; the netstack answers other SYNs with RST and other
// UDP ports with ICMP port unreachable. Optional PROXY protocol v2 header toward the service.
import net from 'node:net'
import dgram from 'node:dgram'
import type { NetStackApi, TcpListener, UdpSocket } from '../netstack/api.js'
import type { Cidr } from '../tunnel/types.js'
import type { Logger } from '../core/log.js'
import { silentLogger } from '../core/log.js'
import type { ExposeSpec } from './spec.js'
import { pipeConnSocket } from './pipe.js'
import { proxyV2Header } from './proxy-protocol.js'
import { asBuffer } from '../core/bytes.js'

export interface ExposeOptions {
  allow?: Cidr[]
  proxyProtocol?: boolean
  /** UDP mappings idle longer than this are closed (default 60 s). */
  udpIdleMs?: number
  logger?: Logger
}

export interface Exposed {
  close(): void
  /** Flows currently open. */
  readonly active: number
}

export function expose(stack: NetStackApi, spec: ExposeSpec, opts: ExposeOptions = {}): Exposed {
  return spec.proto === 'tcp' ? exposeTcp(stack, spec, opts) : exposeUdp(stack, spec, opts)
}

function exposeTcp(stack: NetStackApi, spec: ExposeSpec, opts: ExposeOptions): Exposed {
  const log = opts.logger ?? silentLogger
  const socks = new Set<net.Socket>()
  const listener: TcpListener = stack.listenTcp({ port: spec.tunnelPort, allow: opts.allow }, (conn) => {
    conn.pause()
    const sock = net.connect({ host: spec.target.host, port: spec.target.port })
    socks.add(sock)
    sock.once('connect', () => {
      if (opts.proxyProtocol) {
        sock.write(
          proxyV2Header(
            'tcp',
            { address: conn.remoteAddress, port: conn.remotePort },
            { address: conn.localAddress, port: conn.localPort },
          ),
        )
      }
      conn.resume()
    })
    sock.once('error', (e) => log.debug(`expose ${spec.tunnelPort}: local ${spec.target.host}:${spec.target.port}: ${e.message}`))
    pipeConnSocket(conn, sock, () => socks.delete(sock))
  })
  return {
    close() {
      listener.close()
      for (const s of socks) s.destroy()
    },
    get active() {
      return socks.size
    },
  }
}

function exposeUdp(stack: NetStackApi, spec: ExposeSpec, opts: ExposeOptions): Exposed {
  const idleMs = opts.udpIdleMs ?? 60_000
  const sock: UdpSocket = stack.listenUdp({ port: spec.tunnelPort, allow: opts.allow })
  const family = net.isIP(spec.target.host) === 6 ? 'udp6' : 'udp4'
  interface Mapping {
    local: dgram.Socket
    timer: NodeJS.Timeout
    ready: boolean
    queue: Buffer[]
  }
  const maps = new Map<string, Mapping>()
  const drop = (key: string) => {
    const m = maps.get(key)
    if (!m) return
    maps.delete(key)
    clearTimeout(m.timer)
    m.local.close()
  }
  sock.onMessage = (data, from) => {
    const key = `${from.address}|${from.port}`
    let m = maps.get(key)
    if (!m) {
      const local = dgram.createSocket(family)
      const mm: Mapping = { local, timer: setTimeout(() => drop(key), idleMs), ready: false, queue: [] }
      m = mm
      maps.set(key, mm)
      local.on('message', (reply) => {
        mm.timer.refresh()
        sock.send(reply, from.address, from.port)
      })
      local.on('error', () => drop(key))
      local.connect(spec.target.port, spec.target.host, () => {
        mm.ready = true
        for (const q of mm.queue.splice(0)) local.send(q)
      })
    }
    m.timer.refresh()
    const payload = opts.proxyProtocol
      ? Buffer.concat([asBuffer(proxyV2Header('udp', from, { address: stack.addresses[0]?.address ?? from.address, port: spec.tunnelPort })), asBuffer(data)])
      : asBuffer(data)
    if (m.ready) m.local.send(payload)
    else m.queue.push(payload)
  }
  return {
    close() {
      sock.close()
      for (const k of [...maps.keys()]) drop(k)
    },
    get active() {
      return maps.size
    },
  }
}
