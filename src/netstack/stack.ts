// The netstack glue: IPv4 (RFC 791, RFC 1122 §3) and IPv6 (RFC 8200) input and output over a Link,
// fragment reassembly, TCP demultiplexing by four-tuple (RFC 9293 §3.10.7: segments for no
// connection get a RST), UDP by port (RFC 768, RFC 1122 §4.1.3.1: no socket → ICMP port
// unreachable), ICMP echo (RFC 792, RFC 4443 §4) and ICMP errors delivered to the socket they quote
// (RFC 1122 §4.2.3.9, RFC 5927; PMTU per RFC 1191 / RFC 8201). Outgoing packets are emitted once
// into a buffer with link.headroom bytes free in front. Arriving ICMP is handled in icmp/input.ts.
import type { Clock } from '../core/clock.js'
import { Counters } from '../core/counters.js'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { silentLogger, type Logger } from '../core/log.js'
import type { Cidr, Link } from '../tunnel/types.js'
import { cidrContains, formatIp, parseIp } from './addr.js'
import type { ListenTcpOptions, NetStackApi, Resolver, TcpConn, TcpConnectOptions, TcpListener, UdpSocket } from './api.js'
import { DnsResolver } from './dns/resolver.js'
import { isNonUnicast, quoteLength, RateLimiter } from './icmp/errors.js'
import { rxIcmp, type IcmpInputHost } from './icmp/input.js'
import { Pinger } from './icmp/ping.js'
import { allocPacket, fragment, writeIpHeader, type IpHeaderFields } from './ip/output.js'
import { keyOfTuple, makeTuple, PortRefs, tupleKey } from './ip/demux.js'
import { PmtuCache } from './ip/pmtu.js'
import { Reassembler } from './ip/reassembly.js'
import { DEFAULT_TUNING, type TcpTuning } from './tcp/config.js'
import { RxShare } from './tcp/rcv.js'
import { TcpEndpoint, TcpState } from './tcp/endpoint.js'
import { rstForUnmatched } from './tcp/segment.js'
import { TcpFlag, type FourTuple, type TcpHost, type TcpSegment } from './tcp/types.js'
import { pickEphemeralPort, UdpSocketImpl, type UdpSender } from './udp/socket.js'
import { pseudoHeaderSum } from './wire/checksum.js'
import { emitIcmpv4, emitIcmpv6, Icmpv4Type, Icmpv4Unreach, Icmpv6Type, Icmpv6Unreach, type IcmpRepr } from './wire/icmp.js'
import { IpProto, parseIpv4 } from './wire/ipv4.js'
import { parseIpv6 } from './wire/ipv6.js'
import { emitTcp, parseTcp, tcpHeaderLen } from './wire/tcp.js'
import { emitUdp, parseUdp, UDP_HEADER_LEN } from './wire/udp.js'
import { readU16 } from '../core/bytes.js'

/** TTL / hop limit of every packet we originate (RFC 1700 default, Linux's 64). */
export const DEFAULT_TTL = 64

export interface NetStackOptions {
  link: Link
  /** Our addresses (one per family is typical); the first of each family is the source address. */
  addresses: Cidr[]
  clock: Clock
  counters?: Counters
  /** Uniform [0, 1) source for ports, ISNs, idents (default Math.random). Seed it for simulations. */
  random?: () => number
  logger?: Logger
  /** TCP tuning passed to every endpoint (see tcp/config.ts). */
  tcp?: Partial<TcpTuning>
  /** DNS servers (and search domains) inside the tunnel for `resolver`. */
  dns?: { servers: string[]; searchDomains?: string[] }
  /** Fragment reassembly timeout (default 30 s). */
  reassemblyTimeoutMs?: number
  /** ICMP error messages per second we send (default 100, burst 50). */
  icmpRatePerSecond?: number
}

interface ListenerEntry {
  port: number
  allow: Cidr[] | undefined
  backlog: number
  /** Handshakes in progress (not yet handed to onConnection). */
  pending: number
  onConnection: (c: TcpConn) => void
  closed: boolean
}

