// IP fragment reassembly: IPv4 (RFC 791 §3.2, RFC 815) and IPv6 (RFC 8200 §4.5). Datagrams are
// keyed by (src, dst, protocol / next header, ident), expire after a timeout (default 30 s,
// RFC 8200 §4.5 uses 60 s as an upper bound), and are bounded in size (≤ 65535) and in total
// memory. Overlapping fragments discard the whole datagram (RFC 5722 for IPv6; the same policy
// for IPv4 closes the overlap-based evasion attacks); exact duplicates are ignored. A completed
// datagram is returned as a fresh unfragmented packet (a new fixed header + the data), which the
// caller parses again as if it had arrived whole.
import type { Clock } from '../../core/clock.js'
import type { Counters } from '../../core/counters.js'
import { emitIpv4Header, IPV4_HEADER_LEN, type Ipv4Repr } from '../wire/ipv4.js'
import { emitIpv6Header, IPV6_HEADER_LEN, type Ipv6Repr } from '../wire/ipv6.js'

export interface ReassemblyOptions {
  clock: Clock
  counters?: Counters
  /** Per-datagram lifetime (default 30_000 ms). */
  timeoutMs?: number
  /** Bytes held across all pending datagrams (default 4 MiB); oldest evicted first. */
  maxBytes?: number
  /** Pending datagrams (default 1024); oldest evicted first. */
  maxDatagrams?: number
}

interface Piece {
  start: number
  end: number
  data: Uint8Array
}

interface Pending {
  key: string
  family: 4 | 6
  pieces: Piece[]
  /** Bytes held. */
  bytes: number
  /** End of data from the last fragment (more=0), -1 until seen. */
  total: number
  /** Header fields for the rebuilt packet (copied). */
  src: Uint8Array
  dst: Uint8Array
  proto: number
  ttl: number
  tos: number
  ident: number
  flowLabel: number
  /** After an overlap: swallow the remaining fragments until expiry. */
  dead: boolean
  cancel: () => void
}

const MAX_IPV4_DATA = 65535 - IPV4_HEADER_LEN
const MAX_IPV6_DATA = 65535

function keyOf(family: number, src: Uint8Array, dst: Uint8Array, proto: number, ident: number): string {
  let k = `${family}|${proto}|${ident}|`
  for (let i = 0; i < src.length; i++) k += String.fromCharCode(src[i], dst[i])
  return k
}

export class Reassembler {
  private readonly clock: Clock
  private readonly counters: Counters | undefined
  private readonly timeoutMs: number
  private readonly maxBytes: number
  private readonly maxDatagrams: number
  private readonly pending = new Map<string, Pending>()
  private bytes = 0

  constructor(opts: ReassemblyOptions) {
    this.clock = opts.clock
    this.counters = opts.counters
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.maxBytes = opts.maxBytes ?? 4 * 1024 * 1024
    this.maxDatagrams = opts.maxDatagrams ?? 1024
  }

  /** Bytes currently held. */
  get heldBytes(): number {
    return this.bytes
  }
  /** Datagrams currently pending. */
  get size(): number {
    return this.pending.size
  }

  /**
   * Add an IPv4 fragment (repr.moreFrags or repr.fragOffset > 0) whose bytes are in buf. Returns
   * the reassembled packet (20-byte header + data) when complete, else null.
   */
  input4(r: Ipv4Repr, buf: Uint8Array): Uint8Array | null {
    const data = buf.subarray(r.payloadOffset, r.payloadOffset + r.payloadLen)
    const p = this.add(4, r.src, r.dst, r.protocol, r.ident, r.fragOffset, r.moreFrags, data, MAX_IPV4_DATA, r.ttl, r.tos, 0)
    if (!p) return null
    const out = new Uint8Array(IPV4_HEADER_LEN + p.total)
    emitIpv4Header({ src: p.src, dst: p.dst, protocol: p.proto, payloadLen: p.total, ttl: p.ttl, tos: p.tos, ident: p.ident }, out, 0)
    for (const piece of p.pieces) out.set(piece.data, IPV4_HEADER_LEN + piece.start)
    return out
  }

  /**
   * Add an IPv6 fragment (repr.fragment set) whose bytes are in buf. Returns the reassembled packet
   * (40-byte header whose next header is the fragment header's + data) when complete, else null.
   * The unfragmentable extension headers of the first fragment are not reproduced.
   */
  input6(r: Ipv6Repr, buf: Uint8Array): Uint8Array | null {
    const f = r.fragment
    if (!f) return null
    const data = buf.subarray(r.payloadOffset, r.payloadOffset + r.payloadLen)
    const p = this.add(6, r.src, r.dst, r.nextHeader, f.ident, f.offset, f.more, data, MAX_IPV6_DATA, r.hopLimit, r.trafficClass, r.flowLabel)
    if (!p) return null
    const out = new Uint8Array(IPV6_HEADER_LEN + p.total)
    emitIpv6Header(
      { src: p.src, dst: p.dst, nextHeader: p.proto, payloadLen: p.total, hopLimit: p.ttl, trafficClass: p.tos, flowLabel: p.flowLabel },
      out,
      0,
    )
    for (const piece of p.pieces) out.set(piece.data, IPV6_HEADER_LEN + piece.start)
    return out
  }

