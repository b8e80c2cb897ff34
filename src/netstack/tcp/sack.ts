// SACK block generation for the receive side (RFC 2018 §4): the first block covers the most
// recently received out-of-order segment, the following ones repeat the most recently reported
// blocks; blocks always describe what the reassembly buffer really holds.
import type { Reassembly } from './reassembly.js'

export class SackGenerator {
  /** Sequence numbers inside recently received out-of-order segments, newest first. */
  private recent: number[] = []

  /** Note an out-of-order arrival covering seq. */
  noteArrival(seq: number): void {
    const r = this.recent
    const i = r.indexOf(seq)
    if (i >= 0) r.splice(i, 1)
    r.unshift(seq)
    if (r.length > 8) r.length = 8
  }

  reset(): void {
    this.recent.length = 0
  }

  /** Up to `max` blocks [left, right) for the next outgoing segment. */
  blocks(ooo: Reassembly, max: number): Array<[number, number]> | undefined {
    if (ooo.empty || max <= 0) {
      if (this.recent.length) this.recent.length = 0
      return undefined
    }
    const out: Array<[number, number]> = []
    const kept: number[] = []
    for (const s of this.recent) {
      const rg = ooo.find(s)
      if (!rg) continue
      let dup = false
      for (const b of out) if (b[0] === rg.start) dup = true
      if (dup) continue
      kept.push(s)
      if (out.length < max) out.push([rg.start, rg.end])
    }
    this.recent = kept
    // fill remaining slots with the lowest ranges not yet reported
    for (let i = 0; out.length < max && i < ooo.ranges.length; i++) {
      const rg = ooo.ranges[i]
      let dup = false
      for (const b of out) if (b[0] === rg.start) dup = true
      if (!dup) out.push([rg.start, rg.end])
    }
    return out
  }
}