const ECHO_DEFAULT_SIZE = 56

/** Cidr list → normalized Cidrs and their bytes; throws ERR_CONFIG on an unparsable address. */
function parseAddresses(list: readonly Cidr[]): { cidrs: Cidr[]; v4: Uint8Array[]; v6: Uint8Array[] } {
  const cidrs: Cidr[] = []
  const v4: Uint8Array[] = []
  const v6: Uint8Array[] = []
  for (const c of list) {
    const b = parseIp(c.address)
    if (!b) throw new BurrowError(ErrorCode.ERR_CONFIG, `netstack: bad address ${c.address}`)
    ;(b.length === 4 ? v4 : v6).push(b)
    cidrs.push({ address: formatIp(b), prefix: c.prefix })
  }
  return { cidrs, v4, v6 }
}

export class NetStack implements NetStackApi, UdpSender {
  private _addresses: readonly Cidr[]
  readonly counters: Counters
  private readonly link: Link
  private readonly clock: Clock
  private readonly random: () => number
  private readonly logger: Logger
  private readonly tuning: Partial<TcpTuning> | undefined
  private readonly local4: Uint8Array[] = []
  private readonly local6: Uint8Array[] = []
  private readonly reasm: Reassembler
  private readonly icmpLimiter: RateLimiter
  private readonly pinger: Pinger
  private readonly conns = new Map<string, TcpEndpoint>()
  /** Local TCP ports in use (connections and listeners). */
  private readonly tcpPorts = new PortRefs()
  private readonly listeners = new Map<number, ListenerEntry>()
  private readonly udpPorts = new Map<number, UdpSocketImpl>()
  /** Endpoints whose output was refused while the link was full. */
  private readonly drainWaiters = new Set<TcpEndpoint>()
  private linkBlocked = false
  private readonly pmtu: PmtuCache
  private ident4: number
  private closed = false
  /** Packets handed in by the link (the resolver tells a silent link from silent DNS servers). */
  private rxPackets = 0
  private dnsOpts: NetStackOptions['dns']
  private _resolver: DnsResolver | undefined
  /** What TCP endpoints see of the stack (TcpHost contract in tcp/types.ts). */
  readonly tcpHost: TcpHost
  /** What arriving ICMP sees of the stack (icmp/input.ts). */
  private readonly icmpHost: IcmpInputHost

  constructor(opts: NetStackOptions) {
    this.link = opts.link
    this.clock = opts.clock
    this.counters = opts.counters ?? new Counters()
    this.random = opts.random ?? Math.random
    this.logger = opts.logger ?? silentLogger
    this.tuning = opts.tcp
    this.dnsOpts = opts.dns
    const parsed = parseAddresses(opts.addresses)
    this.local4.push(...parsed.v4)
    this.local6.push(...parsed.v6)
    this._addresses = parsed.cidrs
    this.pmtu = new PmtuCache(this.clock)
    this.reasm = new Reassembler({ clock: this.clock, counters: this.counters, timeoutMs: opts.reassemblyTimeoutMs })
    const rate = opts.icmpRatePerSecond ?? 100
    this.icmpLimiter = new RateLimiter(this.clock, rate, Math.max(1, Math.ceil(rate / 2)))
    this.pinger = new Pinger(this.clock, Math.floor(this.random() * 0x10000))
    this.ident4 = Math.floor(this.random() * 0x10000)
    this.tcpHost = {
      clock: this.clock,
      counters: this.counters,
      mssFor: (family) => this.link.mtu - (family === 4 ? 20 : 40) - 20,
      output: (tuple, seg) => this.outputTcp(tuple, seg),
      random32: () => Math.floor(this.random() * 0x100000000) >>> 0,
      release: (tuple) => this.releaseTcp(tuple),
      rxShare: new RxShare(this.clock, opts.tcp?.rcvBudget ?? DEFAULT_TUNING.rcvBudget),
    }
    this.icmpHost = {
      counters: this.counters,
      pinger: this.pinger,
      isLocal: (addr) => this.isLocal(addr),
      sendIcmp: (src, dst, m) => this.sendIcmp(src, dst, m),
      learnPmtu: (dst, mtu) => this.pmtu.learn(dst, mtu, this.link.mtu),
      tcpEndpoint: (key) => this.conns.get(key),
      udpSocket: (port) => this.udpPorts.get(port),
    }
    this.link.attach(
      (pkt) => this.rx(pkt),
      () => this.onLinkDrain(),
    )
  }

