// One lazily re-armed timer per kind (retransmission, delayed ACK, persist, keepalive,
// TIME-WAIT; RFC 9293 §3.8, RFC 6298 §5, RFC 1122 §4.2.3.6). Moving a deadline later does not
// touch the clock: the pending callback notices the new deadline when it fires and re-arms.
import type { Clock } from '../../core/clock.js'

export class LazyTimer {
  private cancel: (() => void) | null = null
  private scheduledAt = Infinity
  /** Current deadline (Infinity = disarmed). */
  deadline = Infinity

  constructor(
    private readonly clock: Clock,
    private readonly fn: () => void,
  ) {}

  get armed(): boolean {
    return this.deadline !== Infinity
  }

  /** Fire at `at` (replaces any earlier deadline). */
  arm(at: number): void {
    this.deadline = at
    if (this.scheduledAt <= at) return // the pending callback will re-arm
    if (this.cancel) this.cancel()
    this.schedule(at)
  }

  /** Arm only if not armed already. */
  armIfIdle(at: number): void {
    if (this.deadline === Infinity) this.arm(at)
  }

  clear(): void {
    this.deadline = Infinity
  }

  /** Clear and drop the pending clock callback (used when the endpoint is released). */
  dispose(): void {
    this.deadline = Infinity
    if (this.cancel) this.cancel()
    this.cancel = null
    this.scheduledAt = Infinity
  }

  private schedule(at: number): void {
    this.scheduledAt = at
    this.cancel = this.clock.schedule(at, this.onFire)
  }

  private readonly onFire = (): void => {
    this.cancel = null
    this.scheduledAt = Infinity
    if (this.deadline === Infinity) return
    if (this.clock.now() < this.deadline) {
      this.schedule(this.deadline)
      return
    }
    this.deadline = Infinity
    this.fn()
  }
}
