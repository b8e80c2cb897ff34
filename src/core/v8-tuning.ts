// V8 heap settings for the CLI's packet path. The CLI sets them; the library leaves the host
// application's heap alone. Both flags are read by V8 each time it sizes a generation, so setting
// them at run time works (the initial sizes are fixed when the heap is created).
//
// Young generation. V8 starts it at 1 MiB per semi-space and doubles it only once as many bytes
// again have survived scavenges since the last growth. A tunnel allocates fast and keeps little
// (each packet lives for microseconds to a few milliseconds), so the young generation stays at
// 1–4 MiB for hundreds of MB of traffic: a scavenge every few hundred packets, and whatever sits
// in a queue across two scavenges is promoted and later needs a full collection. Measured in the
// WireGuard bench (one CLI for all rounds): the first 100 MB download took 1.8–1.9× as long as
// the fourth; with the young generation growing 16× at its first growth (to V8's default maximum,
// 16 MiB per semi-space) the first took 1.2× as long as the last.
//
// Old-generation limit. After a full collection V8 sets the next limit at the live size times a
// factor it picks from how fast it collects against how fast the program allocates; for a packet
// path that factor comes out at 1.1–1.8, so with ~15 MiB live the limit is ~25 MiB above it.
// V8's trace shows incremental marking started by its task while that headroom is still larger
// than the young generation; the likely reason is that V8 also counts the external memory
// allocated since the last full collection against it (every received datagram is a fresh
// ~1.4 KB ArrayBuffer from node; ~20 MiB external at each collection). Under load that was a full
// collection every 60–70 ms instead of a scavenge: 54 full collections in the WireGuard bench's
// eight 100 MB transfers. Growing the limit 5× instead: 3–5 full collections, and the CLI used
// 16 % less CPU for the same run, 20.4 instead of 24.4 s (concurrent marking runs on a second
// thread, which this 2-vCPU machine does not have spare); 2× changed nothing. RSS under the
// ingress bench is unchanged (peak 130 MiB): the old generation only grows by what survives
// scavenges, and idle-reclaim.ts still runs a full collection once a burst is over.
import v8 from 'node:v8'

export const YOUNG_GENERATION_GROWTH_FACTOR = 16
/** The old generation's next limit is this many percent above the live size (V8's own: 10–300). */
export const HEAP_GROWING_PERCENT = 400

/** Tune V8's heap for the packet path (process-wide). */
export function tuneHeap(): void {
  v8.setFlagsFromString(`--semi-space-growth-factor=${YOUNG_GENERATION_GROWTH_FACTOR}`)
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
}
