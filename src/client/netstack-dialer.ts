// The tunnel side of the proxies' Dialer (src/proxy/dialer.ts): TCP streams and UDP flows opened
// on the userspace netstack, names resolved by the netstack's resolver (the VPN's DNS).
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { NetStackApi, UdpSocket } from '../netstack/api.js'
import { connectSocket } from '../netstack/socket.js'
import type { Dialer, UdpFlow, UdpPeer } from '../proxy/dialer.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { unwrapHost } from '../proxy/connector.js'

/**
 * Connect timeout for proxied connections through the tunnel. It must outlast a silent tunnel
 * outage plus TCP's SYN backoff: after a WireGuard server restart the client only notices after
 * KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (15 s) without replies, so the SYNs sent at 0, 1, 3, 7 and
 * 15 s are lost and the one at 31 s is the first to get through (Linux itself waits 127 s).
 */
export const TUNNEL_CONNECT_TIMEOUT_MS = 45_000

export class NetstackDialer implements Dialer {
  constructor(
    private readonly stack: NetStackApi,
    private readonly hasDns: () => boolean,
  ) {}

  private readonly pending = new Set<() => void>()

  /**
   * The tunnel is back after an outage it detected itself (a tunnel 'up' after 'reconnecting' or
   * 'down': WireGuard re-handshook after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT without replies, or
   * OpenVPN reconnected). SYNs sent during the outage were lost and TCP's backoff would wait up to
   * 16 s more for the next one: start every pending connect afresh (once per connect). DNS
   * queries sent meanwhile are resent by the resolver likewise.
   */
  relinked(): void {
    this.stack.resolver.relinked?.()
    for (const redial of [...this.pending]) redial()
  }

  connect(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    const h = unwrapHost(host)
    return new Promise<Duplex>((resolve, reject) => {
      if (signal?.aborted) return reject(new BurrowError(ErrorCode.EABORTED, `connect to ${host}:${port} aborted`))
      let current = new AbortController()
      let redialed = false
      const settle = () => {
        this.pending.delete(redial)
        signal?.removeEventListener('abort', onAbort)
      }
      const attempt = () => {
        const ac = (current = new AbortController())
        connectSocket(this.stack, h, port, { signal: ac.signal, timeoutMs: TUNNEL_CONNECT_TIMEOUT_MS }).then(
          (sock) => {
            if (ac !== current) return void sock.destroy() // superseded by a redial
            settle()
            resolve(sock)
          },
          (err: unknown) => {
            if (ac !== current) return
            settle()
            reject(err)
          },
        )
      }
      const redial = () => {
        if (redialed) return
        redialed = true
        const old = current
        attempt()
        old.abort()
      }
      const onAbort = () => current.abort()
      signal?.addEventListener('abort', onAbort, { once: true })
      this.pending.add(redial)
      attempt()
    })
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
