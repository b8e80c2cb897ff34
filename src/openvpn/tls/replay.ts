// Replay protection for OpenVPN packet-ids (OpenVPN source packet_id.c: a sliding "backtrack"
// window per (time, packet-id); long-form ids carry a time that restarts the window when it grows).
// Call check() only after the packet authenticated, so forgeries cannot poison the window.

export class ReplayWindow {
  private time = -1
  private max = 0
  private readonly seen: Uint8Array
  constructor(private readonly size = 64) {
    this.seen = new Uint8Array(size)
  }
  reset(): void {
    this.time = -1
    this.max = 0
    this.seen.fill(0)
  }
  /** True (and recorded) if (pid, time) has not been seen and is inside the window. pid 0 is never valid. */
  check(pid: number, time = 0): boolean {
    if (pid === 0) return false
    if (time > this.time) {
      this.time = time
      this.seen.fill(0)
      this.max = pid
      this.seen[pid % this.size] = 1
      return true
    }
    if (time < this.time) return false
    if (pid > this.max) {
      const d = pid - this.max
      if (d >= this.size) this.seen.fill(0)
      else for (let p = this.max + 1; p <= pid; p++) this.seen[p % this.size] = 0
      this.max = pid
      this.seen[pid % this.size] = 1
      return true
    }
    if (this.max - pid >= this.size) return false
    if (this.seen[pid % this.size]) return false
    this.seen[pid % this.size] = 1
    return true
  }
}
