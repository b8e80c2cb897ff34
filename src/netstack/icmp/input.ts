// ICMP (RFC 792) and ICMPv6 (RFC 4443) arriving at the stack: echo requests answered (RFC 1122
// §3.2.2.6), echo replies and errors about our pings handed to the Pinger, and errors about our
// own TCP and UDP traffic routed to the connection or socket they concern (RFC 1122 §4.2.3.9,
// §4.1.3.3; RFC 5927 for what TCP does with them), with the path MTU learned from "fragmentation
// needed" / "packet too big" (RFC 1191, RFC 8201). Errors quoting a packet we did not send are
// counted and dropped.
import { BurrowError } from '../../core/errors.js'
import type { Counters } from '../../core/counters.js'
import { formatIp } from '../addr.js'
import { tupleKey } from '../ip/demux.js'
import { MIN_MTU_V4, MIN_MTU_V6 } from '../ip/output.js'
import type { TcpEndpoint } from '../tcp/endpoint.js'
import type { UdpSocketImpl } from '../udp/socket.js'
import { pseudoHeaderSum } from '../wire/checksum.js'
import { Icmpv4Type, Icmpv6Type, parseIcmpv4, parseIcmpv6, type IcmpRepr } from '../wire/icmp.js'
import { IpProto } from '../wire/ipv4.js'
import { classifyIcmpError, parseQuoted, type IcmpErrorInfo } from './errors.js'
import type { Pinger } from './ping.js'

/** What arriving ICMP needs of the stack. */
export interface IcmpInputHost {
  readonly counters: Counters
  readonly pinger: Pinger
  isLocal(addr: Uint8Array): boolean
  sendIcmp(src: Uint8Array, dst: Uint8Array, m: IcmpRepr): boolean
  /** Record a smaller path MTU towards dst; true when it was news. */
  learnPmtu(dst: Uint8Array, mtu: number): boolean
  tcpEndpoint(key: string): TcpEndpoint | undefined
  udpSocket(port: number): UdpSocketImpl | undefined
}

/** Per family: echo message types and counter names. */
const ECHO = {
  4: { request: Icmpv4Type.EchoRequest, reply: Icmpv4Type.EchoReply, counter: { request: 'icmp4.echo_request', unmatched: 'icmp4.unmatched_reply', ignored: 'icmp4.ignored' } },
  6: { request: Icmpv6Type.EchoRequest, reply: Icmpv6Type.EchoReply, counter: { request: 'icmp6.echo_request', unmatched: 'icmp6.unmatched_reply', ignored: 'icmp6.ignored' } },
} as const

/** An ICMP (family 4) or ICMPv6 (family 6) message addressed to us. */
export function rxIcmp(h: IcmpInputHost, family: 4 | 6, src: Uint8Array, dst: Uint8Array, pkt: Uint8Array, off: number, len: number): void {
  const m = family === 4 ? parseIcmpv4(pkt, off, len, h.counters) : parseIcmpv6(pkt, off, len, pseudoHeaderSum(src, dst, IpProto.IPV6_ICMP, len), h.counters)
  if (!m) return
  const e = ECHO[family]
  if (m.type === e.request) {
    h.counters.inc(e.counter.request)
    h.sendIcmp(dst, src, { type: e.reply, code: 0, ident: m.ident, seq: m.seq, data: m.data })
  } else if (m.type === e.reply) {
    if (!h.pinger.reply(family, src, m.ident!, m.seq!)) h.counters.inc(e.counter.unmatched)
  } else {
    const info = classifyIcmpError(family, m)
    if (info) icmpError(h, info, m.invoking!)
    else h.counters.inc(e.counter.ignored) // ICMPv6: neighbour discovery, MLD, … (none needed on a tunnel)
  }
}

/** Route an ICMP error to the TCP connection, UDP socket or ping it concerns. */
function icmpError(h: IcmpInputHost, info: IcmpErrorInfo, invoking: Uint8Array): void {
  const q = parseQuoted(invoking)
  if (!q || !h.isLocal(q.src)) {
    h.counters.inc('icmp.bad_quote')
    return
  }
  const fam = q.family
  if (info.mtu !== undefined) {
    info.mtu = Math.max(info.mtu, fam === 4 ? MIN_MTU_V4 : MIN_MTU_V6)
    if (h.learnPmtu(q.dst, info.mtu)) h.counters.inc('ip.pmtu_learned')
  }
  if (q.proto === IpProto.TCP) {
    const ep = h.tcpEndpoint(tupleKey(q.src, q.srcPort, q.dst, q.dstPort))
    if (!ep) {
      h.counters.inc('icmp.tcp_no_socket')
      return
    }
    h.counters.inc('icmp.tcp_error')
    const err = new BurrowError(info.code, `${info.message} from ${formatIp(q.dst)}:${q.dstPort}`)
    ep.icmpError(err, info.mtu !== undefined ? 'frag-needed' : 'unreachable', info.mtu)
  } else if (q.proto === IpProto.UDP) {
    if (info.mtu !== undefined) return // datagrams to that destination are now fragmented smaller
    const sock = h.udpSocket(q.srcPort)
    if (!sock) {
      h.counters.inc('icmp.udp_no_socket')
      return
    }
    sock.deliverError(info.code, info.message, { address: formatIp(q.dst), port: q.dstPort })
  } else if (q.echoIdent !== undefined) {
    if (!h.pinger.error(q.echoIdent, q.echoSeq!, info.code, info.message)) h.counters.inc('icmp.echo_error_unmatched')
  } else {
    h.counters.inc('icmp.error_ignored')
  }
}