  /** Forget everything and cancel timers. */
  clear(): void {
    for (const p of this.pending.values()) p.cancel()
    this.pending.clear()
    this.bytes = 0
  }

  private drop(p: Pending, reason: string): void {
    if (this.pending.get(p.key) === p) this.pending.delete(p.key)
    this.bytes -= p.bytes
    p.bytes = 0
    p.pieces = []
    p.cancel()
    this.counters?.inc(reason)
  }

  private add(
    family: 4 | 6,
    src: Uint8Array,
    dst: Uint8Array,
    proto: number,
    ident: number,
    start: number,
    more: boolean,
    data: Uint8Array,
    maxData: number,
    ttl: number,
    tos: number,
    flowLabel: number,
  ): Pending | null {
    const c = this.counters
    const fam = family === 4 ? 'ipv4' : 'ipv6'
    const end = start + data.length
    if (end > maxData) {
      c?.inc(`${fam}.frag_too_big`)
      return null
    }
    if (more && (data.length === 0 || (data.length & 7) !== 0)) {
      c?.inc(`${fam}.frag_bad_length`) // only the last fragment may be a non-multiple of 8
      return null
    }
    const key = keyOf(family, src, dst, proto, ident)
    let p = this.pending.get(key)
    if (!p) {
      while (this.pending.size >= this.maxDatagrams) this.evictOldest()
      const created: Pending = {
        key,
        family,
        pieces: [],
        bytes: 0,
        total: -1,
        src: src.slice(),
        dst: dst.slice(),
        proto,
        ttl,
        tos,
        ident,
        flowLabel,
        dead: false,
        cancel: () => {},
      }
      created.cancel = this.clock.schedule(this.clock.now() + this.timeoutMs, () => {
        if (this.pending.get(key) === created) this.drop(created, `${fam}.frag_timeout`)
      })
      this.pending.set(key, created)
      p = created
    }
    if (p.dead) {
      c?.inc(`${fam}.frag_overlap`)
      return null
    }
    if (!more) {
      if ((p.total !== -1 && p.total !== end) || (p.pieces.length && p.pieces[p.pieces.length - 1].end > end)) {
        this.kill(p, fam)
        return null
      }
      p.total = end
    } else if (p.total !== -1 && end > p.total) {
      this.kill(p, fam)
      return null
    }
    // insert sorted by start; detect overlap
    const pieces = p.pieces
    let i = pieces.length
    while (i > 0 && pieces[i - 1].start > start) i--
    const prev = i > 0 ? pieces[i - 1] : undefined
    const next = i < pieces.length ? pieces[i] : undefined
    if (prev && prev.start === start && prev.end === end) {
      c?.inc(`${fam}.frag_duplicate`)
      return null
    }
    if ((prev && prev.end > start) || (next && next.start < end)) {
      this.kill(p, fam)
      return null
    }
    if (data.length > 0) {
      while (this.bytes + data.length > this.maxBytes && this.pending.size > 0) {
        const oldest = this.pending.values().next().value as Pending
        if (oldest === p) break
        this.drop(oldest, `${fam}.frag_mem_evicted`)
      }
      if (this.bytes + data.length > this.maxBytes) {
        this.drop(p, `${fam}.frag_mem_evicted`)
        return null
      }
      pieces.splice(i, 0, { start, end, data: data.slice() })
      p.bytes += data.length
      this.bytes += data.length
    }
    if (p.total === -1) return null
    // complete when the pieces cover [0, total) contiguously
    let at = 0
    for (const piece of pieces) {
      if (piece.start !== at) return null
      at = piece.end
    }
    if (at !== p.total) return null
    this.pending.delete(key)
    this.bytes -= p.bytes
    p.cancel()
    c?.inc(`${fam}.reassembled`)
    return p
  }

  private kill(p: Pending, fam: string): void {
    // Keep a tombstone until the timer fires so later fragments of the same datagram are dropped too.
    this.bytes -= p.bytes
    p.bytes = 0
    p.pieces = []
    p.dead = true
    this.counters?.inc(`${fam}.frag_overlap`)
  }

  private evictOldest(): void {
    const oldest = this.pending.values().next().value as Pending | undefined
    if (oldest) this.drop(oldest, `${oldest.family === 4 ? 'ipv4' : 'ipv6'}.frag_mem_evicted`)
  }
}
