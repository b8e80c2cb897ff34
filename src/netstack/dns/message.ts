// DNS message codec for the stub resolver: RFC 1035 §4.1 (header, question, resource records),
// §4.1.4 (name compression, decoded with loop protection), RFC 3596 (AAAA), RFC 2308 §5 (the SOA
// in the authority section gives the negative-caching TTL), RFC 6891 §6 (EDNS0 OPT pseudo-RR in
// queries). Decoding takes hostile input: every malformed message yields null, nothing throws.
import { readU16, readU32, writeU16, writeU32 } from '../../core/bytes.js'
import { formatIp } from '../addr.js'

export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  ANY: 255,
} as const
export type DnsType = (typeof DnsType)[keyof typeof DnsType]

export const DnsClass = { IN: 1 } as const
export type DnsClass = (typeof DnsClass)[keyof typeof DnsClass]

export const DnsRcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const
export type DnsRcode = (typeof DnsRcode)[keyof typeof DnsRcode]

export const DNS_HEADER_LEN = 12
/** Largest encoded name (RFC 1035 §2.3.4). */
export const DNS_MAX_NAME = 255
const MAX_LABEL = 63

export interface DnsQuestion {
  /** Presentation form without the trailing dot ("" for the root); see decodeName. */
  name: string
  type: number
  class: number
}

export interface DnsRecord {
  name: string
  type: number
  class: number
  ttl: number
  /** RDATA view into the message. */
  data: Uint8Array
  /** A / AAAA: the address as text. */
  address?: string
  /** CNAME (and NS, PTR): the decoded target name. */
  target?: string
  /** SOA: the MINIMUM field (RFC 2308 negative TTL). */
  soaMinimum?: number
}

export interface DnsMessage {
  id: number
  /** Response flag. */
  qr: boolean
  opcode: number
  aa: boolean
  /** Truncated: the answer did not fit (retry over TCP). */
  tc: boolean
  rd: boolean
  ra: boolean
  rcode: number
  questions: DnsQuestion[]
  answers: DnsRecord[]
  authority: DnsRecord[]
  /** Count of additional records (skipped, but validated). */
  additionalCount: number
}

/**
 * Decode a (possibly compressed) name at `off`. Returns the name and the offset just after it in
 * the original position, or null. Compression pointers must point strictly backwards from the
 * label that holds them, which rules out loops; the decoded name is limited to 255 octets.
 * Label bytes outside printable ASCII, '.', and '\' are escaped (\DDD / \. / \\) as in master
 * files (RFC 1035 §5.1) so that distinct wire names never map to the same string.
 */
export function decodeName(buf: Uint8Array, off: number, end: number): { name: string; next: number } | null {
  let pos = off
  let next = -1
  let wireLen = 1 // the final root label
  let name = ''
  let limit = off // pointers must land before the current label start
  for (let hops = 0; hops < 128; hops++) {
    if (pos >= end) return null
    const len = buf[pos]
    if (len === 0) {
      if (next === -1) next = pos + 1
      return { name, next }
    }
    const kind = len & 0xc0
    if (kind === 0xc0) {
      if (pos + 1 >= end) return null
      const ptr = ((len & 0x3f) << 8) | buf[pos + 1]
      if (next === -1) next = pos + 2
      if (ptr >= limit) return null
      pos = ptr
      limit = ptr
      continue
    }
    if (kind !== 0) return null // 0x40 / 0x80: extended label types (RFC 6891 §5) unsupported
    if (pos + 1 + len > end) return null
    wireLen += len + 1
    if (wireLen > DNS_MAX_NAME) return null
    if (name.length) name += '.'
    for (let i = pos + 1; i <= pos + len; i++) {
      const c = buf[i]
      if (c === 0x2e || c === 0x5c) name += '\\' + String.fromCharCode(c)
      else if (c > 0x20 && c < 0x7f) name += String.fromCharCode(c)
      else name += '\\' + c.toString().padStart(3, '0')
    }
    pos += 1 + len
    limit = Math.min(limit, pos)
  }
  return null
}

/**
 * Encode a name in wire form (no compression) into buf at off; returns the new offset or -1 when
 * the name is not a valid host name for the wire (empty label, label > 63, name > 255 octets,
 * non-ASCII). A trailing dot is accepted. `\.`, `\\` and `\DDD` escapes are honoured.
 */
