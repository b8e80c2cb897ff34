// UDP tunnel transport through a SOCKS5 proxy (RFC 1928 §4 UDP ASSOCIATE, §7 UDP request header),
// as OpenVPN --socks-proxy does for --proto udp: a TCP control connection holds the association
// (the transport fails when it closes), every datagram to the relay carries
// RSV(2) FRAG(1)=0 ATYP DST.ADDR DST.PORT in front of the OpenVPN packet, and every datagram from
// the relay is unwrapped the same way. The server's name goes in the header unresolved (ATYP
// DOMAINNAME); the relay then answers with the address it resolved, and the first such address is
// the only one accepted afterwards. Fragments (FRAG ≠ 0), malformed headers and foreign sources
// are counted drops.
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import type { Socket } from 'node:net'
import { isIP } from 'node:net'
import { asBuffer } from '../core/bytes.js'
import { Counters } from '../core/counters.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { formatIp, parseIp } from '../netstack/addr.js'
import { codeOf, DgramTransport, growBuffers } from './udp.js'
import { socks5Address, socks5UdpAssociate, type SocksProxySpec } from './via-proxy.js'

export interface SocksUdpHeader {
  frag: number
  host: string
  port: number
  dataOffset: number
}

/** Parse an RFC 1928 §7 UDP header; null when truncated, RSV is not zero or the ATYP is unknown. */
export function parseSocksUdpHeader(b: Uint8Array): SocksUdpHeader | null {
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) return null
  let off = 4
  let host: string
  if (b[3] === 1 || b[3] === 4) {
    const n = b[3] === 1 ? 4 : 16
    if (b.length < off + n + 2) return null
    host = formatIp(b.subarray(off, off + n))
    off += n
  } else if (b[3] === 3) {
    if (b.length < 5) return null
    const n = b[4]
    if (n === 0 || b.length < 5 + n + 2) return null
    host = Buffer.from(b.buffer, b.byteOffset + 5, n).toString('latin1').toLowerCase()
    off = 5 + n
  } else return null
  return { frag: b[2], host, port: (b[off] << 8) | b[off + 1], dataOffset: off + 2 }
}

export interface SocksUdpConnectOptions {
  /** The proxy's address (resolved locally) and family. */
  address: string
  family?: 4 | 6
  target: { host: string; port: number }
  counters?: Counters
  signal?: AbortSignal
  timeoutMs?: number
}

export class SocksUdpTransport extends DgramTransport {
  private readonly header: Buffer
  /** The server's address as the relay reports it (fixed by the first datagram when we sent a name). */
  private peer: string | undefined

  private constructor(
    sock: UdpSocket,
    private readonly control: Socket,
    private readonly target: { host: string; port: number },
    description: string,
    counters: Counters,
  ) {
    super(sock, description, counters, 'socks_udp')
    const addr = socks5Address(target.host, target.port)
    this.header = Buffer.alloc(3 + addr.length)
    this.header.set(addr, 3)
    const ip = isIP(target.host) ? parseIp(target.host) : null
    this.peer = ip ? formatIp(ip) : undefined
    // RFC 1928 §7: the association ends with the TCP connection that made it
    const lost = (e?: Error) =>
      this.fail(new BurrowError(e ? codeOf(e) : ErrorCode.ECONNRESET, `${this.description}: the SOCKS5 control connection closed${e ? ` (${e.message})` : ''}; the UDP association is gone`))
    control.on('data', () => this.counters.inc('socks_udp.control_data'))
    control.on('end', () => lost())
    control.on('close', () => lost())
    control.on('error', (e) => lost(e))
    control.resume()
    if (control.destroyed || control.readableEnded) setImmediate(() => lost())
  }

  /** UDP ASSOCIATE through the proxy, then a UDP socket connected to the relay it named. */
  static async connect(proxy: SocksProxySpec, o: SocksUdpConnectOptions): Promise<SocksUdpTransport> {
    const a = await socks5UdpAssociate(proxy, o)
    a.control.on('error', () => {}) // until the transport listens (a close meanwhile is checked there)
    const fam = isIP(a.relay.host)
    if (!fam) {
      a.control.destroy()
      throw new BurrowError(ErrorCode.ERR_PROTOCOL, `${a.via}: UDP relay address ${a.relay.host} is not an IP address`)
    }
    const sock = createSocket({ type: fam === 6 ? 'udp6' : 'udp4' })
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject)
        sock.connect(a.relay.port, a.relay.host, () => {
          sock.off('error', reject)
          resolve()
        })
      })
    } catch (e) {
      sock.close()
      a.control.destroy()
      throw new BurrowError(codeOf(e as Error), `${a.via}: cannot reach the UDP relay ${a.relay.host}:${a.relay.port}: ${(e as Error).message}`, { cause: e })
    }
    growBuffers(sock)
    const t = o.target
    const desc = `udp ${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port} via ${a.via} (relay ${a.relay.host}:${a.relay.port})`
    return new SocksUdpTransport(sock, a.control, t, desc, o.counters ?? new Counters())
  }

  protected onDatagram(b: Uint8Array): void {
    const h = parseSocksUdpHeader(b)
    if (!h) {
      this.counters.inc('socks_udp.malformed')
      return
    }
    if (h.frag !== 0) {
      this.counters.inc('socks_udp.fragment')
      return
    }
    if (h.port !== this.target.port) {
      this.counters.inc('socks_udp.foreign_source')
      return
    }
    if (this.peer === undefined && h.host !== this.target.host.toLowerCase()) this.peer = h.host
    if (h.host !== this.peer && h.host !== this.target.host.toLowerCase()) {
      this.counters.inc('socks_udp.foreign_source')
      return
    }
    this.counters.inc('udp.rx')
    this.rx?.(b.subarray(h.dataOffset))
  }

  send(msg: Uint8Array): boolean {
    return this.sendParts([this.header, asBuffer(msg)])
  }

  override close(): void {
    super.close()
    this.control.destroy()
  }
}
