// Cryptokey routing table (WireGuard paper §2): AllowedIPs map inner addresses to peers by
// longest-prefix match, used both to pick the peer for an outbound packet and to check that an
// inbound packet's inner source belongs to the peer that sent it. A binary trie per address family
// (one node per prefix bit), so lookups cost at most 32/128 steps regardless of table size.
import type { Cidr } from '../tunnel/types.js'
import { parseIp } from '../netstack/addr.js'

interface Node<T> {
  zero?: Node<T>
  one?: Node<T>
  value?: T
}

export class AllowedIps<T> {
  private readonly v4: Node<T> = {}
  private readonly v6: Node<T> = {}

  /** Map a prefix to `value` (replacing a previous owner, as `wg set … allowed-ips` does). */
  insert(cidr: Cidr, value: T): void {
    const addr = parseIp(cidr.address)
    if (!addr) throw new RangeError(`AllowedIps: bad address ${cidr.address}`)
    let n = addr.length === 4 ? this.v4 : this.v6
    const bits = Math.min(cidr.prefix, addr.length * 8)
    for (let i = 0; i < bits; i++) {
      const bit = (addr[i >> 3] >> (7 - (i & 7))) & 1
      n = bit ? (n.one ??= {}) : (n.zero ??= {})
    }
    n.value = value
  }

  /** Longest-prefix match for a 4- or 16-byte address (bytes at buf[off, off+len)). */
  lookup(buf: Uint8Array, off = 0, len = buf.length - off): T | undefined {
    let n: Node<T> | undefined = len === 4 ? this.v4 : len === 16 ? this.v6 : undefined
    let best: T | undefined
    const bits = len * 8
    for (let i = 0; n; i++) {
      if (n.value !== undefined) best = n.value
      if (i === bits) break
      n = (buf[off + (i >> 3)] >> (7 - (i & 7))) & 1 ? n.one : n.zero
    }
    return best
  }

  /** Remove every prefix that maps to `value`. */
  removeValue(value: T): void {
    const walk = (n: Node<T> | undefined): void => {
      if (!n) return
      if (n.value === value) n.value = undefined
      walk(n.zero)
      walk(n.one)
    }
    walk(this.v4)
    walk(this.v6)
  }
}