export function encodeName(name: string, buf: Uint8Array, off: number): number {
  const labels: number[][] = []
  let cur: number[] = []
  const n = name === '.' ? 0 : name.length
  let i = 0
  while (i < n) {
    const ch = name.charCodeAt(i)
    if (ch === 0x2e) {
      if (cur.length === 0) return -1 // empty label ("a..b", ".a")
      labels.push(cur)
      cur = []
      i++
      continue
    }
    let byte: number
    if (ch === 0x5c) {
      const d = name.slice(i + 1, i + 4)
      if (/^[0-9]{3}$/.test(d)) {
        byte = Number(d)
        if (byte > 255) return -1
        i += 4
      } else if (i + 1 < n) {
        byte = name.charCodeAt(i + 1)
        i += 2
      } else return -1
    } else {
      if (ch > 0x7e || ch < 0x20) return -1 // raw non-ASCII/control: must be escaped (or punycoded)
      byte = ch
      i++
    }
    cur.push(byte)
    if (cur.length > MAX_LABEL) return -1
  }
  if (cur.length) labels.push(cur)
  let wire = 1
  for (const l of labels) wire += l.length + 1
  if (wire > DNS_MAX_NAME || off + wire > buf.length) return -1
  let p = off
  for (const l of labels) {
    buf[p++] = l.length
    for (const b of l) buf[p++] = b
  }
  buf[p++] = 0
  return p
}

export interface QueryOptions {
  /** Recursion desired (default true). */
  rd?: boolean
  /** Advertise this EDNS0 UDP payload size (RFC 6891); 0/undefined = no OPT record. */
  ednsUdpSize?: number
}

/** Build a standard query for one question. Null when the name cannot be encoded. */
export function encodeQuery(id: number, name: string, type: number, opts: QueryOptions = {}): Uint8Array | null {
  const buf = new Uint8Array(DNS_HEADER_LEN + DNS_MAX_NAME + 4 + 11)
  writeU16(buf, 0, id & 0xffff)
  buf[2] = opts.rd === false ? 0 : 0x01 // QR=0 OPCODE=0 AA=0 TC=0 RD
  buf[3] = 0
  writeU16(buf, 4, 1) // QDCOUNT
  const edns = opts.ednsUdpSize ?? 0
  writeU16(buf, 10, edns > 0 ? 1 : 0) // ARCOUNT
  let o = encodeName(name, buf, DNS_HEADER_LEN)
  if (o < 0) return null
  writeU16(buf, o, type)
  writeU16(buf, o + 2, DnsClass.IN)
  o += 4
  if (edns > 0) {
    buf[o] = 0 // root owner
    writeU16(buf, o + 1, DnsType.OPT)
    writeU16(buf, o + 3, Math.max(512, Math.min(edns, 0xffff))) // CLASS = UDP payload size
    writeU32(buf, o + 5, 0) // extended RCODE, version 0, flags
    writeU16(buf, o + 9, 0) // RDLENGTH
    o += 11
  }
  return buf.subarray(0, o)
}

function parseRecord(buf: Uint8Array, off: number, end: number): { rec: DnsRecord; next: number } | null {
  const nm = decodeName(buf, off, end)
  if (!nm) return null
  let o = nm.next
  if (o + 10 > end) return null
  const type = readU16(buf, o)
  const cls = readU16(buf, o + 2)
  const ttlRaw = readU32(buf, o + 4)
  const rdlen = readU16(buf, o + 8)
  o += 10
  if (o + rdlen > end) return null
  const data = buf.subarray(o, o + rdlen)
  // RFC 2181 §8: a TTL with the top bit set is treated as zero
  const rec: DnsRecord = { name: nm.name, type, class: cls, ttl: ttlRaw > 0x7fffffff ? 0 : ttlRaw, data }
  if (cls === DnsClass.IN && type === DnsType.A) {
    if (rdlen !== 4) return null
    rec.address = formatIp(data)
  } else if (cls === DnsClass.IN && type === DnsType.AAAA) {
    if (rdlen !== 16) return null
    rec.address = formatIp(data)
  } else if (type === DnsType.CNAME || type === DnsType.NS || type === DnsType.PTR) {
    const t = decodeName(buf, o, o + rdlen)
    if (!t || t.next !== o + rdlen) return null
    rec.target = t.name
  } else if (type === DnsType.SOA) {
    const mname = decodeName(buf, o, o + rdlen)
    if (!mname) return null
    const rname = decodeName(buf, mname.next, o + rdlen)
    if (!rname || rname.next + 20 !== o + rdlen) return null
    rec.soaMinimum = readU32(buf, rname.next + 16)
  }
  return { rec, next: o + rdlen }
}

