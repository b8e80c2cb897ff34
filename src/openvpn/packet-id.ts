// OpenVPN long-form packet-id (OpenVPN 2.6 src/openvpn/packet_id.c packet_id_send_update /
// packet_id_write): a 32-bit id counting from 1 and a 32-bit time (seconds) that starts a new id
// sequence. Sent in front of the plaintext of every static-key data packet.

export const PACKET_ID_MAX = 0xffffffff

/** Sender side of the long-form packet-id. */
export class PacketIdSend {
  id = 0
  time = 0
  private readonly nowSec: () => number

  /** `nowSec`: wall-clock seconds (the receiver only compares our own times with each other). */
  constructor(nowSec: () => number = () => Math.floor(Date.now() / 1000)) {
    this.nowSec = nowSec
  }

  /**
   * Advance to the next (id, time) pair. On id exhaustion a new sequence starts with a later
   * time (never repeating a pair, as the receiver would take it for a replay).
   */
  next(): void {
    if (this.time === 0) this.time = this.nowSec() >>> 0
    if (this.id === PACKET_ID_MAX) {
      this.time = Math.max(this.nowSec(), this.time + 1) >>> 0
      this.id = 0
    }
    this.id++
  }

  /**
   * Start a fresh sequence for a new connection: a time strictly later than any used before, so
   * a peer that remembers our last (time, id) does not reject the new packets as replays.
   */
  restart(): void {
    if (this.time === 0) return
    this.time = Math.max(this.nowSec(), this.time + 1) >>> 0
    this.id = 0
  }
}
