// V8 heap settings for the CLI's packet path. V8 starts the young generation at 1 MiB per
// semi-space and doubles it only once as many bytes again have survived scavenges since the last
// growth. A tunnel allocates fast and keeps little (each packet lives for microseconds to a few
// milliseconds), so the young generation stays at 1–4 MiB for hundreds of MB of traffic: a
// scavenge every few hundred packets, and whatever sits in a queue across two scavenges is
// promoted and later needs a full collection. Measured in the WireGuard bench (one CLI for all
// rounds): the first 100 MB download took 1.8–1.9× as long as the fourth; with the young
// generation growing 16× at its first growth (to V8's default maximum, 16 MiB per semi-space)
// the first took 1.2× as long as the last. The factor is read by V8 at each growth, so setting it
// at run time works (the initial size is fixed when the heap is created). idle-reclaim.ts gives
// the memory back once a burst is over. The CLI sets this; the library leaves the host
// application's heap alone.
import v8 from 'node:v8'

export const YOUNG_GENERATION_GROWTH_FACTOR = 16

/** Make V8's young generation grow to its maximum at the first growth (process-wide). */
export function tuneYoungGeneration(): void {
  v8.setFlagsFromString(`--semi-space-growth-factor=${YOUNG_GENERATION_GROWTH_FACTOR}`)
}
