// The tunnel side of the proxies' Dialer (src/proxy/dialer.ts): TCP streams and UDP flows opened
// on the userspace netstack, names resolved by the netstack's resolver (the VPN's DNS).
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { NetStackApi, UdpSocket } from '../netstack/api.js'
import { connectSocket } from '../netstack/socket.js'
import type { Dialer, UdpFlow, UdpPeer } from '../proxy/dialer.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { unwrapHost } from './connector.js'

export class NetstackDialer implements Dialer {
  constructor(
    private readonly stack: NetStackApi,
    private readonly hasDns: () => boolean,
  ) {}

  connect(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    return connectSocket(this.stack, unwrapHost(host), port, { signal })
  }

  async resolve(host: string): Promise<string> {
    const h = unwrapHost(host)
    if (net.isIP(h)) return h
    if (!this.hasDns()) throw new BurrowError(ErrorCode.ENOTFOUND, `${host}: the tunnel has no DNS server (use --dns)`)
    const addrs = await this.stack.resolver.lookup(h, 0)
    return addrs[0]
  }

  async openUdp(): Promise<UdpFlow> {
    const stack = this.stack
    const socks = new Map<4 | 6, UdpSocket>()
    const flow: UdpFlow = {
      onMessage: null,
      send: (data, host, port) => {
        const deliver = (ip: string) => {
          const fam = net.isIP(ip) === 6 ? 6 : 4
          let s = socks.get(fam)
          if (!s) {
            s = stack.openUdp({ family: fam })
            s.onMessage = (d, from: UdpPeer) => flow.onMessage?.(d, from)
            socks.set(fam, s)
          }
          s.send(data, ip, port)
        }
        const h = unwrapHost(host)
        if (net.isIP(h)) deliver(h)
        else this.resolve(h).then(deliver, () => {
          /* UDP semantics: an unresolvable destination drops the datagram */
        })
      },
      close: () => {
        for (const s of socks.values()) s.close()
        socks.clear()
      },
    }
    return flow
  }
}
