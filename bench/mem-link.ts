// Bench scaffolding: a lossless in-memory Link pair (src/tunnel/types.ts). Packets sent on one
// end are delivered to the other in batches from setImmediate, so a send never re-enters the
// sender's stack synchronously; send() returns false past a queue limit and onDrain fires after
// the batch is delivered.
import type { Link } from '../src/tunnel/types.js'

const QUEUE_LIMIT = 4096

class MemEnd implements Link {
  readonly headroom = 0
  peer!: MemEnd
  private rx: ((pkt: Uint8Array) => void) | null = null
  private onDrain: (() => void) | null = null
  private queue: Uint8Array[] = []
  private scheduled = false
  private wantDrain = false
  packets = 0
  bytes = 0
  constructor(readonly mtu: number) {}
  attach(rx: (pkt: Uint8Array) => void, onDrain: () => void): void {
    this.rx = rx
    this.onDrain = onDrain
  }
  send(pkt: Uint8Array): boolean {
    this.queue.push(pkt)
    this.packets++
    this.bytes += pkt.length
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
    if (this.queue.length >= QUEUE_LIMIT) {
      this.wantDrain = true
      return false
    }
    return true
  }
  private flush(): void {
    this.scheduled = false
    const q = this.queue
    this.queue = []
    const rx = this.peer.rx
    for (const p of q) rx?.(p)
    if (this.wantDrain && this.queue.length < QUEUE_LIMIT) {
      this.wantDrain = false
      this.onDrain?.()
    }
  }
}

export function memLinkPair(mtu = 1500): [Link & { packets: number; bytes: number }, Link & { packets: number; bytes: number }] {
  const a = new MemEnd(mtu)
  const b = new MemEnd(mtu)
  a.peer = b
  b.peer = a
  return [a, b]
}
