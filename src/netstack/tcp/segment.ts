// Segment helpers: flag tests, segment length (RFC 9293 §3.4 SEG.LEN counts SYN and FIN), and
// reset generation for segments that match no connection (RFC 9293 §3.10.7.1 "If the state is
// CLOSED": RST with seq = SEG.ACK if ACK set, else seq 0 and ACK = SEG.SEQ + SEG.LEN).
import { TcpFlag, type TcpSegment } from './types.js'
import { seqAdd } from './seq.js'

const EMPTY = new Uint8Array(0)
export const EMPTY_PAYLOAD = EMPTY

export function has(seg: TcpSegment, f: number): boolean {
  return (seg.flags & f) !== 0
}

/** SEG.LEN: payload plus one for each of SYN and FIN. */
export function segLen(seg: TcpSegment): number {
  return seg.payload.length + (seg.flags & TcpFlag.SYN ? 1 : 0) + (seg.flags & TcpFlag.FIN ? 1 : 0)
}

/** Reset for a segment that matches no endpoint (or is refused), or null if none is due (incoming RST). */
export function rstForUnmatched(seg: TcpSegment): TcpSegment | null {
  if (seg.flags & TcpFlag.RST) return null
  const base = { srcPort: seg.dstPort, dstPort: seg.srcPort, window: 0, urgent: 0, options: {}, payload: EMPTY }
  if (seg.flags & TcpFlag.ACK) return { ...base, seq: seg.ack, ack: 0, flags: TcpFlag.RST }
  return { ...base, seq: 0, ack: seqAdd(seg.seq, segLen(seg)), flags: TcpFlag.RST | TcpFlag.ACK }
}

/** Compact flag string for logs and tests: "SA", "A", "FA", "R", "PA"… (order S F R P A). */
export function flagString(flags: number): string {
  let s = ''
  if (flags & TcpFlag.SYN) s += 'S'
  if (flags & TcpFlag.FIN) s += 'F'
  if (flags & TcpFlag.RST) s += 'R'
  if (flags & TcpFlag.PSH) s += 'P'
  if (flags & TcpFlag.ACK) s += 'A'
  return s
}

export function parseFlags(s: string): number {
  let f = 0
  for (const ch of s) {
    switch (ch) {
      case 'S':
        f |= TcpFlag.SYN
        break
      case 'F':
        f |= TcpFlag.FIN
        break
      case 'R':
        f |= TcpFlag.RST
        break
      case 'P':
        f |= TcpFlag.PSH
        break
      case 'A':
        f |= TcpFlag.ACK
        break
      case 'U':
        f |= TcpFlag.URG
        break
      default:
        throw new Error(`bad flag ${ch}`)
    }
  }
  return f
}
