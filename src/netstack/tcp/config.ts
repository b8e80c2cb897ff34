// Tuning knobs of the TCP engine, defaults in one place. Values follow Linux where the RFCs
// leave room (RFC 6298 min RTO 200 ms like Linux, RFC 9293 §3.4.2 MSL shortened for a client).

export const CongestionAlgo = { CUBIC: 'cubic', NEWRENO: 'newreno', BBR: 'bbr' } as const
export type CongestionAlgo = (typeof CongestionAlgo)[keyof typeof CongestionAlgo]

export interface TcpTuning {
  /** Send buffer cap in bytes; write() returns false beyond it (default 4 MiB). */
  sndBuf: number
  /** onDrain fires when queued bytes fall to this level (default ¾ of sndBuf, so the buffer refills before the pipe runs dry). */
  sndLowWater: number
  /**
   * Send-buffer autotuning ceiling (default 16 MiB): the effective buffer grows beyond sndBuf to
   * 2 × cwnd (as Linux's tcp_sndbuf_expand), so on a long lossy path the data held for SACK
   * recovery does not starve the sender; sndLowWater scales with it.
   */
  sndBufMax: number
  /** Initial receive buffer (advertised window source), default 256 KiB. */
  rcvBufInitial: number
  /** Autotuning ceiling (default 6 MiB, like Linux tcp_rmem[2]). */
  rcvBufMax: number
  /**
   * Receive window shared by the connections of a stack that are receiving (default 2 MiB, about
   * what a 4 MiB UDP socket buffer holds in tunnel datagrams): while several receive at once,
   * each window is capped at rcvBudget / receiving, never below 4 KiB; one alone is not capped.
   * Stack-wide: read from the stack's tuning, not per connection. See RxShare in rcv.ts.
   */
  rcvBudget: number
  /** Initial congestion window in segments (RFC 6928): 10. */
  initialCwnd: number
  /** Congestion control; see DEFAULT_TUNING for the choice of default. */
  congestion: CongestionAlgo
  /** Pacing (BBR only): largest burst released at once, in ms at the pacing rate (≥ 2 segments). */
  pacingBurstMs: number
  /** Maximum segment lifetime in ms; TIME-WAIT lasts 2·MSL. Default 1000 (2 s TIME-WAIT). */
  msl: number
  minRto: number
  maxRto: number
  /** RTO before any RTT sample (RFC 6298 §2.1: 1 s). */
  initialRto: number
  /** SYN retransmissions before ETIMEDOUT (Linux tcp_syn_retries = 6). */
  synRetries: number
  /** Data retransmissions (timeouts in a row) before ETIMEDOUT (Linux tcp_retries2 = 15). */
  maxRetries: number
  /** Delayed-ACK timer (RFC 1122 §4.2.3.2 / RFC 9293: ≤ 500 ms; we use 40 ms like Linux). */
  delayedAckMs: number
  /** true = Nagle off (default). setNoDelay(false) enables Nagle. */
  noDelay: boolean
  keepAliveIdleMs: number
  keepAliveIntervalMs: number
  keepAliveProbes: number
  /** Cap on out-of-order segments held (memory bound beyond the window itself). */
  maxOooSegments: number
  /** Offer/accept options (turn off in tests to exercise fallbacks). */
  sack: boolean
  /** Tail loss probes (RFC 8985 §7) with time-based loss marking; needs SACK. */
  tlp: boolean
  timestamps: boolean
  windowScaling: boolean
}

export const DEFAULT_TUNING: Readonly<TcpTuning> = Object.freeze({
  sndBuf: 4 * 1024 * 1024,
  sndLowWater: 3 * 1024 * 1024,
  sndBufMax: 16 * 1024 * 1024,
  rcvBufInitial: 256 * 1024,
  rcvBufMax: 6 * 1024 * 1024,
  rcvBudget: 2 * 1024 * 1024,
  initialCwnd: 10,
  // BBR by default (as on the Linux hosts we compare against). Measured in the FakeClock sims
  // (test/sim/bbr.test.ts, two-stacks.test.ts): 50 ms RTT + 1 % random loss at 100 Mbit/s, BBR
  // ≈ 90 Mbit/s vs CUBIC ≈ 4 (Mathis limit); 5 % loss + reordering, 10 MB each way: ≈ 50 vs 3.3
  // Mbit/s; clean 100 Mbit/s: ≈ 95 Mbit/s with no tail drops (pacing, no standing queue). CUBIC
  // and NewReno stay available via `congestion`.
  congestion: CongestionAlgo.BBR,
  pacingBurstMs: 2,
  msl: 1000,
  minRto: 200,
  maxRto: 120_000,
  initialRto: 1000,
  synRetries: 6,
  maxRetries: 15,
  delayedAckMs: 40,
  noDelay: true,
  keepAliveIdleMs: 7_200_000,
  keepAliveIntervalMs: 75_000,
  keepAliveProbes: 9,
  maxOooSegments: 8192,
  sack: true,
  tlp: true,
  timestamps: true,
  windowScaling: true,
})

export function resolveTuning(opts?: Partial<TcpTuning>): TcpTuning {
  const t = { ...DEFAULT_TUNING, ...opts }
  if (opts?.sndBuf !== undefined && opts.sndLowWater === undefined) t.sndLowWater = Math.floor(t.sndBuf * 0.75)
  if (t.rcvBufInitial > t.rcvBufMax) t.rcvBufInitial = t.rcvBufMax
  if (t.sndBufMax < t.sndBuf) t.sndBufMax = t.sndBuf
  return t
}

/** Smallest shift so that rcvBufMax fits in a 16-bit window (RFC 7323 §2.3, max 14). */
export function wscaleFor(rcvBufMax: number): number {
  let s = 0
  while (s < 14 && 65535 * 2 ** s < rcvBufMax) s++
  return s
}
