// Receive-side replay protection for long-form packet-ids (OpenVPN 2.6 src/openvpn/packet_id.c
// packet_id_test / packet_id_add / packet_id_reap; openvpn(8) --replay-window n [t]): a newer
// time starts a new sequence, an older time is rejected, within one time a sliding window of
// `window` ids accepts each id once, and ids left unseen are closed `timeSec` seconds after a
// newer packet arrived (so a long-delayed copy cannot be slipped in later).

export const ReplayVerdict = {
  OK: 0,
  /** id 0 is never sent. */
  INVALID: 1,
  /** Already seen. */
  REPLAY: 2,
  /** Older than the window, or its slot expired by time. */
  STALE: 3,
  /** Time went backwards. */
  TIME_BACKTRACK: 4,
} as const
export type ReplayVerdict = (typeof ReplayVerdict)[keyof typeof ReplayVerdict]

const UNSEEN = 0
const EXPIRED = -1

export class ReplayWindow {
  /** Highest id seen in the current time sequence. */
  private id = 0
  private time = 0
  private started = false
  /** ring[(base + diff) % size] = local arrival ms of id (this.id - diff); UNSEEN / EXPIRED. */
  private readonly ring: Float64Array
  private head = 0
  /** How many ring slots are in use (grows up to window). */
  private size = 0
  private lastReap = -Infinity
  private readonly timeMs: number

  /** window: ids of backtrack allowed (OpenVPN default 64); timeSec: expiry of gaps (default 15). */
  constructor(
    readonly window = 64,
    timeSec = 15,
  ) {
    this.ring = new Float64Array(Math.max(1, window))
    this.timeMs = timeSec * 1000
  }

  private slot(diff: number): number {
    return (this.head - diff + this.ring.length * 2) % this.ring.length
  }

  /** Would (id, time) be accepted now? Does not record it. */
  test(id: number, time: number, nowMs: number): ReplayVerdict {
    if (nowMs - this.lastReap >= 1000) this.reap(nowMs)
    if (id === 0) return ReplayVerdict.INVALID
    if (!this.started || time > this.time) return ReplayVerdict.OK
    if (time < this.time) return ReplayVerdict.TIME_BACKTRACK
    if (id > this.id) return ReplayVerdict.OK
    const diff = this.id - id
    if (diff >= this.size) return ReplayVerdict.STALE
    const v = this.ring[this.slot(diff)]
    if (v === UNSEEN) return ReplayVerdict.OK
    return v === EXPIRED ? ReplayVerdict.STALE : ReplayVerdict.REPLAY
  }

  /** Record an authenticated packet that test() accepted. */
  add(id: number, time: number, nowMs: number): void {
    const n = this.ring.length
    if (!this.started || time > this.time || id - this.id >= n) {
      // New time sequence (or a jump past the whole window): start over.
      this.started = true
      this.time = time
      this.id = Math.max(0, id - n)
      this.ring.fill(UNSEEN)
      this.size = 0
    }
    while (this.id < id) {
      this.head = (this.head + 1) % n
      this.ring[this.head] = UNSEEN
      if (this.size < n) this.size++
      this.id++
    }
    const diff = this.id - id
    if (diff < this.size) this.ring[this.slot(diff)] = Math.max(1, nowMs)
  }

  /** Check and record in one step. */
  check(id: number, time: number, nowMs: number): ReplayVerdict {
    const v = this.test(id, time, nowMs)
    if (v === ReplayVerdict.OK) this.add(id, time, nowMs)
    return v
  }

  /** Close slots older than a packet that arrived more than timeSec ago (packet_id_reap). */
  reap(nowMs: number): void {
    this.lastReap = nowMs
    if (this.timeMs <= 0) return
    let expire = false
    for (let diff = 0; diff < this.size; diff++) {
      const s = this.slot(diff)
      const t = this.ring[s]
      if (t === EXPIRED) break
      if (!expire && t > 0 && t + this.timeMs < nowMs) expire = true
      if (expire) this.ring[s] = EXPIRED
    }
  }
}
