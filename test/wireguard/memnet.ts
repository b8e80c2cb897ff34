// In-memory UDP network for running WireGuard tunnels against each other under FakeClock:
// datagrams are copied (as on a wire) and delivered after a fixed latency on the clock. A filter
// can drop or inspect datagrams; `moveSocket` changes a socket's address (NAT rebinding/roaming).
import type { FakeClock } from '../../src/core/clock.js'
import type { WgEndpoint } from '../../src/wireguard/peer.js'
import type { WgSocketFactory, WgSocketHandlers } from '../../src/wireguard/socket.js'

export interface Datagram {
  data: Uint8Array
  from: WgEndpoint
  to: WgEndpoint
}

interface Sock {
  address: string
  port: number
  handlers: WgSocketHandlers
  closed: boolean
}

export class MemNet {
  private readonly socks = new Map<string, Sock>()
  private nextPort = 40000
  /** Return false to drop a datagram. */
  filter: (d: Datagram) => boolean = () => true
  readonly log: Datagram[] = []
  logging = false

  constructor(private readonly clock: FakeClock, private readonly latencyMs = 1) {}

  factory(address: string): WgSocketFactory {
    return async (handlers, opts) => {
      const port = opts.listenPort || this.nextPort++
      const s: Sock = { address, port, handlers, closed: false }
      this.socks.set(`${address}|${port}`, s)
      return {
        localPort: port,
        send: (parts, to) => {
          let n = 0
          for (const p of parts) n += p.length
          const data = new Uint8Array(n)
          let o = 0
          for (const p of parts) {
            data.set(p, o)
            o += p.length
          }
          this.inject({ data, from: { address: s.address, port: s.port }, to: { ...to } })
          return true
        },
        close: () => {
          s.closed = true
          this.socks.delete(`${s.address}|${s.port}`)
        },
      }
    }
  }

  /** Put a datagram on the wire (also used by tests to forge/replay traffic). */
  inject(d: Datagram): void {
    if (this.logging) this.log.push(d)
    if (!this.filter(d)) return
    this.clock.schedule(this.clock.now() + this.latencyMs, () => {
      const dst = this.socks.get(`${d.to.address}|${d.to.port}`)
      if (dst && !dst.closed) dst.handlers.rx(d.data, d.from)
    })
  }

  /** Change the source address of the socket currently at address:port. */
  moveSocket(address: string, port: number, newAddress: string): void {
    const s = this.socks.get(`${address}|${port}`)
    if (!s) throw new Error('no such socket')
    this.socks.delete(`${address}|${port}`)
    s.address = newAddress
    this.socks.set(`${newAddress}|${port}`, s)
  }
}
