// ICMP / ICMPv6 echo client (RFC 792 "Echo or Echo Reply Message", RFC 4443 §4.1-4.2): one
// identifier per stack, a sequence number per probe, RTT measured on the injected clock.
import type { Clock } from '../../core/clock.js'
import { BurrowError, ErrorCode } from '../../core/errors.js'

interface Probe {
  sentAt: number
  family: 4 | 6
  dst: Uint8Array
  resolve: (rtt: number) => void
  reject: (err: Error) => void
  cancelTimer: () => void
}

export class Pinger {
  private seq = 0
  private readonly probes = new Map<number, Probe>()

  constructor(
    private readonly clock: Clock,
    /** Echo identifier used by this stack. */
    readonly ident: number,
  ) {}

  /** Register a probe; returns its sequence number and the promise. send() is called by the caller. */
  start(family: 4 | 6, dst: Uint8Array, timeoutMs: number): { seq: number; promise: Promise<number> } {
    let seq = this.seq
    for (let i = 0; i < 0x10000 && this.probes.has(seq); i++) seq = (seq + 1) & 0xffff
    this.seq = (seq + 1) & 0xffff
    const promise = new Promise<number>((resolve, reject) => {
      const probe: Probe = {
        sentAt: this.clock.now(),
        family,
        dst: dst.slice(),
        resolve,
        reject,
        cancelTimer: () => {},
      }
      probe.cancelTimer = this.clock.schedule(this.clock.now() + timeoutMs, () => {
        if (this.probes.get(seq) !== probe) return
        this.probes.delete(seq)
        reject(new BurrowError(ErrorCode.ETIMEDOUT, `ping: no reply within ${timeoutMs} ms`))
      })
      this.probes.set(seq, probe)
    })
    return { seq, promise }
  }

  /** An echo reply arrived; true if it matched a probe (same ident, seq, family and source). */
  reply(family: 4 | 6, src: Uint8Array, ident: number, seq: number): boolean {
    if (ident !== this.ident) return false
    const p = this.probes.get(seq)
    if (!p || p.family !== family || !sameBytes(p.dst, src)) return false
    this.probes.delete(seq)
    p.cancelTimer()
    p.resolve(this.clock.now() - p.sentAt)
    return true
  }

  /** An ICMP error quoting one of our echo requests. */
  error(ident: number, seq: number, code: ErrorCode, message: string): boolean {
    if (ident !== this.ident) return false
    const p = this.probes.get(seq)
    if (!p) return false
    this.fail(seq, p, new BurrowError(code, `ping: ${message}`))
    return true
  }

  /** Fail one probe (e.g. it could not be sent). */
  abort(seq: number, err: Error): void {
    const p = this.probes.get(seq)
    if (p) this.fail(seq, p, err)
  }

  /** Reject every pending probe. */
  closeAll(err: Error): void {
    for (const [seq, p] of [...this.probes]) this.fail(seq, p, err)
  }

  private fail(seq: number, p: Probe, err: Error): void {
    this.probes.delete(seq)
    p.cancelTimer()
    p.reject(err)
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
