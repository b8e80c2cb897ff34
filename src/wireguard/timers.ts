// Per-peer timer state machine (WireGuard paper §6.2–§6.5), as the named hooks of wireguard-go's
// device/timers.go: the data path calls dataSent/dataReceived/anyAuthenticatedPacket*/handshake*/
// sessionDerived, and the timers call back into the peer (retransmit, keepalive, new handshake,
// zero key material, persistent keepalive). Driven by the injected Clock; jitter from an injected
// random source so tests are deterministic.
import type { Clock } from '../core/clock.js'
import {
  KEEPALIVE_TIMEOUT,
  MAX_TIMER_HANDSHAKES,
  REJECT_AFTER_TIME,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
} from './constants.js'

export interface TimerActions {
  /** Retransmission of an unanswered initiation; `attempt` counts from 1. */
  retransmitHandshake(attempt: number): void
  /** REKEY_ATTEMPT_TIME passed without an answer: drop staged packets. */
  giveUpHandshake(): void
  /** Data was sent but nothing came back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: start a fresh handshake. */
  newHandshake(): void
  /** Send an empty transport packet. */
  sendKeepalive(): void
  /** 3 × REJECT_AFTER_TIME after the last session was derived: forget all keys. */
  zeroKeyMaterial(): void
}

/**
 * A re-armable timer with cheap mod(): pushing the deadline later (the per-packet case) only
 * records the new deadline; the scheduled callback re-arms itself when it fires early.
 */
class Timer {
  private cancel: (() => void) | null = null
  private scheduledAt = 0
  private deadline = 0
  constructor(private readonly clock: Clock, private readonly fn: () => void) {}
  get pending(): boolean {
    return this.cancel !== null
  }
  mod(delayMs: number): void {
    const at = this.clock.now() + delayMs
    this.deadline = at
    if (this.cancel && this.scheduledAt <= at) return
    this.arm(at)
  }
  private arm(at: number): void {
    this.cancel?.()
    this.scheduledAt = at
    this.cancel = this.clock.schedule(at, () => {
      if (this.clock.now() < this.deadline) return this.arm(this.deadline)
      this.cancel = null
      this.fn()
    })
  }
  del(): void {
    if (this.cancel) {
      this.cancel()
      this.cancel = null
    }
  }
}

export class PeerTimers {
  handshakeAttempts = 0
  /** Clock time of the last completed handshake, or undefined. */
  lastHandshake: number | undefined
  private needAnotherKeepalive = false
  private readonly retransmitHandshakeT: Timer
  private readonly sendKeepaliveT: Timer
  private readonly newHandshakeT: Timer
  private readonly zeroKeyMaterialT: Timer
  private readonly persistentKeepaliveT: Timer

  constructor(
    private readonly clock: Clock,
    private readonly actions: TimerActions,
    /** Persistent keepalive interval in ms, 0 = off. */
    public persistentKeepalive = 0,
    private readonly random: () => number = Math.random,
  ) {
    this.retransmitHandshakeT = new Timer(clock, () => this.expiredRetransmitHandshake())
    this.sendKeepaliveT = new Timer(clock, () => this.expiredSendKeepalive())
    this.newHandshakeT = new Timer(clock, () => this.actions.newHandshake())
    this.zeroKeyMaterialT = new Timer(clock, () => this.actions.zeroKeyMaterial())
    this.persistentKeepaliveT = new Timer(clock, () => {
      if (this.persistentKeepalive > 0) this.actions.sendKeepalive()
    })
  }

  private jitter(): number {
    return Math.floor(this.random() * REKEY_TIMEOUT_JITTER_MAX)
  }

  private expiredRetransmitHandshake(): void {
    if (this.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
      this.sendKeepaliveT.del()
      this.actions.giveUpHandshake()
      if (!this.zeroKeyMaterialT.pending) this.zeroKeyMaterialT.mod(REJECT_AFTER_TIME * 3)
      return
    }
    this.handshakeAttempts++
    this.actions.retransmitHandshake(this.handshakeAttempts)
  }

  private expiredSendKeepalive(): void {
    this.actions.sendKeepalive()
    if (this.needAnotherKeepalive) {
      this.needAnotherKeepalive = false
      this.sendKeepaliveT.mod(KEEPALIVE_TIMEOUT)
    }
  }

  /** A transport packet with data (not a keepalive) was sent. */
  dataSent(): void {
    if (!this.newHandshakeT.pending) this.newHandshakeT.mod(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + this.jitter())
  }

  /** A transport packet with data was received. */
  dataReceived(): void {
    if (!this.sendKeepaliveT.pending) this.sendKeepaliveT.mod(KEEPALIVE_TIMEOUT)
    else this.needAnotherKeepalive = true
  }

  /** Any authenticated packet (handshake, data or keepalive) was sent. */
  anyAuthenticatedPacketSent(): void {
    this.sendKeepaliveT.del()
  }

  /** Any authenticated packet was received. */
  anyAuthenticatedPacketReceived(): void {
    this.newHandshakeT.del()
  }

  /** A handshake initiation was sent (first or retry). */
  handshakeInitiated(): void {
    this.retransmitHandshakeT.mod(REKEY_TIMEOUT + this.jitter())
  }

  /** A handshake response was received and a session is up (initiator) or confirmed (responder). */
  handshakeComplete(): void {
    this.retransmitHandshakeT.del()
    this.handshakeAttempts = 0
    this.lastHandshake = this.clock.now()
  }

  /** New transport keys were derived. */
  sessionDerived(): void {
    this.zeroKeyMaterialT.mod(REJECT_AFTER_TIME * 3)
  }

  /** Any authenticated packet was sent or received. */
  anyAuthenticatedPacketTraversal(): void {
    if (this.persistentKeepalive > 0) this.persistentKeepaliveT.mod(this.persistentKeepalive)
  }

  get retransmitPending(): boolean {
    return this.retransmitHandshakeT.pending
  }

  stop(): void {
    this.retransmitHandshakeT.del()
    this.sendKeepaliveT.del()
    this.newHandshakeT.del()
    this.zeroKeyMaterialT.del()
    this.persistentKeepaliveT.del()
    this.needAnotherKeepalive = false
  }
}