  /** Our addresses; the first of each family is the source address (see setAddresses). */
  get addresses(): readonly Cidr[] {
    return this._addresses
  }

  /**
   * The tunnel assigned new addresses (a reconnect to a server whose pool handed out another
   * one). Connections and sockets whose local address is still ours are untouched; UDP sockets
   * and listeners are bound to the wildcard and simply use (and accept on) the new addresses. TCP
   * connections (and TIME-WAIT entries) on an address that is gone are closed at once with
   * ECONNRESET "local address X removed by the tunnel" and no RST: a segment from an address the
   * server no longer routes to us is useless (or reaches the client it now belongs to). Pings in
   * flight from a removed address simply time out. Returns the number of connections closed; an
   * identical list (same addresses, prefixes and order) changes nothing. Throws ERR_CONFIG on a
   * malformed address (before changing anything).
   */
  setAddresses(addresses: Cidr[]): number {
    const next = parseAddresses(addresses)
    const cur = this._addresses
    if (next.cidrs.length === cur.length && next.cidrs.every((c, i) => c.address === cur[i].address && c.prefix === cur[i].prefix)) return 0
    this.local4.length = 0
    this.local4.push(...next.v4)
    this.local6.length = 0
    this.local6.push(...next.v6)
    this._addresses = next.cidrs
    this.counters.inc('ip.addresses_changed')
    let dropped = 0
    for (const ep of [...this.conns.values()]) {
      if (this.isLocal(ep.tuple.localAddr)) continue
      const tw = ep.state === TcpState.TIME_WAIT
      this.counters.inc(tw ? 'tcp.addr_removed_timewait' : 'tcp.addr_removed_abort')
      if (!tw) dropped++
      // finish(), not destroy(): no RST from an address that is no longer ours
      ep.finish(new BurrowError(ErrorCode.ECONNRESET, `local address ${ep.tuple.localAddress} removed by the tunnel (connection to ${ep.tuple.remoteAddress}:${ep.tuple.remotePort})`))
    }
    const fmt = (c: Cidr) => `${c.address}/${c.prefix}`
    this.logger.debug(`netstack addresses now ${next.cidrs.map(fmt).join(', ') || 'none'}; ${dropped} TCP connection(s) on removed addresses closed`)
    return dropped
  }

  /**
   * New DNS servers / search domains (pushed again on a reconnect). Applied to the resolver if it
   * exists (see DnsResolver.setServers for what happens to queries in flight), else kept for when
   * it is created.
   */
  setDns(dns: { servers: string[]; searchDomains?: string[] }): void {
    this.dnsOpts = { servers: [...dns.servers], searchDomains: dns.searchDomains ? [...dns.searchDomains] : undefined }
    this._resolver?.setServers(this.dnsOpts.servers, this.dnsOpts.searchDomains ?? [])
  }

  get resolver(): Resolver {
    if (!this._resolver) {
      this._resolver = new DnsResolver({
        servers: this.dnsOpts?.servers ?? [],
        searchDomains: this.dnsOpts?.searchDomains,
        clock: this.clock,
        random: this.random,
        counters: this.counters,
        udp: (localPort) => this.openUdp({ localPort: localPort && !this.udpPorts.has(localPort) ? localPort : undefined }),
        tcp: (server, port) => this.connectTcp({ host: server, port }),
        linkRx: () => this.rxPackets,
      })
    }
    return this._resolver
  }

  // ── receive path ─────────────────────────────────────────────────────────────────────

