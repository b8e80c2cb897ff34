// Test scaffolding: the deterministic payload served by peer.mjs (AES-128-CTR keystream under a
// key derived from a seed, counter block starting at zero), generated here independently so a
// test knows the sha256 of what it should receive. Never used by the product.
import { createCipheriv, createHash } from 'node:crypto'

const CHUNK = 256 * 1024

/** Returns a generator: next(n) yields the next n bytes of pattern(seed). */
export function keystream(seed: string | number): (n: number) => Uint8Array {
  const key = createHash('sha256').update(`burrow-pattern-${seed}`).digest().subarray(0, 16)
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(CHUNK)
  return (n) => {
    const out = new Uint8Array(n)
    for (let off = 0; off < n; off += CHUNK) {
      const k = Math.min(CHUNK, n - off)
      out.set(c.update(zeros.subarray(0, k)), off)
    }
    return out
  }
}

/** sha256 (hex) of the first `bytes` bytes of pattern(seed). */
export function patternSha256(bytes: number, seed: string | number): string {
  const next = keystream(seed)
  const h = createHash('sha256')
  for (let left = bytes; left > 0; left -= CHUNK) h.update(next(Math.min(CHUNK, left)))
  return h.digest('hex')
}
