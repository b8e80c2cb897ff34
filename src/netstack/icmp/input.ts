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

export function rxIcmp4(h: IcmpInputHost, src: Uint8Array, dst: Uint8Array, pkt: Uint8Array, off: number, len: number): void {
  const m = parseIcmpv4(pkt, off, len, h.counters)
  if (!m) return
  switch (m.type) {
    case Icmpv4Type.EchoRequest:
      h.counters.inc('icmp4.echo_request')
      h.sendIcmp(dst, src, { type: Icmpv4Type.EchoReply, code: 0, ident: m.ident, seq: m.seq, data: m.data })
      return
    case Icmpv4Type.EchoReply:
      if (!h.pinger.reply(4, src, m.ident!, m.seq!)) h.counters.inc('icmp4.unmatched_reply')
      return
    default: {
      const info = classifyIcmpError(4, m)
      if (info) icmpError(h, info, m.invoking!)
      else h.counters.inc('icmp4.ignored')
    }
  }
}

export function rxIcmp6(h: IcmpInputHost, src: Uint8Array, dst: Uint8Array, pkt: Uint8Array, off: number, len: number): void {
  const m = parseIcmpv6(pkt, off, len, pseudoHeaderSum(src, dst, IpProto.IPV6_ICMP, len), h.counters)
  if (!m) return
  switch (m.type) {
    case Icmpv6Type.EchoRequest:
      h.counters.inc('icmp6.echo_request')
      h.sendIcmp(dst, src, { type: Icmpv6Type.EchoReply, code: 0, ident: m.ident, seq: m.seq, data: m.data })
      return
    case Icmpv6Type.EchoReply:
      if (!h.pinger.reply(6, src, m.ident!, m.seq!)) h.counters.inc('icmp6.unmatched_reply')
      return
    default: {
      const info = classifyIcmpError(6, m)
      if (info) icmpError(h, info, m.invoking!)
      else h.counters.inc('icmp6.ignored') // neighbour discovery, MLD, … (none needed on a tunnel)
    }
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
