// What the stub resolver (resolver.ts) makes of a DNS response: whether it answers the question
// it sent (RFC 5452 §9.1: ID, question name, type and class must match) and what it says — the
// addresses at the end of a CNAME chain inside the answer section (RFC 1034 §3.6.2), NXDOMAIN or
// NODATA with the negative-caching TTL of the authority SOA (RFC 2308 §5), truncation (retry over
// TCP, RFC 7766 §5), FORMERR (a server without EDNS0, RFC 6891 §7) or another RCODE as failure.
import type { Counters } from '../../core/counters.js'
import { DnsClass, DnsRcode, DnsType, namesEqual, parseDnsMessage, type DnsMessage } from './message.js'

export type Outcome =
  | { kind: 'answer'; addrs: string[]; ttlSec: number }
  | { kind: 'nxdomain'; ttlSec: number | undefined }
  | { kind: 'nodata'; ttlSec: number | undefined }
  | { kind: 'fail'; timeout: boolean; reason: string }

/** 'moved': the server list was replaced while this try waited (setServers): start over. */
export type TryResult = Outcome | { kind: 'truncated' } | { kind: 'formerr' } | { kind: 'moved' }

const MAX_CNAME_HOPS = 16

export function rcodeName(rc: number): string {
  for (const [k, v] of Object.entries(DnsRcode)) if (v === rc) return k
  return `RCODE${rc}`
}

/** Parse and check a response against what was asked; null (and counted) when it is not ours. */
export function matchResponse(data: Uint8Array, id: number, qname: string, type: number, counters: Counters): DnsMessage | null {
  const m = parseDnsMessage(data)
  if (!m) {
    counters.inc('dns.malformed')
    return null
  }
  if (!m.qr || m.opcode !== 0 || m.id !== id) {
    counters.inc('dns.id_mismatch')
    return null
  }
  const q = m.questions
  if (q.length !== 1 || q[0].type !== type || q[0].class !== DnsClass.IN || !namesEqual(q[0].name, qname)) {
    // FORMERR answers may legitimately omit the question
    if (!(m.rcode === DnsRcode.FORMERR && q.length === 0)) {
      counters.inc('dns.question_mismatch')
      return null
    }
  }
  return m
}

/** What a matching response says about (qname, type); `udp`: a truncated one means "ask over TCP". */
export function classifyResponse(m: DnsMessage, qname: string, type: number, udp: boolean): TryResult {
  if (udp && m.tc) return { kind: 'truncated' }
  switch (m.rcode) {
    case DnsRcode.NOERROR:
      break
    case DnsRcode.NXDOMAIN:
      return { kind: 'nxdomain', ttlSec: negativeTtl(m) }
    case DnsRcode.FORMERR:
      return { kind: 'formerr' }
    default:
      return { kind: 'fail', timeout: false, reason: rcodeName(m.rcode) }
  }
  let cur = qname
  let ttl = Infinity
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const addrs: string[] = []
    for (const r of m.answers) {
      if (r.type === type && r.class === DnsClass.IN && r.address && namesEqual(r.name, cur)) {
        addrs.push(r.address)
        ttl = Math.min(ttl, r.ttl)
      }
    }
    if (addrs.length) return { kind: 'answer', addrs, ttlSec: ttl }
    const c = m.answers.find((r) => r.type === DnsType.CNAME && r.target !== undefined && namesEqual(r.name, cur))
    if (!c) break
    ttl = Math.min(ttl, c.ttl)
    cur = c.target!
  }
  return { kind: 'nodata', ttlSec: negativeTtl(m) }
}

/** RFC 2308 §5: the negative TTL is min(SOA TTL, SOA MINIMUM) of the authority-section SOA. */
function negativeTtl(m: DnsMessage): number | undefined {
  for (const r of m.authority) {
    if (r.type === DnsType.SOA && r.soaMinimum !== undefined) return Math.min(r.ttl, r.soaMinimum)
  }
  return undefined
}
