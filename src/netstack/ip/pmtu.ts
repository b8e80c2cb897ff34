// Path MTU cache (RFC 1191 §6.3 for IPv4, RFC 8201 §4-5 for IPv6): the smallest MTU learned from
// fragmentation-needed / packet-too-big per destination, forgotten after 10 minutes so a path
// that grew again is rediscovered. Bounded in size (oldest entry evicted).
import type { Clock } from '../../core/clock.js'

export const PMTU_EXPIRE_MS = 600_000
const PMTU_CACHE_MAX = 1024

export class PmtuCache {
  private readonly map = new Map<string, { mtu: number; expires: number }>()
  constructor(private readonly clock: Clock) {}

  /** Record mtu for dst if it is below `linkMtu` and below what we knew; true when it changed. */
  learn(dst: Uint8Array, mtu: number, linkMtu: number): boolean {
    if (mtu >= linkMtu) return false
    const key = String.fromCharCode(...dst)
    const now = this.clock.now()
    const old = this.map.get(key)
    if (old && old.mtu <= mtu && old.expires > now) return false
    this.map.delete(key)
    if (this.map.size >= PMTU_CACHE_MAX) this.map.delete(this.map.keys().next().value as string)
    this.map.set(key, { mtu, expires: now + PMTU_EXPIRE_MS })
    return true
  }

  /** Largest packet towards dst: linkMtu or a smaller, unexpired learned value. */
  mtuTo(dst: Uint8Array, linkMtu: number): number {
    if (this.map.size === 0) return linkMtu
    const key = String.fromCharCode(...dst)
    const e = this.map.get(key)
    if (!e) return linkMtu
    if (e.expires <= this.clock.now()) {
      this.map.delete(key)
      return linkMtu
    }
    return Math.min(e.mtu, linkMtu)
  }

  clear(): void {
    this.map.clear()
  }
}
