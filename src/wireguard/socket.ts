// The tunnel's UDP socket (RFC 768 via node:dgram), behind a small interface so tests can run
// tunnels over an in-memory network under FakeClock. One dual-stack socket (IPv4 peers as
// IPv4-mapped IPv6, RFC 4291 §2.5.5.2), falling back to IPv4-only where IPv6 is unavailable.
// Outgoing messages are lists of parts sent as one datagram (sendmsg iovec, no concatenation).
import dgram from 'node:dgram'
import type { WgEndpoint } from './peer.js'

export interface WgSocket {
  /** Send parts as one datagram. False when the kernel send queue is long (wait for onDrain). */
  send(parts: Uint8Array[], to: WgEndpoint): boolean
  close(): void
  readonly localPort: number
}

export interface WgSocketHandlers {
  rx(msg: Uint8Array, from: WgEndpoint): void
  drain(): void
  error(err: Error): void
}

export type WgSocketFactory = (handlers: WgSocketHandlers, opts: { listenPort?: number }) => Promise<WgSocket>

/** Datagrams queued in libuv before send() reports backpressure, and the level that ends it. */
const HIGH_WATER = 512
const LOW_WATER = 64

/**
 * dgram resolves the address of every unconnected send; by default through dns.lookup, whose IP
 * literal check runs node's IPv6 regex on each IPv4-mapped address (~2 % of the CLI's time in an
 * upload). Every address this socket is given is already an IP literal (resolved endpoints,
 * addresses datagrams came from), so it is passed through as it is. Still asynchronous like
 * dns.lookup: the datagrams of one burst leave together after the JS that produced them.
 */
function literalLookup(address: string, family: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  process.nextTick(cb, null, address, family === 4 ? 4 : 6)
}

function bind(type: 'udp4' | 'udp6', port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type, ipv6Only: false, lookup: literalLookup as unknown as dgram.SocketOptions['lookup'] })
    const onErr = (e: Error) => {
      s.close()
      reject(e)
    }
    s.once('error', onErr)
    s.bind(port, type === 'udp6' ? '::' : '0.0.0.0', () => {
      s.off('error', onErr)
      resolve(s)
    })
  })
}

/** node:dgram implementation (the default). */
export const nodeUdpSocket: WgSocketFactory = async (h, opts) => {
  let sock: dgram.Socket
  let v6 = true
  try {
    sock = await bind('udp6', opts.listenPort ?? 0)
  } catch {
    v6 = false
    sock = await bind('udp4', opts.listenPort ?? 0)
  }
  try {
    sock.setRecvBufferSize(4 << 20)
    sock.setSendBufferSize(4 << 20)
  } catch {
    /* best effort: limited by net.core.[rw]mem_max */
  }
  // Nearly every datagram comes from the same endpoint as the one before: its unmapped address
  // and endpoint object are reused (receivers copy what they keep, see Peer.setEndpoint).
  let lastRaw = ''
  let lastFrom: WgEndpoint = { address: '', port: 0 }
  sock.on('message', (msg, rinfo) => {
    const a = rinfo.address
    if (a !== lastRaw || rinfo.port !== lastFrom.port) {
      lastRaw = a
      lastFrom = { address: a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a, port: rinfo.port }
    }
    h.rx(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), lastFrom)
  })
  sock.on('error', (e) => h.error(e))
  let waiting = false
  const poll = () => {
    if (sock.getSendQueueCount() > LOW_WATER) return void setTimeout(poll, 1)
    waiting = false
    h.drain()
  }
  return {
    localPort: sock.address().port,
    send(parts, to) {
      const addr = v6 && !to.address.includes(':') ? `::ffff:${to.address}` : to.address
      sock.send(parts, to.port, addr)
      if (waiting) return false
      if (sock.getSendQueueCount() > HIGH_WATER) {
        waiting = true
        setTimeout(poll, 1)
        return false
      }
      return true
    },
    close() {
      sock.close()
    },
  }
}