/** Decode a whole DNS message (UDP payload or TCP frame without its length). Null on any defect. */
export function parseDnsMessage(buf: Uint8Array, off = 0, len = buf.length - off): DnsMessage | null {
  if (off < 0 || len < DNS_HEADER_LEN || off + len > buf.length) return null
  const end = off + len
  // names are decoded relative to the message start: work on a view
  const m = off === 0 && end === buf.length ? buf : buf.subarray(off, end)
  const f1 = m[2]
  const f2 = m[3]
  const qd = readU16(m, 4)
  const an = readU16(m, 6)
  const ns = readU16(m, 8)
  const ar = readU16(m, 10)
  // each question needs ≥ 5 bytes and each record ≥ 11: reject absurd counts before looping
  if (DNS_HEADER_LEN + qd * 5 + (an + ns + ar) * 11 > m.length) return null
  const msg: DnsMessage = {
    id: readU16(m, 0),
    qr: (f1 & 0x80) !== 0,
    opcode: (f1 >> 3) & 0x0f,
    aa: (f1 & 0x04) !== 0,
    tc: (f1 & 0x02) !== 0,
    rd: (f1 & 0x01) !== 0,
    ra: (f2 & 0x80) !== 0,
    rcode: f2 & 0x0f,
    questions: [],
    answers: [],
    authority: [],
    additionalCount: ar,
  }
  let o = DNS_HEADER_LEN
  for (let i = 0; i < qd; i++) {
    const nm = decodeName(m, o, m.length)
    if (!nm || nm.next + 4 > m.length) return null
    msg.questions.push({ name: nm.name, type: readU16(m, nm.next), class: readU16(m, nm.next + 2) })
    o = nm.next + 4
  }
  const sections: Array<[number, DnsRecord[] | null]> = [
    [an, msg.answers],
    [ns, msg.authority],
    [ar, null],
  ]
  for (const [count, into] of sections) {
    for (let i = 0; i < count; i++) {
      const r = parseRecord(m, o, m.length)
      if (!r) return null
      if (into) into.push(r.rec)
      o = r.next
    }
  }
  // trailing garbage is tolerated (some middleboxes pad); everything counted was well formed
  return msg
}

/** Case-insensitive DNS name equality (RFC 4343: ASCII case folding only). */
export function namesEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  return a.toLowerCase() === b.toLowerCase()
}

export interface DnsRecordInput {
  name: string
  type: number
  class?: number
  ttl: number
  data: Uint8Array
}

export interface DnsMessageInput {
  id: number
  qr?: boolean
  opcode?: number
  aa?: boolean
  tc?: boolean
  rd?: boolean
  ra?: boolean
  rcode?: number
  questions?: Array<{ name: string; type: number; class?: number }>
  answers?: DnsRecordInput[]
  authority?: DnsRecordInput[]
}

/**
 * Encode a whole message without compression (responders in tests and simulations; the stub
 * resolver itself only sends queries). Null when a name cannot be encoded or it exceeds 65535.
 */
export function encodeMessage(msg: DnsMessageInput): Uint8Array | null {
  const qs = msg.questions ?? []
  const an = msg.answers ?? []
  const ns = msg.authority ?? []
  let size = DNS_HEADER_LEN + qs.length * (DNS_MAX_NAME + 4)
  for (const r of [...an, ...ns]) size += DNS_MAX_NAME + 10 + r.data.length
  const buf = new Uint8Array(size)
  writeU16(buf, 0, msg.id & 0xffff)
  buf[2] =
    (msg.qr ? 0x80 : 0) | (((msg.opcode ?? 0) & 0x0f) << 3) | (msg.aa ? 0x04 : 0) | (msg.tc ? 0x02 : 0) | (msg.rd === false ? 0 : 0x01)
  buf[3] = (msg.ra ? 0x80 : 0) | ((msg.rcode ?? 0) & 0x0f)
  writeU16(buf, 4, qs.length)
  writeU16(buf, 6, an.length)
  writeU16(buf, 8, ns.length)
  writeU16(buf, 10, 0)
  let o = DNS_HEADER_LEN
  for (const q of qs) {
    o = encodeName(q.name, buf, o)
    if (o < 0) return null
    writeU16(buf, o, q.type)
    writeU16(buf, o + 2, q.class ?? DnsClass.IN)
    o += 4
  }
  for (const r of [...an, ...ns]) {
    o = encodeName(r.name, buf, o)
    if (o < 0 || r.data.length > 0xffff) return null
    writeU16(buf, o, r.type)
    writeU16(buf, o + 2, r.class ?? DnsClass.IN)
    writeU32(buf, o + 4, r.ttl >>> 0)
    writeU16(buf, o + 8, r.data.length)
    buf.set(r.data, o + 10)
    o += 10 + r.data.length
  }
  return o > 0xffff ? null : buf.subarray(0, o)
}

/** RDATA helpers for encodeMessage. */
export function nameRdata(name: string): Uint8Array | null {
  const b = new Uint8Array(DNS_MAX_NAME)
  const o = encodeName(name, b, 0)
  return o < 0 ? null : b.subarray(0, o)
}
