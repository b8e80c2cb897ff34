// OpenVPN control-channel reliability layer (OpenVPN source reliable.c / reliable.h, ssl.h
// "Reliable transport"): every control message carries a message packet-id counting from 0 per
// key state; the peer acknowledges ids in ACK arrays (piggybacked on its own control packets or
// in standalone P_ACK_V1). We retransmit unacknowledged messages with exponential backoff, hold a
// bounded send window, deliver received messages exactly once and in order from a bounded
// receive window, and re-acknowledge duplicates (our earlier ACK may have been lost).
import type { Clock } from '../../core/clock.js'
import type { Counters } from '../../core/counters.js'
import { Opcode, RELIABLE_ACK_SIZE } from './packet.js'

/** What the reliability layer hands to the packet writer. */
export interface ReliableOut {
  opcode: number
  /** Absent for standalone P_ACK_V1. */
  packetId?: number
  acks: number[]
  payload: Uint8Array
}

export interface ReliableOptions {
  clock: Clock
  /** Write one control packet (the caller adds session ids and wrapping). */
  output(pkt: ReliableOut): void
  /** In-order delivery of a received message. */
  deliver(opcode: number, payload: Uint8Array): void
  counters?: Counters
  /** First retransmit timeout (OpenVPN tls-timeout default 2 s). */
  initialTimeoutMs?: number
  /** Backoff ceiling. */
  maxTimeoutMs?: number
  /** Unacknowledged messages allowed in flight. */
  sendWindow?: number
  /** Distance ahead of the next expected id that we buffer. */
  recvWindow?: number
  /** ACKs piggybacked on one data-bearing packet (OpenVPN CONTROL_SEND_ACK_MAX). */
  piggybackAcks?: number
}

interface InFlight {
  id: number
  opcode: number
  payload: Uint8Array
  due: number
  timeout: number
  tries: number
}

export class Reliable {
  private readonly o: Required<Omit<ReliableOptions, 'counters'>> & { counters?: Counters }
  private nextSendId = 0
  private readonly queue: { opcode: number; payload: Uint8Array }[] = []
  private readonly inflight: InFlight[] = []
  private nextRecvId = 0
  private readonly recvBuf = new Map<number, { opcode: number; payload: Uint8Array }>()
  private pendingAcks: number[] = []
  private cancelTimer: (() => void) | undefined
  private timerAt = Infinity
  private ackFlushScheduled: (() => void) | undefined
  private closed = false
  /** Total retransmissions so far (for tests and stats). */
  retransmits = 0

  constructor(opts: ReliableOptions) {
    this.o = {
      ...opts,
      initialTimeoutMs: opts.initialTimeoutMs ?? 2000,
      maxTimeoutMs: opts.maxTimeoutMs ?? 16000,
      sendWindow: opts.sendWindow ?? 6,
      recvWindow: opts.recvWindow ?? 8,
      piggybackAcks: opts.piggybackAcks ?? 4,
    }
  }

  /** Messages not yet acknowledged by the peer (queued or in flight). */
  get unacked(): number {
    return this.queue.length + this.inflight.length
  }

  /** Queue a message for reliable delivery; it gets the next message packet-id. */
  send(opcode: number, payload: Uint8Array): void {
    if (this.closed) return
    this.queue.push({ opcode, payload })
    this.pump()
  }

  /** Process the reliability fields of a received control packet (any opcode, incl. P_ACK_V1). */
  receive(opcode: number, packetId: number | undefined, acks: readonly number[], payload: Uint8Array): void {
    if (this.closed) return
    if (acks.length) this.handleAcks(acks)
    if (packetId !== undefined && opcode !== Opcode.P_ACK_V1) this.handleMessage(opcode, packetId, payload)
    this.pump()
  }

  close(): void {
    this.closed = true
    this.cancelTimer?.()
    this.cancelTimer = undefined
    this.ackFlushScheduled?.()
    this.ackFlushScheduled = undefined
    this.queue.length = 0
    this.inflight.length = 0
    this.recvBuf.clear()
  }