  private rx(pkt: Uint8Array): void {
    if (this.closed) return
    this.rxPackets++
    if (pkt.length === 0) {
      this.counters.inc('ip.empty')
      return
    }
    const v = pkt[0] >> 4
    if (v === 4) this.rx4(pkt)
    else if (v === 6) this.rx6(pkt)
    else this.counters.inc('ip.bad_version')
  }

  private isLocal(addr: Uint8Array): boolean {
    const list = addr.length === 4 ? this.local4 : this.local6
    outer: for (const a of list) {
      for (let i = 0; i < a.length; i++) if (a[i] !== addr[i]) continue outer
      return true
    }
    return false
  }

  private rx4(pkt: Uint8Array): void {
    const r = parseIpv4(pkt, 0, pkt.length, this.counters)
    if (!r) return
    if (!this.isLocal(r.dst)) {
      this.counters.inc('ipv4.not_for_us')
      return
    }
    if (r.moreFrags || r.fragOffset !== 0) {
      const whole = this.reasm.input4(r, pkt)
      if (whole) this.rx4(whole)
      return
    }
    this.rxUpper(4, r.protocol, r.src, r.dst, pkt, r.payloadOffset, r.payloadLen)
  }

  private rx6(pkt: Uint8Array): void {
    const r = parseIpv6(pkt, 0, pkt.length, this.counters)
    if (!r) return
    if (!this.isLocal(r.dst)) {
      this.counters.inc('ipv6.not_for_us')
      return
    }
    if (r.fragment && (r.fragment.more || r.fragment.offset !== 0)) {
      const whole = this.reasm.input6(r, pkt)
      if (whole) this.rx6(whole)
      return
    }
    this.rxUpper(6, r.nextHeader, r.src, r.dst, pkt, r.payloadOffset, r.payloadLen)
  }

  private rxUpper(family: 4 | 6, proto: number, src: Uint8Array, dst: Uint8Array, pkt: Uint8Array, off: number, len: number): void {
    switch (proto) {
      case IpProto.TCP:
        this.rxTcp(src, dst, pkt, off, len)
        return
      case IpProto.UDP:
        this.rxUdp(family, src, dst, pkt, off, len)
        return
      case IpProto.ICMP:
        if (family === 4) rxIcmp(this.icmpHost, 4, src, dst, pkt, off, len)
        else this.counters.inc('ipv6.icmpv4_ignored')
        return
      case IpProto.IPV6_ICMP:
        if (family === 6) rxIcmp(this.icmpHost, 6, src, dst, pkt, off, len)
        else this.counters.inc('ipv4.icmpv6_ignored')
        return
      case 59: // IPv6 No Next Header
        return
      default:
        this.counters.inc(family === 4 ? 'ipv4.unknown_protocol' : 'ipv6.unknown_next_header')
        if (family === 4) this.sendIcmpError(4, pkt, src, dst, Icmpv4Type.DestUnreachable, Icmpv4Unreach.Protocol)
    }
  }

