// Loopback fixtures for the proxy tests: origin servers, raw socket helpers and fake dialers.

import type http from 'node:http'
import net from 'node:net'
import dgram from 'node:dgram'
import { Duplex as DuplexCtor } from 'node:stream'
import type { Duplex } from 'node:stream'
import { ProxyServer } from '../../src/proxy/server.js'
import type { ProxyServerOptions } from '../../src/proxy/server.js'
import { DirectDialer } from '../../src/proxy/dialer.js'
import type { Dialer, UdpFlow } from '../../src/proxy/dialer.js'
import { Counters } from '../../src/core/counters.js'

export async function listen(server: net.Server | http.Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((r) => server.listen(0, host, () => r()))
  return (server.address() as net.AddressInfo).port
}

export function closeServer(server: net.Server | http.Server): Promise<void> {
  return new Promise((r) => {
    ;(server as http.Server).closeAllConnections?.()
    server.close(() => r())
  })
}

export async function startProxy(opts: Partial<ProxyServerOptions> = {}) {
  const counters = opts.counters ?? new Counters()
  const proxy = new ProxyServer({ dialer: new DirectDialer(), ...opts, counters })
  const addr = await proxy.start()
  return { proxy, port: addr.port, counters }
}

/** A TCP echo server; returns its port and a close function. */
export async function tcpEcho(host = '127.0.0.1') {
  const conns = new Set<net.Socket>()
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    conns.add(s)
    s.on('close', () => conns.delete(s))
    s.on('error', () => {})
    s.pipe(s)
  })
  const port = await listen(server, host)
  return {
    port,
    close: async () => {
      for (const c of conns) c.destroy()
      await closeServer(server)
    },
  }
}

/** A UDP echo server on 127.0.0.1 (or the given address). */
export async function udpEcho(host = '127.0.0.1') {
  const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4')
  sock.on('message', (msg, r) => sock.send(msg, r.port, r.address))
  await new Promise<void>((r) => sock.bind(0, host, () => r()))
  return { port: sock.address().port, close: () => new Promise<void>((r) => sock.close(() => r())) }
}

/** Connect a raw TCP socket. */
export function connectRaw(port: number, host = '127.0.0.1', allowHalfOpen = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host, allowHalfOpen }, () => resolve(s))
    s.once('error', reject)
  })
}

/** Collect everything a socket sends until it closes (or `ms` passes). */
export function readAll(s: net.Socket, ms = 5000): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const t = setTimeout(() => done(false), ms)
    const done = (closed: boolean) => {
      clearTimeout(t)
      resolve({ data: Buffer.concat(chunks), closed })
    }
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('error', () => {})
    s.on('close', () => done(true))
  })
}

/** Read exactly n bytes from a socket. */
export function readN(s: net.Socket, n: number, ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const t = setTimeout(() => finish(new Error(`timeout waiting for ${n} bytes, got ${buf.length}`)), ms)
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c])
      if (buf.length >= n) {
        finish()
        const rest = buf.subarray(n)
        if (rest.length) s.unshift(rest)
      }
    }
    const onClose = () => finish(new Error(`closed after ${buf.length} of ${n} bytes`))
    const finish = (err?: Error) => {
      clearTimeout(t)
      s.off('data', onData)
      s.off('close', onClose)
      s.pause()
      if (err) reject(err)
      else resolve(buf.subarray(0, n))
    }
    s.on('data', onData)
    s.on('close', onClose)
    s.resume()
  })
}

/** Wait until cond() holds (polling every 10 ms), or fail after ms. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('waitFor: condition not met')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Active libuv handles of the given kinds (for leak checks). */
export function handleCount(kinds = ['TCPSocketWrap', 'TCPServerWrap', 'UDPWrap', 'Timeout']): number {
  return process.getActiveResourcesInfo().filter((k) => kinds.includes(k)).length
}

/** A dialer that records what it was asked and answers from a script. */
export class FakeDialer implements Dialer {
  readonly calls: { op: string; host: string; port?: number }[] = []
  readonly udpSends: { host: string; port: number; data: Uint8Array }[] = []
  constructor(
    readonly name: string,
    private readonly behaviour: {
      connect?: (host: string, port: number) => Promise<Duplex>
      resolve?: (host: string) => Promise<string>
    } = {},
  ) {
    if (behaviour.resolve) {
      this.resolve = async (host: string) => {
        this.calls.push({ op: 'resolve', host })
        return behaviour.resolve!(host)
      }
    }
  }
  resolve?: (host: string) => Promise<string>
  async connect(host: string, port: number): Promise<Duplex> {
    this.calls.push({ op: 'connect', host, port })
    if (!this.behaviour.connect) throw Object.assign(new Error('fake: no connect'), { code: 'ECONNREFUSED' })
    return this.behaviour.connect(host, port)
  }
  async openUdp(): Promise<UdpFlow> {
    this.calls.push({ op: 'openUdp', host: '' })
    const flow: UdpFlow = {
      onMessage: null,
      send: (data, host, port) => {
        this.udpSends.push({ data, host, port })
      },
      close: () => {
        this.calls.push({ op: 'closeUdp', host: '' })
      },
    }
    return flow
  }
}

/**
 * Wrap a net.Socket in a plain stream.Duplex (no net.Socket methods), the way a netstack TcpConn
 * wrapper would look to the proxies.
 */
export function plainDuplex(sock: net.Socket): Duplex {
  const d: Duplex = new DuplexCtor({
    allowHalfOpen: true,
    read() {
      sock.resume()
    },
    write(chunk: Buffer, _enc, cb) {
      sock.write(chunk, (err) => cb(err ?? null))
    },
    final(cb) {
      sock.end()
      cb()
    },
    destroy(err, cb) {
      sock.destroy()
      cb(err)
    },
  })
  sock.on('data', (c: Buffer) => {
    if (!d.push(c)) sock.pause()
  })
  sock.on('end', () => d.push(null))
  sock.on('error', (e) => d.destroy(e))
  sock.on('close', () => {
    if (!d.readableEnded) d.destroy()
  })
  return d
}

/** A dialer that connects from the host but hands out plain Duplex streams. */
export class PlainDuplexDialer implements Dialer {
  private readonly inner = new DirectDialer()
  connects = 0
  async connect(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    this.connects++
    return plainDuplex((await this.inner.connect(host, port, signal)) as net.Socket)
  }
  openUdp(): Promise<UdpFlow> {
    return this.inner.openUdp()
  }
}