  private handleAcks(acks: readonly number[]): void {
    for (const id of acks) {
      const i = this.inflight.findIndex((f) => f.id === id)
      if (i >= 0) this.inflight.splice(i, 1)
      else this.o.counters?.inc('openvpn.reliable.ack_repeat') // OpenVPN 2.6 repeats recent ACKs
    }
  }

  private handleMessage(opcode: number, id: number, payload: Uint8Array): void {
    const ahead = (id - this.nextRecvId) >>> 0
    if (ahead >= 0x80000000) {
      // already delivered: the peer missed our ACK, acknowledge again
      this.o.counters?.inc('openvpn.reliable.duplicate')
      this.queueAck(id)
      return
    }
    if (ahead >= this.o.recvWindow) {
      this.o.counters?.inc('openvpn.reliable.beyond_window')
      return
    }
    this.queueAck(id)
    if (this.recvBuf.has(id)) {
      this.o.counters?.inc('openvpn.reliable.duplicate')
      return
    }
    this.recvBuf.set(id, { opcode, payload })
    for (;;) {
      const m = this.recvBuf.get(this.nextRecvId)
      if (!m) break
      this.recvBuf.delete(this.nextRecvId)
      this.nextRecvId = (this.nextRecvId + 1) >>> 0
      this.o.deliver(m.opcode, m.payload)
      if (this.closed) return
    }
  }

  private queueAck(id: number): void {
    if (!this.pendingAcks.includes(id)) this.pendingAcks.push(id)
    if (!this.ackFlushScheduled) {
      // flush on the next turn, so a reply produced meanwhile can carry the ACK instead
      this.ackFlushScheduled = this.o.clock.schedule(this.o.clock.now(), () => {
        this.ackFlushScheduled = undefined
        this.flushAcks()
      })
    }
  }

  /** Send every pending ACK now in standalone P_ACK_V1 packets. */
  flushAcks(): void {
    while (this.pendingAcks.length && !this.closed) {
      const acks = this.pendingAcks.splice(0, RELIABLE_ACK_SIZE)
      this.o.output({ opcode: Opcode.P_ACK_V1, acks, payload: new Uint8Array(0) })
    }
  }

  private takeAcks(): number[] {
    return this.pendingAcks.splice(0, this.o.piggybackAcks)
  }

  private transmit(f: InFlight): void {
    this.o.output({ opcode: f.opcode, packetId: f.id, acks: this.takeAcks(), payload: f.payload })
  }

  private pump(): void {
    if (this.closed) return
    const now = this.o.clock.now()
    // move queued messages into the window
    while (this.queue.length && this.inflight.length < this.o.sendWindow) {
      const m = this.queue.shift()!
      const f: InFlight = { id: this.nextSendId, opcode: m.opcode, payload: m.payload, due: 0, timeout: this.o.initialTimeoutMs, tries: 0 }
      this.nextSendId = (this.nextSendId + 1) >>> 0
      this.inflight.push(f)
    }
    // first transmissions and due retransmissions
    for (const f of this.inflight) {
      if (f.tries === 0 || f.due <= now) {
        if (f.tries > 0) {
          this.retransmits++
          this.o.counters?.inc('openvpn.reliable.retransmit')
          f.timeout = Math.min(f.timeout * 2, this.o.maxTimeoutMs)
        }
        f.tries++
        f.due = now + f.timeout
        this.transmit(f)
        if (this.closed) return
      }
    }
    this.armTimer()
  }

  private armTimer(): void {
    let next = Infinity
    for (const f of this.inflight) next = Math.min(next, f.due)
    if (next === this.timerAt) return
    this.cancelTimer?.()
    this.cancelTimer = undefined
    this.timerAt = next
    if (next === Infinity) return
    this.cancelTimer = this.o.clock.schedule(next, () => {
      this.cancelTimer = undefined
      this.timerAt = Infinity
      this.pump()
    })
  }
}
