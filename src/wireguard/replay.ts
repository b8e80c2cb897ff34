// Sliding-window replay protection for transport counters (WireGuard paper §5.4.6; the bitmap
// ring of RFC 6479 §2): 2048 bits in 64 words of 32 bits; one word is kept as slack, so the
// window is 2048 − 32 = 2016 counters behind the highest one seen. Call check() only after the
// packet authenticated, so forged packets cannot move the window.
import { REJECT_AFTER_MESSAGES } from './constants.js'

const BITS_PER_WORD = 32
const RING_WORDS = 64
export const REPLAY_WINDOW_SIZE = (RING_WORDS - 1) * BITS_PER_WORD // 2016

export class ReplayFilter {
  private readonly ring = new Uint32Array(RING_WORDS)
  private last = 0
  private any = false

  reset(): void {
    this.ring.fill(0)
    this.last = 0
    this.any = false
  }

  /** True if `counter` is fresh (and records it); false for replays, too-old and out-of-range counters. */
  check(counter: number, limit: number = REJECT_AFTER_MESSAGES): boolean {
    if (!(counter >= 0 && counter < limit) || !Number.isSafeInteger(counter)) return false
    const block = Math.floor(counter / BITS_PER_WORD)
    if (!this.any || counter > this.last) {
      const current = this.any ? Math.floor(this.last / BITS_PER_WORD) : -1
      const diff = Math.min(block - current, RING_WORDS)
      for (let i = 1; i <= diff; i++) this.ring[(current + i) % RING_WORDS] = 0
      this.last = counter
      this.any = true
    } else if (this.last - counter > REPLAY_WINDOW_SIZE) {
      return false
    }
    const w = block % RING_WORDS
    const bit = 1 << (counter % BITS_PER_WORD)
    if (this.ring[w] & bit) return false
    this.ring[w] |= bit
    return true
  }
}