  private rxTcp(src: Uint8Array, dst: Uint8Array, pkt: Uint8Array, off: number, len: number): void {
    const seg = parseTcp(pkt, off, len, pseudoHeaderSum(src, dst, IpProto.TCP, len), this.counters)
    if (!seg) return
    const ep = this.conns.get(tupleKey(dst, seg.dstPort, src, seg.srcPort))
    // A new SYN for a tuple still in TIME-WAIT may end it early (RFC 6191) and reach the listener.
    const reopened =
      ep !== undefined &&
      ep.state === TcpState.TIME_WAIT &&
      (seg.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST | TcpFlag.FIN)) === TcpFlag.SYN &&
      this.listeners.has(seg.dstPort) &&
      ep.reuseForSyn(seg)
    if (ep && !reopened) {
      ep.input(seg)
      return
    }
    const l = this.listeners.get(seg.dstPort)
    if (l && (seg.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST | TcpFlag.FIN)) === TcpFlag.SYN) {
      if (l.allow && !l.allow.some((c) => cidrContains(c, src))) {
        this.counters.inc('tcp.not_allowed')
      } else if (l.pending >= l.backlog) {
        this.counters.inc('tcp.backlog_full') // drop: the peer retransmits its SYN (Linux behaviour)
        return
      } else {
        this.acceptTcp(l, src, dst, seg)
        return
      }
    } else {
      this.counters.inc('tcp.no_socket')
    }
    const rst = isNonUnicast(src) ? null : rstForUnmatched(seg) // never reset towards broadcast/multicast
    if (rst) this.sendTcp(dst, src, rst)
  }

  private rxUdp(family: 4 | 6, src: Uint8Array, dst: Uint8Array, pkt: Uint8Array, off: number, len: number): void {
    const ulen = len >= UDP_HEADER_LEN ? readU16(pkt, off + 4) : len
    const u = parseUdp(pkt, off, len, pseudoHeaderSum(src, dst, IpProto.UDP, ulen), this.counters, family === 6)
    if (!u) return
    const sock = this.udpPorts.get(u.dstPort)
    if (!sock) {
      this.counters.inc('udp.no_socket')
      if (family === 4) this.sendIcmpError(4, pkt, src, dst, Icmpv4Type.DestUnreachable, Icmpv4Unreach.Port)
      else this.sendIcmpError(6, pkt, src, dst, Icmpv6Type.DestUnreachable, Icmpv6Unreach.Port)
      return
    }
    sock.deliver(src, { address: formatIp(src), port: u.srcPort }, u.payload)
  }

  // ── send path ────────────────────────────────────────────────────────────────────────

  private srcFor(family: 4 | 6): Uint8Array | undefined {
    return family === 4 ? this.local4[0] : this.local6[0]
  }

  private nextIdent4(): number {
    this.ident4 = (this.ident4 + 1) & 0xffff
    return this.ident4
  }

  /** Hand one packet (a view starting at the IP header, headroom in front) to the link. */
  private linkSend(pkt: Uint8Array): boolean {
    if (this.closed) return false
    const ok = this.link.send(pkt)
    if (!ok) {
      this.linkBlocked = true
      this.counters.inc('link.backpressure')
    }
    return ok
  }

  private onLinkDrain(): void {
    this.linkBlocked = false
    if (this.drainWaiters.size === 0) return
    const waiters = [...this.drainWaiters]
    this.drainWaiters.clear()
    for (const ep of waiters) {
      if (this.linkBlocked) {
        this.drainWaiters.add(ep)
        continue
      }
      ep.linkDrained()
    }
  }

  /**
   * TcpHost.output: the engine takes false as "not sent, retry after linkDrained()". So while the
   * link is full we refuse (and remember the endpoint); a send that makes the link full was still
   * accepted by the link, so it reports true and only later segments are refused.
   */
  private outputTcp(tuple: FourTuple, seg: TcpSegment): boolean {
    if (this.closed) return false
    if (this.linkBlocked) {
      const ep = this.conns.get(keyOfTuple(tuple))
      if (ep) this.drainWaiters.add(ep)
      this.counters.inc('tcp.output_deferred')
      return false
    }
    this.sendTcp(tuple.localAddr, tuple.remoteAddr, seg)
    return true
  }

  private sendTcp(src: Uint8Array, dst: Uint8Array, seg: TcpSegment): boolean {
    const fam = src.length === 4 ? 4 : 6
    const tlen = tcpHeaderLen(seg) + seg.payload.length
    const p = allocPacket(this.link.headroom, fam, tlen, true) // every byte after the headroom is written below
    writeIpHeader(p, { src, dst, proto: IpProto.TCP, ttl: DEFAULT_TTL, ident4: fam === 4 ? this.nextIdent4() : 0, dontFrag: true }, tlen)
    emitTcp(seg, p.buf, p.body, pseudoHeaderSum(src, dst, IpProto.TCP, tlen))
    return this.linkSend(p.buf.subarray(p.ip))
  }

  /**
   * Send a datagram body that may need fragmenting; `emitBody` writes it at the given offset.
   * False (counted) when it was not sent: the link is full or the MTU too small.
   */
  private sendDatagram(src: Uint8Array, dst: Uint8Array, proto: number, bodyLen: number, emitBody: (buf: Uint8Array, off: number) => void): boolean {
    if (this.linkBlocked) {
      this.counters.inc('ip.link_full_drop') // datagrams are not queued: the link asked us to wait
      return false
    }
    const fam = src.length === 4 ? 4 : 6
    const hdr = fam === 4 ? 20 : 40
    const p = allocPacket(this.link.headroom, fam, bodyLen)
    emitBody(p.buf, p.body)
    const f: IpHeaderFields = { src, dst, proto, ttl: DEFAULT_TTL, ident4: fam === 4 ? this.nextIdent4() : 0 }
    const mtu = this.pmtu.mtuTo(dst, this.link.mtu)
    if (hdr + bodyLen <= mtu) {
      writeIpHeader(p, f, bodyLen)
      this.linkSend(p.buf.subarray(p.ip))
      return true
    }
    const ident = fam === 4 ? f.ident4 : Math.floor(this.random() * 0x100000000) >>> 0
    const frags = fragment(this.link.headroom, mtu, f, p.buf.subarray(p.body), ident)
    if (!frags) {
      this.counters.inc('ip.mtu_too_small')
      return false
    }
    this.counters.inc(fam === 4 ? 'ipv4.fragmented' : 'ipv6.fragmented')
    for (const frag of frags) this.linkSend(frag) // the link accepts each one even when it reports full
    return true
  }

  private sendIcmp(src: Uint8Array, dst: Uint8Array, m: IcmpRepr): boolean {
    const body = m.data ?? m.invoking
    const len = 8 + (body ? body.length : 0)
    if (src.length === 4) return this.sendDatagram(src, dst, IpProto.ICMP, len, (b, o) => emitIcmpv4(m, b, o))
    const ps = pseudoHeaderSum(src, dst, IpProto.IPV6_ICMP, len)
    return this.sendDatagram(src, dst, IpProto.IPV6_ICMP, len, (b, o) => emitIcmpv6(m, b, o, ps))
  }

  /** ICMP error about `pkt` (a whole packet we received from `from`, addressed to `to`). */
  private sendIcmpError(family: 4 | 6, pkt: Uint8Array, from: Uint8Array, to: Uint8Array, type: number, code: number): void {
    if (isNonUnicast(from) || isNonUnicast(to)) return
    if (!this.icmpLimiter.take()) {
      this.counters.inc(family === 4 ? 'icmp4.rate_limited' : 'icmp6.rate_limited')
      return
    }
    const quote = pkt.slice(0, quoteLength(family, pkt.length))
    this.counters.inc(family === 4 ? 'icmp4.error_sent' : 'icmp6.error_sent')
    this.sendIcmp(to.slice(), from.slice(), { type, code, invoking: quote })
  }

  /** UdpSender: emit one datagram from localPort. */
  sendUdp(localPort: number, dst: Uint8Array, dstPort: number, data: Uint8Array): boolean {
    const fam = dst.length === 4 ? 4 : 6
    const src = this.srcFor(fam)
    if (!src) {
      this.counters.inc('udp.no_source_address')
      return false
    }
    const len = UDP_HEADER_LEN + data.length
    if (len > 0xffff - (fam === 4 ? 20 : 0)) {
      this.counters.inc('udp.too_big')
      return false
    }
    const ps = pseudoHeaderSum(src, dst, IpProto.UDP, len)
    return this.sendDatagram(src, dst, IpProto.UDP, len, (b, o) => emitUdp({ srcPort: localPort, dstPort, payload: data }, b, o, ps))
  }

  unbindUdp(sock: UdpSocketImpl): void {
    if (this.udpPorts.get(sock.localPort) === sock) this.udpPorts.delete(sock.localPort)
  }

  // ── public API ───────────────────────────────────────────────────────────────────────

  openUdp(opts?: { localPort?: number; family?: 4 | 6 }): UdpSocket {
    return this.bindUdp(opts?.localPort, opts?.family ?? 0, undefined)
  }

  listenUdp(opts: { port: number; allow?: Cidr[] }): UdpSocket {
    return this.bindUdp(opts.port, 0, opts.allow)
  }

  private bindUdp(port: number | undefined, family: 0 | 4 | 6, allow: Cidr[] | undefined): UdpSocketImpl {
    if (this.closed) throw new BurrowError(ErrorCode.ECLOSED, 'netstack is closed')
    let p = port ?? 0
    if (p === 0) {
      p = pickEphemeralPort((x) => this.udpPorts.has(x), this.random)
      if (p === 0) throw new BurrowError(ErrorCode.EADDRINUSE, 'no free UDP port')
    } else if (!(p > 0 && p <= 0xffff) || this.udpPorts.has(p)) {
      throw new BurrowError(ErrorCode.EADDRINUSE, `UDP port ${p} is in use`)
    }
    const s = new UdpSocketImpl(this, p, family, allow)
    this.udpPorts.set(p, s)
    return s
  }

  ping(address: string, opts?: { timeoutMs?: number; size?: number }): Promise<number> {
    const dst = parseIp(address)
    if (!dst) return Promise.reject(new BurrowError(ErrorCode.ENOTFOUND, `ping: not an IP address: ${address}`))
    if (this.closed) return Promise.reject(new BurrowError(ErrorCode.ECLOSED, 'netstack is closed'))
    const fam = dst.length === 4 ? 4 : 6
    const src = this.srcFor(fam)
    if (!src) return Promise.reject(new BurrowError(ErrorCode.ENETUNREACH, `ping: no IPv${fam} address on this tunnel`))
    const size = Math.max(0, Math.min(opts?.size ?? ECHO_DEFAULT_SIZE, 65000))
    const { seq, promise } = this.pinger.start(fam, dst, opts?.timeoutMs ?? 5000)
    const data = new Uint8Array(size)
    for (let i = 0; i < size; i++) data[i] = (i + 8) & 0xff
    const type = fam === 4 ? Icmpv4Type.EchoRequest : Icmpv6Type.EchoRequest
    this.sendIcmp(src, dst, { type, code: 0, ident: this.pinger.ident, seq, data })
    if (this.closed) this.pinger.abort(seq, new BurrowError(ErrorCode.ECLOSED, 'netstack is closed'))
    return promise
  }

  // ── TCP ──────────────────────────────────────────────────────────────────────────────

  private releaseTcp(tuple: FourTuple): void {
    const key = keyOfTuple(tuple)
    const ep = this.conns.get(key)
    if (!ep || ep.tuple !== tuple) return
    this.conns.delete(key)
    this.drainWaiters.delete(ep)
    this.tcpPorts.drop(tuple.localPort)
  }

  private acceptTcp(l: ListenerEntry, src: Uint8Array, dst: Uint8Array, syn: TcpSegment): void {
    const tuple = makeTuple(dst, syn.dstPort, src, syn.srcPort)
    const key = keyOfTuple(tuple)
    this.tcpPorts.hold(tuple.localPort)
    l.pending++
    const { endpoint, established } = TcpEndpoint.accept(this.tcpHost, tuple, syn, this.tuning)
    this.conns.set(key, endpoint)
    if (this.linkBlocked) this.drainWaiters.add(endpoint)
    established.then(
      () => {
        l.pending--
        if (l.closed) endpoint.destroy(new BurrowError(ErrorCode.ECONNRESET, 'listener closed'))
        else l.onConnection(endpoint)
      },
      () => {
        l.pending--
        this.counters.inc('tcp.accept_failed')
      },
    )
  }

  listenTcp(opts: ListenTcpOptions, onConnection: (c: TcpConn) => void): TcpListener {
    if (this.closed) throw new BurrowError(ErrorCode.ECLOSED, 'netstack is closed')
    const port = opts.port
    if (!(port > 0 && port <= 0xffff) || this.listeners.has(port)) throw new BurrowError(ErrorCode.EADDRINUSE, `TCP port ${port} is in use`)
    const entry: ListenerEntry = { port, allow: opts.allow, backlog: opts.backlog ?? 128, pending: 0, onConnection, closed: false }
    this.listeners.set(port, entry)
    this.tcpPorts.hold(port)
    return {
      port,
      close: () => {
        if (entry.closed) return
        entry.closed = true
        if (this.listeners.get(port) === entry) this.listeners.delete(port)
        this.tcpPorts.drop(port)
      },
    }
  }

  async connectTcp(opts: TcpConnectOptions): Promise<TcpConn> {
    if (this.closed) throw new BurrowError(ErrorCode.ECLOSED, 'netstack is closed')
    const dst = parseIp(opts.host)
    if (!dst) throw new BurrowError(ErrorCode.ENOTFOUND, `connect: not an IP address: ${opts.host} (resolve names first)`)
    if (!(opts.port > 0 && opts.port <= 0xffff)) throw new BurrowError(ErrorCode.ECONNREFUSED, `connect: bad port ${opts.port}`)
    const fam = dst.length === 4 ? 4 : 6
    const src = this.srcFor(fam)
    if (!src) throw new BurrowError(ErrorCode.ENETUNREACH, `connect: no IPv${fam} address on this tunnel`)
    if (opts.signal?.aborted) throw new BurrowError(ErrorCode.EABORTED, 'connect aborted')
    let lport = opts.localPort ?? 0
    if (lport === 0) {
      lport = pickEphemeralPort((p) => this.tcpPorts.has(p), this.random)
      if (lport === 0) throw new BurrowError(ErrorCode.EADDRINUSE, 'no free TCP port')
    }
    const tuple = makeTuple(src, lport, dst, opts.port)
    const key = keyOfTuple(tuple)
    if (this.conns.has(key)) throw new BurrowError(ErrorCode.EADDRINUSE, `connect: ${tuple.localAddress}:${lport} → ${opts.host}:${opts.port} exists`)
    this.tcpPorts.hold(lport)
    // The map entry must exist before the SYN leaves (a fast link may answer at once), so the
    // endpoint is created first and registered before any segment can come back: Link.rx is
    // asynchronous with respect to send(), per the Link contract.
    const { endpoint, established } = TcpEndpoint.connect(this.tcpHost, tuple, this.tuning)
    if (endpoint.state === TcpState.CLOSED) {
      // failed synchronously (e.g. stack closing): release() already ran before registration
      this.tcpPorts.drop(lport)
      await established
      return endpoint
    }
    this.conns.set(key, endpoint)
    if (this.linkBlocked) this.drainWaiters.add(endpoint) // its SYN may have been refused
    const timeoutMs = opts.timeoutMs ?? 20_000
    const cancelTimer = this.clock.schedule(this.clock.now() + timeoutMs, () => {
      endpoint.destroy(new BurrowError(ErrorCode.ETIMEDOUT, `connect to ${opts.host}:${opts.port} timed out after ${timeoutMs} ms`))
    })
    const onAbort = () => endpoint.destroy(new BurrowError(ErrorCode.EABORTED, 'connect aborted'))
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await established
    } finally {
      cancelTimer()
      opts.signal?.removeEventListener('abort', onAbort)
    }
    return endpoint
  }

  /** Diagnostics: open TCP endpoints. */
  get tcpConnections(): number {
    return this.conns.size
  }

  close(): void {
    if (this.closed) return
    const err = new BurrowError(ErrorCode.ECLOSED, 'netstack closed')
    for (const ep of [...this.conns.values()]) ep.destroy(err)
    this.closed = true
    this.conns.clear()
    this.tcpPorts.clear()
    for (const l of this.listeners.values()) l.closed = true
    this.listeners.clear()
    for (const s of [...this.udpPorts.values()]) s.close()
    this.udpPorts.clear()
    this.drainWaiters.clear()
    this.pinger.closeAll(err)
    this.reasm.clear()
    this.pmtu.clear()
    this.logger.debug('netstack closed')
  }
}
